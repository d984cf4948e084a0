"""Exactly-once, transaction-atomic apply (issue 12), on real MariaDB servers.

* keyless tables with identical rows through inserts, updates and deletes, while the process
  running the sync unit is killed with SIGKILL at seeded random points: the target ends equal to
  the source as a multiset of rows (REPLACE idempotence can't save a keyless table: only the
  applied record can);
* transfers between accounts (two UPDATEs per upstream transaction), the target sampled many times
  while it syncs and across the kills: the sum never changes;
* unnamed ``ADD INDEX`` in the same workload: exactly as many indexes as upstream;
* a DDL interrupted at each step of its journal: applied once.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time

import pymysql
import pytest

from dmshell.engine.sync.checkpoint import SyncCheckpoint
from dmshell.engine.sync.ddl_journal import DDLJournal

from .sync_helpers import Running, converge, fresh_db, make_ctx, master, rows, synced, wait_until
from .test_sync_random import start_child, started

ACCOUNTS = 20
BALANCE = 1000
ROUNDS = 5


@pytest.fixture
def db(mariadb, dbname):
    return fresh_db(mariadb, dbname)


class Workload(threading.Thread):
    """Keyless tables with many identical rows, transfers, and now and then an unnamed index."""

    def __init__(self, server, db: str, rng: random.Random) -> None:
        super().__init__(daemon=True)
        self.server, self.db, self.rng = server, db, rng
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.statements = 0
        self.indexes = 0

    def run(self) -> None:
        try:
            with self.server.connect() as conn, conn.cursor() as cur:
                while not self.done.is_set():
                    self.step(cur)
                    time.sleep(0.002)
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def step(self, cur) -> None:
        rng, db = self.rng, self.db
        r = rng.random()
        if r < 0.35:  # a transfer: two UPDATEs in one transaction
            a, b = rng.sample(range(1, ACCOUNTS + 1), 2)
            x = rng.randint(1, 50)
            cur.execute("BEGIN")
            cur.execute(f"UPDATE {db}.acc SET bal = bal - {x} WHERE id = {a}")
            cur.execute(f"UPDATE {db}.acc SET bal = bal + {x} WHERE id = {b}")
            cur.execute("COMMIT")
        elif r < 0.995:
            table = rng.choice(("c", "d"))
            cur.execute("BEGIN")
            for _ in range(rng.randint(1, 4)):
                v = rng.randint(1, 4)  # few distinct values: many identical rows
                op = rng.random()
                if op < 0.55:
                    n = rng.randint(1, 3)
                    cur.execute(f"INSERT INTO {db}.{table} VALUES " + ",".join([f"({v}, 'y')"] * n))
                elif op < 0.8:
                    cur.execute(f"UPDATE {db}.{table} SET b = 'z{v}' WHERE a = {v} LIMIT 1")
                else:
                    cur.execute(f"DELETE FROM {db}.{table} WHERE a = {v} LIMIT {rng.randint(1, 2)}")
            cur.execute("COMMIT")
        elif self.indexes < 3:
            cur.execute(f"ALTER TABLE {db}.d ADD INDEX (a)")  # unnamed: a replay would add a2, a3...
            self.indexes += 1
        self.statements += 1

    def stop(self) -> None:
        self.done.set()
        self.join(30)
        if self.error is not None:
            raise self.error


class Sampler(threading.Thread):
    """Reads the accounts' sum on the target again and again; records every sum it saw."""

    def __init__(self, server, db: str) -> None:
        super().__init__(daemon=True)
        self.server, self.db = server, db
        self.done = threading.Event()
        self.sums: list[int] = []
        self.bad: list[tuple] = []

    def run(self) -> None:
        with self.server.connect() as conn, conn.cursor() as cur:
            while not self.done.is_set():
                try:
                    cur.execute(f"SELECT COUNT(*), SUM(bal) FROM {self.db}.acc")
                except pymysql.err.ProgrammingError:  # not created on the target yet
                    time.sleep(0.05)
                    continue
                n, total = cur.fetchone()
                if n == ACCOUNTS:  # (the table is still empty before the first inserts arrive)
                    self.sums.append(int(total))
                    if total != ACCOUNTS * BALANCE:
                        self.bad.append((n, total))
                time.sleep(0.002)


def _setup_source(src, db: str) -> None:
    src.execute(
        f"CREATE DATABASE {db}",
        f"CREATE TABLE {db}.c (a INT, b VARCHAR(10))",
        f"CREATE TABLE {db}.d (a INT, b VARCHAR(10))",
        f"CREATE TABLE {db}.acc (id INT PRIMARY KEY, bal INT NOT NULL)",
        f"INSERT INTO {db}.acc VALUES " + ",".join(f"({i}, {BALANCE})" for i in range(1, ACCOUNTS + 1)),
    )


def _conn(server) -> dict:
    c = server.dbconfig()
    return {"host": c.host, "port": c.port, "user": c.user, "password": c.password}


def test_kill_minus_9_keyless_identical_rows_and_transfers_exactly_once(mariadb, db, tmp_path):
    seed = int(os.environ.get("DMSHELL_SEED") or random.SystemRandom().randrange(1 << 32))
    print(f"random seed: {seed} (DMSHELL_SEED={seed} to replay)")
    rng = random.Random(seed)
    src, dst = mariadb.up1, mariadb.target
    start = master(src)
    _setup_source(src, db)
    spec = {
        "task": "tonce",
        "db": db,
        "upstream": _conn(src),
        "target": _conn(dst),
        "file": start.file,
        "pos": start.pos,
        "work_dir": str(tmp_path / "work"),
        # the defaults otherwise (safe-mode-duration included): no REPLACE anywhere
        "syncer": {"worker_count": 4, "batch": 10, "checkpoint_flush_interval": 1},
    }
    log = tmp_path / "child.log"
    workload = Workload(src, db, rng)
    sampler = Sampler(dst, db)
    workload.start()
    sampler.start()
    try:
        for round_ in range(ROUNDS):
            before = started(log)
            child = start_child(spec, log)
            if round_ % 3 != 2:
                wait_until(
                    lambda n=before, c=child: started(log) > n or c.poll() is not None, "the child started"
                )
            time.sleep(rng.uniform(0.0, 1.2))
            assert child.poll() is None, log.read_text()[-3000:]
            child.send_signal(signal.SIGKILL)
            child.wait()
            if rng.random() < 0.5:
                time.sleep(rng.uniform(0, 0.5))
    finally:
        workload.stop()
    assert workload.statements > 100
    child = start_child(spec, log)
    try:
        tables = [f"{db}.{t}" for t in ("c", "d", "acc")]
        converge(src, dst, [(t, t) for t in tables], timeout=90)
        for t in tables:  # row for row, as a multiset (rows() sorts; duplicates count)
            assert rows(dst, f"SELECT * FROM {t}") == rows(src, f"SELECT * FROM {t}"), t
        index = f"SELECT index_name FROM information_schema.statistics WHERE table_schema = '{db}'"
        assert rows(dst, index) == rows(src, index)
    finally:
        sampler.done.set()
        sampler.join(10)
        child.send_signal(signal.SIGTERM)
        rc = child.wait(30)
    assert rc == 0, log.read_text()[-3000:]
    assert len(sampler.sums) > 50 and not sampler.bad, sampler.bad[:5]
    starts = [line for line in log.read_text().splitlines() if " starts at " in line]
    assert len(starts) > ROUNDS // 2 and all("safe mode until None" in line for line in starts)


def test_transfers_never_torn_while_syncing(mariadb, db, tmp_path):
    """In-process unit, 8 lanes, small batches: every sample of the target holds the invariant."""
    src, dst = mariadb.up1, mariadb.target
    ctx = make_ctx(tmp_path, src, dst, db, worker_count=8, batch=4)
    _setup_source(src, db)
    run = Running(ctx)
    sampler = Sampler(dst, db)
    sampler.start()
    try:
        workload = Workload(src, db, random.Random(7))
        with src.connect() as conn, conn.cursor() as cur:
            for _ in range(1000):
                a, b = workload.rng.sample(range(1, ACCOUNTS + 1), 2)
                cur.execute("BEGIN")
                cur.execute(f"UPDATE {db}.acc SET bal = bal - 7 WHERE id = {a}")
                cur.execute(f"UPDATE {db}.acc SET bal = bal + 7 WHERE id = {b}")
                cur.execute("COMMIT")
        converge(src, dst, [(f"{db}.acc", f"{db}.acc")], running=run)
    finally:
        sampler.done.set()
        sampler.join(10)
        run.stop()
    assert len(sampler.sums) > 10 and not sampler.bad, sampler.bad[:5]


@pytest.mark.parametrize("step", ["started, not executed", "started, executed", "done"])
def test_ddl_interrupted_at_each_step_applies_once(mariadb, db, tmp_path, step):
    """The state a kill -9 leaves at each step of a journaled DDL, then a restart: one index."""
    src, dst = mariadb.up1, mariadb.target
    ctx = make_ctx(tmp_path, src, dst, db)
    src.execute(f"CREATE DATABASE {db}", f"CREATE TABLE {db}.t (id INT PRIMARY KEY, a INT)")
    run = Running(ctx)
    wait_until(lambda: synced(run.unit, src), "synced", running=run)
    run.stop()
    src.execute(f"ALTER TABLE {db}.t ADD INDEX (a)")
    end = master(src)
    src.execute(f"INSERT INTO {db}.t VALUES (1, 1)")
    # what the unit would have left behind when killed at this step
    with dst.connect() as conn:
        conn.autocommit(True)
        cp = SyncCheckpoint(conn, ctx.cfg.meta_schema, ctx.cfg.name, ctx.cfg.source_id)
        journal = DDLJournal(conn, cp.load_applied())
        key = f"ddl:{end.file}:{end.pos}#0"
        journal.write(key, 1 if step == "done" else 0, journal.fingerprint([(db, "t")]))
        if step != "started, not executed":
            with conn.cursor() as cur:
                cur.execute(f"ALTER TABLE {db}.t ADD INDEX (a)")
    run = Running(make_ctx(tmp_path, src, dst, db))
    try:
        wait_until(lambda: synced(run.unit, src), "synced", running=run)
        converge(src, dst, [(f"{db}.t", f"{db}.t")], running=run)
    finally:
        run.stop()
    index = f"SELECT index_name FROM information_schema.statistics WHERE table_schema = '{db}'"
    assert rows(dst, index) == rows(src, index) == [("PRIMARY",), ("a",)]
    left = dst.query(f"SELECT txn FROM `{db}_meta`.`tsync_syncer_applied`")
    assert not [r for r in left if r[0].startswith("ddl:")]  # pruned by the checkpoint after it
