"""Online schema changes through the sync unit (``online-ddl: true``): the real
``pt-online-schema-change`` (Debian's percona-toolkit, installed by ``make test``) and gh-ost's
naming and cut-over replayed by SQL, while DML runs on the table. The target ends equal to the
source, no ghost or trash table reaches it, and the ALTER runs there once, at the cut-over."""

from __future__ import annotations

import json
import logging
import random
import signal
import subprocess
import threading
import time

import pytest

from dmshell.engine.filters.rule_types import RouteRule
from dmshell.engine.sync.coordinator import DDLJob, DirectCoordinator, Verdict
from dmshell.engine.sync.syncer import SyncUnit

from .sync_helpers import Running, columns, converge, fresh_db, make_ctx, master, rows, wait_until
from .test_sync_random import start_child, started

PT_OSC = "pt-online-schema-change"


class Recording(DirectCoordinator):
    """Executes every DDL, as without shard-mode, and keeps the jobs it was asked about."""

    def __init__(self) -> None:
        self.jobs: list[DDLJob] = []

    def coordinate(self, job: DDLJob) -> Verdict:
        self.jobs.append(job)
        return super().coordinate(job)


@pytest.fixture
def db(mariadb, dbname):
    return fresh_db(mariadb, dbname)


class Writer(threading.Thread):
    """Inserts, updates and deletes on tables of one server until stopped."""

    def __init__(self, server, tables: list[str], base: int, seed: int) -> None:
        super().__init__(daemon=True)
        self.server, self.tables, self.next_id = server, tables, base
        self.rng = random.Random(seed)
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.statements = 0

    def run(self) -> None:
        conn = self.server.connect()
        try:
            with conn.cursor() as cur:
                while not self.done.is_set():
                    table = self.rng.choice(self.tables)
                    op = self.rng.random()
                    if op < 0.5:
                        self.next_id += 1
                        cur.execute(
                            f"INSERT INTO {table} (id, v) VALUES (%s, %s)", (self.next_id, f"w{self.next_id}")
                        )
                    elif op < 0.8:
                        cur.execute(f"UPDATE {table} SET v = CONCAT(v, 'u') ORDER BY RAND() LIMIT 1")
                    else:
                        cur.execute(f"DELETE FROM {table} ORDER BY RAND() LIMIT 1")
                    self.statements += 1
                    time.sleep(0.002)
        except BaseException as exc:  # reported by stop()
            self.error = exc
        finally:
            conn.close()

    def stop(self) -> None:
        self.done.set()
        self.join(30)
        if self.error is not None:
            raise self.error


def seed_table(servers, table: str, n: int, base: int = 0) -> None:
    seq = f"{table.split('.')[0]}.seq_1_to_{n}"  # MariaDB's sequence engine: qualified, no USE needed
    for server in servers:
        server.execute(
            f"CREATE TABLE {table} (id INT PRIMARY KEY, v VARCHAR(200))",
            f"INSERT INTO {table} SELECT seq + {base}, CONCAT('r', seq) FROM {seq}",
        )


def replicating(src, dst, table: str, target_table: str, row_id: int, running=None) -> None:
    """Write a row and wait until it is on the target: the unit then knows the table's structure
    from before the schema change (it learns a table's structure when it first sees it)."""
    src.execute(f"INSERT INTO {table} (id, v) VALUES ({row_id}, 'marker')")
    wait_until(
        lambda: dst.query(f"SELECT v FROM {target_table} WHERE id = {row_id}") == [("marker",)],
        f"row {row_id} on the target",
        running=running,
    )


def pt_osc(server, db: str, table: str, alter: str, *extra: str) -> subprocess.CompletedProcess:
    dsn = f"h=127.0.0.1,P={server.port},u={server.user},p={server.password},D={db},t={table}"
    args = [PT_OSC, f"--alter={alter}", "--execute", dsn, "--recursion-method=none", "--chunk-size=100"]
    done = subprocess.run([*args, *extra], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def target_tables(target, db: str) -> list[str]:
    return sorted(r[0] for r in target.query(f"SHOW TABLES FROM {db}"))


def indexes(server, table: str) -> set[str]:
    return {r[2] for r in server.query(f"SHOW INDEX FROM {table}")}


def executed(caplog, fragment: str) -> int:
    return sum(
        1 for r in caplog.records if r.getMessage().startswith("executed DDL:") and fragment in r.getMessage()
    )


def records(target, db: str, task: str = "tsync") -> list[tuple]:
    return target.query(f"SELECT id, ghost_schema, ghost_table FROM `{db}_meta`.`{task}_onlineddl`")


def test_pt_osc_on_a_table_while_dml_runs(mariadb, db, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    src, dst = mariadb.up1, mariadb.target
    for server in (src, dst):
        server.execute(f"CREATE DATABASE IF NOT EXISTS {db}")
    seed_table((src, dst), f"{db}.t", 1500)
    run = Running(make_ctx(tmp_path, src, dst, db))
    replicating(src, dst, f"{db}.t", f"{db}.t", 9_000, run)
    writer = Writer(src, [f"{db}.t"], 10_000, seed=1)
    writer.start()
    try:
        pt_osc(src, db, "t", "ADD COLUMN c INT NOT NULL DEFAULT 7, ADD INDEX iv (v)")
        time.sleep(0.3)  # some DML after the cut-over too
    finally:
        writer.stop()
    converge(src, dst, [(f"{db}.t", f"{db}.t")], running=run)
    run.stop()
    assert writer.statements > 20
    assert columns(dst, f"{db}.t") == ["id", "v", "c"] and "iv" in indexes(dst, f"{db}.t")
    assert target_tables(dst, db) == ["t"]
    assert executed(caplog, "ADD COLUMN c INT") == 1 and executed(caplog, "_t_") == 0
    assert records(dst, db) == []


def test_pt_osc_on_a_shard_of_a_merged_table(mariadb, db, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    src1, src2, dst = mariadb.up1, mariadb.up2, mariadb.target
    for server in (src1, src2, dst):
        server.execute(f"CREATE DATABASE IF NOT EXISTS {db}")
    seed_table((src1,), f"{db}.t", 800)
    seed_table((src2,), f"{db}.t", 800, base=100_000)
    dst.execute(f"CREATE TABLE {db}.merged (id INT PRIMARY KEY, v VARCHAR(200))")
    dst.execute(f"INSERT INTO {db}.merged SELECT seq, CONCAT('r', seq) FROM {db}.seq_1_to_800")
    dst.execute(f"INSERT INTO {db}.merged SELECT seq + 100000, CONCAT('r', seq) FROM {db}.seq_1_to_800")
    route = [RouteRule(schema_pattern=db, table_pattern="t", target_schema=db, target_table="merged")]
    # the shard DDL coordinator (seam a) sees the cut-over as the one DDL it stands for
    coordinator = Recording()
    ctx1 = make_ctx(tmp_path, src1, dst, db, routes=route, source_id="mysql-01")
    run1 = Running(ctx1, SyncUnit(ctx1, coordinator=coordinator))
    run2 = Running(make_ctx(tmp_path, src2, dst, db, routes=route, source_id="mysql-02"))
    replicating(src1, dst, f"{db}.t", f"{db}.merged", 9_000, run1)
    replicating(src2, dst, f"{db}.t", f"{db}.merged", 190_000, run2)
    writers = [Writer(src1, [f"{db}.t"], 10_000, seed=2), Writer(src2, [f"{db}.t"], 200_000, seed=3)]
    for w in writers:
        w.start()
    try:
        pt_osc(src1, db, "t", "ADD COLUMN c INT NOT NULL DEFAULT 7, ADD INDEX iv (v)")
        time.sleep(0.3)
    finally:
        for w in writers:
            w.stop()

    def merged_equal() -> bool:
        want = rows(src1, f"SELECT id, v, c FROM {db}.t") + rows(src2, f"SELECT id, v, 7 FROM {db}.t")
        try:
            return sorted(want, key=repr) == rows(dst, f"SELECT id, v, c FROM {db}.merged")
        except Exception:  # the column is not there yet
            return False

    wait_until(merged_equal, "the merged table to equal both shards", running=run1)
    run1.stop()
    run2.stop()
    assert columns(dst, f"{db}.merged") == ["id", "v", "c"] and "iv" in indexes(dst, f"{db}.merged")
    assert target_tables(dst, db) == ["merged"]
    assert executed(caplog, "ADD COLUMN c INT") == 1
    (job,) = coordinator.jobs
    assert job.ddl.sql == f"ALTER TABLE `{db}`.`t` ADD COLUMN c INT NOT NULL DEFAULT 7, ADD INDEX iv (v)"
    assert [(n.schema, n.table, target) for n, target in job.targets] == [(db, "t", (db, "merged"))]
    assert job.statements == [
        f"ALTER TABLE `{db}`.`merged` ADD COLUMN c INT NOT NULL DEFAULT 7, ADD INDEX iv (v)"
    ]


def test_kill_minus_9_during_the_pt_osc_copy(mariadb, db, tmp_path):
    src, dst = mariadb.up1, mariadb.target
    for server in (src, dst):
        server.execute(f"CREATE DATABASE IF NOT EXISTS {db}")
    seed_table((src, dst), f"{db}.t", 3000)
    start = master(src)

    def conn(server) -> dict:
        c = server.dbconfig()
        return {"host": c.host, "port": c.port, "user": c.user, "password": c.password}

    spec = {
        "task": "tkill",
        "db": db,
        "upstream": conn(src),
        "target": conn(dst),
        "file": start.file,
        "pos": start.pos,
        "work_dir": str(tmp_path / "work"),
        "syncer": {"worker_count": 4, "batch": 10, "checkpoint_flush_interval": 1, "safe_mode_duration": 0.5},
    }
    log = tmp_path / "child.log"
    child = start_child(spec, log)
    writer = Writer(src, [f"{db}.t"], 10_000, seed=4)
    writer.start()
    failed: list[BaseException] = []

    def run_pt_osc() -> None:
        try:
            pt_osc(src, db, "t", "ADD COLUMN c INT NOT NULL DEFAULT 7, ADD INDEX iv (v)", "--sleep=0.1")
        except BaseException as exc:  # reported below
            failed.append(exc)

    copy = threading.Thread(target=run_pt_osc)
    try:
        wait_until(lambda: started(log) >= 1, "the child started")
        replicating(src, dst, f"{db}.t", f"{db}.t", 9_000)
        copy.start()
        # kill it while the copy runs (the ghost table exists and fills), twice if the copy lasts
        wait_until(lambda: src.query(f"SHOW TABLES FROM {db} LIKE '_t_new'") != [], "the copy to start")
        kills = 0
        for _ in range(2):
            time.sleep(0.7)
            if not copy.is_alive():
                break
            assert child.poll() is None, log.read_text()[-3000:]
            child.send_signal(signal.SIGKILL)
            child.wait()
            kills += 1
            child = start_child(spec, log)
        copy.join(300)
        assert kills >= 1 and not failed, failed
    finally:
        writer.stop()
    try:
        converge(src, dst, [(f"{db}.t", f"{db}.t")])
    finally:
        child.send_signal(signal.SIGTERM)
        child.wait(30)
    assert columns(dst, f"{db}.t") == ["id", "v", "c"] and "iv" in indexes(dst, f"{db}.t")
    assert target_tables(dst, db) == ["t"]
    assert records(dst, db, "tkill") == []
    text = log.read_text()
    assert text.count("executed DDL: ALTER TABLE") <= 2  # once, or twice when killed right after it


GH_OST = [
    "CREATE TABLE {db}._t_ghc (id BIGINT AUTO_INCREMENT, "
    "last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, hint VARCHAR(64) NOT NULL, "
    "value VARCHAR(4096) NOT NULL, PRIMARY KEY (id), UNIQUE KEY hint_uidx (hint))",
    "INSERT INTO {db}._t_ghc (id, hint, value) VALUES (1, 'state', 'GhostTableMigrated')",
    "CREATE TABLE {db}._t_gho LIKE {db}.t",
    "ALTER TABLE {db}._t_gho ADD COLUMN c INT NOT NULL DEFAULT 7, ADD KEY iv (v)",
    "INSERT INTO {db}._t_gho (id, v) SELECT id, v FROM {db}.t WHERE id <= 500",
    "REPLACE INTO {db}._t_ghc (id, hint, value) VALUES (2, 'heartbeat', NOW())",
    "INSERT INTO {db}._t_gho (id, v) SELECT id, v FROM {db}.t WHERE id > 500",
]
GH_OST_CUT_OVER = [
    "CREATE TABLE {db}._t_del (id INT AUTO_INCREMENT PRIMARY KEY) COMMENT='ghost-cut-over-sentry'",
    "DROP TABLE IF EXISTS {db}._t_del",
    "RENAME TABLE {db}.t TO {db}._t_del, {db}._t_gho TO {db}.t",
    "DROP TABLE IF EXISTS {db}._t_ghc",
    "DROP TABLE IF EXISTS {db}._t_del",
]


def test_gh_ost_sequence_by_sql(mariadb, db, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    src, dst = mariadb.up1, mariadb.target
    for server in (src, dst):
        server.execute(f"CREATE DATABASE IF NOT EXISTS {db}")
    seed_table((src, dst), f"{db}.t", 1000)
    run = Running(make_ctx(tmp_path, src, dst, db))
    src.execute(*(s.format(db=db) for s in GH_OST))
    # changes to the real table during the copy, applied to the ghost table the way gh-ost does
    for i in range(1, 40):
        src.execute(
            f"UPDATE {db}.t SET v = 'x{i}' WHERE id = {i}",
            f"UPDATE {db}._t_gho SET v = 'x{i}' WHERE id = {i}",
            f"INSERT INTO {db}.t (id, v) VALUES ({5000 + i}, 'n')",
            f"REPLACE INTO {db}._t_gho (id, v) VALUES ({5000 + i}, 'n')",
        )
    src.execute(*(s.format(db=db) for s in GH_OST_CUT_OVER))
    src.execute(f"INSERT INTO {db}.t (id, v, c) VALUES (9999, 'after', 1)")
    converge(src, dst, [(f"{db}.t", f"{db}.t")], running=run)
    run.stop()
    assert columns(dst, f"{db}.t") == ["id", "v", "c"] and "iv" in indexes(dst, f"{db}.t")
    assert target_tables(dst, db) == ["t"]
    assert executed(caplog, "ADD COLUMN c INT") == 1 and executed(caplog, "_t_") == 0
    assert records(dst, db) == []


def test_the_record_survives_a_restart_between_the_alter_and_the_cut_over(mariadb, db, tmp_path):
    src, dst = mariadb.up1, mariadb.target
    for server in (src, dst):
        server.execute(f"CREATE DATABASE IF NOT EXISTS {db}")
    seed_table((src, dst), f"{db}.t", 100)
    ctx = make_ctx(tmp_path, src, dst, db)
    run = Running(ctx)
    src.execute(*(s.format(db=db) for s in GH_OST[2:5]))
    wait_until(
        lambda: records(dst, db) == [("mysql-01", db, "_t_gho")], "the ALTER to be recorded", running=run
    )
    (ddls,) = dst.query(f"SELECT ddls FROM `{db}_meta`.`tsync_onlineddl`")[0]
    assert json.loads(ddls) == {
        "schema": db,
        "table": "t",
        "ddls": [f"ALTER TABLE `{db}`.`_t_gho` ADD COLUMN c INT NOT NULL DEFAULT 7, ADD KEY iv (v)"],
    }
    run.stop()
    run = Running(make_ctx(tmp_path, src, dst, db, meta=ctx.cfg.meta))  # a new unit: from the checkpoint
    src.execute(*(s.format(db=db) for s in GH_OST_CUT_OVER[2:3]))
    converge(src, dst, [(f"{db}.t", f"{db}.t")], running=run)
    run.stop()
    assert columns(dst, f"{db}.t") == ["id", "v", "c"] and records(dst, db) == []


def test_trash_rows_are_skipped_and_online_ddl_false_replicates_the_tools_tables(mariadb, db, tmp_path):
    src, dst = mariadb.up2, mariadb.target
    src.execute(
        f"CREATE DATABASE {db}",
        f"CREATE TABLE {db}.t (id INT PRIMARY KEY, v INT)",
        f"CREATE TABLE {db}._t_old (id INT PRIMARY KEY)",  # pt-osc's trash table, before the start
    )
    dst.execute(f"CREATE DATABASE {db}", f"CREATE TABLE {db}.t (id INT PRIMARY KEY, v INT)")
    run = Running(make_ctx(tmp_path, src, dst, db))
    src.execute(f"INSERT INTO {db}.t VALUES (1, 1)", f"INSERT INTO {db}._t_old VALUES (1)")
    converge(src, dst, [(f"{db}.t", f"{db}.t")], running=run)
    run.stop()
    assert target_tables(dst, db) == ["t"]

    # online-ddl: false (DM's way out): the tool's tables are ordinary tables
    ctx = make_ctx(tmp_path, src, dst, db, task="plain")
    ctx.cfg.online_ddl = False
    run = Running(ctx)
    src.execute(
        f"CREATE TABLE {db}._t_gho LIKE {db}.t",
        f"ALTER TABLE {db}._t_gho ADD COLUMN w INT",
        f"INSERT INTO {db}._t_gho (id, v) SELECT id, v FROM {db}.t",
        f"RENAME TABLE {db}.t TO {db}._t_del, {db}._t_gho TO {db}.t",
        f"INSERT INTO {db}.t VALUES (3, 3, 3)",
    )
    converge(src, dst, [(f"{db}.t", f"{db}.t"), (f"{db}._t_del", f"{db}._t_del")], running=run)
    run.stop()
    assert columns(dst, f"{db}.t") == ["id", "v", "w"]
