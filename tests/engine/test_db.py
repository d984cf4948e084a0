"""Connections (one shared TLS context, their config kept) and DM-style classification of driver
errors: lost connections are resumable, SQL errors are not."""

from __future__ import annotations

import pymysql

from dmshell.engine import db


def test_client_side_connection_errors_are_resumable() -> None:
    for errno in (2003, 2006, 2013, 1927, 4031):
        err = db.classify(pymysql.err.OperationalError(errno, "gone"), "INSERT")
        assert err.resumable, errno


def test_server_errors_are_not_resumable_even_with_high_numbers() -> None:
    for errno in (1062, 1146, 4025, 3819):  # duplicate key, no table, CHECK constraint (MariaDB, MySQL)
        err = db.classify(pymysql.err.OperationalError(errno, "bad row"), "INSERT INTO t VALUES (1)")
        assert not err.resumable, errno
        assert err.code == 10006 and "execute statement failed: INSERT INTO t VALUES (1)" in str(err)


def test_connections_share_one_tls_context_and_know_their_config(mariadb) -> None:
    cfg = mariadb.up1.dbconfig()
    with db.connect(cfg) as a, db.connect(mariadb.target.dbconfig()) as b:
        assert a.ctx is b.ctx, "one CA store load per process, not one per connection"
        assert a.config is cfg and b.config.port == mariadb.target.port
        with a.cursor() as cur:
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
