"""Honest status of the sync unit (real MariaDB): the lag never reads 0 before the unit has
caught up (DM's lag drops to 0 between batches), it keeps growing while the unit is paused behind a
moving upstream, and the live figures (rates, queue depths, master vs syncer binlog, last error)."""

from __future__ import annotations

import time

import pytest

from dmshell.engine import errors

from .sync_helpers import Running, converge, fresh_db, make_ctx, master, synced, wait_until


@pytest.fixture
def db(mariadb, dbname):
    return fresh_db(mariadb, dbname)


def wait_clock(server, seconds: int) -> None:
    """Poll until the upstream's clock moved on by ``seconds`` (so older events have a real lag)."""
    first = server.query("SELECT UNIX_TIMESTAMP()")[0][0]
    deadline = time.monotonic() + seconds + 5
    while server.query("SELECT UNIX_TIMESTAMP()")[0][0] < first + seconds:
        assert time.monotonic() < deadline, "the upstream clock did not move"
        time.sleep(0.05)


ROWS = 1000


def test_lag_is_never_zero_before_caught_up_and_grows_while_paused(mariadb, db, tmp_path):
    src, dst = mariadb.up2, mariadb.target
    src.execute(f"CREATE DATABASE {db}", f"CREATE TABLE {db}.t (id INT PRIMARY KEY, v VARCHAR(20))")
    dst.execute(
        f"CREATE DATABASE {db}",
        f"CREATE TABLE {db}.t (id INT PRIMARY KEY, v VARCHAR(20))",
        # a slow target: the catch-up takes a while, with many batches
        f"CREATE TRIGGER {db}.slow BEFORE INSERT ON {db}.t FOR EACH ROW " "SET @dmshell_x = SLEEP(0.003)",
    )
    ctx = make_ctx(tmp_path, src, dst, db, worker_count=2, batch=1, queue_size=64)
    with src.connect() as conn, conn.cursor() as cur:  # a backlog of small transactions
        for i in range(ROWS):
            cur.execute(f"INSERT INTO {db}.t VALUES ({i}, 'row {i}')")
    wait_clock(src, 2)
    running = Running(ctx)
    samples = []
    try:
        wait_until(
            lambda: running.unit.status().totalBinlogEvents > 0, "the first event read", running=running
        )
        while True:
            st = running.unit.status()
            applied = dst.query(f"SELECT COUNT(*) FROM {db}.t")[0][0]
            samples.append(
                (
                    st.secondsBehindMaster,
                    applied,
                    st.recentRps,
                    st.recentEps,
                    st.recentBps,
                    list(st.queueDepths),
                    st.queueCapacity,
                )
            )
            if applied == ROWS:
                break
            if running.error is not None:
                raise running.error
            time.sleep(0.02)
        behind = [s for s in samples if s[1] < ROWS]
        assert len(behind) > 5, "the catch-up was sampled"
        assert all(s[0] >= 2 for s in behind), f"lag read below the backlog's age while catching up: {behind}"
        # bounded queues (a backlog of 1000 changes never piles up in them)
        assert all(len(s[5]) == 2 and all(d <= 2 * s[6] for d in s[5]) for s in samples), samples
        assert all(max(s[i] for s in samples) > 0 for i in (2, 3, 4)), "rows/s, events/s and bytes/s"
        wait_until(
            lambda: running.unit.status().secondsBehindMaster == 0, "lag 0 once caught up", running=running
        )
    finally:
        running.stop(close=False)
    unit = running.unit
    try:
        # paused (no run) while the upstream moves on: still reported, and growing
        src.execute(f"INSERT INTO {db}.t VALUES (100000, 'late')")
        wait_until(lambda: unit.status().masterBinlog == master(src).position_str(), "masterBinlog refreshed")
        wait_until(lambda: unit.status().secondsBehindMaster >= 2, "lag growing while paused")
        st = unit.status()
        assert not st.synced and st.syncerBinlog != st.masterBinlog
    finally:
        unit.close()


def test_last_error_is_reported(mariadb, db, tmp_path):
    src, dst = mariadb.up1, mariadb.target
    src.execute(f"CREATE DATABASE {db}", f"CREATE TABLE {db}.t (id INT PRIMARY KEY)")
    dst.execute(f"CREATE DATABASE {db}")  # the table is missing on the target
    ctx = make_ctx(tmp_path, src, dst, db)
    running = Running(ctx)
    src.execute(f"INSERT INTO {db}.t VALUES (1)")
    err = running.wait_error(close=False)
    try:
        st = running.unit.status()
        assert isinstance(err, errors.DMError) and st.lastError == str(err) and "1146" in st.lastError
        assert abs(st.lastErrorTime - time.time()) < 60
        dst.execute(f"CREATE TABLE {db}.t (id INT PRIMARY KEY)")
        running = Running(ctx, unit=running.unit)
        converge(src, dst, [(f"{db}.t", f"{db}.t")], running)
        wait_until(lambda: synced(running.unit, src), "synced status", running=running)
        assert running.unit.status().lastError == str(err), "the last error stays visible after a resume"
    finally:
        running.stop()
