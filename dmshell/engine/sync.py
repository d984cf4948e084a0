"""The sync unit (DM's ``syncer``): replicate the upstream binlog into the target.

Pipeline (one :class:`_Run` per ``process()`` call)::

    BinlogReader ──events──▶ reader thread: positions, GTIDs, schema tracker, filters, routing
        rows ──RowChange──▶ Applier (causality → worker-count DML workers, batch-sized txns)
        DDL ──▶ drain DML + flush checkpoint → execute on the DDL connection → track → flush
        XID/COMMIT ──▶ global point = end of the transaction (flushed every checkpoint-flush-interval)

Start position: the syncer checkpoint; else (task-mode ``all``) where the load finished
(:func:`dmshell.engine.load.load_finished_location`); else the task's ``meta`` (``binlog-gtid`` for
GTID sources or when it is the only thing given — resolved to a file/position by
:func:`dmshell.engine.gtid.resolve_gtid_start`, and transactions the GTID set already contains are
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

Checkpoints (``<meta>.<task>_syncer_checkpoint``) are flushed after DDL (and before, so a replay
never starts before an applied DDL), on stop, on heartbeats and every
``checkpoint-flush-interval``; a flush first drains the DML workers, so only fully applied
positions are ever written.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import pymysql
from pymysql.constants import FIELD_TYPE
from pymysqlreplication.event import (
    GtidEvent,
    HeartbeatLogEvent,
    MariadbGtidEvent,
    QueryEvent,
    RotateEvent,
    XidEvent,
)
from pymysqlreplication.row_event import DeleteRowsEvent, TableMapEvent, UpdateRowsEvent, WriteRowsEvent

from dmshell.engine import db, errors
from dmshell.engine.binlog import Location, binlog_gtid_pos, detect_flavor, master_status
from dmshell.engine.checkpoint import SyncCheckpoint, TablePoint
from dmshell.engine.ddl import (
    DDL,
    DDLParseError,
    TableName,
    is_dml_statement,
    parse_ddl,
    route_statement,
)
from dmshell.engine.dml import DELETE, INSERT, UPDATE, RowChange
from dmshell.engine.filters import BAListFilter, EventFilter, TableRouter
from dmshell.engine.gtid import GtidSet, parse_gtid_set, resolve_gtid_start
from dmshell.engine.schema_tracker import SchemaTracker, TableInfo, load_table_infos, table_from_create
from dmshell.engine.sync_apply import Aborted, Applier, downstream
from dmshell.engine.sync_reader import BinlogReader
from dmshell.engine.unit import Unit, UnitContext
from dmshell.proto import dmworker_pb2 as pb

log = logging.getLogger("dmshell.sync")

#: seconds between master heartbeats on an idle replication connection (also bounds stop latency)
HEARTBEAT_PERIOD = 1.0
#: seconds between refreshes of the upstream master position / clock offset for status
STATUS_REFRESH_INTERVAL = 3.0
#: window of the recentRps figure
RECENT_WINDOW = 10.0
#: on stop, how long the reader may keep reading to finish the transaction it is in
STOP_GRACE = 5.0
#: how long after a stop request it waits for the DML workers before giving up the final flush
STOP_DRAIN_GRACE = 15.0
_UTF8 = frozenset({"utf8mb4", "utf8mb3", "utf8"})
_STRING_FIELDS = frozenset({FIELD_TYPE.VARCHAR, FIELD_TYPE.VAR_STRING, FIELD_TYPE.STRING, FIELD_TYPE.BLOB})
_ROW_OPS = {WriteRowsEvent: INSERT, UpdateRowsEvent: UPDATE, DeleteRowsEvent: DELETE}


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
        return (f"startLocation: [{Location(self.file, self.start, self.gtid_before)}], "
                f"endLocation: [{Location(self.file, self.end, after)}]")


class _Stats:
    """Everything ``status()`` reports; written by the run, read from any thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.master: Location | None = None
        self.flushed: Location | None = None
        self.position: Location | None = None  # last transaction boundary read
        self.ts_offset = 0.0  # local clock - upstream clock
        self.io_bytes = 0
        self.rows_before = 0  # rows applied by earlier runs of this unit
        self.applier: Applier | None = None
        self.started: float | None = None
        self.samples: deque[tuple[float, int]] = deque()
        self.last_event_ts = 0
        self.ddl_ts: int | None = None
        self.caught_up_at = 0.0  # upstream-clock time when the reader was last seen caught up
        self.enable_gtid = False
        self.flavor = "mariadb"

    def rows(self) -> int:
        applier = self.applier
        return self.rows_before + (applier.rows_applied if applier else 0)


class SyncUnit(Unit):
    """DM's sync unit (``pb.Sync``); never ``completed()``: it runs until stopped or failed."""

    unit_type = pb.Sync

    def __init__(self, ctx: UnitContext) -> None:
        super().__init__(ctx)
        self._stats = _Stats()
        self._stats.enable_gtid = bool(ctx.source.enable_gtid)

    def completed(self) -> bool:
        return False

    def process(self, stop: threading.Event) -> None:
        run = _Run(self.ctx, self._stats, stop)
        try:
            run.execute()
        except errors.DMError:
            raise
        except Exception as exc:
            log.exception("sync unit failed")
            raise errors.ErrSyncerUnitPanic(f"{type(exc).__name__}: {exc}", cause=exc) from exc

    def status(self) -> pb.SyncStatus:
        s = self._stats
        now = time.time()
        with s.lock:
            master, flushed = s.master, s.flushed
            rows = s.rows()
            total_rps = int(rows / max(1e-3, now - s.started)) if s.started else 0
            recent = 0
            if s.samples:
                t0, r0 = s.samples[0]
                if now - t0 > 0.5:
                    recent = int(max(0, rows - r0) / (now - t0))
            behind = self._seconds_behind(now)
            io_bytes = s.io_bytes
        st = pb.SyncStatus(
            totalEvents=rows, totalTps=total_rps, recentTps=recent,
            totalRows=rows, totalRps=total_rps, recentRps=recent,
            masterBinlog=master.position_str() if master else "",
            masterBinlogGtid=master.gtid if master else "",
            syncerBinlog=flushed.position_str() if flushed else "",
            syncerBinlogGtid=flushed.gtid if flushed else "",
            binlogType="remote",
            secondsBehindMaster=behind,
            ioTotalBytes=io_bytes,
        )
        st.synced = self._synced(master, flushed)
        return st

    def _synced(self, master: Location | None, flushed: Location | None) -> bool:
        if master is None or flushed is None:
            return False
        if self._stats.enable_gtid and master.gtid:
            try:
                flavor = self._stats.flavor
                return parse_gtid_set(master.gtid, flavor) == parse_gtid_set(flushed.gtid, flavor)
            except errors.DMError:
                return master.gtid == flushed.gtid
        return master.same_position(flushed)

    def _seconds_behind(self, now: float) -> int:
        """now - offset - timestamp of the oldest event not applied yet (0 when caught up)."""
        s = self._stats
        oldest = s.applier.oldest_pending_ts() if s.applier else None
        if s.ddl_ts is not None:
            oldest = s.ddl_ts if oldest is None else min(oldest, s.ddl_ts)
        if oldest is None:
            if s.started is None or s.applier is None:
                return 0
            if s.master is None or (s.position is not None and s.position >= s.master):
                return 0
            # nothing in flight but not caught up: the next event is at least this old
            oldest = max(s.last_event_ts, s.caught_up_at)
            if not oldest:
                return 0
        return max(0, int(now - s.ts_offset - oldest))


class _Run:
    """State of one ``process()`` call."""

    def __init__(self, ctx: UnitContext, stats: _Stats, stop: threading.Event) -> None:
        self.ctx = ctx
        self.cfg = ctx.cfg
        self.source = ctx.source
        self.stats = stats
        self.stop = stop
        self.upstream = self.cfg.from_db or self.source.from_db
        case = bool(self.cfg.case_sensitive or self.source.case_sensitive)
        self.balist = BAListFilter(self.cfg.block_allow_list, case)
        self.router = TableRouter(self.cfg.routes or [], case)
        self.event_filter = EventFilter(self.cfg.filters or [], case)
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
        self.table_ids: dict[int, tuple[TableInfo, tuple[str, str], str, str] | None] = {}
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
            log.warning("sync %s/%s stopped without a final checkpoint flush", self.cfg.name,
                        self.cfg.source_id)
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
        saved = self.checkpoint.load()
        for info in load_table_infos((t.schema, t.table, t.table_info) for t in saved.tables):
            self.tracker.put(info, changed=False)
        for t in saved.tables:
            self.table_points[(t.schema, t.table)] = t.location
        start = saved.location or self.initial_location()
        if not start.gtid and self.flavor == "mariadb":
            try:
                start = start.with_gtid(binlog_gtid_pos(self.up, start.file, start.pos))
            except pymysql.MySQLError:
                log.warning("BINLOG_GTID_POS(%s) failed; GTID set starts empty", start.position_str())
        self.file, self.pos = start.file, start.pos
        self.gtid = parse_gtid_set(start.gtid, self.flavor)
        if self.source.enable_gtid and self.skip_set is None and start.gtid:
            # GTID mode: a transaction the start set already holds was applied, wherever it is logged
            self.skip_set = self.gtid.copy()
        self.gtid_text = start.gtid
        self.global_point = start
        try:
            master = master_status(self.up, self.flavor)
        except (pymysql.MySQLError, RuntimeError) as exc:
            raise db.classify(exc, "SHOW MASTER STATUS") from exc
        self.setup_safe_mode(saved.exit_safe, master, start)
        with self.stats.lock:
            self.stats.master = master
            self.stats.position = start
            self.stats.flushed = saved.location
            self.stats.started = self.stats.started or time.time()
        if saved.location is None or self.exit_safe != saved.exit_safe:
            self.flush(drain=False)
        else:
            self.flushed_point = start
        sc = cfg.syncer
        self.applier = Applier(cfg.target, workers=sc.worker_count or 16, batch=sc.batch or 100,
                               queue_size=sc.queue_size or 1024)
        self.applier.should_abort = self.give_up
        with self.stats.lock:
            self.stats.applier = self.applier
        server_id = replication_server_id(cfg.name, cfg.source_id, self.source.server_id or cfg.server_id)
        self.reader = BinlogReader(self.upstream, server_id, start, heartbeat=HEARTBEAT_PERIOD)
        self.refresher = threading.Thread(target=self.refresh_loop, name=f"sync-status-{cfg.name}",
                                          daemon=True)
        self.refresher.start()
        log.info("sync %s/%s starts at %s (safe mode until %s)", cfg.name, cfg.source_id, start,
                 self.exit_safe)

    def initial_location(self) -> Location:
        """Where a task without a syncer checkpoint starts (see the module docstring)."""
        cfg = self.cfg
        if cfg.task_mode in ("all", "load&sync"):
            try:
                from dmshell.engine.load import load_finished_location
            except ImportError:  # pragma: no cover - the load unit is part of the package
                load_finished_location = None
            if load_finished_location is not None:
                loc = load_finished_location(self.tgt, cfg)
                if loc is not None:
                    return loc
        meta = cfg.meta
        if meta is not None and meta.binlog_gtid and (self.source.enable_gtid or not meta.binlog_name):
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

    @property
    def safe_mode(self) -> bool:
        return self.auto_safe or bool(self.cfg.syncer.safe_mode)

    def maybe_leave_safe_mode(self) -> None:
        if (self.auto_safe and self.exit_safe is not None and self.global_point is not None
                and self.global_point >= self.exit_safe and time.monotonic() >= self.safe_until):
            log.info("sync %s/%s leaves safe mode at %s", self.cfg.name, self.cfg.source_id,
                     self.global_point)
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
        for conn in (self.up, self.tgt, self.ddl_conn):
            if conn is not None:
                try:
                    conn.close()
                except Exception:  # closing a broken connection
                    pass

    # -- background: status refresh and prompt stop --------------------------------------------
    def refresh_loop(self) -> None:
        conn = None
        next_refresh = 0.0
        while not self.done.wait(0.1):
            if self.stop.is_set() and self.reader is not None and self.stopping():
                self.reader.interrupt()
            now = time.monotonic()
            if now < next_refresh:
                continue
            next_refresh = now + STATUS_REFRESH_INTERVAL
            try:
                if conn is None:
                    conn = db.connect(self.upstream, read_timeout=10)
                master = master_status(conn, self.flavor)
                with conn.cursor() as cur:
                    cur.execute("SELECT UNIX_TIMESTAMP(NOW(6))")
                    upstream_now = float(cur.fetchone()[0])
                offset = time.time() - upstream_now
            except Exception as exc:  # status only: keep the last values
                log.debug("status refresh failed: %s", exc)
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:
                        pass
                conn = None
                continue
            s = self.stats
            with s.lock:
                s.master = master
                s.ts_offset = offset
                pending = s.applier.oldest_pending_ts() if s.applier else None
                if pending is None and s.ddl_ts is None and s.position is not None and s.position >= master:
                    s.caught_up_at = upstream_now
                t = time.time()
                s.samples.append((t, s.rows()))
                while s.samples and t - s.samples[0][0] > RECENT_WINDOW:
                    s.samples.popleft()
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass

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
        while not self.stopping():
            try:
                ev = self.reader.fetch()
            except errors.DMError:
                raise
            except Exception as exc:  # the upstream connection failed
                raise errors.ErrSyncerGetEvent(str(exc) or type(exc).__name__, cause=exc) from exc
            if ev is None:
                break
            self.handle(ev)
            self.applier.check()
            if not self.in_txn and time.monotonic() - self.last_flush >= interval:
                self.maybe_leave_safe_mode()
                if self.global_point != self.flushed_point or self.exit_safe_changed():
                    self.flush()
                else:
                    self.last_flush = time.monotonic()

    def exit_safe_changed(self) -> bool:
        return self.flushed_exit != self.exit_safe

    def handle(self, ev) -> None:
        self.stats.io_bytes += ev.event_size + 19  # single writer: no lock needed
        kind = type(ev)
        log_pos = ev.packet.log_pos
        start = self.pos
        end = log_pos if log_pos > 0 else self.pos
        if kind is RotateEvent:
            self.file, self.pos = ev.next_binlog, ev.position
            if not self.in_txn:
                self.commit(self.pos, txn=False)
            return
        if kind is HeartbeatLogEvent:
            return
        if ev.timestamp:
            self.stats.last_event_ts = ev.timestamp
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
        if not self.balist.allow_table(schema, table):
            self.table_ids[ev.table_id] = None
            return
        info = self.tracked_table(schema, table)
        try:
            if info is None:
                raise errors.ErrSchemaTrackerCannotGetTable(f"`{schema}`.`{table}`")
            self.patch_columns(ev, info)
        except errors.DMError as err:
            raise self.annotate(err, Location(self.file, start, self.gtid_text), end) from None
        self.table_ids[ev.table_id] = (info, self.router.route(schema, table), schema, table)

    @staticmethod
    def patch_columns(ev: TableMapEvent, info: TableInfo) -> None:
        """Give the decoder what the binlog lacks: names, signedness, ENUM/SET members, charsets."""
        cols = ev.columns
        if len(cols) != len(info.columns):
            raise errors.ErrSyncerUnitDMLColumnNotMatch(len(info.columns), len(cols))
        has_metadata = bool(cols) and cols[0].name is not None
        for bc, tc in zip(cols, info.columns, strict=True):
            if not has_metadata:
                bc.name = tc.name
                bc.unsigned = tc.unsigned
                if bc.type == FIELD_TYPE.ENUM:
                    bc.enum_values = ["", *tc.elements]
                elif bc.type == FIELD_TYPE.SET:
                    bc.set_values = list(tc.elements)
                if bc.type in _STRING_FIELDS:
                    bc.character_set_name = info.column_charset(tc)
            if bc.type in _STRING_FIELDS and (bc.character_set_name or "binary") not in _UTF8:
                # non-UTF-8 text travels as raw bytes: written back byte for byte
                bc.character_set_name = "binary"

    def on_rows(self, ev, op: str, start: int, end: int) -> None:
        entry = self.table_ids.get(ev.table_id)
        if entry is None or self.skip_txn:
            return
        info, target, schema, table = entry
        if self.event_filter.skip_event(schema, table, op):
            return
        origin = _Origin(self.file, start, end, self.gtid_text, self.pending_gtid, self.flavor)
        safe = self.safe_mode
        ts = ev.timestamp
        dispatch = self.applier.dispatch
        for row in ev.rows:
            if op == UPDATE:
                change = RowChange(op, info, target, list(row["before_values"].values()),
                                   list(row["after_values"].values()), ts, origin)
            elif op == INSERT:
                change = RowChange(op, info, target, None, list(row["values"].values()), ts, origin)
            else:
                change = RowChange(op, info, target, list(row["values"].values()), None, ts, origin)
            dispatch(change, safe)

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
                from dmshell.engine.dumpfiles import read_metadata
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
        # tables an ALTER/INDEX/RENAME changes must be known before the target changes
        if ddl.kind in ("alter table", "create index", "drop index", "rename table"):
            for t in ddl.tables[::2] if ddl.kind == "rename table" else ddl.tables[:1]:
                if self.allowed(t):
                    self.tracked_table(t.schema, t.table)
        if ddl.like is not None and self.allowed(ddl.like):
            self.tracked_table(ddl.like.schema, ddl.like.table)
        main = names[0]
        filtered = any(self.event_filter.skip_event(main.schema, main.table, et, ddl.sql)
                       for et in ddl.event_types())
        statements = [] if filtered else route_statement(ddl, self.router.route, self.allowed)
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
        self.tracker.apply(ddl, self.allowed, self.load_table)
        after = Location(self.file, end, self._gtid_after() if self.pending_gtid else self.gtid_text)
        changed, removed = self.tracker.take_changes()
        for info in changed:
            self.table_points[(info.schema, info.name)] = after
        self.pending_changes |= {(i.schema, i.name) for i in changed}
        self.pending_removed |= set(removed)
        self.ddl_done = True

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
            err = db.classify(exc, stmt)
            if not err.resumable:
                err = downstream(err)
            raise self.annotate(err, start_loc, end, ddl.sql) from exc
        log.info("executed DDL: %s", stmt)

    def annotate(self, err: errors.DMError, start_loc: Location, end: int,
                 origin_sql: str = "") -> errors.DMError:
        end_loc = Location(self.file, end, self._gtid_after() if self.pending_gtid else self.gtid_text)
        prefix = f"startLocation: [{start_loc}], endLocation: [{end_loc}]"
        if origin_sql:
            prefix += f", origin SQL: [{origin_sql}]"
        return err.annotate(prefix)

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
        self.checkpoint.flush(point, self.exit_safe if self.auto_safe else None, tables,
                              [k for k in removed if self.tracker.get(*k) is None])
        self.pending_changes, self.pending_removed = set(), set()
        self.ddl_done = False
        self.flushed_point = point
        self.flushed_exit = self.exit_safe
        self.last_flush = time.monotonic()
        with self.stats.lock:
            self.stats.flushed = point
