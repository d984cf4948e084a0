"""The sync unit (DM's ``syncer``): replicate the upstream binlog into the target.

Pipeline (one :class:`_Run` per ``process()`` call)::

    BinlogReader ──events──▶ reader thread: positions, GTIDs, schema tracker, filters, routing
        rows ──RowChange──▶ Applier (causality → worker-count DML workers, batch-sized txns)
        DDL ──▶ drain DML + flush checkpoint → execute on the DDL connection → track → flush
        XID/COMMIT ──▶ global point = end of the transaction (flushed every checkpoint-flush-interval)

Start position: the syncer checkpoint; else (task-mode ``all``) where the load finished
(:func:`dmshell.engine.load.loader.load_finished_location`); else the task's ``meta`` (``binlog-gtid`` for
GTID sources or when it is the only thing given — resolved to a file/position by
:func:`dmshell.engine.binlog.gtid.resolve_gtid_start`, and transactions the GTID set already contains are
skipped); else the upstream's current position.

Safe mode (idempotent SQL: REPLACE, DELETE+REPLACE). Always with ``syncers.safe-mode: true``.
After every (re)start it is on until the stream has passed the upstream's master position
observed at start — every change applied before a crash lies at or before that point, so no
replayed change is ever applied in normal mode — AND at least ``safe-mode-duration`` has passed
(DM only has the time rule, which is unsound when the backlog takes longer than the duration to
replay). The exit point is persisted in ``exit_safe_binlog_*`` (and kept if a previous run's is
further), so a crash during the replay still ends in safe mode. ``safe-mode-duration: 0s``
disables the automatic safe mode; a persisted exit point then fails the start
(``ErrSyncerReprocessWithSafeModeFail``, as DM).

``start-task --start-time`` (:class:`SyncUnit`'s ``start_time``, used by its first run only) wins
over all of these, as in DM: the run starts at the first transaction at or after that time
(:mod:`dmshell.engine.binlog.start_time`) and the checkpoint's location and table structures are dropped.
With ``enable-gtid`` a checkpoint is resumed by its GTID set whenever its file/position doesn't hold
exactly that set on the upstream (fail-over, purged or renamed binlog files).

Filters, in DM's order: block-allow list (rows and DDL), routes, binlog event filter (rows per
event type; DDL per table and per ALTER clause, :mod:`dmshell.engine.ddl.events`), expression
filters and extracted columns (:mod:`dmshell.engine.sync.table_plan`). DDL reaches the target routed,
made idempotent like DM's split DDL (``IF [NOT] EXISTS``) and split per clause when the target needs
it; the schema tracker replays every DDL of a replicated table, also those the event filter kept from
the target. A DDL the target rejects stops the unit with ``ErrSyncerUnitHandleDDLFailed`` (36061,
class sync-unit) annotated with the binlog locations and the origin SQL.

Checkpoints (``<meta>.<task>_syncer_checkpoint``) are flushed after DDL (and before, so a replay
never starts before an applied DDL), on stop, on heartbeats (an idle upstream: `synced` follows
at once) and every ``checkpoint-flush-interval``, never inside an upstream transaction; a flush
first drains the DML workers, so only fully applied positions are ever written. Status:
:mod:`dmshell.engine.sync.status`.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import pymysql

from dmshell.engine import db, errors
from dmshell.engine.binlog.gtid import GtidSet, binlog_files, parse_gtid_set, resolve_gtid_start
from dmshell.engine.binlog.location import Location, binlog_gtid_pos, detect_flavor, master_status
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
from dmshell.engine.binlog.start_time import (
    ABOVE,
    find_location_by_time,
    parse_start_time,
    upstream_utc_offset,
)
from dmshell.engine.ddl.events import clause_event, statement_event
from dmshell.engine.ddl.statement import (
    DDL,
    DDLParseError,
    TableName,
    downstream_statements,
    is_dml_statement,
    parse_ddl,
)
from dmshell.engine.filters.expression import ExpressionFilters
from dmshell.engine.filters.rules import BAListFilter, EventFilter, TableRouter
from dmshell.engine.schema.tracker import SchemaTracker, TableInfo, load_table_infos, table_from_create
from dmshell.engine.sync.apply import Aborted, Applier, downstream
from dmshell.engine.sync.checkpoint import SyncCheckpoint, TablePoint
from dmshell.engine.sync.dml import DELETE, INSERT, UPDATE, RowChange
from dmshell.engine.sync.status import Monitor, SyncStats, build_status
from dmshell.engine.sync.table_plan import RowFilters, TablePlan
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


def needs_split(version: str) -> bool:
    """Whether a target with this ``VERSION()`` needs one ALTER statement per schema change
    (TiDB before v6.2 has no multi-schema change)."""
    m = re.search(r"TiDB-v?(\d+)\.(\d+)", version)
    return m is not None and (int(m.group(1)), int(m.group(2))) < (6, 2)


def replication_server_id(task: str, source_id: str, configured: int = 0) -> int:
    """The server id of the replication connection: the configured one, else derived from the
    task and source (stable across restarts, distinct between tasks)."""
    if configured:
        return configured
    return 1_000_000_000 + zlib.crc32(f"{task}\x00{source_id}".encode()) % 2_000_000_000


@dataclass(slots=True)
class _Origin:
    """Where a row event is, rendered like DM's ``handleEventError`` annotation (lazily)."""

    file: str
    start: int
    end: int
    gtid_before: str
    pending_gtid: str
    flavor: str

    def __str__(self) -> str:
        after = self.gtid_before
        if self.pending_gtid:
            gs = parse_gtid_set(self.gtid_before, self.flavor)
            gs.add(self.pending_gtid)
            after = str(gs)
        return (
            f"startLocation: [{Location(self.file, self.start, self.gtid_before)}], "
            f"endLocation: [{Location(self.file, self.end, after)}]"
        )


class SyncUnit(Unit):
    """DM's sync unit (``pb.Sync``); never ``completed()``: it runs until stopped or failed."""

    unit_type = pb.Sync

    def __init__(self, ctx: UnitContext, start_time: str = "") -> None:
        super().__init__(ctx)
        self._stats = SyncStats()
        self._monitor: Monitor | None = None
        self._stats.enable_gtid = bool(ctx.source.enable_gtid or ctx.cfg.enable_gtid)
        #: ``start-task --start-time``: used by the first run only (then the checkpoint rules)
        self.start_time = start_time or getattr(ctx, "start_time", "") or getattr(ctx.cfg, "start_time", "")

    def completed(self) -> bool:
        return False

    def process(self, stop: threading.Event) -> None:
        run = None
        if self._monitor is None:
            self._monitor = Monitor(self._stats, self.ctx.cfg.from_db or self.ctx.source.from_db)
        try:
            run = _Run(self.ctx, self._stats, stop, self.start_time)
            run.execute()
        except errors.DMError as err:
            self._stats.record_error(err)
            raise
        except Exception as exc:
            log.exception("sync unit failed")
            err = errors.ErrSyncerUnitPanic(f"{type(exc).__name__}: {exc}", cause=exc)
            self._stats.record_error(err)
            raise err from exc
        finally:
            if run is not None and run.start_time_applied:
                self.start_time = ""

    def status(self) -> pb.SyncStatus:
        return build_status(self._stats)

    def close(self) -> None:
        if self._monitor is not None:
            self._monitor.close()
            self._monitor = None


class _Run:
    """State of one ``process()`` call."""

    def __init__(
        self, ctx: UnitContext, stats: SyncStats, stop: threading.Event, start_time: str = ""
    ) -> None:
        self.ctx = ctx
        self.cfg = ctx.cfg
        self.source = ctx.source
        self.stats = stats
        self.stop = stop
        self.start_time = start_time
        self.start_time_applied = False
        self.enable_gtid = bool(self.source.enable_gtid or self.cfg.enable_gtid)
        self.upstream = self.cfg.from_db or self.source.from_db
        case = bool(self.cfg.case_sensitive or self.source.case_sensitive)
        try:
            self.balist = BAListFilter(self.cfg.block_allow_list, case)
        except ValueError as exc:
            raise errors.ErrSyncerUnitGenBAList(cause=exc) from exc
        try:
            self.router = TableRouter(self.cfg.routes or [], case)
        except ValueError as exc:
            raise errors.ErrSyncerUnitGenTableRouter(cause=exc) from exc
        try:
            self.event_filter = EventFilter(self.cfg.filters or [], case)
        except ValueError as exc:
            raise errors.ErrSyncerUnitGenBinlogEventFilter(cause=exc) from exc
        self.expr_conn = None  # target connection for expressions evaluated there (lazily)
        exprs = ExpressionFilters(self.cfg.expression_filters or [], case, self.expr_query)
        self.row_filters = RowFilters(self.router, self.event_filter, exprs, self.cfg.source_id)
        self.split_ddl = False  # one statement per ALTER clause (targets without multi-schema change)
        self.tracker = SchemaTracker()
        self.up = None  # upstream control connection
        self.tgt = None  # target: checkpoint connection
        self.ddl_conn = None
        self.applier: Applier | None = None
        self.reader: BinlogReader | None = None
        self.checkpoint: SyncCheckpoint | None = None
        self.flavor = "mariadb"
        # position bookkeeping
        self.file = ""
        self.pos = 4
        self.gtid: GtidSet | None = None
        self.gtid_text = ""
        self.pending_gtid = ""
        self.in_txn = False
        self.skip_txn = False
        self.skip_set: GtidSet | None = None
        self.global_point: Location | None = None
        self.flushed_point: Location | None = None
        self.last_flush = time.monotonic()
        self.table_points: dict[tuple[str, str], Location] = {}
        #: a full copy dumped from several snapshots: changes of these tables up to the location are
        #: applied in safe mode (copy_safe) or already in the copy (copy_skip)
        self.copy_safe: dict[tuple[str, str], Location] = {}
        self.copy_skip: dict[tuple[str, str], Location] = {}
        self.table_ids: dict[int, tuple[TablePlan, str, str] | None] = {}
        # safe mode
        self.auto_safe = False
        self.exit_safe: Location | None = None
        self.safe_until = 0.0
        self.exec_error = False
        self.refresher: threading.Thread | None = None
        self.done = threading.Event()
        self.stop_seen: float | None = None  # when the reader first saw the stop request
        # checkpoint bookkeeping
        self.pending_changes: set[tuple[str, str]] = set()
        self.pending_removed: set[tuple[str, str]] = set()
        self.flushed_exit: Location | None = None
        self.ddl_done = False
        self._dump_meta = None
        self._dump_meta_loaded = False

    # -- lifecycle -----------------------------------------------------------------------------
    def execute(self) -> None:
        try:
            self.setup()
            self.loop()
            self.finish()
        except Aborted:
            # stop requested while the target was stuck: the checkpoint stays where it was (the
            # next run replays from there in safe mode)
            log.warning(
                "sync %s/%s stopped without a final checkpoint flush", self.cfg.name, self.cfg.source_id
            )
        finally:
            self.teardown()

    def setup(self) -> None:
        cfg = self.cfg
        self.up = db.connect(self.upstream)
        self.tgt = db.connect(cfg.target)
        self.ddl_conn = db.connect(cfg.target)
        with self.ddl_conn.cursor() as cur:
            cur.execute("SET SESSION foreign_key_checks = 0")
        try:
            self.flavor = (self.source.flavor or cfg.flavor or detect_flavor(self.up)).lower()
        except pymysql.MySQLError as exc:
            raise db.classify(exc, "detect upstream flavor") from exc
        self.stats.flavor = self.flavor
        self.checkpoint = SyncCheckpoint(self.tgt, cfg.meta_schema, cfg.name, cfg.source_id)
        self.checkpoint.ensure_table()
        self.split_ddl, self.target_packet = self.target_facts()
        saved = self.checkpoint.load()
        if self.start_time:
            # start-task --start-time wins over everything (DM): the checkpoint's location and
            # table structures are forgotten
            start = self.location_of_time(self.start_time)
            self.pending_removed |= {(t.schema, t.table) for t in saved.tables}
            self.start_time_applied = True
        else:
            for info in load_table_infos((t.schema, t.table, t.table_info) for t in saved.tables):
                self.tracker.put(info, changed=False)
            for t in saved.tables:
                self.table_points[(t.schema, t.table)] = t.location
            start = saved.location or self.initial_location()
            if saved.location is not None and self.enable_gtid and start.gtid:
                start = self.gtid_checked_start(start)
        if not start.gtid and self.flavor == "mariadb":
            try:
                start = start.with_gtid(binlog_gtid_pos(self.up, start.file, start.pos))
            except pymysql.MySQLError:
                log.warning("BINLOG_GTID_POS(%s) failed; GTID set starts empty", start.position_str())
        self.file, self.pos = start.file, start.pos
        self.gtid = parse_gtid_set(start.gtid, self.flavor)
        if self.enable_gtid and self.skip_set is None and start.gtid:
            # GTID mode: a transaction the start set already holds was applied, wherever it is logged
            self.skip_set = self.gtid.copy()
        self.gtid_text = start.gtid
        self.global_point = start
        try:
            master = master_status(self.up, self.flavor)
        except (pymysql.MySQLError, RuntimeError) as exc:
            raise db.classify(exc, "SHOW MASTER STATUS") from exc
        self.setup_safe_mode(saved.exit_safe, master, start)
        self.setup_copy_points(start)
        with self.stats.lock:
            self.stats.master = master
            self.stats.position = start
            self.stats.flushed = saved.location
            self.stats.started = self.stats.started or time.time()
        if saved.location is None or self.exit_safe != saved.exit_safe or self.start_time_applied:
            self.flush(drain=False)
            if self.start_time_applied:
                self.ctx.start_time_applied()  # from now on restarts resume from the checkpoint
        else:
            self.flushed_point = start
        sc = cfg.syncer
        self.applier = Applier(
            cfg.target,
            workers=sc.worker_count or 16,
            batch=sc.batch or 100,
            queue_size=sc.queue_size or 1024,
            multiple_rows=sc.multiple_rows,
            compact=sc.compact,
        )
        self.applier.should_abort = self.give_up
        with self.stats.lock:
            self.stats.applier = self.applier
        server_id = replication_server_id(cfg.name, cfg.source_id, self.source.server_id or cfg.server_id)
        self.reader = BinlogReader(
            self.upstream, server_id, start, heartbeat=HEARTBEAT_PERIOD, on_idle=self.applier.flush
        )
        self.refresher = threading.Thread(
            target=self.refresh_loop, name=f"sync-status-{cfg.name}", daemon=True
        )
        self.refresher.start()
        log.info(
            "sync %s/%s starts at %s (safe mode until %s)", cfg.name, cfg.source_id, start, self.exit_safe
        )

    def target_facts(self) -> tuple[bool, int]:
        """(whether DDL must be split, the target's max_allowed_packet)."""
        try:
            with self.ddl_conn.cursor() as cur:
                cur.execute("SELECT VERSION(), @@max_allowed_packet")
                version, packet = cur.fetchone()
        except pymysql.MySQLError as exc:
            raise db.classify(exc, "SELECT VERSION()") from exc
        return needs_split(str(version)), int(packet or 0)

    def location_of_time(self, text: str) -> Location:
        """The first transaction at or after the start time (DM's ``setGlobalPointByTime``)."""
        try:
            when = parse_start_time(text, upstream_utc_offset(self.up))
        except ValueError as exc:
            raise errors.ErrNotSet(str(exc)) from exc  # dmctl validates the format before
        except pymysql.MySQLError as exc:
            raise db.classify(exc, "read the upstream time zone") from exc
        server_id = replication_server_id(self.cfg.name, self.cfg.source_id) + 1
        loc, kind = find_location_by_time(self.upstream, self.up, when, self.flavor, server_id)
        if kind == ABOVE or loc is None:
            raise errors.ErrConfigStartTimeTooLate(text)
        log.info(
            "sync %s/%s: start-time %s is at %s (%s); the checkpoint is ignored",
            self.cfg.name,
            self.cfg.source_id,
            text,
            loc,
            kind,
        )
        return loc

    def gtid_checked_start(self, start: Location) -> Location:
        """enable-gtid: the checkpoint's GTID set decides; its file/position is used only when it
        still holds exactly that set on the upstream (else, e.g. after a failover or a purge, the
        position is found again from the GTID set)."""
        try:
            files = dict(binlog_files(self.up))
            ok = start.file in files and start.pos <= files[start.file]
            if ok and self.flavor == "mariadb":
                here = binlog_gtid_pos(self.up, start.file, start.pos)
                ok = parse_gtid_set(here, self.flavor) == parse_gtid_set(start.gtid, self.flavor)
            if ok:
                return start
            loc = resolve_gtid_start(self.up, start.gtid, self.flavor)
        except pymysql.MySQLError as exc:
            raise db.classify(exc, "find the checkpoint's GTID set in the upstream binlog") from exc
        log.warning(
            "sync %s/%s: checkpoint %s doesn't match the upstream binlog; resuming from its "
            "GTID set at %s",
            self.cfg.name,
            self.cfg.source_id,
            start,
            loc,
        )
        self.skip_set = parse_gtid_set(loc.gtid, self.flavor)
        return loc

    def initial_location(self) -> Location:
        """Where a task without a syncer checkpoint starts (see the module docstring)."""
        cfg = self.cfg
        if cfg.task_mode in ("all", "load&sync"):
            try:
                from dmshell.engine.load.loader import load_finished_location
            except ImportError:  # pragma: no cover - the load unit is part of the package
                load_finished_location = None
            if load_finished_location is not None:
                loc = load_finished_location(self.tgt, cfg)
                if loc is not None:
                    return loc
        meta = cfg.meta
        if meta is not None and meta.binlog_gtid and (self.enable_gtid or not meta.binlog_name):
            try:
                loc = resolve_gtid_start(self.up, meta.binlog_gtid, self.flavor)
            except pymysql.MySQLError as exc:
                raise db.classify(exc, "resolve the start GTID set") from exc
            self.skip_set = parse_gtid_set(loc.gtid, self.flavor)
            return loc
        if meta is not None and meta.binlog_name:
            return Location(meta.binlog_name, meta.binlog_pos or 4, meta.binlog_gtid)
        try:
            return master_status(self.up, self.flavor)
        except (pymysql.MySQLError, RuntimeError) as exc:
            raise db.classify(exc, "SHOW MASTER STATUS") from exc

    def setup_safe_mode(self, saved_exit: Location | None, master: Location, start: Location) -> None:
        duration = float(self.cfg.syncer.safe_mode_duration or 0)
        if duration <= 0:
            if saved_exit is not None and saved_exit > start:
                raise errors.ErrSyncerReprocessWithSafeModeFail()
            return
        exit_point = master
        if saved_exit is not None and saved_exit > exit_point:
            exit_point = saved_exit
        self.auto_safe = True
        self.exit_safe = exit_point
        self.safe_until = time.monotonic() + duration

    def setup_copy_points(self, start: Location) -> None:
        """A full copy whose dump was resumed came from several snapshots
        (:func:`dmshell.engine.load.loader.load_resume_points`); what lies beyond ``start`` matters."""
        if self.cfg.task_mode not in ("all", "load&sync"):
            return
        from dmshell.engine.load.loader import load_resume_points  # as in initial_location

        points = load_resume_points(self.tgt, self.cfg)
        if points is not None:
            self.copy_safe = {t: loc for t, loc in points.safe_until.items() if loc > start}
            self.copy_skip = {t: loc for t, loc in points.skip_until.items() if loc > start}
            if self.copy_safe or self.copy_skip:
                log.info(
                    "sync %s/%s: the copy came from several snapshots; safe mode for %d table(s) and "
                    "skipped changes of %d table(s) until their snapshot",
                    self.cfg.name,
                    self.cfg.source_id,
                    len(self.copy_safe),
                    len(self.copy_skip),
                )

    def copied(self, points: dict[tuple[str, str], Location], schema: str, table: str, end: int) -> bool:
        """Whether the change ending at ``end`` is before the table's point in ``points``."""
        loc = points.get((schema, table)) if points else None
        return loc is not None and Location(self.file, end) <= loc

    @property
    def safe_mode(self) -> bool:
        return self.auto_safe or bool(self.cfg.syncer.safe_mode)

    def maybe_leave_safe_mode(self) -> None:
        if (
            self.auto_safe
            and self.exit_safe is not None
            and self.global_point is not None
            and self.global_point >= self.exit_safe
            and time.monotonic() >= self.safe_until
        ):
            log.info(
                "sync %s/%s leaves safe mode at %s", self.cfg.name, self.cfg.source_id, self.global_point
            )
            self.auto_safe = False
            self.exit_safe = None

    def finish(self) -> None:
        """Stopped cleanly: apply what was read (up to the last transaction end) and flush."""
        self.flush()

    def teardown(self) -> None:
        self.done.set()
        if self.reader is not None:
            self.reader.interrupt()
            self.reader.close()
        if self.refresher is not None:
            self.refresher.join(5)
        if self.applier is not None:
            self.applier.close(timeout=2)  # drained already, unless the target is stuck
            with self.stats.lock:
                self.stats.rows_before += self.applier.rows_applied
                self.stats.applier = None
        for conn in (self.up, self.tgt, self.ddl_conn, self.expr_conn):
            if conn is not None:
                try:
                    conn.close()
                except Exception:  # closing a broken connection
                    pass

    # -- background: prompt stop ---------------------------------------------------------------
    def refresh_loop(self) -> None:
        """Interrupts a reader blocked on the upstream once a stop may proceed."""
        while not self.done.wait(0.1):
            if self.stop.is_set() and self.reader is not None and self.stopping():
                self.reader.interrupt()

    # -- the reader loop -----------------------------------------------------------------------
    def stopping(self) -> bool:
        """Stop requested and the reader at a transaction boundary (or out of patience)."""
        if not self.stop.is_set():
            return False
        if self.stop_seen is None:
            self.stop_seen = time.monotonic()
        return not self.in_txn or time.monotonic() >= self.stop_seen + STOP_GRACE

    def give_up(self) -> bool:
        """Stop requested long enough ago to stop waiting for the target."""
        return self.stopping() and time.monotonic() >= self.stop_seen + STOP_DRAIN_GRACE

    def loop(self) -> None:
        interval = max(0.0, float(self.cfg.syncer.checkpoint_flush_interval))
        # per event: locals instead of attribute lookups (the loop runs ~10^5 times a second)
        stop_requested, fetch = self.stop.is_set, self.reader.fetch
        handle, check = self.handle, self.applier.check
        while not (stop_requested() and self.stopping()):
            try:
                ev = fetch()
            except errors.DMError:
                raise
            except Exception as exc:  # the upstream connection failed
                raise errors.ErrSyncerGetEvent(str(exc) or type(exc).__name__, cause=exc) from exc
            if ev is None:
                break
            handle(ev)
            check()
            if type(ev) is HeartbeatLogEvent and not self.in_txn and self.global_point != self.flushed_point:
                # idle upstream: flush now, so the checkpoint reaches the master position and
                # the task shows `synced` without waiting for checkpoint-flush-interval
                self.flush()
            elif not self.in_txn and time.monotonic() - self.last_flush >= interval:
                self.maybe_leave_safe_mode()
                if self.global_point != self.flushed_point or self.exit_safe_changed():
                    self.flush()
                else:
                    self.last_flush = time.monotonic()

    def exit_safe_changed(self) -> bool:
        return self.flushed_exit != self.exit_safe

    def handle(self, ev) -> None:
        stats = self.stats
        stats.io_bytes += ev.event_size  # single writer: no lock needed
        stats.events += 1
        kind = type(ev)
        log_pos = ev.log_pos
        start = self.pos
        end = log_pos if log_pos > 0 else self.pos
        if kind is RotateEvent:
            self.file, self.pos = ev.next_binlog, ev.position
            if not self.in_txn:
                self.commit(self.pos, txn=False)
            return
        if kind is HeartbeatLogEvent:
            return
        if kind in _CHANGE_EVENTS and ev.timestamp:
            # (not the format description: its time is the binlog file's creation)
            stats.last_event_ts = ev.timestamp
        if kind is TableMapEvent:
            self.on_table_map(ev, start, end)
        elif kind in _ROW_OPS:
            self.on_rows(ev, _ROW_OPS[kind], start, end)
        elif kind is XidEvent:
            self.pos = end
            self.commit(end)
            return
        elif kind is MariadbGtidEvent or kind is GtidEvent:
            self.begin(ev.gtid)
        elif kind is QueryEvent:
            self.on_query(ev, start, end)
            return
        self.pos = end
        if not self.in_txn:
            self.commit(end, txn=False)

    def begin(self, gtid: str) -> None:
        self.in_txn = True
        self.pending_gtid = gtid
        self.skip_txn = self.skip_set is not None and self.skip_set.contains(gtid)

    def commit(self, end_pos: int, txn: bool = True) -> None:
        """A transaction (or a statement outside one) ended at ``end_pos``: new global point."""
        if txn and self.pending_gtid:
            self.gtid.add(self.pending_gtid)
            self.gtid_text = str(self.gtid)
        self.pending_gtid = ""
        self.in_txn = False
        self.skip_txn = False
        point = self.global_point
        if point is None or point.pos != end_pos or point.file != self.file or point.gtid != self.gtid_text:
            self.global_point = Location(self.file, end_pos, self.gtid_text)
            with self.stats.lock:
                self.stats.position = self.global_point

    # -- rows ----------------------------------------------------------------------------------
    def allowed(self, name: TableName) -> bool:
        if not name.table:
            return self.balist.allow_schema(name.schema)
        return self.balist.allow_table(name.schema, name.table)

    def on_table_map(self, ev: TableMapEvent, start: int, end: int) -> None:
        schema, table = ev.schema, ev.table
        if not self.balist.allow_table(schema, table) or self.copied(self.copy_skip, schema, table, end):
            self.table_ids[ev.table_id] = None
            return
        info = self.tracked_table(schema, table)
        try:
            if info is None:
                raise errors.ErrSchemaTrackerCannotGetTable(f"`{schema}`.`{table}`")
            ev.bind(info)  # rows are decoded with the tracked structure (36027 on a count mismatch)
            plan = self.row_filters.plan(schema, table, info)
        except errors.DMError as err:
            raise self.annotate(err, Location(self.file, start, self.gtid_text), end) from None
        self.table_ids[ev.table_id] = (plan, schema, table)

    def on_rows(self, ev, op: str, start: int, end: int) -> None:
        entry = self.table_ids.get(ev.table_id)
        if entry is None or self.skip_txn:
            return
        plan, schema, table = entry
        verdict = plan.verdict[op]
        if verdict != "Do":
            if verdict == "Ignore":
                return
            err = errors.ErrSyncerUnitBinlogEventFilter(f"event {op} on `{schema}`.`{table}`")
            raise self.annotate(err, Location(self.file, start, self.gtid_text), end)
        if self.target_packet and ev.event_size > self.target_packet:
            self.check_row_size(ev, op, schema, table, start, end)
        origin = _Origin(self.file, start, end, self.gtid_text, self.pending_gtid, self.flavor)
        safe = self.safe_mode or self.copied(self.copy_safe, schema, table, end)
        ts = ev.timestamp
        info, target = plan.info, plan.target
        if not plan.simple:
            self.on_rows_filtered(ev, op, plan, ts, origin, start, end, safe)
            return
        self.applier.dispatch_rows(op, info, target, ev.decode(), ts, origin, safe)

    def check_row_size(self, ev, op: str, schema: str, table: str, start: int, end: int) -> None:
        """A row whose statement can't fit the target's max_allowed_packet: the target would just
        drop the connection (a resumable error, retried forever), so stop with a clear error, as DM
        does (its driver refuses such a packet)."""
        images = len(ev.decode()) or 1
        row = ev.event_size // images  # bytes of one row image, about what its statement carries
        if row <= self.target_packet:
            return
        err = downstream(
            errors.ErrDBExecuteFailed(
                f"{op} of a {row}-byte row into {db.quote_table(*self.router.route(schema, table))}",
                cause="packet for query is too large: the target's max_allowed_packet is "
                f"{self.target_packet}",
                workaround="Raise max_allowed_packet on the target database (SET GLOBAL max_allowed_packet "
                "= ...; new connections use it), then use `resume-task` to resume the task.",
            )
        )
        raise self.annotate(err, Location(self.file, start, self.gtid_text), end)

    def on_rows_filtered(
        self, ev, op: str, plan: TablePlan, ts: int, origin: _Origin, start: int, end: int, safe: bool
    ) -> None:
        """Rows of a table with expression filters or extracted columns."""
        dispatch = self.applier.dispatch
        exprs, extra = plan.exprs, plan.extra
        images = ev.decode()
        step = 2 if op == UPDATE else 1
        for i in range(0, len(images), step):
            if op == UPDATE:
                before, after = images[i], images[i + 1]
            elif op == INSERT:
                before, after = None, images[i]
            else:
                before, after = images[i], None
            if exprs is not None:
                try:
                    if exprs.skip(op, before, after):
                        continue
                except errors.DMError as err:
                    raise self.annotate(err, Location(self.file, start, self.gtid_text), end) from None
            if extra:
                before = None if before is None else before + extra
                after = None if after is None else after + extra
            dispatch(RowChange(op, plan.info, plan.target, before, after, ts, origin), safe)

    def _gtid_after(self) -> str:
        after = self.gtid.copy()
        after.add(self.pending_gtid)
        return str(after)

    # -- schema --------------------------------------------------------------------------------
    def tracked_table(self, schema: str, table: str) -> TableInfo | None:
        info = self.tracker.get(schema, table)
        if info is None:
            info = self.load_table(schema, table)
            if info is not None:
                self.tracker.put(info)
                self.table_points[(schema, table)] = self.global_point
        return info

    def load_table(self, schema: str, table: str) -> TableInfo | None:
        """A table the tracker doesn't know: from the dump, else the upstream, else the target."""
        sql = self.dump_schema(schema, table)
        source = "dump"
        if sql is None:
            sql, source = self.show_create(self.up, schema, table), "upstream"
        if sql is None:
            sql, source = self.show_create(self.tgt, *self.router.route(schema, table)), "target"
        if sql is None:
            return None
        info = table_from_create(sql, schema)
        info.schema, info.name = schema, table
        log.info("schema tracker: `%s`.`%s` taken from the %s", schema, table, source)
        return info

    def dump_schema(self, schema: str, table: str) -> str | None:
        if not self._dump_meta_loaded:
            self._dump_meta_loaded = True
            try:
                from dmshell.engine.dump.files import read_metadata

                self._dump_meta = read_metadata(Path(self.ctx.dump_dir))
            except Exception as exc:  # the dump is only a hint here
                log.debug("no usable dump metadata: %s", exc)
        meta = self._dump_meta
        if meta is None:
            return None
        for tm in meta.tables:
            if tm.schema == schema and tm.table == table:
                try:
                    return (Path(self.ctx.dump_dir) / tm.schema_file).read_text(encoding="utf-8")
                except OSError:
                    return None
        return None

    @staticmethod
    def show_create(conn, schema: str, table: str) -> str | None:
        try:
            with conn.cursor() as cur:
                cur.execute(f"SHOW CREATE TABLE {db.quote_table(schema, table)}")
                row = cur.fetchone()
        except pymysql.MySQLError as exc:
            if db.errno_of(exc) in (1146, 1049):
                return None
            raise db.classify(exc, f"SHOW CREATE TABLE {db.quote_table(schema, table)}") from exc
        return str(row[1]) if row and len(row) > 1 else None

    # -- query events --------------------------------------------------------------------------
    def on_query(self, ev: QueryEvent, start: int, end: int) -> None:
        sql = ev.query.strip()
        head = sql[:16].upper()
        if head.startswith("BEGIN") or head.startswith("XA START"):
            self.in_txn = True
            self.pos = end
            return
        if head.startswith("COMMIT") or head.startswith("XA COMMIT"):
            self.pos = end
            self.commit(end)
            return
        if head.startswith(("SAVEPOINT", "ROLLBACK TO", "XA END", "XA PREPARE", "RELEASE SAVEPOINT")):
            self.pos = end
            return
        if head.startswith("ROLLBACK"):
            self.pos = end
            self.commit(end)
            return
        schema = ev.schema.decode("utf-8", "replace") if isinstance(ev.schema, bytes) else str(ev.schema)
        start_loc = Location(self.file, start, self.gtid_text)
        if not self.skip_txn:
            self.on_statement(sql, schema, ev.timestamp, start_loc, end)
        self.pos = end
        self.commit(end)
        if self.ddl_done:
            self.flush()  # DM: the checkpoint is flushed synchronously after a DDL

    def on_statement(self, sql: str, schema: str, ts: int, start_loc: Location, end: int) -> None:
        try:
            ddl = parse_ddl(sql, schema)
        except DDLParseError as exc:
            if self.event_filter.skip_sql(sql):
                return
            err = errors.ErrSyncerUnitParseDDL(str(exc), cause=exc)
            raise self.annotate(err, start_loc, end, sql) from exc
        if ddl is None:
            if is_dml_statement(sql) and schema and self.balist.allow_schema(schema):
                raise self.annotate(errors.ErrSyncerUnitDMLStatementFound(), start_loc, end, sql)
            return
        self.on_ddl(ddl, ts, start_loc, end)

    def on_ddl(self, ddl: DDL, ts: int, start_loc: Location, end: int) -> None:
        names = ddl.tables or [TableName(ddl.schema, "")]
        if not any(self.allowed(n) for n in names):
            return
        if ddl.tables and all(self.copied(self.copy_skip, t.schema, t.table, end) for t in ddl.tables):
            return  # before the snapshot these tables were copied from
        # tables an ALTER/INDEX/RENAME changes must be known before the target changes
        if ddl.kind in ("alter table", "create index", "drop index", "rename table"):
            for t in ddl.tables[::2] if ddl.kind == "rename table" else ddl.tables[:1]:
                if self.allowed(t):
                    self.tracked_table(t.schema, t.table)
        if ddl.like is not None and self.allowed(ddl.like):
            self.tracked_table(ddl.like.schema, ddl.like.table)
        try:
            statements = self.ddl_statements(ddl)
        except errors.DMError as err:  # an event filter rule with action Error
            raise self.annotate(err, start_loc, end, ddl.sql) from None
        if statements:
            with self.stats.lock:
                self.stats.ddl_ts = ts
            try:
                self.flush()  # drains pending DML; a replay never starts before this DDL
                for stmt in statements:
                    self.execute_ddl(ddl, stmt, start_loc, end)
            finally:
                with self.stats.lock:
                    self.stats.ddl_ts = None
        else:
            log.info("DDL filtered out: %s", ddl.sql)
        # the tracker follows the upstream, also for DDL the event filter kept from the target
        self.tracker.apply(ddl, self.allowed, self.load_table)
        self.row_filters.forget_tables()
        after = Location(self.file, end, self._gtid_after() if self.pending_gtid else self.gtid_text)
        changed, removed = self.tracker.take_changes()
        for info in changed:
            self.table_points[(info.schema, info.name)] = after
        self.pending_changes |= {(i.schema, i.name) for i in changed}
        self.pending_removed |= set(removed)
        self.ddl_done = True

    def ddl_statements(self, ddl: DDL) -> list[str]:
        """What runs on the target: routed, filtered by the block-allow list and (per table, per
        ALTER clause) by the binlog event filter, split for targets that need it."""
        sql, event_filter = ddl.sql, self.event_filter
        if ddl.kind != "alter table" or not ddl.actions:
            event = statement_event(ddl)

            def keep(name: TableName) -> bool:
                return self.allowed(name) and not event_filter.skip_event(name.schema, name.table, event, sql)

            return downstream_statements(ddl, self.router.route, keep, split=self.split_ddl)
        table = ddl.table
        info = self.tracker.get(table.schema, table.table)

        def keep_clause(a) -> bool:
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

        return downstream_statements(ddl, self.router.route, self.allowed, keep_clause, split=self.split_ddl)

    def execute_ddl(self, ddl: DDL, stmt: str, start_loc: Location, end: int) -> None:
        try:
            with self.ddl_conn.cursor() as cur:
                cur.execute(stmt)
        except pymysql.MySQLError as exc:
            errno = db.errno_of(exc)
            if not db.is_connection_error(exc) and self.safe_mode and ddl.already_applied(errno):
                log.warning("safe mode: DDL already applied (%s), skipped: %s", exc, stmt)
                return
            self.exec_error = True
            if db.is_connection_error(exc):
                err = db.classify(exc, stmt)  # resumable: the DDL runs again after the resume
            else:
                # the contract: a sync-unit error with the location and origin SQL, the
                # target's error as raw cause (DM itself reports ErrDBExecuteFailed here)
                err = downstream(errors.ErrSyncerUnitHandleDDLFailed(stmt, cause=exc))
            raise self.annotate(err, start_loc, end, ddl.sql) from exc
        log.info("executed DDL: %s", stmt)

    def annotate(
        self, err: errors.DMError, start_loc: Location, end: int, origin_sql: str = ""
    ) -> errors.DMError:
        end_loc = Location(self.file, end, self._gtid_after() if self.pending_gtid else self.gtid_text)
        prefix = f"startLocation: [{start_loc}], endLocation: [{end_loc}]"
        if origin_sql:
            prefix += f", origin SQL: [{origin_sql}]"
        return err.annotate(prefix)

    def expr_query(self, sql: str, args: list):
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
                self.expr_conn.close()
                self.expr_conn = None
            raise db.classify(exc, sql) from exc

    # -- checkpoints ---------------------------------------------------------------------------
    def flush(self, drain: bool = True) -> None:
        """Write the global point (after draining the DML workers) and the changed tables."""
        if drain and self.applier is not None:
            self.applier.drain()
        self.maybe_leave_safe_mode()
        point = self.global_point
        lazily_loaded, gone = self.tracker.take_changes()
        changed = self.pending_changes | {(i.schema, i.name) for i in lazily_loaded}
        removed = self.pending_removed | set(gone)
        tables = []
        for key in changed:
            info = self.tracker.get(*key)
            if info is not None:
                tables.append(TablePoint(key[0], key[1], self.table_points.get(key, point), info.to_json()))
        self.checkpoint.flush(
            point,
            self.exit_safe if self.auto_safe else None,
            tables,
            [k for k in removed if self.tracker.get(*k) is None],
        )
        self.pending_changes, self.pending_removed = set(), set()
        self.ddl_done = False
        self.flushed_point = point
        self.flushed_exit = self.exit_safe
        self.last_flush = time.monotonic()
        with self.stats.lock:
            self.stats.flushed = point
