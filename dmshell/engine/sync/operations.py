"""The registered binlog operations of one subtask (DM's ``errOperatorHolder``): the
:class:`~.operator.EventOperator` the worker gives the sync unit.

The master stores every ``binlog skip|replace|inject`` (its store is the durable copy) and pushes
them with the subtask's desired state; :meth:`OperationBook.replace_all` installs a new set
atomically. An operation is keyed by the start position of its event (``<file>:<pos>``, the
``Pos`` of ``SHOW BINLOG EVENTS`` and the position in ``startLocation``), and stays registered until
reverted or the task is stopped: a replay of the event after a crash (the checkpoint before it)
meets the same operation again, so the event's effect on the target happens once, exactly like an
event without an operation (docs/decisions.md, "binlog operations").

Also here: what the master and the worker share about operations (positions, the error location in
an error's message, validating the statements of ``replace``/``inject``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from dmshell.engine.binlog.location import Location
from dmshell.engine.binlog.reader import BinlogEvent
from dmshell.engine.ddl.statement import DDLParseError, parse_ddl
from dmshell.engine.sync.operator import Action, Operation

#: DM's error annotation (``startLocation: [position: (<file>, <pos>), gtid-set: ...]``)
_START = re.compile(r"startLocation: \[position: \(([^,]+), (\d+)\)")
_ORIGIN = ", origin SQL: ["

Key = tuple[str, int]


def parse_pos(text: str) -> Key:
    """``<file>:<pos>`` → (file, pos); DM's relay-style ``mysql-bin|000001.000003:3270`` names the
    upstream file ``mysql-bin.000003``. ValueError when malformed."""
    name, sep, pos = text.strip().rpartition(":")
    if not sep or not name or not pos.isdigit():
        raise ValueError(f"invalid binlog position {text!r}: the format is <file>:<pos>")
    if "|" in name:
        base, _, rest = name.partition("|")
        name = f"{base}.{rest.rpartition('.')[2]}"
    return name, int(pos)


def format_pos(key: Key) -> str:
    return f"{key[0]}:{key[1]}"


def error_location(message: str) -> tuple[Key, bool] | None:
    """The start position an error message names (DM's annotation) and whether it is a DDL's
    (it has ``origin SQL``); None when the error is not at an event."""
    m = _START.search(message)
    if m is None:
        return None
    return (m.group(1), int(m.group(2))), _ORIGIN in message


def validate_statements(sqls: Iterable[str], schema: str = "") -> list[str]:
    """The statements of ``replace``/``inject``, stripped; ValueError naming the first one that
    does not parse or is not DDL (operations replace or precede events with DDL, as DM's)."""
    out = []
    for sql in sqls:
        text = sql.strip().rstrip(";").strip()
        if not text:
            continue
        try:
            ddl = parse_ddl(text, schema)
        except DDLParseError as exc:
            raise ValueError(f"invalid statement {text!r}: {exc}") from exc
        if ddl is None:
            raise ValueError(f"only DDL statements can replace or be injected before an event: {text!r}")
        out.append(text)
    if not out:
        raise ValueError("no statement given")
    return out


class OperationBook:
    """Operations by event start position; read by the sync unit on every event it applies (a
    dict lookup), replaced as a whole by the worker (an atomic swap: no lock)."""

    def __init__(self) -> None:
        self._ops: dict[Key, Operation] = {}

    def replace_all(self, ops: Iterable[tuple[str, Action, Iterable[str]]]) -> set[Key]:
        """Install ``(position, action, statements)`` operations; returns the positions that are
        new or changed."""
        new = {parse_pos(pos): Operation(action, tuple(sqls)) for pos, action, sqls in ops}
        old = self._ops
        self._ops = new
        return {k for k, op in new.items() if old.get(k) != op}

    def positions(self) -> set[Key]:
        return set(self._ops)

    def operation(self, start: Location, event: BinlogEvent) -> Operation | None:
        return self._ops.get((start.file, start.pos))
