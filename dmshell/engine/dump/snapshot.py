"""A consistent snapshot of the upstream over N connections, and its binlog location.

The ``consistency`` (dumpling's option, set with ``extra-args: --consistency X``) decides how:

* ``snapshot`` — lock-free, MariaDB with the binlog on: every connection runs ``START TRANSACTION
  WITH CONSISTENT SNAPSHOT``, which MariaDB synchronises with the binlog, and ``SHOW STATUS LIKE
  'binlog_snapshot_%'`` gives each snapshot's position. When all connections report the same
  position no transaction committed between them, so they all see the same data; otherwise they
  roll back and try again (a few times).
* ``flush`` — a short ``FLUSH TABLES WITH READ LOCK`` freezes commits while every connection opens
  its snapshot and the position is read, then it is released (MySQL, or MariaDB under a write load
  too heavy to line the snapshots up).
* ``lock`` — like ``flush`` with ``LOCK TABLES ... READ`` on the dumped tables only.
* ``none`` — no coordination; the position is read after the connections are opened (the sync
  must then run in safe mode, as DM does).
* ``auto`` (the default) — ``snapshot`` where possible, else ``flush``.

Only transactional (InnoDB) tables are consistent; MyISAM & co. are read as they are when dumped.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pymysql

from dmshell.engine import db, errors
from dmshell.engine.binlog.location import Location
from dmshell.engine.config.database import DBConfig
from dmshell.engine.dump import chunks
from dmshell.engine.dump import files as dumpfiles

log = logging.getLogger(__name__)

SNAPSHOT, FLUSH, LOCK, NONE, AUTO = "snapshot", "flush", "lock", "none", "auto"
CONSISTENCIES = (AUTO, SNAPSHOT, FLUSH, LOCK, NONE)
#: seconds FTWRL may wait for running statements before the dump fails (it blocks writers meanwhile)
LOCK_WAIT_TIMEOUT = 60
#: attempts to line up lock-free snapshots before ``auto`` falls back to ``flush``
ALIGN_ATTEMPTS = 8


@dataclass(slots=True)
class ChunkRequest:
    """One chunk to write: the query, where its files go and how they are named and cut."""

    sql: str
    where: str
    dump_dir: str
    schema: str
    table: str
    index: int
    filesize: int
    #: what the chunk is, for error messages
    what: str


class Session(Protocol):
    """One connection of the snapshot: in this process (:class:`LocalSession`) or in a dump worker
    process (:class:`dmshell.engine.dump.proc.RemoteSession`)."""

    def begin(self) -> None: ...
    def position(self) -> tuple[str, int]: ...
    def rollback(self) -> None: ...
    def dump_chunk(
        self, req: ChunkRequest, should_stop: Callable[[], bool], on_block: Callable[[int, int], None]
    ) -> list[dumpfiles.ChunkMeta]: ...
    def close(self) -> None: ...


class LocalSession:
    """A snapshot connection in this process."""

    def __init__(self, conn: db.Connection) -> None:
        self.conn = conn

    def begin(self) -> None:
        with self.conn.cursor() as cur:
            cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")

    def position(self) -> tuple[str, int]:
        with self.conn.cursor() as cur:
            cur.execute("SHOW STATUS LIKE 'binlog_snapshot_%'")
            status = {str(name).lower(): value for name, value in cur.fetchall()}
        file = status.get("binlog_snapshot_file") or ""
        if isinstance(file, bytes):
            file = file.decode()
        return file, int(status.get("binlog_snapshot_position") or 0)

    def rollback(self) -> None:
        with self.conn.cursor() as cur:
            cur.execute("ROLLBACK")

    def dump_chunk(
        self, req: ChunkRequest, should_stop: Callable[[], bool], on_block: Callable[[int, int], None]
    ) -> list[dumpfiles.ChunkMeta]:
        return chunks.dump_chunk(
            self.conn,
            req.sql,
            req.where,
            Path(req.dump_dir),
            lambda part: dumpfiles.chunk_file(req.schema, req.table, req.index, part),
            req.filesize,
            should_stop,
            on_block,
            req.what,
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()


@dataclass(slots=True)
class Snapshot:
    """Sessions that all see the same snapshot, and where it is in the binlog. The first session is
    always local (:attr:`conn` runs the planning queries)."""

    sessions: list[Session]
    location: Location
    consistency: str
    flavor: str

    @property
    def conn(self) -> db.Connection:
        first = self.sessions[0]
        assert isinstance(first, LocalSession)
        return first.conn

    def close(self) -> None:
        for session in self.sessions:
            with contextlib.suppress(Exception):
                session.close()
        self.sessions.clear()


def open_dump_session(cfg: DBConfig) -> db.Connection:
    """A connection that returns raw text-protocol values (str/bytes/None) in a neutral session:
    UTC for TIMESTAMPs, plain ``sql_mode`` (no padded CHARs, standard SHOW CREATE output)."""
    conn = db.connect(cfg, read_timeout=None)
    conn.decoders = {}  # no type conversion: values are written back exactly as the server renders them
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SET SESSION time_zone = '+00:00', sql_mode = '', sql_quote_show_create = 1, "
                "net_write_timeout = 3600, net_read_timeout = 3600"
            )
            cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    except pymysql.err.MySQLError as exc:
        conn.close()
        raise db.classify(exc, "set dump session") from exc
    return conn


def detect_flavor(conn: db.Connection, configured: str = "") -> str:
    if configured in ("mysql", "mariadb"):
        return configured
    with conn.cursor() as cur:
        cur.execute("SELECT VERSION()")
        version = db.one_row(cur)[0]
    return "mariadb" if "mariadb" in str(version).lower() else "mysql"


ListObjects = Callable[[db.Connection], Sequence[tuple[str, str]]]
#: opens ``n`` sessions other than the first (e.g. in dump worker processes)
OpenSessions = Callable[[DBConfig, int], list[Session]]


def take_snapshot(
    cfg: DBConfig,
    threads: int,
    flavor_hint: str = "",
    consistency: str = AUTO,
    list_objects: ListObjects | None = None,
    open_others: OpenSessions | None = None,
) -> Snapshot:
    """Open ``threads`` sessions sharing one consistent snapshot and read its location.

    The first session is local; ``open_others(cfg, threads - 1)`` opens the others (default: local
    connections too). ``list_objects(conn)`` runs on the first connection while the snapshot is
    frozen (inside the lock when one is taken) and returns the (schema, table) pairs to dump
    (``lock`` locks those).
    """
    sessions: list[Session] = []
    threads = max(threads, 1)
    try:
        if open_others is None or threads == 1:
            sessions.extend(LocalSession(c) for c in _open_conns(cfg, threads))
        else:
            sessions.extend(LocalSession(c) for c in _open_conns(cfg, 1))
            sessions.extend(open_others(cfg, threads - 1))
        conn0 = sessions[0].conn  # type: ignore[attr-defined]
        flavor = detect_flavor(conn0, flavor_hint)
        location, method = None, consistency
        if consistency in (AUTO, SNAPSHOT):
            location = _lock_free(sessions, flavor)
            method = SNAPSHOT
            if location is None and consistency == SNAPSHOT:
                raise errors.ErrDumpUnitRuntime(
                    "consistency snapshot: the source cannot take lock-free consistent snapshots "
                    "(it needs MariaDB with the binlog enabled, and snapshots that line up)",
                    workaround="Use `--consistency flush` (or `auto`) in the `extra-args` of mydumpers.",
                )
            if location is not None and list_objects:
                list_objects(conn0)
        if location is None and method in (AUTO, SNAPSHOT, FLUSH, LOCK):
            method = LOCK if consistency == LOCK else FLUSH
            location = _with_lock(cfg, sessions, flavor, method, list_objects)
        if consistency == NONE:
            for session in sessions:
                session.begin()
            location = _current_location(conn0, flavor)
            if list_objects:
                list_objects(conn0)
    except pymysql.err.MySQLError as exc:
        Snapshot(sessions, Location("", 0), "", "").close()
        raise db.classify(exc, "take consistent snapshot") from exc
    except BaseException:
        Snapshot(sessions, Location("", 0), "", "").close()
        raise
    assert location is not None
    log.info(
        "dump snapshot taken with consistency %s over %d connection(s) at %s", method, len(sessions), location
    )
    return Snapshot(sessions, location, method, flavor)


def _open_conns(cfg: DBConfig, n: int) -> list[db.Connection]:
    """``n`` dump sessions, opened in parallel (a connection costs a few round trips)."""
    with ThreadPoolExecutor(max_workers=n) as pool:
        futures = [pool.submit(open_dump_session, cfg) for _ in range(n)]
    conns, failure = [], None
    for future in futures:
        try:
            conns.append(future.result())
        except BaseException as exc:
            failure = failure or exc
    if failure is not None:
        for conn in conns:
            with contextlib.suppress(Exception):
                conn.close()
        raise failure
    return conns


def _lock_free(sessions: list[Session], flavor: str) -> Location | None:
    """Line up one lock-free snapshot per session (MariaDB); None when that is not possible."""
    if flavor != "mariadb":
        return None
    for attempt in range(ALIGN_ATTEMPTS):
        for session in sessions:
            session.begin()
        positions = {session.position() for session in sessions}
        if any(file == "" for file, _ in positions):  # binlog off: nothing proves they are the same
            break
        if len(positions) == 1:
            ((file, pos),) = positions
            with sessions[0].conn.cursor() as cur:  # type: ignore[attr-defined]
                return Location(file, pos, _mariadb_gtid(cur, file, pos))
        log.info("dump snapshots did not line up (attempt %d): %s", attempt + 1, sorted(positions))
        for session in sessions:
            session.rollback()
        time.sleep(0.01 * (attempt + 1))
    for session in sessions:
        session.rollback()
    return None


def _with_lock(
    cfg: DBConfig,
    sessions: list[Session],
    flavor: str,
    method: str,
    list_objects: ListObjects | None,
) -> Location:
    conn0 = sessions[0].conn  # type: ignore[attr-defined]
    lock_conn = open_dump_session(cfg)
    try:
        with lock_conn.cursor() as cur:
            cur.execute(f"SET SESSION lock_wait_timeout = {LOCK_WAIT_TIMEOUT}")
            objects: Sequence[tuple[str, str]] = ()
            if method == LOCK and list_objects:
                objects = list_objects(conn0)
            try:
                if method == FLUSH:
                    cur.execute("FLUSH TABLES WITH READ LOCK")
                elif objects:
                    tables = ", ".join(f"{db.quote_table(s, t)} READ" for s, t in objects)
                    cur.execute(f"LOCK TABLES {tables}")
            except pymysql.err.MySQLError as exc:
                if db.is_connection_error(exc):
                    raise
                raise errors.ErrDumpUnitGlobalLock(cause=exc) from exc
            try:
                for session in sessions:
                    session.begin()
                location = _current_location(lock_conn, flavor)
                if method == FLUSH and list_objects:
                    list_objects(conn0)
            finally:
                cur.execute("UNLOCK TABLES")
        return location
    finally:
        lock_conn.close()


def _current_location(conn: db.Connection, flavor: str) -> Location:
    with conn.cursor() as cur:
        file, pos = _master_status(cur)
        if flavor == "mariadb":
            gtid = _mariadb_gtid(cur, file, pos)
        else:
            cur.execute("SELECT @@GLOBAL.gtid_executed")
            value = db.one_row(cur)[0] or ""
            gtid = (value.decode() if isinstance(value, bytes) else str(value)).replace("\n", "")
    return Location(file, pos, gtid)


def _master_status(cur: pymysql.cursors.Cursor) -> tuple[str, int]:
    try:
        cur.execute("SHOW MASTER STATUS")
    except pymysql.err.ProgrammingError:  # MySQL 8.4 renamed it
        cur.execute("SHOW BINARY LOG STATUS")
    row = cur.fetchone()
    if not row:  # binlog disabled
        return "", 0
    file = row[0].decode() if isinstance(row[0], bytes) else str(row[0])
    return file, int(row[1])


def _mariadb_gtid(cur: pymysql.cursors.Cursor, file: str, pos: int) -> str:
    if not file:
        return ""
    cur.execute("SELECT BINLOG_GTID_POS(%s, %s)", (file, pos))
    row = cur.fetchone()
    value = row[0] if row else ""
    return value.decode() if isinstance(value, bytes) else str(value or "")
