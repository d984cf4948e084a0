"""Operations on binlog events at given locations (DM's ``binlog skip|replace|inject``).

The run asks its :class:`EventOperator` (if it has one: by default it has none, and the hot path
pays one ``is None`` test per event) about every event that changes the target — a rows event,
or a query event holding a statement (not ``BEGIN``/``COMMIT``) — with the event's start location,
before the event is applied. The :class:`Operation` it returns, if any:

* ``SKIP``: the event is not applied (no rows dispatched; a DDL neither executed nor tracked);
* ``REPLACE``: its ``statements`` are handled instead of the event, each as if the upstream had
  logged it at this location (parsed, filtered, routed, executed and tracked like a query event's
  statement, with the event's schema as the default database);
* ``INJECT``: its ``statements`` are handled that way, then the event itself.

The positions and GTIDs advance exactly as if the event had been applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from dmshell.engine.binlog.location import Location
from dmshell.engine.binlog.reader import BinlogEvent


class Action(StrEnum):
    SKIP = "skip"
    REPLACE = "replace"
    INJECT = "inject"


@dataclass(frozen=True, slots=True)
class Operation:
    action: Action
    statements: tuple[str, ...] = ()  # REPLACE / INJECT: upstream statements (DDL), in order


class EventOperator(Protocol):
    def operation(self, start: Location, event: BinlogEvent) -> Operation | None:
        """The operation for the event beginning at ``start`` (None: apply it as usual)."""
        ...
