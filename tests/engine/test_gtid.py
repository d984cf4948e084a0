"""GTID sets of both flavors, and resolving a GTID-only start point on the real upstream."""

from __future__ import annotations

import pytest

from dmshell.engine import db, errors
from dmshell.engine.binlog.gtid import (
    MariaDBGtidSet,
    MySQLGtidSet,
    binlog_files,
    gtid_at,
    parse_gtid_set,
    resolve_gtid_start,
)
from dmshell.engine.binlog.location import master_status

U1 = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
U2 = "05d8e2c4-9b1a-11e1-8b55-c80aa9429562"


def test_mariadb_position_keeps_the_last_gtid_per_domain():
    gs = MariaDBGtidSet("2-102-7, 1-101-30")
    assert str(gs) == "1-101-30,2-102-7"
    assert gs.contains("1-101-30") and gs.contains("1-5-2") and not gs.contains("1-101-31")
    assert not gs.contains("3-101-1")
    gs.add("1-101-31")
    gs.add("3-103-1")
    assert str(gs) == "1-101-31,2-102-7,3-103-1"
    assert gs.covers(MariaDBGtidSet("1-101-20,2-102-7")) and not gs.covers(MariaDBGtidSet("2-102-8"))
    assert gs.covers(MariaDBGtidSet(""))
    assert parse_gtid_set("1-101-31,2-102-7,3-103-1", "mariadb") == gs
    copy = gs.copy()
    copy.add("1-101-40")
    assert str(gs) == "1-101-31,2-102-7,3-103-1"


def test_mysql_set_merges_intervals():
    gs = MySQLGtidSet(f"{U1}:1-5:7, {U2.upper()}:3")
    gs.add(f"{U1}:6")
    gs.add(f"{U2}:4")
    assert str(gs) == f"{U2}:3-4,{U1}:1-7"
    assert gs.contains(f"{U1}:7") and not gs.contains(f"{U1}:8") and not gs.contains(f"{U2}:1")
    assert gs.covers(MySQLGtidSet(f"{U1}:2-6")) and not gs.covers(MySQLGtidSet(f"{U1}:2-9"))
    assert parse_gtid_set(str(gs), "mysql") == gs


def test_invalid_sets_are_dm_errors():
    with pytest.raises(errors.DMError) as exc:
        parse_gtid_set("1-2", "mariadb")
    assert exc.value.code == 11012
    with pytest.raises(errors.DMError) as exc:
        parse_gtid_set(f"{U1}:x", "mysql")
    assert exc.value.code == 11011


def test_resolve_gtid_start_finds_the_first_transaction_not_in_the_set(mariadb, dbname):
    up = mariadb.up1
    up.execute(
        f"DROP DATABASE IF EXISTS {dbname}",
        f"CREATE DATABASE {dbname}",
        f"CREATE TABLE {dbname}.t (id INT PRIMARY KEY)",
    )
    with db.connect(up.dbconfig()) as conn:
        before = master_status(conn)
        up.execute(
            f"INSERT INTO {dbname}.t VALUES (1)", "FLUSH BINARY LOGS", f"INSERT INTO {dbname}.t VALUES (2)"
        )
        now = master_status(conn)
        start = resolve_gtid_start(conn, before.gtid, "mariadb")
        assert start == before, "the next transaction starts right where the set ends"
        # everything logged: the end of what was read, which may include the Binlog_checkpoint event
        # MariaDB writes into the new file after FLUSH BINARY LOGS, asynchronously (no transaction)
        end = resolve_gtid_start(conn, now.gtid, "mariadb")
        assert (end.file, end.gtid) == (now.file, now.gtid) and end.pos >= now.pos
        assert end.pos == master_status(conn).pos or end.same_position(now)
        middle = parse_gtid_set(before.gtid, "mariadb")
        middle.add(f"1-101-{int(before.gtid.split('-')[-1]) + 1}")
        resolved = resolve_gtid_start(conn, str(middle), "mariadb")
        assert before < resolved < now and resolved.file == now.file


def test_gtid_at_a_position_and_the_binlog_files(mariadb, dbname):
    up = mariadb.up1
    up.execute(
        f"DROP DATABASE IF EXISTS {dbname}",
        f"CREATE DATABASE {dbname}",
        f"CREATE TABLE {dbname}.t (id INT PRIMARY KEY)",
    )
    with db.connect(up.dbconfig()) as conn:
        here = master_status(conn)
        up.execute(f"INSERT INTO {dbname}.t VALUES (1)", "FLUSH BINARY LOGS")
        assert gtid_at(conn, here.file, here.pos, "mariadb") == here.gtid
        files = binlog_files(conn)
        assert [f for f, _size in files][-2:][0] == here.file and files[-1][1] > 0
        assert files == sorted(files, key=lambda f: int(f[0].rsplit(".", 1)[1]))
