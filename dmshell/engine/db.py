"""Connections to upstream and downstream databases, and DM-style classification of their errors."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pymysql
import pymysql.cursors

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
    cursorclass: type = pymysql.cursors.Cursor,
) -> pymysql.connections.Connection:
    """Open a connection with utf8mb4, UTC-neutral session and the config's session variables.

    Raises a resumable :class:`DMError` (``ErrDBBadConn``) when the server can't be reached.
    """
    try:
        conn = pymysql.connect(
            **connect_kwargs(cfg),
            database=database,
            autocommit=autocommit,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            write_timeout=read_timeout,
            cursorclass=cursorclass,
        )
    except pymysql.err.MySQLError as exc:
        raise classify(exc, f"connect to {cfg.host}:{cfg.port}") from exc
    after_connect(conn, cfg)
    return conn


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
