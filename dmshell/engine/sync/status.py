"""The sync unit's live status: counters written by the run, a monitor thread, ``pb.SyncStatus``.

The :class:`Monitor` lives as long as the unit (also while it is paused between runs): every
``interval`` it reads the upstream's master position and clock, so ``masterBinlog`` and the lag stay
live when the task is blocked, stalled or paused.

``secondsBehindMaster`` (DM computes it from the last executed batch, so it drops to 0 between
batches and freezes while blocked) is ``now - clock offset - T`` where ``T`` is the upstream
timestamp of the oldest change read but not applied yet (a DML in a worker queue or in flight, a
DDL executing). With nothing in flight it is 0 only when the last fresh master position shows the
reader caught up; otherwise ``T`` is the later of the last event read and the last time the unit
was seen caught up, so the figure keeps growing while the reader is stuck, the upstream is
unreachable or the task is paused behind a moving upstream.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any

from dmshell.engine import db, errors
from dmshell.engine.binlog.gtid import parse_gtid_set
from dmshell.engine.binlog.location import Location, master_status
from dmshell.engine.config.database import DBConfig
from dmshell.proto import dmworker_pb2 as pb

log = logging.getLogger(__name__)

#: seconds between refreshes of the upstream master position and clock offset
REFRESH_INTERVAL = 1.0
#: a master position older than this doesn't prove the unit caught up
STALE_AFTER = 5.0
#: window of the recent-rate figures
RECENT_WINDOW = 10.0


class SyncStats:
    """Everything ``status()`` reports; written by the run and the monitor, read from any thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.master: Location | None = None
        self.refreshed_at = 0.0  # time.time() of the last successful master refresh
        self.flushed: Location | None = None
        self.position: Location | None = None  # last transaction boundary read
        self.ts_offset = 0.0  # local clock - upstream clock
        self.io_bytes = 0  # single writer (the run's reader thread)
        self.events = 0  # binlog events read (single writer)
        self.rows_before = 0  # rows applied by earlier runs of this unit
        self.applier: Any = None
        self.started: float | None = None
        self.samples: deque[tuple[float, int, int, int]] = deque()  # (time, rows, events, bytes)
        self.last_event_ts = 0
        self.ddl_ts: int | None = None
        self.caught_up_at = 0.0  # upstream-clock time when the reader was last seen caught up
        self.enable_gtid = False
        self.flavor = ""
        self.last_error = ""
        self.last_error_time = 0
        self.binlog_type = "remote"  # "local": the run reads the relay log

    def rows(self) -> int:
        applier = self.applier
        return self.rows_before + (applier.rows_applied if applier else 0)

    def record_error(self, err: errors.DMError) -> None:
        with self.lock:
            self.last_error = str(err)
            self.last_error_time = int(time.time())

    def oldest_pending(self) -> int | None:
        """Upstream timestamp of the oldest change read but not applied (DML or DDL)."""
        oldest = self.applier.oldest_pending_ts() if self.applier is not None else None
        if self.ddl_ts is not None:
            oldest = self.ddl_ts if oldest is None else min(oldest, self.ddl_ts)
        return oldest

    def caught_up(self, master: Location) -> bool:
        return self.position is not None and self.position >= master


class Monitor:
    """Refreshes the master position, clock offset and rate samples for one unit."""

    def __init__(self, stats: SyncStats, upstream: DBConfig, interval: float = REFRESH_INTERVAL) -> None:
        self.stats = stats
        self.upstream = upstream
        self.interval = interval
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sync-monitor", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._done.set()
        self._thread.join(5)

    def _run(self) -> None:
        conn = None
        while True:
            try:
                if conn is None:
                    conn = db.connect(self.upstream, read_timeout=10, connect_timeout=5)
                self.refresh(conn)
            except Exception as exc:  # status only: keep the last values
                log.debug("sync status refresh failed: %s", exc)
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:
                        pass
                conn = None
            self.sample()
            if self._done.wait(self.interval):
                break
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass

    def refresh(self, conn) -> None:
        s = self.stats
        master = master_status(conn, s.flavor or None)
        with conn.cursor() as cur:
            cur.execute("SELECT UNIX_TIMESTAMP(NOW(6))")
            upstream_now = float(cur.fetchone()[0])
        now = time.time()
        with s.lock:
            s.master = master
            s.ts_offset = now - upstream_now
            s.refreshed_at = now
            if s.oldest_pending() is None and s.caught_up(master):
                s.caught_up_at = upstream_now

    def sample(self) -> None:
        s = self.stats
        t = time.time()
        with s.lock:
            s.samples.append((t, s.rows(), s.events, s.io_bytes))
            while len(s.samples) > 1 and t - s.samples[0][0] > RECENT_WINDOW:
                s.samples.popleft()


def _queue_depths(applier: Any) -> tuple[list[int], int]:
    """Per-worker queue lengths and the queue capacity of an Applier (best effort)."""
    if applier is None:
        return [], 0
    depths = getattr(applier, "queue_depths", None)
    if callable(depths):
        return list(depths()), int(getattr(applier, "queue_size", 0) or 0)
    workers = getattr(applier, "_workers", [])
    return [w.queue.qsize() for w in workers], int(getattr(applier, "queue_size", 0) or 0)


def seconds_behind(s: SyncStats, now: float) -> int:
    """See the module docstring; called with ``s.lock`` held."""
    oldest: float | None = s.oldest_pending()
    if oldest is None:
        if s.started is None:
            return 0
        fresh = now - s.refreshed_at <= STALE_AFTER
        if fresh and s.master is not None and s.caught_up(s.master):
            return 0
        oldest = max(s.last_event_ts, s.caught_up_at)
        if not oldest:
            return 0
    return max(0, int(now - s.ts_offset - oldest))


def synced(s: SyncStats, master: Location | None, flushed: Location | None) -> bool:
    if master is None or flushed is None:
        return False
    if s.enable_gtid and master.gtid:
        try:
            flavor = s.flavor or "mariadb"
            return parse_gtid_set(master.gtid, flavor) == parse_gtid_set(flushed.gtid, flavor)
        except errors.DMError:
            return master.gtid == flushed.gtid
    return master.same_position(flushed)


def build_status(s: SyncStats) -> pb.SyncStatus:
    """A ``pb.SyncStatus`` snapshot (thread-safe)."""
    now = time.time()
    with s.lock:
        master, flushed, read = s.master, s.flushed, s.position
        executing_ddl = s.ddl_ts is not None
        rows, events, io_bytes = s.rows(), s.events, s.io_bytes
        total_rps = int(rows / max(1e-3, now - s.started)) if s.started else 0
        recent_rows = recent_events = recent_bytes = 0
        if s.samples:
            t0, r0, e0, b0 = s.samples[0]
            if now - t0 > 0.5:
                span = now - t0
                recent_rows = int(max(0, rows - r0) / span)
                recent_events = int(max(0, events - e0) / span)
                recent_bytes = int(max(0, io_bytes - b0) / span)
        behind = seconds_behind(s, now)
        depths, capacity = _queue_depths(s.applier)
        last_error, last_error_time = s.last_error, s.last_error_time
        is_synced = synced(s, master, flushed)
    st = pb.SyncStatus(
        totalEvents=rows,
        totalTps=total_rps,
        recentTps=recent_rows,
        totalRows=rows,
        totalRps=total_rps,
        recentRps=recent_rows,
        masterBinlog=master.position_str() if master else "",
        masterBinlogGtid=master.gtid if master else "",
        syncerBinlog=flushed.position_str() if flushed else "",
        syncerBinlogGtid=flushed.gtid if flushed else "",
        binlogType=s.binlog_type,
        secondsBehindMaster=behind,
        ioTotalBytes=io_bytes,
        totalBinlogEvents=events,
        recentEps=recent_events,
        recentBps=recent_bytes,
        queueDepths=depths,
        queueCapacity=capacity,
        lastError=last_error,
        lastErrorTime=last_error_time,
        readBinlog=read.position_str() if read else "",
        readBinlogGtid=read.gtid if read else "",
        executingDDL=executing_ddl,
    )
    st.synced = is_synced
    return st
