"""The sync unit (DM's ``syncer``): replicate the upstream binlog into the target.

Pipeline (one :class:`_Run` per ``process()`` call; the package docstring maps the modules)::

    BinlogReader ──events──▶ _Run.loop: positions (LocationRecorder), schema tracker, filters, routing
        rows ──RowChange──▶ Applier (causality → worker-count DML workers, batch-sized txns)
        DDL ──▶ DDLHandler: drain DML + flush → coordinator → execute on the DDL connection → track
        XID/COMMIT ──▶ global point = end of the transaction (Flusher: checkpoint every interval)

This module holds the unit, the run's set-up and tear-down, and the event loop with its dispatch
by event type. The loop is the hot path (~10^5 events a second): collaborators are bound to locals
once, events are dispatched with ``type(ev) is ...`` and every per-event step is inline or one call.

Where a run starts: :mod:`~.start`; safe mode: :mod:`~.safe_mode`; DDL: :mod:`~.ddl`; checkpoints:
:mod:`~.flusher` and :mod:`~.checkpoint`; status: :mod:`~.status`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import zlib
from typing import Any

import pymysql

from dmshell.engine import db, errors
from dmshell.engine.binlog.location import detect_flavor
from dmshell.engine.binlog.reader import (
    BinlogReader,
    DeleteRowsEvent,
    GtidEvent,
    HeartbeatLogEvent,
    MariadbGtidEvent,
    QueryEvent,
    RotateEvent,
    TableMapEvent,
    UpdateRowsEvent,
    WriteRowsEvent,
    XidEvent,
)
from dmshell.engine.dump.files import read_metadata
from dmshell.engine.filters.expression import ExpressionFilters
from dmshell.engine.filters.rules import BAListFilter, EventFilter, TableRouter
from dmshell.engine.load.loader import load_finished_location
from dmshell.engine.onlineddl import OnlineDDL
from dmshell.engine.relay.stream import open_binlog_stream
from dmshell.engine.schema.tracker import SchemaTracker, load_table_infos
from dmshell.engine.shard import coordinator_for
from dmshell.engine.sync.apply import Aborted, Applier
from dmshell.engine.sync.checkpoint import SyncCheckpoint
from dmshell.engine.sync.coordinator import DDLCoordinator
from dmshell.engine.sync.copy_points import CopyPoints
from dmshell.engine.sync.ddl import DDLHandler, needs_split
from dmshell.engine.sync.ddl_journal import DDLJournal
from dmshell.engine.sync.dml import DELETE, INSERT, UPDATE
from dmshell.engine.sync.flusher import Flusher
from dmshell.engine.sync.location import LocationRecorder
from dmshell.engine.sync.operator import Action, EventOperator
from dmshell.engine.sync.rows import RowHandler
from dmshell.engine.sync.safe_mode import SafeMode
from dmshell.engine.sync.start import StartResolver, UpstreamBinlog
from dmshell.engine.sync.status import Monitor, SyncStats, build_status
from dmshell.engine.sync.table_plan import RowFilters
from dmshell.engine.sync.table_source import TableSource
from dmshell.engine.unit import Unit, UnitContext
from dmshell.proto import dmworker_pb2 as pb

log = logging.getLogger(__name__)

#: seconds between master heartbeats on an idle replication connection (also bounds stop latency)
HEARTBEAT_PERIOD = 1.0
#: on stop, how long the reader may keep reading to finish the transaction it is in
STOP_GRACE = 5.0
#: how long after a stop request it waits for the DML workers before giving up the final flush
STOP_DRAIN_GRACE = 15.0
_ROW_OPS = {WriteRowsEvent: INSERT, UpdateRowsEvent: UPDATE, DeleteRowsEvent: DELETE}
#: events that carry the time of an upstream change (for the lag)
_CHANGE_EVENTS = frozenset(
    {
        TableMapEvent,
        WriteRowsEvent,
        UpdateRowsEvent,
        DeleteRowsEvent,
        XidEvent,
        GtidEvent,
        MariadbGtidEvent,
        QueryEvent,
    }
)
#: statements of a query event that only move the position inside a transaction
_TXN_MARKS = ("SAVEPOINT", "ROLLBACK TO", "XA END", "XA PREPARE", "RELEASE SAVEPOINT")


def replication_server_id(task: str, source_id: str, configured: int = 0) -> int:
    """The server id of the replication connection: the configured one, else derived from the
    task and source (stable across restarts, distinct between tasks)."""
    if configured:
        return configured
    return 1_000_000_000 + zlib.crc32(f"{task}\x00{source_id}".encode()) % 2_000_000_000


class SyncUnit(Unit):
    """DM's sync unit (``pb.Sync``); never ``completed()``: it runs until stopped or failed.

    ``coordinator``: the shard DDL coordinator (default: ``dmshell.engine.shard.coordinator_for``
    the configuration); ``operator``: operations on events at binlog locations (default: none).
    Both are read at the start of every run.
    """

    unit_type = pb.Sync

    def __init__(
        self,
        ctx: UnitContext,
        start_time: str = "",
        *,
        coordinator: DDLCoordinator | None = None,
        operator: EventOperator | None = None,
    ) -> None:
        super().__init__(ctx)
        self._stats = SyncStats()
        self._monitor: Monitor | None = None
        self._stats.enable_gtid = bool(ctx.source.enable_gtid or ctx.cfg.enable_gtid)
        #: ``start-task --start-time``: used by the first run only (then the checkpoint rules)
        self.start_time = start_time or getattr(ctx, "start_time", "") or getattr(ctx.cfg, "start_time", "")
        self.coordinator = coordinator or coordinator_for(ctx)
        self.operator = operator if operator is not None else ctx.operator

    def completed(self) -> bool:
        return False

    def process(self, stop: threading.Event) -> None:
        run = None
        if self._monitor is None:
            self._monitor = Monitor(self._stats, self.ctx.cfg.from_db or self.ctx.source.from_db)
        try:
            run = _Run(self.ctx, self._stats, stop, self.start_time, self.coordinator, self.operator)
            run.execute()
        except errors.DMError as err:
            self._stats.record_error(err)
            raise
        except Exception as exc:
            log.exception("sync unit failed")
            panic = errors.ErrSyncerUnitPanic(f"{type(exc).__name__}: {exc}", cause=exc)
            self._stats.record_error(panic)
            raise panic from exc
        finally:
            if run is not None and run.start_time_applied:
                self.start_time = ""

    def status(self) -> pb.SyncStatus:
        st = build_status(self._stats)
        fill = getattr(self.coordinator, "fill_status", None)  # a shard coordinator's groups
        if fill is not None:
            fill(st)
        return st

    @property
    def unresolved_lock_id(self) -> str:
        """The shard DDL lock this unit waits on ("" when none)."""
        return str(getattr(self.coordinator, "unresolved_lock_id", ""))

    def close(self) -> None:
        if self._monitor is not None:
            self._monitor.close()
            self._monitor = None


class _Run:
    """One ``process()`` call: set-up, the event loop, tear-down."""

    # built by setup()
    loc: LocationRecorder
    safe: SafeMode
    flusher: Flusher
    applier: Applier
    tables: TableSource
    rows: RowHandler
    ddl: DDLHandler
    reader: BinlogReader

    def __init__(
        self,
        ctx: UnitContext,
        stats: SyncStats,
        stop: threading.Event,
        start_time: str,
        coordinator: DDLCoordinator,
        operator: EventOperator | None,
    ) -> None:
        self.ctx = ctx
        self.cfg = cfg = ctx.cfg
        self.source = ctx.source
        self.stats = stats
        self.stop = stop
        self.start_time = start_time
        self.start_time_applied = False
        self.coordinator = coordinator
        self.operator = operator
        self.enable_gtid = bool(self.source.enable_gtid or cfg.enable_gtid)
        self.upstream = cfg.from_db or self.source.from_db
        self.label = f"{cfg.name}/{cfg.source_id}"
        case = bool(cfg.case_sensitive or self.source.case_sensitive)
        try:
            self.balist = BAListFilter(cfg.block_allow_list, case)
        except ValueError as exc:
            raise errors.ErrSyncerUnitGenBAList(cause=exc) from exc
        try:
            self.router = TableRouter(cfg.routes or [], case)
        except ValueError as exc:
            raise errors.ErrSyncerUnitGenTableRouter(cause=exc) from exc
        try:
            self.event_filter = EventFilter(cfg.filters or [], case)
        except ValueError as exc:
            raise errors.ErrSyncerUnitGenBinlogEventFilter(cause=exc) from exc
        self.expr_conn: Any = None  # target connection for expressions evaluated there (lazily)
        exprs = ExpressionFilters(cfg.expression_filters or [], case, self.expr_query)
        self.online: OnlineDDL | None = None  # online-ddl: true (set up with the target)
        self.row_filters = RowFilters(
            self.router, self.event_filter, exprs, cfg.source_id, coordinator=coordinator
        )
        self.tracker = SchemaTracker()
        self.done = threading.Event()
        self.stop_seen: float | None = None  # when the reader first saw the stop request
        self.cleanup = contextlib.ExitStack()  # tear-down, in reverse order of set-up

    # -- lifecycle -----------------------------------------------------------------------------
    def execute(self) -> None:
        with self.cleanup:
            try:
                self.setup()
                self.loop()
                self.flusher.flush()  # stopped cleanly: apply what was read and flush
            except Aborted:
                # stop requested while the target was stuck: the checkpoint stays where it was (the
                # next run replays from there in safe mode)
                log.warning("sync %s stopped without a final checkpoint flush", self.label)

    def connect(self, config: Any) -> Any:
        conn = db.connect(config)
        self.cleanup.callback(_close_quietly, conn)
        return conn

    def setup(self) -> None:
        cfg, stats = self.cfg, self.stats
        self.up = self.connect(self.upstream)
        self.tgt = self.connect(cfg.target)
        ddl_conn = self.connect(cfg.target)
        self.cleanup.callback(lambda: _close_quietly(self.expr_conn))
        try:
            with ddl_conn.cursor() as cur:
                cur.execute("SET SESSION foreign_key_checks = 0")
                cur.execute("SELECT VERSION(), @@max_allowed_packet")
                version, packet = cur.fetchone()
        except pymysql.MySQLError as exc:
            raise db.classify(exc, "SELECT VERSION()") from exc
        try:
            flavor = (self.source.flavor or cfg.flavor or detect_flavor(self.up)).lower()
        except pymysql.MySQLError as exc:
            raise db.classify(exc, "detect upstream flavor") from exc
        stats.flavor = flavor
        checkpoint = SyncCheckpoint(self.tgt, cfg.meta_schema, cfg.name, cfg.source_id)
        checkpoint.ensure_table()
        online = self.online = OnlineDDL.open(cfg)
        if online is not None:
            self.cleanup.callback(online.close)
        saved = checkpoint.load()
        record = checkpoint.load_applied()
        scan_id = replication_server_id(cfg.name, cfg.source_id) + 1  # start-time's binlog scan
        upstream = UpstreamBinlog(self.up, self.upstream, flavor, scan_id, self.label)
        resolver = StartResolver(
            upstream,
            flavor,
            enable_gtid=self.enable_gtid,
            task_mode=cfg.task_mode,
            meta=cfg.meta,
            load_finished=lambda: load_finished_location(self.tgt, cfg),
            label=self.label,
        )
        point = resolver.resolve(saved.location, self.start_time)
        start = point.location
        loc = self.loc = LocationRecorder(start, flavor, stats, point.skip_set)
        self.start_time_applied = point.by_time
        if not point.by_time:  # start-time: the checkpoint's table structures are forgotten (DM)
            for info in load_table_infos((t.schema, t.table, t.table_info) for t in saved.tables):
                self.tracker.put(info, changed=False)
            for t in saved.tables:
                loc.table_points[(t.schema, t.table)] = t.location
        master = upstream.master()
        sc = cfg.syncer
        safe = self.safe = SafeMode(bool(sc.safe_mode), float(sc.safe_mode_duration or 0))
        safe.start(saved.exit_safe, master, start, needed=self.inconsistent_dump(saved.location))
        copy = CopyPoints.read(self.tgt, cfg, start, self.label)
        interval = float(sc.checkpoint_flush_interval)
        flusher = self.flusher = Flusher(checkpoint, loc, safe, self.tracker, stats, interval)
        if point.by_time:
            flusher.tables_changed((), [(t.schema, t.table) for t in saved.tables])
        with stats.lock:
            stats.master = master
            stats.flushed = saved.location
            stats.started = stats.started or time.time()
        if saved.location is None or safe.persisted_exit != saved.exit_safe or point.by_time:
            flusher.flush(drain=False)
            if point.by_time:
                self.ctx.start_time_applied()  # from now on restarts resume from the checkpoint
        else:
            loc.flushed_point, flusher.flushed_exit = start, saved.exit_safe
        applier = self.applier = Applier(
            cfg.target,
            workers=sc.worker_count or 16,
            batch=sc.batch or 100,
            queue_size=sc.queue_size or 1024,
            multiple_rows=sc.multiple_rows,
            compact=sc.compact,
            record=record,
            max_txn_rows=sc.txn_split_rows,
        )
        applier.loc = loc
        checkpoint.prune = True  # every flush from now on follows a drain
        self.cleanup.callback(self.close_applier)
        applier.should_abort = self.give_up
        flusher.drain = applier.drain
        with stats.lock:
            stats.applier = applier
        self.tables = TableSource(self.tracker, loc, self.up, self.tgt, self.router.route, self.ctx.dump_dir)
        self.row_filters.target_keys = self.tables.target_keys
        self.rows = RowHandler(
            balist=self.balist,
            router=self.router,
            tables=self.tables,
            row_filters=self.row_filters,
            loc=loc,
            safe=safe,
            applier=applier,
            target_packet=int(packet or 0),
            online=online,
            copy=copy,
        )
        attach = getattr(self.coordinator, "attach", None)  # a shard coordinator binds the run
        if attach is not None:
            attach(self)
        self.ddl = DDLHandler(
            balist=self.balist,
            router=self.router,
            event_filter=self.event_filter,
            tracker=self.tracker,
            tables=self.tables,
            row_filters=self.row_filters,
            loc=loc,
            safe=safe,
            flusher=flusher,
            stats=stats,
            conn=ddl_conn,
            split=needs_split(str(version)),
            coordinator=self.coordinator,
            online=online,
            copy=copy,
        )
        self.ddl.journal = DDLJournal(ddl_conn, record)
        server_id = replication_server_id(cfg.name, cfg.source_id, self.source.server_id or cfg.server_id)
        reader, stats.binlog_type = open_binlog_stream(
            self.ctx.relay,
            self.upstream,
            server_id,
            start,
            heartbeat=HEARTBEAT_PERIOD,
            on_idle=applier.flush,
            name=cfg.name,
            checkpoint=lambda: stats.flushed,
        )
        self.reader = reader
        refresher = threading.Thread(target=self.refresh_loop, name=f"sync-status-{cfg.name}", daemon=True)
        refresher.start()
        # tear-down: the replication connection goes first (a next run reuses its server id, which the
        # upstream refuses while the old one is connected), then the refresher, the applier, the rest
        self.cleanup.callback(refresher.join, 5)
        self.cleanup.callback(reader.close)
        self.cleanup.callback(reader.interrupt)
        self.cleanup.callback(self.done.set)
        log.info(
            "sync %s starts at %s (safe mode until %s, binlog %s)",
            self.label,
            start,
            safe.exit_point,
            stats.binlog_type,
        )

    def inconsistent_dump(self, checkpoint: Any) -> bool:
        """The first run after a dump that was not consistent (see :mod:`~.safe_mode`)."""
        if checkpoint is not None or self.cfg.task_mode != "all":
            return False
        meta = read_metadata(self.ctx.dump_dir)
        return meta is None or meta.consistency == "none"

    def close_applier(self) -> None:
        self.applier.close(timeout=2)  # drained already, unless the target is stuck
        with self.stats.lock:
            self.stats.rows_before += self.applier.rows_applied
            self.stats.applier = None

    def expr_query(self, sql: str, args: list) -> Any:
        """One value from the target (expressions the in-process evaluator can't handle)."""
        try:
            if self.expr_conn is None:
                self.expr_conn = db.connect(self.cfg.target)
                with self.expr_conn.cursor() as cur:
                    cur.execute("SET SESSION time_zone = '+00:00'")
            with self.expr_conn.cursor() as cur:
                cur.execute(sql, args)
                return cur.fetchone()[0]
        except pymysql.MySQLError as exc:
            if db.is_connection_error(exc) and self.expr_conn is not None:
                _close_quietly(self.expr_conn)
                self.expr_conn = None
            raise db.classify(exc, sql) from exc

    # -- stopping ------------------------------------------------------------------------------
    def refresh_loop(self) -> None:
        """Interrupts a reader blocked on the upstream once a stop may proceed."""
        while not self.done.wait(0.1):
            if self.stop.is_set() and self.stopping():
                self.reader.interrupt()

    def stopping(self) -> bool:
        """Stop requested and the reader at a transaction boundary (or out of patience)."""
        if not self.stop.is_set():
            return False
        if self.stop_seen is None:
            self.stop_seen = time.monotonic()
        return not self.loc.in_txn or time.monotonic() >= self.stop_seen + STOP_GRACE

    def give_up(self) -> bool:
        """Stop requested long enough ago to stop waiting for the target."""
        return self.stopping() and time.monotonic() >= (self.stop_seen or 0) + STOP_DRAIN_GRACE

    # -- the event loop ------------------------------------------------------------------------
    def loop(self) -> None:
        # per event: locals instead of attribute lookups (the loop runs ~10^5 times a second)
        loc, flusher, applier, stats = self.loc, self.flusher, self.applier, self.stats
        stop_requested, stopping, fetch = self.stop.is_set, self.stopping, self.reader.fetch
        on_table_map, on_rows, on_query = self.rows.on_table_map, self.rows.on_rows, self.on_query
        begin, commit = loc.begin, loc.commit
        txn_begin, txn_commit, check = applier.txn_begin, applier.txn_commit, applier.check
        operator = self.operator
        monotonic = time.monotonic
        row_ops, change_events = _ROW_OPS, _CHANGE_EVENTS
        # ``type(ev) is X`` dispatch (the fastest) doesn't narrow for the type checker: ``ev`` is Any
        ev: Any
        while not (stop_requested() and stopping()):
            try:
                ev = fetch()
            except errors.DMError:
                raise
            except Exception as exc:  # the upstream connection failed
                raise errors.ErrSyncerGetEvent(str(exc) or type(exc).__name__, cause=exc) from exc
            if ev is None:
                break
            stats.io_bytes += ev.event_size  # single writer: no lock needed
            stats.events += 1
            kind = type(ev)
            if kind in change_events and ev.timestamp:
                # (not the format description: its time is the binlog file's creation)
                stats.last_event_ts = ev.timestamp
            start = loc.pos
            log_pos = ev.log_pos
            end = log_pos if log_pos > 0 else start
            if kind is XidEvent:
                loc.pos = end
                txn_commit(commit(end))
            elif kind is QueryEvent:
                on_query(ev, start, end)
            elif kind is RotateEvent:
                loc.rotate(ev.next_binlog, ev.position)
                check()
            elif kind is HeartbeatLogEvent:
                check()
                if not loc.in_txn:
                    flusher.on_heartbeat()
                continue
            else:
                if kind is TableMapEvent:
                    on_table_map(ev, start, end)
                elif kind in row_ops:
                    if operator is None or not self.operate(ev, start, end):
                        on_rows(ev, row_ops[kind], start, end)
                elif kind is MariadbGtidEvent or kind is GtidEvent:
                    begin(ev.gtid)
                    txn_begin()
                else:
                    check()
                loc.pos = end
                if not loc.in_txn:
                    commit(end, False)
            if not loc.in_txn and monotonic() >= flusher.due:
                flusher.on_due()

    # -- query events --------------------------------------------------------------------------
    def on_query(self, ev: Any, start: int, end: int) -> None:
        sql = ev.query.strip()
        head = sql[:16].upper()
        loc = self.loc
        if head.startswith(("BEGIN", "XA START")):
            if not loc.in_txn:  # (a GTID event began it already, else this does)
                loc.in_txn = True
                self.applier.txn_begin()
            loc.pos = end
            return
        if head.startswith(_TXN_MARKS):
            loc.pos = end
            return
        statement = not head.startswith(("COMMIT", "XA COMMIT", "ROLLBACK")) and not loc.skip_txn
        if statement:
            schema = _text(ev.schema)
            if self.operator is None or not self.operate(ev, start, end, schema):
                self.ddl.on_statement(sql, schema, ev.timestamp, loc.start_location(start), end)
        loc.pos = end
        in_txn = loc.in_txn
        point = loc.commit(end)
        if in_txn:
            self.applier.txn_commit(point)

    def operate(self, ev: Any, start: int, end: int, schema: str | None = None) -> bool:
        """Apply the operator's operation for the event beginning at ``start`` (see
        :mod:`~.operator`); True when the event itself is not to be applied. ``schema``: a query
        event's default database (rows events: their table's)."""
        if schema is None:
            schema = self.rows.schema_of(ev)
        if schema is None:
            return False  # rows that are not applied anyway
        operator = self.operator
        where = self.loc.start_location(start)
        op = operator.operation(where, ev) if operator is not None else None
        if op is None:
            return False
        log.info("sync %s: binlog %s at %s %s", self.label, op.action, where, list(op.statements))
        if op.action is not Action.SKIP:
            for stmt in op.statements:
                self.ddl.on_statement(stmt, schema, ev.timestamp, where, end)
        return op.action is not Action.INJECT


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _close_quietly(conn: Any) -> None:
    if conn is not None:
        with contextlib.suppress(Exception):  # closing a broken connection
            conn.close()
