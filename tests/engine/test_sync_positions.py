"""Positions against the real MariaDB fixture: file/position resume across binlog rotations,
enable-gtid resume by the checkpoint's GTID set when its file/position no longer fits, start-time,
and when checkpoints are flushed (after DDL, on stop, every checkpoint-flush-interval, on an idle
upstream's heartbeat so the task shows `synced`)."""

from __future__ import annotations

import threading
import time

import pytest

from dmshell.engine import errors
from dmshell.engine.binlog.start_time import parse_start_time
from dmshell.engine.config.task import Meta
from dmshell.engine.sync.syncer import SyncUnit

from .sync_helpers import (
    Running,
    converge,
    flushed_checkpoint,
    fresh_db,
    global_checkpoint,
    make_ctx,
    master,
    meta_at,
    rows,
    synced,
    wait_until,
)


@pytest.fixture
def db(mariadb, dbname):
    return fresh_db(mariadb, dbname)


def setup_table(src, dst, db: str, ddl: str = "(id INT PRIMARY KEY, v INT)") -> None:
    src.execute(f"CREATE DATABASE {db}", f"CREATE TABLE {db}.t {ddl}")
    dst.execute(f"CREATE DATABASE {db}", f"CREATE TABLE {db}.t {ddl}")


def inserts(server, db: str, ids, table: str = "t") -> None:
    with server.connect() as conn, conn.cursor() as cur:
        for i in ids:
            cur.execute(f"INSERT INTO {db}.{table} VALUES ({i}, {i})")


def test_file_position_resume_across_rotations(mariadb, db, tmp_path):
    """No safe mode: a resume one event too early fails on a duplicate key, too late loses rows."""
    src, dst = mariadb.up2, mariadb.target
    setup_table(src, dst, db)
    ctx = make_ctx(tmp_path, src, dst, db, safe_mode_duration=0)
    running = Running(ctx)
    inserts(src, db, range(1, 11))
    src.execute("FLUSH BINARY LOGS")
    inserts(src, db, range(11, 21))
    converge(src, dst, [(f"{db}.t", f"{db}.t")], running)
    running.stop()
    first = global_checkpoint(dst, db)
    src.execute("FLUSH BINARY LOGS")
    inserts(src, db, range(21, 31))
    src.execute("FLUSH BINARY LOGS", "FLUSH BINARY LOGS")
    inserts(src, db, range(31, 41))
    running = Running(ctx)
    try:
        converge(src, dst, [(f"{db}.t", f"{db}.t")], running)
        wait_until(lambda: synced(running.unit, src), "synced status", running=running)
    finally:
        running.stop()
    now = global_checkpoint(dst, db)
    assert now.same_position(master(src)) and now.file != first.file and now > first


def test_enable_gtid_resumes_from_the_gtid_set(mariadb, db, tmp_path):
    """enable-gtid: the checkpoint's GTID set wins over its file/position (here pointing at a
    binlog file the upstream doesn't have, as after a fail-over)."""
    src, dst = mariadb.up1, mariadb.target
    setup_table(src, dst, db)
    ctx = make_ctx(tmp_path, src, dst, db, safe_mode_duration=0, enable_gtid=True)
    running = Running(ctx)
    inserts(src, db, range(1, 6))
    converge(src, dst, [(f"{db}.t", f"{db}.t")], running)
    wait_until(lambda: synced(running.unit, src), "synced status", running=running)
    running.stop()
    saved = global_checkpoint(dst, db)
    assert saved.gtid == master(src).gtid
    dst.execute(
        f"UPDATE `{db}_meta`.tsync_syncer_checkpoint SET binlog_name = 'mysql-bin.999999', "
        "binlog_pos = 4 WHERE is_global"
    )
    src.execute("FLUSH BINARY LOGS")
    inserts(src, db, range(6, 11))
    running = Running(ctx)
    try:
        converge(src, dst, [(f"{db}.t", f"{db}.t")], running)
        wait_until(lambda: synced(running.unit, src), "synced status", running=running)
        assert running.unit.status().syncerBinlogGtid == master(src).gtid
    finally:
        running.stop()
    assert global_checkpoint(dst, db).same_position(master(src))


def next_second(server) -> str:
    """Wait (polling) until the upstream's clock is in a new second; that second, as DM's text."""
    first = server.query("SELECT UNIX_TIMESTAMP()")[0][0]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        now, text = server.query("SELECT UNIX_TIMESTAMP(), DATE_FORMAT(NOW(), '%Y-%m-%d %H:%i:%s')")[0]
        if now > first:
            return text
        time.sleep(0.02)
    raise AssertionError("the upstream clock did not move")


def test_start_time_starts_at_the_first_transaction_at_or_after_it(mariadb, db, tmp_path):
    src, dst = mariadb.up2, mariadb.target
    setup_table(src, dst, db)
    inserts(src, db, [1])
    src.execute("FLUSH BINARY LOGS")  # the time lies in a later file than the table's creation
    inserts(src, db, [2])
    start = next_second(src)
    inserts(src, db, [3])
    src.execute("FLUSH BINARY LOGS")
    inserts(src, db, [4])
    # a checkpoint far ahead: start-time wins over it (DM) and is used once
    ctx = make_ctx(tmp_path, src, dst, db, meta=meta_at(master(src)), safe_mode_duration=0)
    unit = SyncUnit(ctx, start_time=start)
    running = Running(ctx, unit=unit)
    try:
        wait_until(
            lambda: rows(dst, f"SELECT id FROM {db}.t") == [("3",), ("4",)],
            "rows after the time",
            running=running,
        )
        wait_until(lambda: synced(unit, src), "synced status", running=running)
    finally:
        running.stop(close=False)
    inserts(src, db, [5])
    running = Running(ctx, unit=unit)  # resumes from its checkpoint, not from the time again
    try:
        wait_until(
            lambda: rows(dst, f"SELECT id FROM {db}.t") == [("3",), ("4",), ("5",)], "row 5", running=running
        )
    finally:
        running.stop()
    too_late = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() + 3600)) + "+00:00"
    err = Running(ctx, start_time=too_late).wait_error()
    assert isinstance(err, errors.DMError) and err.code == 20057 and too_late in err.message
    assert parse_start_time("2021-10-21T00:01:00+08:00", 0) == parse_start_time("2021-10-20 16:01:00", 0)
    assert parse_start_time("2021-10-21 08:01:00", 8 * 3600) == parse_start_time("2021-10-21T00:01:00Z", 0)


def test_checkpoint_flushes(mariadb, db, tmp_path):
    """Every checkpoint-flush-interval while changes flow; right after a DDL; on stop; and on the
    heartbeat of an idle upstream (also when only filtered schemas changed), which makes `synced`
    true without waiting for the interval."""
    src, dst = mariadb.up1, mariadb.target
    other = f"{db}_x"
    setup_table(src, dst, db)
    src.execute(
        f"DROP DATABASE IF EXISTS {other}", f"CREATE DATABASE {other}", f"CREATE TABLE {other}.t (id INT)"
    )
    start = master(src)
    running = Running(make_ctx(tmp_path, src, dst, db, meta=meta_at(start), checkpoint_flush_interval=1))
    stop_writing = threading.Event()
    counter = iter(range(1, 1_000_000))

    def writer() -> None:
        with src.connect() as conn, conn.cursor() as cur:
            while not stop_writing.is_set():
                cur.execute(f"INSERT INTO {db}.t VALUES ({next(counter)}, 0)")
                time.sleep(0.01)  # a steady trickle: no heartbeat ever (the stream is never idle)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        wait_until(
            lambda: flushed_checkpoint(dst, db) > start,
            "an interval flush while changes flow",
            running=running,
        )
    finally:
        stop_writing.set()
        thread.join()
    running.stop()
    assert global_checkpoint(dst, db).same_position(master(src)), "flushed on stop"

    running = Running(make_ctx(tmp_path, src, dst, db, meta=Meta(), checkpoint_flush_interval=3600))
    try:
        src.execute(f"ALTER TABLE {db}.t ADD COLUMN w INT")
        after_ddl = master(src)
        wait_until(
            lambda: global_checkpoint(dst, db).same_position(after_ddl),
            "the flush after the DDL",
            running=running,
        )
        table_info = dst.query(
            f"SELECT table_info FROM `{db}_meta`.tsync_syncer_checkpoint " "WHERE cp_table = 't'"
        )
        assert '"name":"w"' in table_info[0][0]
        src.execute(f"INSERT INTO {other}.t VALUES (1)", f"INSERT INTO {other}.t VALUES (2)")
        wait_until(lambda: synced(running.unit, src), "synced on an idle upstream", running=running)
        assert running.unit.status().secondsBehindMaster == 0
    finally:
        running.stop()
        src.execute(f"DROP DATABASE IF EXISTS {other}")
