"""DDL handling of the sync unit (DM's ``syncer/ddl.go``).

A query event's statement is parsed (:mod:`dmshell.engine.ddl.statement`); a DDL then goes through,
in order:

1. the block-allow list (a DDL none of whose tables is replicated is ignored entirely; a gh-ost or
   pt-osc ghost/trash table counts as the real table it stands for, as in DM);
2. online DDL (``online-ddl: true``, :mod:`dmshell.engine.onlineddl`): a DDL on a ghost table is
   recorded, one on a trash table ignored, and the cut-over RENAME gives the recorded statements on
   the real table, which go through the steps below as if run on it upstream (coordination
   included); the record is forgotten once the checkpoint is past the RENAME;
3. routing and the binlog event filter — per table, and per clause of an ALTER
   (:mod:`dmshell.engine.ddl.events`) — giving the target's statements, made idempotent like DM's
   split DDL (``IF [NOT] EXISTS``) and split per clause when the target has no multi-schema change;
4. if any statement is left: the DML workers are drained and the checkpoint flushed (a replay never
   starts before an applied DDL), the shard coordinator decides
   (:mod:`dmshell.engine.sync.coordinator`), and the statements run on the DDL connection. In safe
   mode an "already applied" error (table exists, duplicate column, ...) is ignored; any other error
   stops the unit with ``ErrSyncerUnitHandleDDLFailed`` (36061) annotated with DM's
   ``startLocation: [...], endLocation: [...], origin SQL: [...]``;
5. the schema tracker replays the DDL — also when the event filter or the coordinator kept it from
   the target — and the checkpoint is flushed right after the DDL (:class:`~.flusher.Flusher`).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import pymysql

from dmshell.engine import db, errors
from dmshell.engine.binlog.location import Location
from dmshell.engine.ddl.events import clause_event, statement_event
from dmshell.engine.ddl.statement import (
    DDL,
    AlterAction,
    DDLParseError,
    TableName,
    downstream_statements,
    is_dml_statement,
    parse_ddl,
)
from dmshell.engine.filters.rules import BAListFilter, EventFilter, TableRouter
from dmshell.engine.onlineddl import OnlineDDL, Outcome
from dmshell.engine.schema.tracker import SchemaTracker
from dmshell.engine.sync.apply import downstream
from dmshell.engine.sync.coordinator import DDLCoordinator, DDLJob, Verdict
from dmshell.engine.sync.copy_points import CopyPoints
from dmshell.engine.sync.ddl_journal import DDLJournal
from dmshell.engine.sync.flusher import Flusher
from dmshell.engine.sync.location import LocationRecorder
from dmshell.engine.sync.safe_mode import SafeMode
from dmshell.engine.sync.status import SyncStats
from dmshell.engine.sync.table_plan import RowFilters
from dmshell.engine.sync.table_source import TableSource

log = logging.getLogger(__name__)

#: DDL kinds whose tables must be tracked before the target changes (their structure is needed)
_NEEDS_STRUCTURE = frozenset({"alter table", "create index", "drop index", "rename table"})


#: what a DBA can do about a DDL the target rejects (the error's workaround)
DDL_WORKAROUND = (
    "Fix the target so that the DDL can run and use `resume-task`, or skip the DDL with "
    "`binlog skip <task>`, run other statements instead with `binlog replace <task> <sql>...` or "
    "before it with `binlog inject <task> <sql>...`."
)


def needs_split(version: str) -> bool:
    """Whether a target with this ``VERSION()`` needs one ALTER statement per schema change
    (TiDB before v6.2 has no multi-schema change)."""
    m = re.search(r"TiDB-v?(\d+)\.(\d+)", version)
    return m is not None and (int(m.group(1)), int(m.group(2))) < (6, 2)


class DDLHandler:
    """Handles the statements of query events (see the module docstring).

    ``conn``: the target connection DDL runs on (PyMySQL, autocommit); ``split``: one statement
    per ALTER clause.
    """

    def __init__(
        self,
        *,
        balist: BAListFilter,
        router: TableRouter,
        event_filter: EventFilter,
        tracker: SchemaTracker,
        tables: TableSource,
        row_filters: RowFilters,
        loc: LocationRecorder,
        safe: SafeMode,
        flusher: Flusher,
        stats: SyncStats,
        conn: Any,
        split: bool,
        coordinator: DDLCoordinator,
        online: OnlineDDL | None = None,
        copy: CopyPoints | None = None,
    ) -> None:
        self.balist = balist
        #: a copy from several snapshots: DDL of tables copied whole from a later one is skipped
        self.copy = copy or CopyPoints()
        self.router = router
        self.event_filter = event_filter
        self.tracker = tracker
        self.tables = tables
        self.row_filters = row_filters
        self.loc = loc
        self.safe = safe
        self.flusher = flusher
        self.stats = stats
        self.conn = conn
        self.split = split
        self.coordinator = coordinator
        self.online = online
        #: journals the executed statements (:mod:`~.ddl_journal`; set by the syncer), else None
        self.journal: DDLJournal | None = None

    def allowed(self, name: TableName) -> bool:
        """The block-allow list's verdict (schema-level names: ``table == ""``); a ghost or trash
        table is judged by the real table's name."""
        if not name.table:
            return self.balist.allow_schema(name.schema)
        table = self.online.rules.real_name(name.table) if self.online is not None else name.table
        return self.balist.allow_table(name.schema, table)

    def on_statement(self, sql: str, schema: str, ts: int, start: Location, end: int) -> None:
        """A statement of a query event (not BEGIN/COMMIT...) that began at ``start`` and ends at
        binlog position ``end``; ``schema``: the event's default database."""
        try:
            ddl = parse_ddl(sql, schema)
        except DDLParseError as exc:
            if self.event_filter.skip_sql(sql):
                return
            err = errors.ErrSyncerUnitParseDDL(str(exc), cause=exc)
            raise self.loc.annotate(err, start, end, sql) from exc
        if ddl is None:
            if is_dml_statement(sql) and schema and self.balist.allow_schema(schema):
                raise self.loc.annotate(errors.ErrSyncerUnitDMLStatementFound(), start, end, sql)
            return
        self.on_ddl(ddl, ts, start, end)

    def on_ddl(self, ddl: DDL, ts: int, start: Location, end: int) -> None:
        names = ddl.tables or [TableName(ddl.schema, "")]
        allowed = [n for n in names if self.allowed(n)]
        if not allowed:
            return
        loc = self.loc
        skip = self.copy.skip
        if ddl.tables and all(CopyPoints.before(skip, t.schema, t.table, loc.file, end) for t in ddl.tables):
            return  # before the snapshot these tables were copied from
        if self.online is not None:
            try:
                outcome = self.online.apply(ddl)
            except errors.DMError as err:
                raise loc.annotate(err, start, end, ddl.sql) from None
            if outcome is not None:
                self.on_online_ddl(ddl, outcome, ts, start, end)
                return
        try:
            # tables an ALTER/INDEX/RENAME changes must be known before the target changes
            if ddl.kind in _NEEDS_STRUCTURE:
                for t in ddl.tables[::2] if ddl.kind == "rename table" else ddl.tables[:1]:
                    if self.allowed(t):
                        self.tables.tracked(t.schema, t.table)
            if ddl.like is not None and self.allowed(ddl.like):
                self.tables.tracked(ddl.like.schema, ddl.like.table)
            statements = self.statements(ddl)  # raises for an event filter rule with action Error
        except errors.DMError as err:
            raise loc.annotate(err, start, end, ddl.sql) from None
        if statements:
            self.run(ddl, allowed, statements, ts, start, end)
        else:
            log.info("DDL filtered out: %s", ddl.sql)
        # the tracker follows the upstream, also for DDL kept from the target
        self.tracker.apply(ddl, self.allowed, self.tables.load)
        self.row_filters.forget_tables()
        after = loc.end_location(end)
        changed, removed = self.tracker.take_changes()
        for info in changed:
            loc.table_points[(info.schema, info.name)] = after
        self.flusher.tables_changed([(i.schema, i.name) for i in changed], removed)
        self.flusher.after_ddl()

    def on_online_ddl(self, ddl: DDL, outcome: Outcome, ts: int, start: Location, end: int) -> None:
        """What an online-DDL statement stands for: its statements on real tables, handled as
        usual; the ghost tables' records are forgotten once the checkpoint is past this event."""
        for stmt in outcome.statements:
            real = parse_ddl(stmt, ddl.table.schema)
            if real is not None:
                log.info("online DDL: %s stands for %s", ddl.sql, stmt)
                self.on_ddl(real, ts, start, end)
        if outcome.finished:
            online = self.online
            assert online is not None  # an outcome comes from it
            self.flusher.once_past(self.loc.end_location(end), lambda: online.finish(outcome))
            self.flusher.after_ddl()

    def run(
        self, ddl: DDL, names: list[TableName], statements: list[str], ts: int, start: Location, end: int
    ) -> None:
        """Drain and flush, ask the coordinator, execute."""
        stats = self.stats
        with stats.lock:
            stats.ddl_ts = ts
        try:
            self.flusher.flush()  # drains pending DML; a replay never starts before this DDL
            targets = [(n, self.router.route(n.schema, n.table)) for n in names]
            job = DDLJob(ddl, targets, statements, start, self.loc.end_location(end))
            try:
                verdict = self.coordinator.coordinate(job)
            except errors.DMError as err:
                raise self.loc.annotate(err, start, end, ddl.sql) from None
            if verdict is Verdict.SKIP:
                log.info("DDL skipped by the shard coordinator: %s", ddl.sql)
            elif self.journal is None:
                for stmt in statements:
                    self.execute(ddl, stmt, start, end)
            else:
                self.journal.run(
                    job.end, [t for _n, t in targets], statements, lambda s: self.execute(ddl, s, start, end)
                )
            self.coordinator.after(job)
        finally:
            with stats.lock:
                stats.ddl_ts = None

    def statements(self, ddl: DDL) -> list[str]:
        """What runs on the target: routed, filtered by the block-allow list and (per table, per
        ALTER clause) by the binlog event filter, split for targets that need it."""
        sql, event_filter = ddl.sql, self.event_filter
        if ddl.kind != "alter table" or not ddl.actions:
            event = statement_event(ddl)

            def keep(name: TableName) -> bool:
                return self.allowed(name) and not event_filter.skip_event(name.schema, name.table, event, sql)

            return downstream_statements(ddl, self.router.route, keep, split=self.split)
        table = ddl.table
        info = self.tracker.get(table.schema, table.table)

        def keep_clause(a: AlterAction) -> bool:
            old, primary, unique = None, False, False
            if info is not None and a.kind in ("modify column", "change column") and a.columns:
                i = info.index_of(a.name if a.kind == "change column" else a.columns[0].name)
                if i >= 0:
                    old = info.columns[i]
                    low = old.name.lower()
                    primary = [c.lower() for c in info.primary_key] == [low]
                    unique = any([c.lower() for c in cols] == [low] for _n, cols in info.unique_keys)
            event = clause_event(ddl, a, old, primary=primary, unique=unique)
            return not event_filter.skip_event(table.schema, table.table, event, sql)

        return downstream_statements(ddl, self.router.route, self.allowed, keep_clause, split=self.split)

    def execute(self, ddl: DDL, stmt: str, start: Location, end: int) -> None:
        """One statement on the target; "already applied" errors are ignored in safe mode."""
        try:
            with self.conn.cursor() as cur:
                cur.execute(stmt)
        except pymysql.MySQLError as exc:
            lost = db.is_connection_error(exc)
            if not lost and self.safe.on and ddl.already_applied(db.errno_of(exc)):
                log.warning("safe mode: DDL already applied (%s), skipped: %s", exc, stmt)
                return
            if lost:
                err = db.classify(exc, stmt)  # resumable: the DDL runs again after the resume
            else:
                # the contract: a sync-unit error with the location and origin SQL, the
                # target's error as raw cause (DM itself reports ErrDBExecuteFailed here)
                err = downstream(
                    errors.ErrSyncerUnitHandleDDLFailed(stmt, cause=exc, workaround=DDL_WORKAROUND)
                )
            raise self.loc.annotate(err, start, end, ddl.sql) from exc
        log.info("executed DDL: %s", stmt)
