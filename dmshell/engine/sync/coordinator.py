"""Shard DDL coordination: the hook between routing a DDL and executing it.

For every DDL whose statements would reach the target (after the block-allow list, routing and the
binlog event filter), the DDL handler asks the run's :class:`DDLCoordinator`
``coordinate(job)`` and follows its :class:`Verdict`: ``EXECUTE`` runs the statements, ``SKIP``
doesn't (the schema tracker still follows the upstream). The coordinator also decides, whenever a
table's row plan is built (after every DDL, see :class:`dmshell.engine.sync.table_plan.RowFilters`),
whether the table's rows are held back (``holds``): DM's pessimistic mode holds a shard's DML
behind its DDL until every shard reached it; held rows are not applied, so a coordinator that holds
must have them replayed (DM re-reads the binlog from the DDL).

The coordinators of ``shard-mode`` live in :mod:`dmshell.engine.shard` (which also picks one for a
subtask: ``dmshell.engine.shard.coordinator_for``); :class:`DirectCoordinator` (no ``shard-mode``)
executes every DDL as it comes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from dmshell.engine.binlog.location import Location
from dmshell.engine.ddl.statement import DDL, TableName


class Verdict(StrEnum):
    EXECUTE = "execute"  # run the DDL's statements on the target now
    SKIP = "skip"  # don't run them (the upstream's structure is still tracked)


@dataclass(frozen=True, slots=True)
class DDLJob:
    """One upstream DDL as the coordinator sees it."""

    ddl: DDL  # the upstream statement, analysed (kind, tables, sql)
    #: every upstream name the DDL touches that passed the block-allow list, with its routed target
    #: (schema-level DDL: table "")
    targets: list[tuple[TableName, tuple[str, str]]]
    statements: list[str]  # what would run on the target, in order
    start: Location  # where the DDL's event begins
    end: Location  # where it ends


class DDLCoordinator(Protocol):
    def coordinate(self, job: DDLJob) -> Verdict:
        """Called once per DDL, after routing, before execution (the DML before it is not drained
        yet). Raises a DMError to stop the unit."""
        ...

    def holds(self, schema: str, table: str) -> bool:
        """Whether the rows of upstream ``schema.table`` are held back (not applied) for now."""
        ...

    def hold(self, schema: str, table: str, replay: Callable[[], None]) -> None:
        """Rows of a held table: ``replay()`` applies them once the coordinator releases them."""
        ...

    def after(self, job: DDLJob) -> None:
        """The verdict on ``job`` was carried out (its statements executed, or skipped)."""
        ...


class DirectCoordinator:
    """No shard coordination: every DDL executes as it comes."""

    def coordinate(self, job: DDLJob) -> Verdict:
        return Verdict.EXECUTE

    def holds(self, schema: str, table: str) -> bool:
        return False

    def hold(self, schema: str, table: str, replay: Callable[[], None]) -> None:
        replay()  # (never asked: nothing is held)

    def after(self, job: DDLJob) -> None:
        return None  # nothing to release
