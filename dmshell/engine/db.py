"""Connections to upstream and downstream databases, and DM-style classification of their errors.

Connections are cheap to open: PyMySQL's default TLS mode is "preferred", in which every connection
builds a new ``ssl.SSLContext`` and loads the system CA store into it (90-180 ms of CPU) even when
the server offers no TLS. All "preferred" connections share one context instead (a context is
thread-safe and not changed once built), so the sync unit's ``worker-count`` + 3 connections at
every (re)start, and every check and status query, cost one load per process instead of one each.
"""

from __future__ import annotations

import re
import socket
import ssl
import threading
from typing import TYPE_CHECKING, Any, BinaryIO

import pymysql
import pymysql.cursors
from pymysql.connections import MySQLResult
from pymysql.constants import CLIENT

from dmshell.engine import dbtls, errors

if TYPE_CHECKING:  # only a type here; the filters, which quote names with this module, stay below config
    from dmshell.engine.config.database import DBConfig

#: MySQL client/server error numbers that mean "the connection is gone", not "the SQL is wrong".
CONNECTION_ERRNOS = frozenset(
    {
        1040,  # too many connections
        1053,  # server shutdown in progress
        1205,  # lock wait timeout (retry)
        1213,  # deadlock (retry)
        2003,  # can't connect
        2006,  # server has gone away
        2013,  # lost connection during query
        2014,
        2027,
        2055,
        1927,  # connection was killed (MariaDB)
        4031,  # disconnected by server because of inactivity
    }
)


_preferred_lock = threading.Lock()
_preferred: ssl.SSLContext | None = None


class Connection(pymysql.connections.Connection):
    """A PyMySQL connection that shares the "preferred"-mode TLS context and remembers the
    :class:`DBConfig` it was opened with (``config``), so that a second connection to the same
    server (a replication stream, :mod:`dmshell.engine.binlog.reader`) can be opened from it."""

    config: DBConfig

    if TYPE_CHECKING:  # PyMySQL internals the binlog reader, row streams and LOAD DATA use (not in its stubs)
        _sock: socket.socket | None
        _rfile: BinaryIO
        _next_seq_id: int
        _result: MySQLResult | None

        def _execute_command(self, command: int, sql: str | bytes) -> None: ...

    def _create_ssl_ctx(self, sslp: Any) -> ssl.SSLContext:  # PyMySQL's hook
        global _preferred
        if sslp:  # explicit TLS options: a context of their own
            return super()._create_ssl_ctx(sslp)  # type: ignore[misc]
        with _preferred_lock:
            if _preferred is None:
                _preferred = super()._create_ssl_ctx(sslp)  # type: ignore[misc]
            return _preferred


#: what ``session:`` may name: a system variable (its value is always sent as a parameter)
_SESSION_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def connect_kwargs(cfg: DBConfig) -> dict[str, Any]:
    """The PyMySQL arguments every connection to ``cfg`` shares: address, account, packet size,
    verified TLS when ``security:`` asks for it (``dbtls``)."""
    ctx = dbtls.context(cfg.security)
    return {
        "host": cfg.host,
        "port": cfg.port,
        "user": cfg.user,
        "password": cfg.password,
        "charset": "utf8mb4",
        "max_allowed_packet": cfg.max_allowed_packet or 64 * 1024 * 1024,
        "local_infile": False,
        **({"ssl": ctx} if ctx is not None else {}),
    }


def after_connect(conn: pymysql.connections.Connection, cfg: DBConfig) -> None:
    """The server certificate's name (``cert-allowed-cn``) and the ``session:`` variables."""
    dbtls.check_peer_cn(conn, cfg.security, f"{cfg.host}:{cfg.port}")
    if cfg.session:
        for key in cfg.session:
            if not _SESSION_VAR.fullmatch(key):
                conn.close()
                raise errors.ErrConfigUnsafeName(f"session: {key[:64]!r} is not a variable name")
        try:
            with conn.cursor() as cur:
                for key, value in cfg.session.items():
                    cur.execute(f"SET SESSION {key} = %s", (value,))
        except pymysql.err.MySQLError as exc:
            conn.close()
            raise classify(exc, "SET SESSION") from exc


def connect(
    cfg: DBConfig,
    *,
    database: str | None = None,
    autocommit: bool = True,
    read_timeout: float | None = None,
    connect_timeout: float = 10,
    cursorclass: type[pymysql.cursors.Cursor] = pymysql.cursors.Cursor,
    max_allowed_packet: int | None = None,
    load_data_local: bool = False,
) -> Connection:
    """Open a connection with utf8mb4, UTC-neutral session and the config's session variables.

    ``max_allowed_packet`` is the client's limit (default: the config's, else 64 MiB);
    ``load_data_local`` lets the server ask for a local file — which only the loader answers
    (:func:`dmshell.engine.load.data.load_data_local`; PyMySQL's own file sending stays off).
    Raises a resumable :class:`DMError` (``ErrDBBadConn``) when the server can't be reached.
    """
    try:
        kwargs = connect_kwargs(cfg)
        if max_allowed_packet:
            kwargs["max_allowed_packet"] = max_allowed_packet
        conn = Connection(
            **kwargs,
            database=database,
            autocommit=autocommit,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            write_timeout=read_timeout,
            cursorclass=cursorclass,
            client_flag=CLIENT.LOCAL_FILES if load_data_local else 0,
        )
    except pymysql.err.MySQLError as exc:
        raise classify(exc, f"connect to {cfg.host}:{cfg.port}") from exc
    conn.config = cfg
    after_connect(conn, cfg)
    return conn


def one_row(cur: pymysql.cursors.Cursor) -> tuple[Any, ...]:
    """The row of a statement that always answers one (``SELECT @@x``, ``SHOW CREATE TABLE``)."""
    row = cur.fetchone()
    if row is None:
        raise errors.ErrDBExecuteFailed("expected a row, the server sent none")
    return row


def errno_of(exc: BaseException) -> int | None:
    args = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def is_connection_error(exc: BaseException) -> bool:
    if isinstance(exc, pymysql.err.OperationalError | pymysql.err.InterfaceError | ConnectionError | OSError):
        errno = errno_of(exc)
        # 2000-2999 are client-side errors (CR_*): the connection, not the statement, failed.
        return errno is None or errno in CONNECTION_ERRNOS or 2000 <= errno < 3000
    return False


def classify(exc: BaseException, what: str = "") -> errors.DMError:
    """Turn a driver exception into DM's error: connection problems are resumable (10001/10002),
    SQL errors are not (10006 ``execute statement failed: <what>``)."""
    if isinstance(exc, errors.DMError):
        return exc
    if is_connection_error(exc):
        return errors.ErrDBBadConn(cause=exc)
    return errors.ErrDBExecuteFailed(what, cause=exc)


def quote_ident(name: str) -> str:
    """Quote a schema/table/column name with backticks (doubling embedded backticks)."""
    return "`" + name.replace("`", "``") + "`"


def quote_table(schema: str, table: str) -> str:
    return f"{quote_ident(schema)}.{quote_ident(table)}"
