"""Resilience of the sync unit inside a real subtask (auto-resume with backoff, as DM's task
checker): target down and restarted, upstream restarted, connections killed from the server side,
a large single transaction applied in batches with the checkpoint before it until its COMMIT, and a
16 MB row (max_allowed_packet on both sides). Every case converges with nothing lost."""

from __future__ import annotations

import threading
import time

import pytest

from dmshell.engine.subtask import AutoResume, SubTask
from dmshell.proto import dmworker_pb2 as pb

from .sync_helpers import (
    Running,
    converge,
    flushed_checkpoint,
    fresh_db,
    make_ctx,
    master,
    rows,
    synced,
    wait_until,
)

PACKET_64M = 64 * 1024 * 1024


@pytest.fixture
def db(mariadb, dbname):
    return fresh_db(mariadb, dbname)


class AutoResumed:
    """A real SubTask running the sync unit, its auto-resume checked every 50 ms (DM's task checker
    with a short backoff); every error that paused it is recorded."""

    def __init__(self, ctx) -> None:
        backoff = AutoResume(check_interval=0.05, backoff_min=0.2, backoff_max=1.0)
        self.subtask = SubTask(ctx, auto_resume=backoff)
        self.errors: list[pb.ProcessError] = []
        self._done = threading.Event()
        self.subtask.run()
        self._thread = threading.Thread(target=self._check, daemon=True)
        self._thread.start()

    def _check(self) -> None:
        seen = None
        while not self._done.wait(0.05):
            st = self.subtask.status()
            if st.stage == pb.Paused and st.result.errors and st.result.errors[0] is not seen:
                err = st.result.errors[0]
                if not self.errors or self.errors[-1] != err:
                    self.errors.append(err)
                seen = err
            self.subtask.check_auto_resume()

    def sync_status(self) -> pb.SyncStatus:
        return self.subtask.status().sync

    def stop(self) -> None:
        self._done.set()
        self._thread.join(5)
        self.subtask.stop()


class Writer(threading.Thread):
    """Inserts and updates on the upstream until stopped; waits out upstream outages."""

    def __init__(self, server, db: str) -> None:
        super().__init__(daemon=True)
        self.server, self.db = server, db
        self.done = threading.Event()
        self.paused = threading.Event()
        self.count = 0

    def run(self) -> None:
        conn = None
        while not self.done.is_set():
            if self.paused.is_set():
                if conn is not None:
                    conn.close()
                    conn = None
                time.sleep(0.02)
                continue
            try:
                if conn is None:
                    conn = self.server.connect()
                with conn.cursor() as cur:
                    i = self.count + 1
                    cur.execute(f"INSERT INTO {self.db}.t VALUES ({i}, 0)")
                    cur.execute(f"UPDATE {self.db}.t SET v = v + 1 WHERE id = {max(1, i - 3)}")
                self.count = i
            except Exception:  # the upstream going away: retry after it is back
                conn = None
                time.sleep(0.05)
            time.sleep(0.005)

    def stop(self) -> None:
        self.done.set()
        self.join(10)


def kill_connections(server, where: str) -> int:
    with server.connect() as conn, conn.cursor() as cur:
        cur.execute(f"SELECT id FROM information_schema.processlist WHERE id <> CONNECTION_ID() AND {where}")
        ids = [r[0] for r in cur.fetchall()]
        for cid in ids:
            try:
                cur.execute(f"KILL CONNECTION {cid}")
            except Exception:  # already gone
                pass
    return len(ids)


def test_outages_and_killed_connections_resume_and_converge(mariadb, db, tmp_path):
    src, dst = mariadb.up2, mariadb.target
    src.execute(f"CREATE DATABASE {db}", f"CREATE TABLE {db}.t (id INT PRIMARY KEY, v INT)")
    dst.execute(f"CREATE DATABASE {db}", f"CREATE TABLE {db}.t (id INT PRIMARY KEY, v INT)")
    task = AutoResumed(make_ctx(tmp_path, src, dst, db, safe_mode_duration=1.0))
    writer = Writer(src, db)
    writer.start()
    tables = [(f"{db}.t", f"{db}.t")]
    try:

        def applied_more(n: int) -> bool:
            return dst.query(f"SELECT COUNT(*) FROM {db}.t")[0][0] > n

        wait_until(lambda: applied_more(20), "rows flowing")
        # network cut, server side: the replication connection, then every target connection
        assert kill_connections(src, "command = 'Binlog Dump'") == 1
        wait_until(lambda: len(task.errors) >= 1, "the cut noticed")
        wait_until(lambda: applied_more(writer.count - 5) and task.subtask.stage == pb.Running, "resumed")
        kill_connections(dst, "command <> 'Daemon'")
        wait_until(lambda: len(task.errors) >= 2, "the second cut noticed")
        n = writer.count
        wait_until(lambda: applied_more(n), "resumed after the target cut")
        # the target goes down (for a few retries) and comes back
        before = len(task.errors)
        dst.stop()
        try:
            wait_until(lambda: len(task.errors) >= before + 2, "retries while the target is down")
        finally:
            dst.start()
        n = writer.count
        wait_until(lambda: applied_more(n), "resumed after the target restart")
        # the upstream restarts: the lag keeps growing while it is away
        writer.paused.set()
        src.stop()
        try:
            wait_until(
                lambda: task.sync_status().secondsBehindMaster >= 2, "lag growing while the upstream is down"
            )
        finally:
            src.start()
            writer.paused.clear()
        n = writer.count
        wait_until(lambda: applied_more(n + 5), "resumed after the upstream restart")
    finally:
        writer.stop()
    try:
        converge(src, dst, tables)
        wait_until(lambda: task.subtask.stage == pb.Running and task.sync_status().synced, "synced")
    finally:
        task.stop()
    assert all(e.ErrCode in (10001, 10002, 36069) for e in task.errors), [str(e) for e in task.errors]
    assert len(task.errors) >= 4


def test_large_transaction_is_applied_in_batches_with_the_checkpoint_before_it(mariadb, db, tmp_path):
    """50,000 rows in one upstream transaction (the 1,000,000-row case is run by hand): the rows
    reach the target in batches through bounded queues while the checkpoint stays before the
    transaction until its COMMIT has been applied."""
    src, dst = mariadb.up1, mariadb.target
    n = 50_000
    for server in (src, dst):
        server.execute(
            f"CREATE DATABASE {db}",
            f"CREATE TABLE {db}.t (id INT PRIMARY KEY, v INT)",
            f"CREATE TABLE {db}.gate (id INT PRIMARY KEY)",
        )
    running = Running(
        make_ctx(
            tmp_path,
            src,
            dst,
            db,
            worker_count=4,
            batch=100,
            queue_size=1024,
            safe_mode_duration=1.0,
            txn_split_rows=1000,  # bigger transactions are applied in parts (issue 12's exception)
        )
    )
    blocker = dst.connect()
    try:
        wait_until(lambda: synced(running.unit, src), "started", running=running)
        before = master(src)
        with blocker.cursor() as cur:
            cur.execute(f"LOCK TABLES {db}.gate WRITE")  # holds one DML worker inside the transaction
        with src.connect() as conn, conn.cursor() as cur:
            cur.execute("BEGIN")
            half = n // 2
            cur.execute(f"INSERT INTO {db}.t SELECT seq, seq FROM {db}.seq_1_to_{half}")
            cur.execute(f"INSERT INTO {db}.gate VALUES (1)")  # its part waits for the lock
            cur.execute(f"INSERT INTO {db}.t SELECT seq, seq FROM {db}.seq_{half + 1}_to_{n}")
            cur.execute("COMMIT")
        after = master(src)
        wait_until(
            lambda: dst.query(f"SELECT COUNT(*) FROM {db}.t")[0][0] > 0,
            "part of the transaction applied",
            running=running,
        )
        wait_until(
            lambda: running.unit.status().masterBinlog == after.position_str(),
            "master refreshed",
            running=running,
        )
        st = running.unit.status()
        applied = dst.query(f"SELECT COUNT(*) FROM {db}.t")[0][0]
        assert 0 < applied < n, "applied in batches, not all at once"
        assert sum(st.queueDepths) <= 2 * len(st.queueDepths) * st.queueCapacity, "bounded queues"
        assert flushed_checkpoint(dst, db) <= before, "the checkpoint stays before the open transaction"
        assert not st.synced and st.syncerBinlog == before.position_str()
        with blocker.cursor() as cur:
            cur.execute("UNLOCK TABLES")
        converge(src, dst, [(f"{db}.t", f"{db}.t"), (f"{db}.gate", f"{db}.gate")], running)
        wait_until(
            lambda: flushed_checkpoint(dst, db).same_position(after),
            "checkpoint after the COMMIT",
            running=running,
        )
    finally:
        blocker.close()
        running.stop()


def digest(server, sql: str) -> list[tuple]:
    return server.query(sql)


def test_16mb_rows(mariadb, db, tmp_path):
    """With max_allowed_packet large enough on both sides a 16 MB row replicates; with a small one
    on the target the task pauses with a clear error and converges once it is raised."""
    src, dst = mariadb.up2, mariadb.target
    old = [(s, s.query("SELECT @@GLOBAL.max_allowed_packet")[0][0]) for s in (src, dst)]
    src.execute(f"SET GLOBAL max_allowed_packet = {PACKET_64M}")
    dst.execute(f"SET GLOBAL max_allowed_packet = {PACKET_64M}")
    check = f"SELECT id, LENGTH(b), MD5(b) FROM {db}.t ORDER BY id"
    try:
        for server in (src, dst):
            server.execute(f"CREATE DATABASE {db}", f"CREATE TABLE {db}.t (id INT PRIMARY KEY, b LONGBLOB)")
        ctx = make_ctx(tmp_path, src, dst, db)
        running = Running(ctx)
        with src.connect(max_allowed_packet=PACKET_64M) as conn, conn.cursor() as cur:
            big = bytes(range(256)) * (16 * 1024 * 1024 // 256 + 1)  # a little over 16 MiB, every byte value
            cur.execute(f"INSERT INTO {db}.t VALUES (1, %s)", (big,))
        try:
            wait_until(lambda: digest(dst, check) == digest(src, check), "the 16 MB row", running=running)
        finally:
            running.stop()
        assert digest(dst, check)[0][1] == len(big)

        dst.execute("SET GLOBAL max_allowed_packet = 4194304")
        running = Running(ctx)
        with src.connect(max_allowed_packet=PACKET_64M) as conn, conn.cursor() as cur:
            cur.execute(f"INSERT INTO {db}.t VALUES (2, %s)", (big[: 6 * 1024 * 1024],))
        err = running.wait_error()
        assert err.code == 10006 and not err.resumable and "max_allowed_packet" in str(err)
        assert "packet for query is too large" in err.raw_cause
        assert err.workaround.startswith("Raise max_allowed_packet on the target")
        dst.execute(f"SET GLOBAL max_allowed_packet = {PACKET_64M}")
        running = Running(ctx)
        try:
            wait_until(lambda: digest(dst, check) == digest(src, check), "both rows", running=running)
        finally:
            running.stop()
    finally:
        for server, value in old:
            server.execute(f"SET GLOBAL max_allowed_packet = {value}")
    assert rows(dst, f"SELECT id FROM {db}.t") == [("1",), ("2",)]
