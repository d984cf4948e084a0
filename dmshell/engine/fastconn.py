"""Database connections that are cheap to open: :func:`dmshell.engine.db.connect` with one shared
TLS context.

PyMySQL's default TLS mode is "preferred": every connection builds a new ``ssl.SSLContext`` and
loads the system CA store into it (about 100 ms of CPU) even when the server offers no TLS. The sync
unit opens ``worker-count`` + 3 connections at every (re)start; with one context shared by all
"preferred" connections (contexts are thread-safe and immutable once built) that costs one load
instead of twenty.
"""

from __future__ import annotations

import ssl
import threading

import pymysql
import pymysql.cursors
from pymysql.connections import Connection

from dmshell.engine.config.database import DBConfig
from dmshell.engine.db import after_connect, classify, connect_kwargs

_lock = threading.Lock()
_preferred: ssl.SSLContext | None = None


class _Connection(Connection):
    def _create_ssl_ctx(self, sslp):  # PyMySQL's hook
        global _preferred
        if sslp:
            return super()._create_ssl_ctx(sslp)
        with _lock:
            if _preferred is None:
                _preferred = super()._create_ssl_ctx(sslp)
            return _preferred


def connect(
    cfg: DBConfig, *, autocommit: bool = True, read_timeout: float | None = None, connect_timeout: float = 10
) -> Connection:
    """Like :func:`dmshell.engine.db.connect` (utf8mb4, the config's session variables; a
    resumable ``DMError`` when the server can't be reached)."""
    try:
        conn = _Connection(
            **connect_kwargs(cfg),
            autocommit=autocommit,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            write_timeout=read_timeout,
            cursorclass=pymysql.cursors.Cursor,
        )
    except pymysql.err.MySQLError as exc:
        raise classify(exc, f"connect to {cfg.host}:{cfg.port}") from exc
    after_connect(conn, cfg)
    return conn
