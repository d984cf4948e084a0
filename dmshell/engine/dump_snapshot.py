"""A consistent snapshot of the upstream over N connections, and its binlog location.

Two methods (recorded in the dump's metadata and the log):

* ``consistent-snapshot`` — MariaDB with one dump thread: ``START TRANSACTION WITH CONSISTENT
  SNAPSHOT`` is synchronised with the binlog, and ``SHOW STATUS LIKE 'binlog_snapshot_%'`` gives
  the snapshot's position without any lock.
* ``flush-tables-with-read-lock`` — MySQL, or several threads: a short global read lock freezes
  commits while every connection opens its snapshot and the position is read, then is released.

Only transactional (InnoDB) tables are consistent; MyISAM & co. are read as they are when dumped.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

import pymysql

from dmshell.engine import db, errors
from dmshell.engine.binlog import Location
from dmshell.engine.config import DBConfig

log = logging.getLogger(__name__)

METHOD_SNAPSHOT = "consistent-snapshot"
METHOD_FTWRL = "flush-tables-with-read-lock"
#: seconds FTWRL may wait for running statements before the dump fails (it blocks writers meanwhile)
LOCK_WAIT_TIMEOUT = 60


@dataclass(slots=True)
class Snapshot:
    """Connections that all see the same snapshot, and where it is in the binlog."""

    conns: list[pymysql.connections.Connection]
    location: Location
    method: str
    flavor: str

    def close(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(Exception):
                conn.close()
        self.conns.clear()


def open_dump_session(cfg: DBConfig) -> pymysql.connections.Connection:
    """A connection that returns raw text-protocol values (str/bytes/None) in a neutral session:
    UTC for TIMESTAMPs, plain ``sql_mode`` (no padded CHARs, standard SHOW CREATE output)."""
    conn = db.connect(cfg, read_timeout=None)
    conn.decoders = {}  # no type conversion: values are written back exactly as the server renders them
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION time_zone = '+00:00', sql_mode = '', sql_quote_show_create = 1, "
                        "net_write_timeout = 3600, net_read_timeout = 3600")
            cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    except pymysql.err.MySQLError as exc:
        conn.close()
        raise db.classify(exc, "set dump session") from exc
    return conn


def detect_flavor(conn: pymysql.connections.Connection, configured: str = "") -> str:
    if configured in ("mysql", "mariadb"):
        return configured
    with conn.cursor() as cur:
        cur.execute("SELECT VERSION()")
        version = cur.fetchone()[0]
    return "mariadb" if "mariadb" in str(version).lower() else "mysql"


def take_snapshot(cfg: DBConfig, threads: int, flavor_hint: str = "",
                  under_lock: Callable[[pymysql.connections.Connection], None] | None = None) -> Snapshot:
    """Open ``threads`` connections sharing one consistent snapshot and read its location.

    ``under_lock(conn)`` runs on the first connection while the snapshot is frozen (inside the
    global read lock when one is taken), e.g. to list the tables consistently with the position.
    """
    conns: list[pymysql.connections.Connection] = []
    try:
        conns.append(open_dump_session(cfg))
        flavor = detect_flavor(conns[0], flavor_hint)
        if flavor == "mariadb" and threads <= 1:
            location = _lock_free(conns[0])
            if under_lock:
                under_lock(conns[0])
            method = METHOD_SNAPSHOT
        else:
            conns.extend(open_dump_session(cfg) for _ in range(max(threads, 1) - 1))
            location = _with_global_lock(cfg, conns, flavor, under_lock)
            method = METHOD_FTWRL
    except pymysql.err.MySQLError as exc:
        Snapshot(conns, Location("", 0), "", "").close()
        raise db.classify(exc, "take consistent snapshot") from exc
    except BaseException:
        Snapshot(conns, Location("", 0), "", "").close()
        raise
    log.info("dump snapshot taken with %s over %d connection(s) at %s", method, len(conns), location)
    return Snapshot(conns, location, method, flavor)


def _start_snapshot(conn: pymysql.connections.Connection) -> None:
    with conn.cursor() as cur:
        cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")


def _lock_free(conn: pymysql.connections.Connection) -> Location:
    _start_snapshot(conn)
    with conn.cursor() as cur:
        cur.execute("SHOW STATUS LIKE 'binlog_snapshot_%'")
        status = {name.lower(): value for name, value in cur.fetchall()}
        file = status.get("binlog_snapshot_file") or ""
        pos = int(status.get("binlog_snapshot_position") or 0)
        return Location(file, pos, _mariadb_gtid(cur, file, pos))


def _with_global_lock(cfg: DBConfig, conns: list[pymysql.connections.Connection], flavor: str,
                      under_lock: Callable[[pymysql.connections.Connection], None] | None) -> Location:
    lock_conn = open_dump_session(cfg)
    try:
        with lock_conn.cursor() as cur:
            cur.execute(f"SET SESSION lock_wait_timeout = {LOCK_WAIT_TIMEOUT}")
            try:
                cur.execute("FLUSH TABLES WITH READ LOCK")
            except pymysql.err.MySQLError as exc:
                if db.is_connection_error(exc):
                    raise
                raise errors.ErrDumpUnitGlobalLock(cause=exc) from exc
            try:
                for conn in conns:
                    _start_snapshot(conn)
                file, pos = _master_status(cur)
                if flavor == "mariadb":
                    gtid = _mariadb_gtid(cur, file, pos)
                else:
                    cur.execute("SELECT @@GLOBAL.gtid_executed")
                    gtid = str(cur.fetchone()[0] or "").replace("\n", "")
                if under_lock:
                    under_lock(conns[0])
            finally:
                cur.execute("UNLOCK TABLES")
        return Location(file, pos, gtid)
    finally:
        lock_conn.close()


def _master_status(cur: pymysql.cursors.Cursor) -> tuple[str, int]:
    try:
        cur.execute("SHOW MASTER STATUS")
    except pymysql.err.ProgrammingError:  # MySQL 8.4 renamed it
        cur.execute("SHOW BINARY LOG STATUS")
    row = cur.fetchone()
    if not row:  # binlog disabled
        return "", 0
    return str(row[0]), int(row[1])


def _mariadb_gtid(cur: pymysql.cursors.Cursor, file: str, pos: int) -> str:
    if not file:
        return ""
    cur.execute("SELECT BINLOG_GTID_POS(%s, %s)", (file, pos))
    row = cur.fetchone()
    return str(row[0] or "") if row else ""
