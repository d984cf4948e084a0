"""The relay unit of one source (DM's ``dm/relay``): pulls the upstream binlog into relay files.

A thread runs replication sessions (:class:`~dmshell.engine.relay.writer.RelayFileWriter`) until the
relay is paused or stopped. Connection failures are retried (every :data:`RETRY_INTERVAL`
seconds); anything else — the upstream purged what the relay needs, a relay file that cannot be
written — pauses the relay with the error, as DM does (``resume-relay`` starts it again).

Where a session starts: after the last good event of the newest sub-directory when the upstream is
the same server (its UUID; MariaDB: ``domain-server_id`` as DM), else in a new sub-directory — at
``relay-binlog-gtid`` / ``relay-binlog-name`` or the position the worker names (its subtasks'
earliest) or the upstream's current file, always from the start of a binlog file, so relay files
are whole; a different upstream server (failover) continues at the GTID set the relay had reached
and needs ``enable-gtid``, as in DM.

Readers (:mod:`.reader`) follow :attr:`Relay.cond`: every publish bumps :attr:`Relay.version` and
wakes them. Files a subtask still needs are recorded as *holds* (:mod:`.purge`).
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import pymysql

from dmshell.engine import db, errors
from dmshell.engine.binlog.gtid import GtidSet, gtid_at, parse_gtid_set, resolve_gtid_start
from dmshell.engine.binlog.location import Location, detect_flavor, file_index, master_status
from dmshell.engine.config.source import SourceConfig
from dmshell.engine.relay.layout import RelayDir, SubDir
from dmshell.engine.relay.purge import Holds, Purger
from dmshell.engine.relay.recovery import recover_files
from dmshell.engine.relay.writer import RawBinlogReader, RelayFileWriter
from dmshell.proto import dmworker_pb2 as pb

log = logging.getLogger(__name__)

RETRY_INTERVAL = 2.0
HEARTBEAT = 1.0
STATUS_REFRESH = 1.0
#: MySQL error "Could not find first log file name in binary log index file" and its relatives
_FATAL_UPSTREAM = {1236}


def relay_server_id(source_id: str, configured: int = 0) -> int:
    """The relay's replication server id: ``server-id`` of the source, else derived from its ID."""
    if configured:
        return configured
    return 1_000_000_000 + zlib.crc32(f"relay\x00{source_id}".encode()) % 2_000_000_000


def server_uuid(conn: db.Connection, flavor: str) -> str:
    """DM's server UUID: MySQL ``@@server_uuid``; MariaDB ``<gtid_domain_id>-<server_id>``."""
    with conn.cursor() as cur:
        if flavor == "mariadb":
            cur.execute("SELECT @@GLOBAL.gtid_domain_id, @@GLOBAL.server_id")
            row = db.one_row(cur)
            return f"{row[0]}-{row[1]}"
        cur.execute("SELECT @@GLOBAL.server_uuid")
        return str(db.one_row(cur)[0])


class Relay:
    """One source's relay: lifecycle (start/pause/resume/stop), the files, status, purge."""

    def __init__(
        self,
        source: SourceConfig,
        path: Path,
        initial_start: Callable[[], Location | None] = lambda: None,
    ) -> None:
        self.source = source
        self.dir = RelayDir(path)
        self.server_id = relay_server_id(source.source_id, source.server_id)
        self._initial_start = initial_start
        self.cond = threading.Condition()
        self.version = 0  # bumped (under cond) whenever readers may have something new
        self.active: tuple[SubDir, str] | None = None  # the file being written
        self.published = 0  # readable bytes of the active file
        self.closed = False  # stopped for good: readers fail
        self.stage = pb.New
        self._error: pb.ProcessError | None = None
        self._lock = threading.Lock()  # lifecycle
        self._thread: threading.Thread | None = None
        self._halt = threading.Event()
        self._reader: RawBinlogReader | None = None
        self._writer: RelayFileWriter | None = None
        self._flavor = source.flavor.lower()
        self._status_conn: db.Connection | None = None
        self._status_lock = threading.Lock()
        self._master: Location | None = None
        self._master_at = 0.0
        self.holds = Holds(self.dir)
        self.purger = Purger(self.dir, source.purge, self.needed)

    # -- lifecycle --------------------------------------------------------------------------
    def start(self, stage: int = pb.Running) -> None:
        """Start (``Running``) or only set up (``Paused``); the purger runs in both."""
        self.dir.path.mkdir(parents=True, exist_ok=True)
        self.purger.start()
        if stage == pb.Paused:
            self.stage = pb.Paused
        else:
            self.resume()

    def resume(self) -> bool:
        with self._lock:
            if self.closed or (self._thread is not None and self._thread.is_alive()):
                return False
            self._halt.clear()
            self._error = None
            self.stage = pb.Running
            self._thread = threading.Thread(
                target=self._run, name=f"relay-{self.source.source_id}", daemon=True
            )
            self._thread.start()
            return True

    def pause(self) -> None:
        with self._lock:
            self._halt_session()
            if not self.closed:
                self.stage = pb.Paused

    def stop(self) -> None:
        """Stop for good: the session, the purger; readers get an error at their next wait."""
        with self._lock:
            self._halt_session()
            self.closed = True
            self.stage = pb.Stopped
        self.purger.stop()
        self.holds.save()
        with self._status_lock:
            if self._status_conn is not None:
                self._status_conn.close()
                self._status_conn = None
        self._bump()

    def _halt_session(self) -> None:
        self._halt.set()
        reader = self._reader
        if reader is not None:
            reader.interrupt()
        thread = self._thread
        if thread is not None:
            thread.join(30)
        self._thread = None

    # -- the session thread -----------------------------------------------------------------
    def _run(self) -> None:
        while not self._halt.is_set():
            try:
                self._session()
                return
            except Exception as exc:
                if self._halt.is_set():
                    return
                if _retryable(exc):
                    log.warning(
                        "relay %s: %s; reconnecting in %.0fs", self.source.source_id, exc, RETRY_INTERVAL
                    )
                    self._halt.wait(RETRY_INTERVAL)
                    continue
                err = exc if isinstance(exc, errors.DMError) else errors.ErrRelayTCPReaderGetEvent(cause=exc)
                log.error("relay %s paused by an error: %s", self.source.source_id, err)
                from dmshell.engine.subtask import process_error  # (engine.subtask imports the units)

                self._error = process_error(err)
                self.stage = pb.Paused
                self._bump()
                return

    def _session(self) -> None:
        conn = db.connect(self.source.from_db)
        try:
            if not self._flavor:
                self._flavor = detect_flavor(conn)
            sub, start, gtids = self._prepare(conn, server_uuid(conn, self._flavor))
        finally:
            conn.close()
        writer = RelayFileWriter(self.dir, sub, start, gtids, self._publish)
        reader = RawBinlogReader(
            self.source.from_db, self.server_id, start, heartbeat=HEARTBEAT, on_idle=writer.flush
        )
        self._writer, self._reader = writer, reader
        log.info("relay %s: pulling from %s into %s", self.source.source_id, start, sub.name)
        try:
            if self._halt.is_set():
                return
            while (ev := reader.fetch()) is not None:
                writer.write(ev, reader.raw)
        finally:
            self._reader = None
            reader.close()
            writer.close()

    def _prepare(self, conn: db.Connection, uuid: str) -> tuple[SubDir, Location, GtidSet]:
        """(sub-directory, where the stream starts, the GTID set there) for upstream ``uuid``."""
        subs = self.dir.subdirs()
        flavor = self._flavor
        if subs and subs[-1].uuid == uuid:
            sub = subs[-1]
            meta = self.dir.read_meta(sub)
            files = self.dir.files(sub)
            gtids = parse_gtid_set(meta.gtid if meta else "", flavor)
            if files:
                first = meta.file if meta and meta.file in files else files[0]
                pos = meta.pos if meta and meta.file in files else 4
                file, end = recover_files(self.dir.dir_of(sub), files, first, pos, gtids)
                return sub, Location(file, end), gtids
            if meta is not None:
                return sub, Location(meta.file, 4), gtids
        if subs:
            if not self.source.enable_gtid:
                raise errors.ErrRelaySwitchMasterNeedGTID()
            meta = self.dir.read_meta(subs[-1])
            start = resolve_gtid_start(conn, meta.gtid if meta else "", flavor)
        else:
            start = self._first_start(conn)
        start = Location(start.file, 4)  # whole files only
        try:
            gtid = gtid_at(conn, start.file, 4, flavor)
        except (pymysql.MySQLError, errors.DMError) as exc:
            log.warning("relay %s: GTID set at %s unknown: %s", self.source.source_id, start, exc)
            gtid = ""
        sub = self.dir.add_subdir(uuid)
        self.dir.write_meta(sub, start.with_gtid(gtid))
        log.info(
            "relay %s: new sub-directory %s from %s", self.source.source_id, sub.name, start.position_str()
        )
        return sub, start, parse_gtid_set(gtid, flavor)

    def _first_start(self, conn: db.Connection) -> Location:
        src = self.source
        if src.relay_binlog_gtid:
            return resolve_gtid_start(conn, src.relay_binlog_gtid, self._flavor)
        if src.relay_binlog_name:
            if file_index(src.relay_binlog_name)[1] < 0:
                raise errors.ErrRelayBinlogNameNotValid(src.relay_binlog_name)
            return Location(src.relay_binlog_name, 4)
        wanted = self._initial_start()
        return wanted if wanted is not None else master_status(conn, self._flavor)

    def _publish(self, file: str, end: int) -> None:
        writer = self._writer
        sub = writer.sub if writer is not None else (self.active[0] if self.active else None)
        with self.cond:
            if sub is not None:
                self.active = (sub, file)
            self.published = end
            self.version += 1
            self.cond.notify_all()

    def _bump(self) -> None:
        with self.cond:
            self.version += 1
            self.cond.notify_all()

    # -- what readers and the purger ask ----------------------------------------------------
    def readable_end(self, sub: SubDir, file: str) -> int | None:
        """How far ``file`` of ``sub`` may be read: the published end of the active file, None (to
        its end) for a complete one."""
        with self.cond:
            if self.active == (sub, file):
                return self.published
        return None

    def needed(self) -> list[tuple[str, SubDir, str]]:
        """(who, sub-directory, file) of every file that must stay: the one being written, holds."""
        out = self.holds.needed()
        active = self.active
        if active is not None:
            out.append(("relay", active[0], active[1]))
        return out

    # -- status -----------------------------------------------------------------------------
    def status(self) -> pb.RelayStatus:
        """DM's ``RelayStatus``."""
        master = self._master_status()
        writer = self._writer
        st = pb.RelayStatus(stage=self.stage)
        if master is not None:
            st.masterBinlog = master.position_str()
            st.masterBinlogGtid = master.gtid
        active = self.active
        if active is not None:
            st.relaySubDir = active[0].name
            st.relayBinlog = Location(active[1], self.published).position_str()
            st.relayCatchUpMaster = master is not None and master.same_position(
                Location(active[1], self.published)
            )
        if writer is not None:
            st.relayBinlogGtid = str(writer.gtids)
        if self._error is not None:
            st.result.errors.append(self._error)
        return st

    def _master_status(self) -> Location | None:
        with self._status_lock:  # (status queries come from several gRPC threads)
            return self._refresh_master()

    def _refresh_master(self) -> Location | None:
        if time.monotonic() - self._master_at < STATUS_REFRESH:
            return self._master
        try:
            if self._status_conn is None:
                self._status_conn = db.connect(self.source.from_db)
            self._master = master_status(self._status_conn, self._flavor or None)
        except Exception as exc:  # the status shows the last known master position
            log.info("relay %s: master status: %s", self.source.source_id, exc)
            if self._status_conn is not None:
                self._status_conn.close()
                self._status_conn = None
        self._master_at = time.monotonic()
        return self._master


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, errors.DMError):
        return False
    if isinstance(exc, pymysql.MySQLError):
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
        return code not in _FATAL_UPSTREAM and not (1000 <= code < 2000 and code != 1053)
    return isinstance(exc, OSError)
