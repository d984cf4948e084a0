"""What the sync unit does with a DDL when ``online-ddl`` is on (DM's ``RealOnlinePlugin.Apply``).

:meth:`OnlineDDL.apply` looks at the tables a DDL names:

* only real tables: ``None``, the DDL is handled as usual;
* a ghost table's CREATE or DROP: its record is cleared; any other DDL on it (ALTER, CREATE/DROP
  INDEX, ...) is recorded; nothing reaches the target;
* a trash table: ignored (gh-ost's changelog and sentry tables, the old table after the swap);
* a RENAME, pair by pair: ghost → real is the cut-over, answered with the ghost's recorded
  statements rewritten onto the real table; real → trash is the old table moving aside, ignored;
  real → real is kept; a rename into a ghost table, or of a ghost table to anything but a real or
  a trash table, is refused as in DM.

A multi-table DROP or RENAME that mixes real tables with ghost/trash ones keeps its real part.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from dmshell.engine import errors
from dmshell.engine.config.subtask import SubTaskConfig
from dmshell.engine.db import connect, quote_table
from dmshell.engine.ddl.statement import DDL, TableName, parse_ddl, rewrite
from dmshell.engine.onlineddl.rules import Rules, TableKind
from dmshell.engine.onlineddl.storage import Storage

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Outcome:
    """What to run instead of an online-DDL statement.

    ``statements`` are upstream DDL on real tables (upstream names; routing, the schema tracker and
    shard coordination still apply); ``finished`` the ghost tables whose record :meth:`OnlineDDL.finish`
    removes once the statements ran and the checkpoint is past the event.
    """

    statements: list[str] = field(default_factory=list)
    finished: list[tuple[str, str]] = field(default_factory=list)


class OnlineDDL:
    """The online-DDL handling of one subtask."""

    def __init__(self, rules: Rules, storage: Storage) -> None:
        self.rules = rules
        self.storage = storage

    @classmethod
    def open(cls, sub: SubTaskConfig) -> OnlineDDL | None:
        """The handling of a subtask (its records loaded from the target); ``None`` when
        ``online-ddl`` is off."""
        if not sub.online_ddl:
            return None
        storage = Storage(lambda: connect(sub.target), sub.meta_schema, sub.name, sub.source_id)
        storage.prepare()
        return cls(Rules.of(sub), storage)

    def close(self) -> None:
        self.storage.close()

    def kind(self, table: str) -> TableKind:
        return self.rules.kind(table)

    def skips_rows(self, table: str) -> bool:
        """Rows of ghost and trash tables never reach the target (the copy and the triggers')."""
        return self.rules.kind(table) != TableKind.REAL

    def apply(self, ddl: DDL) -> Outcome | None:
        """``None`` when ``ddl`` names no ghost or trash table; else what to run instead."""
        if not any(self.kind(t.table) != TableKind.REAL for t in ddl.tables):
            return None
        if ddl.kind == "rename table":
            return self._rename(ddl)
        if ddl.kind == "drop table":
            return self._drop(ddl)
        table = ddl.table
        kind = self.kind(table.table)
        if kind == TableKind.TRASH:
            log.info("online DDL: ignored on trash table: %s", ddl.sql)
            return Outcome()
        if kind == TableKind.REAL:  # a real table's DDL that names a ghost in LIKE / REFERENCES
            return None
        if ddl.kind == "create table":
            self.storage.delete(table.schema, table.table)  # a new run: forget an unfinished one
            return Outcome()
        statement = rewrite(ddl.sql, [(table.start, table.end, quote_table(table.schema, table.table))])
        self.storage.save(table.schema, table.table, self.rules.real_name(table.table), statement)
        log.info("online DDL: recorded for `%s`.`%s`: %s", table.schema, table.table, statement)
        return Outcome()

    def finish(self, outcome: Outcome) -> None:
        """Forget the records of the ghost tables a cut-over applied."""
        for schema, ghost in outcome.finished:
            self.storage.delete(schema, ghost)

    # -- statements naming several tables ----------------------------------------------------
    def _drop(self, ddl: DDL) -> Outcome:
        real = [t for t in ddl.tables if self.kind(t.table) == TableKind.REAL]
        for t in ddl.tables:
            if self.kind(t.table) == TableKind.GHOST:
                self.storage.delete(t.schema, t.table)
        if not real:
            return Outcome()
        head = "DROP TABLE IF EXISTS " if ddl.if_exists else "DROP TABLE "
        return Outcome([head + ", ".join(quote_table(t.schema, t.table) for t in real)])

    def _rename(self, ddl: DDL) -> Outcome:
        out = Outcome()
        kept: list[tuple[TableName, TableName]] = []

        def flush_kept() -> None:
            if kept:
                pairs = ", ".join(
                    f"{quote_table(a.schema, a.table)} TO {quote_table(b.schema, b.table)}" for a, b in kept
                )
                out.statements.append("RENAME TABLE " + pairs)
                kept.clear()

        for i in range(0, len(ddl.tables), 2):
            old, new = ddl.tables[i], ddl.tables[i + 1]
            src, dst = self.kind(old.table), self.kind(new.table)
            if src == TableKind.REAL and dst == TableKind.REAL:
                kept.append((old, new))
            elif dst == TableKind.GHOST:
                if src == TableKind.REAL:
                    raise errors.ErrSyncerUnitGhostRenameToGhostTable(ddl.sql)
                raise errors.ErrSyncerUnitGhostRenameGhostTblToOther(ddl.sql)
            elif src == TableKind.GHOST and dst == TableKind.REAL:
                flush_kept()
                out.statements += self._cut_over(old, new)
                out.finished.append((old.schema, old.table))
            elif src == TableKind.GHOST:  # ghost → trash: the run was given up
                self.storage.delete(old.schema, old.table)
            # real → trash and trash → anything but a ghost: the old table moving aside
        flush_kept()
        return out

    def _cut_over(self, ghost: TableName, real: TableName) -> list[str]:
        info = self.storage.get(ghost.schema, ghost.table)
        if info is None:
            raise errors.ErrSyncerUnitGhostOnlineDDLOnGhostTbl(ghost.schema, ghost.table)
        out = []
        for stmt in info.ddls:
            parsed = parse_ddl(stmt, ghost.schema)
            if parsed is None or not parsed.tables:
                raise errors.ErrSyncerUnitOnlineDDLInvalidMeta(cause=f"not a table DDL: {stmt}")
            t = parsed.table
            out.append(rewrite(stmt, [(t.start, t.end, quote_table(real.schema, real.table))]))
        log.info(
            "online DDL: cut-over of `%s`.`%s` onto `%s`.`%s`: %s",
            ghost.schema,
            ghost.table,
            real.schema,
            real.table,
            out,
        )
        return out
