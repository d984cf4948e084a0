"""Reading the upstream binlog over the replication protocol (mysql-replication's BinLogStreamReader).

The stream always starts at a binlog file/position (``COM_BINLOG_DUMP``), also for MariaDB: with
``is_mariadb=True`` and no GTID the library would ask for the server's *first* binlog instead, so
the reader uses the file/position path for both flavors (MariaDB still sends its GTID events:
the library announces ``@mariadb_slave_capability=4``). GTID-only start points are turned into
file/positions beforehand (:func:`dmshell.engine.gtid.resolve_gtid_start`).

The master sends a heartbeat every ``heartbeat`` seconds when it has nothing to send, so an idle
reader still wakes up. :meth:`BinlogReader.interrupt` (from another thread) shuts the socket down,
which makes a blocked :meth:`fetch` return None promptly.
"""

from __future__ import annotations

import logging
import socket
import threading

import pymysql
from pymysqlreplication import BinLogStreamReader

from dmshell.engine.binlog import Location
from dmshell.engine.config import DBConfig

# The library warns on every connection to a server without binlog_row_metadata=FULL; the syncer
# doesn't need the metadata (rows are decoded with the schema tracker).
logging.getLogger("pymysqlreplication").setLevel(logging.ERROR)


class _Interrupted(Exception):
    pass


class BinlogReader:
    """One replication connection, from ``start`` on."""

    def __init__(self, db: DBConfig, server_id: int, start: Location, *, heartbeat: float = 1.0,
                 read_timeout: float = 60.0) -> None:
        self._interrupted = threading.Event()
        self._lock = threading.Lock()
        settings = {
            "host": db.host, "port": db.port, "user": db.user, "password": db.password,
            "charset": "utf8mb4", "read_timeout": read_timeout, "connect_timeout": 10,
        }
        self._stream = BinLogStreamReader(
            connection_settings=settings,
            server_id=server_id,
            log_file=start.file,
            log_pos=start.pos,
            resume_stream=True,
            blocking=True,
            slave_heartbeat=heartbeat,
            filter_non_implemented_events=False,  # every event moves the position
            is_mariadb=False,
            enable_logging=False,
            pymysql_wrapper=self._connect,
        )

    def _connect(self, **kwargs) -> pymysql.connections.Connection:
        if self._interrupted.is_set():
            raise _Interrupted()
        if "db" in kwargs:  # the library still uses PyMySQL's deprecated spelling
            kwargs["database"] = kwargs.pop("db")
        return pymysql.connect(**kwargs)

    def fetch(self):
        """The next event; None once :meth:`interrupt` was called. Raises on connection errors."""
        if self._interrupted.is_set():
            return None
        try:
            return self._stream.fetchone()
        except Exception:
            if self._interrupted.is_set():
                return None
            raise

    def interrupt(self) -> None:
        """Make a blocked :meth:`fetch` return None (thread-safe)."""
        self._interrupted.set()
        conn = getattr(self._stream, "_stream_connection", None)
        sock = getattr(conn, "_sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        try:
            self._stream.close()
        except Exception:  # the connection may already be gone
            pass
