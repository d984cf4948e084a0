"""``binlog-schema list|update|delete`` (``operate-schema get|set|remove``) on a paused subtask.

The sync unit rebuilds its schema tracker from the checkpoint's table rows at the start of every
run (:mod:`~.checkpoint`), so the tracked structure of a paused subtask *is* its checkpoint row:
``update`` overwrites that row (at the checkpoint's global point), ``delete`` removes it (the next
run takes the table from the dump, the upstream or the target, as for any table it doesn't know),
``list`` shows it (or, when the table has no row yet, the structure the next run would take).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dmshell.engine import db, errors
from dmshell.engine.config.source import SourceConfig
from dmshell.engine.config.subtask import SubTaskConfig
from dmshell.engine.filters.rules import TableRouter
from dmshell.engine.schema.tracker import SchemaTracker, TableInfo, table_from_create
from dmshell.engine.sync.checkpoint import SyncCheckpoint, TablePoint
from dmshell.engine.sync.table_source import TableSource, show_create


@dataclass(frozen=True, slots=True)
class SchemaRequest:
    database: str
    table: str
    schema: str = ""  # update: the CREATE TABLE statement
    from_source: bool = False
    from_target: bool = False


class TrackedSchemas:
    """The tracked structures of one subtask (``cfg``: the subtask's configuration)."""

    def __init__(self, cfg: SubTaskConfig, source: SourceConfig, dump_dir: Path) -> None:
        self.cfg = cfg
        self.source = source
        self.dump_dir = dump_dir
        case = bool(cfg.case_sensitive or source.case_sensitive)
        self.router = TableRouter(cfg.routes or [], case)

    def _checkpoint(self, conn: Any) -> SyncCheckpoint:
        return SyncCheckpoint(conn, self.cfg.meta_schema, self.cfg.name, self.cfg.source_id)

    def get(self, req: SchemaRequest) -> str:
        """The tracked ``CREATE TABLE`` of the table (``from_target``, a dmshell extension for the
        TUI's side-by-side view: the target's table it is routed to, as the target shows it)."""
        with _connection(self.cfg.target) as tgt:
            if req.from_target:
                schema, table = self.router.route(req.database, req.table)
                sql = show_create(tgt, schema, table)
                if sql is None:
                    raise errors.ErrSchemaTrackerCannotFetchDownstreamTable(
                        db.quote_table(schema, table), db.quote_table(req.database, req.table)
                    )
                return sql
            saved = self._checkpoint(tgt).load()
            for t in saved.tables:
                if (t.schema, t.table) == (req.database, req.table):
                    return TableInfo.from_json(t.table_info).create_sql()
            with _connection(self.cfg.from_db or self.source.from_db) as up:
                source = TableSource(SchemaTracker(), None, up, tgt, self.router.route, self.dump_dir)  # type: ignore[arg-type]
                info = source.load(req.database, req.table)
        if info is None:
            raise errors.ErrSchemaTrackerCannotGetTable(db.quote_table(req.database, req.table))
        return info.create_sql()

    def set(self, req: SchemaRequest) -> None:
        """Overwrite the tracked structure (from the statement, the upstream or the target)."""
        with _connection(self.cfg.target) as tgt:
            sql = req.schema
            if req.from_source:
                with _connection(self.cfg.from_db or self.source.from_db) as up:
                    sql = show_create(up, req.database, req.table) or ""
            elif req.from_target:
                sql = show_create(tgt, *self.router.route(req.database, req.table)) or ""
            if not sql:
                raise errors.ErrSchemaTrackerCannotGetTable(db.quote_table(req.database, req.table))
            info = table_from_create(sql, req.database)
            info.schema, info.name = req.database, req.table
            cp = self._checkpoint(tgt)
            cp.ensure_table()
            saved = cp.load()
            if saved.location is None:
                raise errors.ErrSchemaTrackerCannotGetTable(
                    f"{db.quote_table(req.database, req.table)}: the task has no checkpoint yet"
                )
            point = TablePoint(req.database, req.table, saved.location, info.to_json())
            cp.flush(saved.location, saved.exit_safe, [point])

    def remove(self, req: SchemaRequest) -> None:
        with _connection(self.cfg.target) as tgt:
            cp = self._checkpoint(tgt)
            saved = cp.load()
            if saved.location is None or not any(
                (t.schema, t.table) == (req.database, req.table) for t in saved.tables
            ):
                raise errors.ErrSchemaTrackerCannotGetTable(db.quote_table(req.database, req.table))
            cp.flush(saved.location, saved.exit_safe, removed=[(req.database, req.table)])


def _connection(config: Any) -> contextlib.closing[Any]:
    return contextlib.closing(db.connect(config))
