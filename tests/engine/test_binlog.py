"""Binlog locations: DM's rendering, ordering across files, and the upstream position queries."""

from __future__ import annotations

import pytest

from dmshell.engine.binlog.location import (
    Location,
    binlog_gtid_pos,
    detect_flavor,
    file_index,
    gtid_executed,
    master_status,
    parse_position,
)


def test_rendering_is_dms():
    loc = Location("mysql-bin.000003", 1234, "1-101-7")
    assert loc.position_str() == "(mysql-bin.000003, 1234)"
    assert str(loc) == "position: (mysql-bin.000003, 1234), gtid-set: 1-101-7"
    assert str(Location("mysql-bin.000001", 4)) == "position: (mysql-bin.000001, 4), gtid-set: "


def test_ordering_uses_the_file_index_then_the_position():
    a = Location("mysql-bin.000009", 900)
    b = Location("mysql-bin.000010", 4)
    c = Location("mysql-bin.000010", 120, "x")
    assert a < b < c and c > a and b <= b and c >= b
    assert sorted([c, a, b]) == [a, b, c]
    assert Location("mysql-bin.000010", 120) != c, "equality includes the GTID set"
    assert Location("mysql-bin.000010", 120).same_position(c)
    assert c.with_gtid("y") == Location("mysql-bin.000010", 120, "y")


def test_file_index_and_position_parsing():
    assert file_index("mysql-bin.000123") == ("mysql-bin", 123)
    assert file_index("weird") == ("weird", -1)
    assert parse_position("(mysql-bin.000002, 5693)") == ("mysql-bin.000002", 5693)
    assert parse_position("mysql-bin.000002:77") == ("mysql-bin.000002", 77)
    with pytest.raises(ValueError):
        parse_position("nonsense")


def test_master_status_of_a_gtid_upstream(mariadb, dbname):
    mariadb.up1.execute(f"CREATE DATABASE IF NOT EXISTS {dbname}", f"DROP DATABASE {dbname}")
    with mariadb.up1.connect() as conn:
        assert detect_flavor(conn) == "mariadb"
        loc = master_status(conn)
        assert loc.file.startswith("mysql-bin.") and loc.pos > 4
        assert loc.gtid == gtid_executed(conn) and loc.gtid.startswith("1-101-")
        assert binlog_gtid_pos(conn, loc.file, loc.pos) == loc.gtid
        mariadb.up1.execute("FLUSH BINARY LOGS")  # rotate: a later position in a later file
        after = master_status(conn)
        assert after > loc and after.file != loc.file and after.gtid == loc.gtid


def test_master_status_of_a_server_without_binlog(mariadb):
    with mariadb.target.connect() as conn, pytest.raises(RuntimeError, match="binary log is not enabled"):
        master_status(conn)
