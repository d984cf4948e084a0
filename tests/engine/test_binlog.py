"""Binlog locations (DM's rendering, ordering across files, the upstream position queries) and the
one-off binlog reads that find start points (the GTID state of a file, the location of a time)."""

from __future__ import annotations

import struct
import time
import uuid

import pytest

from dmshell.engine import db, errors
from dmshell.engine.binlog.gtid import MariaDBGtidSet, binlog_files, gtid_at
from dmshell.engine.binlog.location import (
    Location,
    binlog_gtid_pos,
    detect_flavor,
    file_index,
    gtid_executed,
    master_status,
    parse_position,
)
from dmshell.engine.binlog.reader import (
    BinlogReader,
    MariadbGtidEvent,
    MariadbGtidListEvent,
    RotateEvent,
    parse_mariadb_gtid_list,
    parse_previous_gtids,
    read_events,
)
from dmshell.engine.binlog.start_time import ABOVE, BELOW, IN_RANGE, find_location_by_time

U1 = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
U2 = "05d8e2c4-9b1a-11e1-8b55-c80aa9429562"


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


def last_gtid(position: str, domain: int = 1) -> str:
    server, seq = MariaDBGtidSet(position).domains[domain]
    return f"{domain}-{server}-{seq}"


def test_one_off_reads_end_with_the_binlog_or_the_file_and_disturb_no_replica(mariadb, dbname):
    up = mariadb.up1
    up.execute(
        f"DROP DATABASE IF EXISTS {dbname}", f"CREATE DATABASE {dbname}", f"CREATE TABLE {dbname}.t (id INT)"
    )
    with db.connect(up.dbconfig()) as conn:
        here = master_status(conn)
        up.execute(f"INSERT INTO {dbname}.t VALUES (1)")
        first_gtid = last_gtid(master_status(conn).gtid)
        up.execute("FLUSH BINARY LOGS", f"INSERT INTO {dbname}.t VALUES (2)")
        end = master_status(conn)
        replica = BinlogReader(up.dbconfig(), 4711, end, heartbeat=0.2)
        try:
            assert isinstance(replica.fetch(), RotateEvent)  # connected, waiting at the end
            every = list(read_events(up.dbconfig(), here))
            first = list(read_events(up.dbconfig(), here, one_file=True))
            up.execute(f"INSERT INTO {dbname}.t VALUES (3)")
            gtids = [ev.gtid for _f, ev in every if isinstance(ev, MariadbGtidEvent)]
            assert gtids == [first_gtid, last_gtid(end.gtid)]
            assert every[0][0] == here.file and every[-1][0] == end.file
            assert every[-1][1].log_pos == end.pos, "up to the end of the binlog as it was"
            assert {f for f, _ev in first} == {here.file}
            assert [ev.gtid for _f, ev in first if isinstance(ev, MariadbGtidEvent)] == [first_gtid]
            seen: list[str] = []
            while not seen:  # the replica (a real server id) still follows the binlog
                ev = replica.fetch()
                if isinstance(ev, MariadbGtidEvent):
                    seen.append(ev.gtid)
            assert seen == [last_gtid(master_status(conn).gtid)]
        finally:
            replica.close()


def test_each_file_starts_with_the_gtid_state_before_it(mariadb, dbname):
    up = mariadb.up2
    up.execute(f"DROP DATABASE IF EXISTS {dbname}", f"CREATE DATABASE {dbname}")
    with db.connect(up.dbconfig()) as conn:
        before = master_status(conn)
        up.execute("FLUSH BINARY LOGS")
        new_file = master_status(conn).file
        lists = [
            ev.gtids
            for _f, ev in read_events(up.dbconfig(), Location(new_file, 4), one_file=True)
            if isinstance(ev, MariadbGtidListEvent)
        ]
    assert [MariaDBGtidSet(g) for g in lists] == [MariaDBGtidSet(before.gtid)] and before.gtid


def test_gtid_list_bodies_of_both_flavors():
    mariadb_list = struct.pack("<I", 2 | 0x10000000) + struct.pack("<IIQIIQ", 0, 1, 100, 1, 101, 27)
    assert parse_mariadb_gtid_list(mariadb_list) == "0-1-100,1-101-27", "the flags bits are not the count"
    u1, u2 = uuid.UUID(U1).bytes, uuid.UUID(U2).bytes
    mysql_set = (
        struct.pack("<Q", 2) + u1 + struct.pack("<QQQQQ", 2, 1, 6, 7, 10) + u2 + struct.pack("<QQQ", 1, 1, 2)
    )
    assert parse_previous_gtids(mysql_set) == f"{U1}:1-5:7-9,{U2}:1"  # intervals end exclusive
    assert parse_previous_gtids(struct.pack("<Q", 0)) == ""
    with pytest.raises(errors.DMError, match="tagged GTIDs"):
        parse_previous_gtids(struct.pack("<Q", 1 << 56 | 1) + u1)


def next_second(server) -> int:
    """Wait (polling) until the upstream's clock is in a new second; that second."""
    first = server.query("SELECT UNIX_TIMESTAMP()")[0][0]
    for _ in range(250):
        now = server.query("SELECT UNIX_TIMESTAMP()")[0][0]
        if now > first:
            return int(now)
        time.sleep(0.02)
    raise AssertionError("the upstream clock did not move")


def test_the_location_of_a_time_below_in_and_above_the_binlog(mariadb, dbname):
    up = mariadb.up1
    up.execute(
        f"DROP DATABASE IF EXISTS {dbname}", f"CREATE DATABASE {dbname}", f"CREATE TABLE {dbname}.t (id INT)"
    )
    cfg = up.dbconfig()
    with db.connect(cfg) as conn:
        up.execute(
            f"INSERT INTO {dbname}.t VALUES (1)", "FLUSH BINARY LOGS", f"INSERT INTO {dbname}.t VALUES (2)"
        )
        when = next_second(up)
        here = master_status(conn)
        up.execute(
            f"INSERT INTO {dbname}.t VALUES (3)", "FLUSH BINARY LOGS", f"INSERT INTO {dbname}.t VALUES (4)"
        )
        files = binlog_files(conn)

        def find(t: float) -> tuple[Location | None, str]:
            return find_location_by_time(cfg, conn, t, "mariadb", 4712)

        assert find(when) == (here, IN_RANGE), "the first transaction at or after the time"
        assert find(when - 86400) == (
            Location(files[0][0], 4, gtid_at(conn, files[0][0], 4, "mariadb")),
            BELOW,
        )
        assert find(time.time() + 3600) == (None, ABOVE)
