"""End to end: a shard-merge migration through the real daemon, then kill -9 of everything mid-sync.

Two upstreams each hold one shard (``orders_01`` on upstream1 with GTID, ``orders_02`` on
upstream2 by file/position) routed into one target table ``orders``. Writes run before the task
starts and all along: the task (``task-mode: all``) dumps, loads, then replicates. After the
writes stop, the target must equal the union of the shards row by row. Then the whole daemon
process group (master and workers) is killed with SIGKILL during Sync while writes go on; after a
restart on the same data directory the target converges again — nothing lost, nothing duplicated.
"""

from __future__ import annotations

import random
import threading
import time

import pymysql
from daemon.daemon_helpers import Daemon, source_yaml

from dmshell.proto import dmmaster_pb2 as mpb
from dmshell.proto import dmworker_pb2 as pb

S1, S2 = "mysql-replica-01", "mysql-replica-02"
INITIAL_ROWS = 400
SHARD2_BASE = 1_000_000

SCHEMA = """CREATE TABLE {db}.{table} (
    id BIGINT NOT NULL PRIMARY KEY,
    shard TINYINT NOT NULL,
    amount DECIMAL(12, 2) NOT NULL,
    note VARCHAR(64) NULL,
    version INT NOT NULL DEFAULT 0,
    created DATETIME(6) NOT NULL
)"""

ROW_HASH = (
    "SELECT id, MD5(CONCAT_WS('|', id, shard, amount, IFNULL(note, '<null>'), version, created)) "
    "FROM {db}.{table}"
)


class Writer:
    """Random inserts, updates and deletes (single statements and small transactions) on one shard."""

    def __init__(self, server, db: str, table: str, shard: int, base: int, seed: int) -> None:
        self.server, self.db, self.table, self.shard, self.base = server, db, table, shard, base
        self.rand = random.Random(seed)
        self.next_id = base + INITIAL_ROWS + 1
        self.ops = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(30)
        assert self.error is None, f"writer on {self.table} failed: {self.error!r}"

    def _statement(self, cur) -> None:
        r, t = self.rand.random(), f"{self.db}.{self.table}"
        if r < 0.5:
            note = self.rand.choice([None, "plain", "ünïcødé ✓", "quote ' and \\ backslash"])
            cur.execute(
                f"INSERT INTO {t} (id, shard, amount, note, created) VALUES (%s, %s, %s, %s, NOW(6))",
                (self.next_id, self.shard, round(self.rand.uniform(0, 9999), 2), note),
            )
            self.next_id += 1
        elif r < 0.85:
            row = self.rand.randint(self.base + 1, self.next_id - 1)
            cur.execute(
                f"UPDATE {t} SET amount = amount + 1, version = version + 1, note = %s WHERE id = %s",
                (f"v{self.ops}", row),
            )
        else:
            cur.execute(
                f"DELETE FROM {t} WHERE id = %s", (self.rand.randint(self.base + 1, self.next_id - 1),)
            )
        self.ops += 1

    def _run(self) -> None:
        try:
            conn = self.server.connect()
            with conn.cursor() as cur:
                while not self._stop.is_set():
                    if self.rand.random() < 0.2:  # a small multi-statement transaction
                        conn.begin()
                        for _ in range(3):
                            self._statement(cur)
                        conn.commit()
                    else:
                        self._statement(cur)
                    time.sleep(0.003)
            conn.close()
        except BaseException as exc:
            self.error = exc


def prepare(mariadb, db: str) -> list[Writer]:
    writers = []
    for shard, (server, table, base) in enumerate(
        [(mariadb.up1, "orders_01", 0), (mariadb.up2, "orders_02", SHARD2_BASE)], start=1
    ):
        server.execute(
            f"DROP DATABASE IF EXISTS {db}", f"CREATE DATABASE {db}", SCHEMA.format(db=db, table=table)
        )
        conn = server.connect()
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {db}.{table} (id, shard, amount, note, created) "
                "VALUES (%s, %s, %s, %s, NOW(6))",
                [
                    (base + i, shard, i * 1.5, f"initial {i}" if i % 7 else None)
                    for i in range(1, INITIAL_ROWS + 1)
                ],
            )
        conn.close()
        writers.append(Writer(server, db, table, shard, base, seed=shard))
    mariadb.target.execute(f"DROP DATABASE IF EXISTS {db}")
    return writers


def task_yaml(mariadb, db: str) -> str:
    t = mariadb.target
    return f"""\
name: e2e_merge
task-mode: all
meta-schema: {db}_meta
target-database:
{t.connection_yaml()}block-allow-list:
  only-db:
    do-dbs: ["{db}"]
routes:
  merge-orders:
    schema-pattern: "{db}"
    table-pattern: "orders_*"
    target-schema: "{db}"
    target-table: "orders"
syncers:
  fast:
    checkpoint-flush-interval: 1
mysql-instances:
  - source-id: {S1}
    block-allow-list: only-db
    route-rules: ["merge-orders"]
    syncer-config-name: fast
  - source-id: {S2}
    block-allow-list: only-db
    route-rules: ["merge-orders"]
    syncer-config-name: fast
"""


def source_rows(mariadb, db: str) -> dict[int, str]:
    rows = dict(mariadb.up1.query(ROW_HASH.format(db=db, table="orders_01")))
    rows.update(mariadb.up2.query(ROW_HASH.format(db=db, table="orders_02")))
    return rows


def target_rows(mariadb, db: str) -> dict[int, str] | None:
    try:
        rows = mariadb.target.query(ROW_HASH.format(db=db, table="orders"))
    except pymysql.err.ProgrammingError:  # not created yet
        return None
    out = dict(rows)
    assert len(out) == len(rows)
    return out


def converge(d: Daemon, mariadb, db: str, timeout: float = 90) -> int:
    """Wait until the target equals the shards row by row; returns the row count."""
    expected = source_rows(mariadb, db)
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        got = target_rows(mariadb, db)
        if got == expected:
            return len(expected)
        time.sleep(0.5)
    got = got or {}
    missing = sorted(set(expected) - set(got))[:10]
    extra = sorted(set(got) - set(expected))[:10]
    differ = sorted(k for k in set(expected) & set(got) if expected[k] != got[k])[:10]
    status = d.stub.QueryStatus(mpb.QueryStatusListRequest(name="e2e_merge"), timeout=15)
    raise AssertionError(
        f"target did not converge: {len(expected)} source rows, {len(got)} target rows; "
        f"missing {missing}, extra {extra}, different {differ}\n{status}\n{d.log()}"
    )


def wait_in_sync(d: Daemon, timeout: float = 90) -> None:
    for source in (S1, S2):
        d.wait_subtask(
            "e2e_merge",
            source,
            lambda st: st.stage == pb.Running and st.unit == pb.Sync,
            timeout,
            f"{source} to reach the Sync unit",
        )


def test_shard_merge_migration_converges_and_survives_kill_9(mariadb, dbname, tmp_path):
    writers = prepare(mariadb, dbname)
    for w in writers:
        w.start()  # writes before the task exists
    d = Daemon(tmp_path / "data").start()
    try:
        created = d.stub.OperateSource(
            mpb.OperateSourceRequest(
                op=mpb.StartSource,
                config=[source_yaml(S1, mariadb.up1, gtid=True), source_yaml(S2, mariadb.up2)],
            ),
            timeout=60,
        )
        assert created.result, created
        started = d.stub.StartTask(mpb.StartTaskRequest(task=task_yaml(mariadb, dbname)), timeout=60)
        assert started.result, started
        wait_in_sync(d)
        time.sleep(1.5)  # replicate live writes for a while
        for w in writers:
            w.stop()
        rows = converge(d, mariadb, dbname)
        assert rows > INITIAL_ROWS and all(w.ops > 0 for w in writers)

        # kill -9 the whole daemon (master and workers) during Sync, with writes going on
        for w in writers:
            w.start()
        time.sleep(1.0)
        d.kill()
        time.sleep(0.5)
        for w in writers:
            w.stop()
        for w in writers:
            w.start()  # and more writes while nothing runs
        time.sleep(0.5)
        d = Daemon(d.data_dir, addr=d.addr).start()
        wait_in_sync(d)
        time.sleep(1.0)
        for w in writers:
            w.stop()
        converge(d, mariadb, dbname)
        status = d.stub.QueryStatus(mpb.QueryStatusListRequest(name="e2e_merge"), timeout=15)
        assert [s.sourceStatus.source for s in status.sources] == [S1, S2]
        assert all(
            st.stage == pb.Running and not st.result.errors for s in status.sources for st in s.subTaskStatus
        )
    finally:
        for w in writers:
            if w._thread is not None and w._thread.is_alive():
                w._stop.set()
        d.close()
