"""Randomized: a mixed workload with DDL on the upstream while the process running the sync unit
is killed with SIGKILL at random points, several times; in the end the target equals the source
row for row and column for column. The seed is printed (``DMSHELL_SEED=<n>`` replays the choices;
the kill timing also depends on the machine)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from .sync_helpers import converge, fresh_db, master, rows, wait_until

ROUNDS = 6
ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("sync_child.py")


@pytest.fixture
def db(mariadb, dbname):
    return fresh_db(mariadb, dbname)


class Workload(threading.Thread):
    """Single writer: it knows every key, so its choices depend on the seed only."""

    def __init__(self, server, db: str, rng: random.Random) -> None:
        super().__init__(daemon=True)
        self.server, self.db, self.rng = server, db, rng
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.ids: dict[str, set[int]] = {}  # keyed tables -> ids present
        self.extra: dict[str, list[str]] = {}  # columns added by the workload
        self.counter = 0
        self.statements = 0

    def next(self) -> int:
        self.counter += 1
        return self.counter

    def run(self) -> None:
        try:
            with self.server.connect() as conn, conn.cursor() as cur:
                self.cur = cur
                self.create_table()
                cur.execute(f"CREATE TABLE {self.db}.nk (a INT, b VARCHAR(20))")  # no key at all
                while not self.done.is_set():
                    self.step()
                    time.sleep(0.002)
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def sql(self, text: str) -> None:
        self.cur.execute(text)
        self.statements += 1

    def create_table(self) -> None:
        name = f"k{len(self.ids) + 1}"
        self.sql(
            f"CREATE TABLE {self.db}.{name} (id INT PRIMARY KEY, a INT, s VARCHAR(20), u INT NULL, "
            "UNIQUE KEY uu (u))"
        )
        self.ids[name] = set()
        self.extra[name] = []

    def row_change(self) -> None:
        rng, db = self.rng, self.db
        table = rng.choice(sorted(self.ids))
        ids = self.ids[table]
        op = rng.random()
        if op < 0.45 or len(ids) < 3:
            i = self.next()
            u = self.next() if rng.random() < 0.5 else "NULL"
            a = rng.randint(0, 99)
            self.sql(f"INSERT INTO {db}.{table} (id, a, s, u) VALUES ({i}, {a}, 'v{i}', {u})")
            ids.add(i)
        elif op < 0.75:
            i = rng.choice(sorted(ids))
            if rng.random() < 0.2:  # the key itself changes
                new = self.next()
                self.sql(f"UPDATE {db}.{table} SET id = {new}, a = a + 1 WHERE id = {i}")
                ids.discard(i)
                ids.add(new)
            else:
                self.sql(
                    f"UPDATE {db}.{table} SET a = {rng.randint(0, 99)}, s = 's{self.next()}', "
                    f"u = {self.next() if rng.random() < 0.5 else 'NULL'} WHERE id = {i}"
                )
        elif op < 0.9:
            i = rng.choice(sorted(ids))
            self.sql(f"DELETE FROM {db}.{table} WHERE id = {i}")
            ids.discard(i)
        else:
            n = self.next()
            self.sql(f"INSERT INTO {db}.nk VALUES ({n}, 'n{n}')")
            if rng.random() < 0.3:
                self.sql(f"UPDATE {db}.nk SET b = CONCAT(b, '!') WHERE a = {rng.randint(1, n)}")
            if rng.random() < 0.2:
                self.sql(f"DELETE FROM {db}.nk WHERE a = {rng.randint(1, n)}")

    def ddl(self) -> None:
        rng, db = self.rng, self.db
        table = rng.choice(sorted(self.ids))
        extra = self.extra[table]
        choice = rng.random()
        if choice < 0.4:
            col = f"c{self.next()}"
            self.sql(f"ALTER TABLE {db}.{table} ADD COLUMN {col} INT DEFAULT {rng.randint(0, 9)}")
            extra.append(col)
        elif choice < 0.65 and extra:
            col = extra.pop(rng.randrange(len(extra)))
            self.sql(f"ALTER TABLE {db}.{table} DROP COLUMN {col}")
        elif choice < 0.8 and len(self.ids) < 5:
            self.create_table()
        else:
            self.sql(f"ALTER TABLE {db}.{table} MODIFY s VARCHAR({rng.randint(20, 40)})")

    def step(self) -> None:
        rng = self.rng
        if rng.random() < 0.04:
            self.ddl()
            return
        if rng.random() < 0.3:  # a multi-statement transaction
            self.sql("BEGIN")
            for _ in range(rng.randint(2, 6)):
                self.row_change()
            self.sql("COMMIT")
        else:
            self.row_change()

    def stop(self) -> None:
        self.done.set()
        self.join(30)
        if self.error is not None:
            raise self.error


def start_child(spec: dict, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, str(CHILD), json.dumps(spec)],
            stdout=out,
            stderr=out,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=ROOT,
        )


def started(log: Path) -> int:
    """How many children have begun replicating (their set-up is done)."""
    return log.read_text(errors="replace").count(" starts at ") if log.exists() else 0


def test_kill_minus_9_at_random_points_converges(mariadb, db, tmp_path):
    seed = int(os.environ.get("DMSHELL_SEED") or random.SystemRandom().randrange(1 << 32))
    print(f"random seed: {seed} (DMSHELL_SEED={seed} to replay)")
    rng = random.Random(seed)
    src, dst = mariadb.up1, mariadb.target
    start = master(src)
    src.execute(f"CREATE DATABASE {db}")

    def conn(server) -> dict:
        c = server.dbconfig()
        return {"host": c.host, "port": c.port, "user": c.user, "password": c.password}

    spec = {
        "task": "trand",
        "db": db,
        "upstream": conn(src),
        "target": conn(dst),
        "file": start.file,
        "pos": start.pos,
        "work_dir": str(tmp_path / "work"),
        "syncer": {"worker_count": 4, "batch": 10, "checkpoint_flush_interval": 1, "safe_mode_duration": 0.5},
    }
    log = tmp_path / "child.log"
    workload = Workload(src, db, rng)
    workload.start()
    kills = 0
    try:
        for round_ in range(ROUNDS):
            before = started(log)
            child = start_child(spec, log)
            if round_ % 3 != 2:  # mostly once it replicates; sometimes while it is still starting
                wait_until(
                    lambda n=before, c=child: started(log) > n or c.poll() is not None, "the child started"
                )
            time.sleep(rng.uniform(0.0, 1.2))  # a random point: catching up, in a DDL, flushing, ...
            assert child.poll() is None, log.read_text()[-3000:]
            child.send_signal(signal.SIGKILL)
            child.wait()
            kills += 1
            if rng.random() < 0.5:
                time.sleep(rng.uniform(0, 0.5))  # sometimes a backlog builds up while it is down
    finally:
        workload.stop()
    assert kills == ROUNDS and workload.statements > 100
    child = start_child(spec, log)
    try:
        tables = [r[0] for r in src.query(f"SHOW TABLES FROM {db}")]
        pairs = [(f"{db}.{t}", f"{db}.{t}") for t in tables]
        wait_until(lambda: child.poll() is None or pytest.fail(log.read_text()[-3000:]), "child alive")
        converge(src, dst, pairs, timeout=90)
        for t in tables:
            assert rows(dst, f"SHOW COLUMNS FROM {db}.{t}") == rows(src, f"SHOW COLUMNS FROM {db}.{t}"), t
    finally:
        child.send_signal(signal.SIGTERM)
        rc = child.wait(30)
    assert rc == 0, log.read_text()[-3000:]
