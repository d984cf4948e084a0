"""A `full` task through the real daemon while its worker is killed with SIGKILL at random points of
the dump (chunks load while it runs) and of the load, several times: the daemon restarts the worker,
the subtask resumes (the chunks already loaded are kept, the rest is dumped from a new snapshot, the
load continues from its checkpoint) and the target ends equal to the source row for row — nothing
lost, nothing duplicated (one table has no key, so a duplicate would show).

The units are too fast to be hit at random by themselves, so the test holds them back a little:
during the dump rounds a session on the source keeps ``LOCK TABLES zbig WRITE`` (the other tables
are dumped meanwhile; the dump waits at ``zbig``), and a trigger on the target sleeps now and then
while rows are loaded.

``query-status`` is watched all along: DM's DumpStatus / LoadStatus fields move while the units run,
the load's progress shows inside the dump's while both run, and a resumed dump says what it kept.
The random delays come from a printed seed.
"""

from __future__ import annotations

import os
import random
import signal
import time

from daemon.daemon_helpers import Daemon, source_yaml, wait_for, worker_pids

from dmshell.proto import dmmaster_pb2 as mpb
from dmshell.proto import dmworker_pb2 as pb

SOURCE = "mysql-replica-01"
TASK = "fullkill"
TABLES = ("comp", "nokey", "zbig")


def task_yaml(mariadb, db: str) -> str:
    t = mariadb.target
    return f"""\
name: {TASK}
task-mode: full
meta-schema: {db}_meta
# nokey has no key on purpose (a duplicate row would show); the checker refuses such a table
ignore-checking-items: ["table_schema"]
target-database:
{t.connection_yaml()}block-allow-list:
  only:
    do-dbs: ["{db}"]
mydumpers:
  small:
    threads: 2
    rows: 4000
loaders:
  two:
    pool-size: 2
mysql-instances:
  - source-id: {SOURCE}
    block-allow-list: only
    mydumper-config-name: small
    loader-config-name: two
"""


def prepare(mariadb, db: str) -> None:
    up, target = mariadb.up1, mariadb.target
    up.execute(
        f"DROP DATABASE IF EXISTS {db}",
        f"CREATE DATABASE {db}",
        f"CREATE TABLE {db}.zbig (id INT PRIMARY KEY, k INT, c CHAR(120), ts TIMESTAMP(6) NULL, "
        "b VARBINARY(16))",
        f"INSERT INTO {db}.zbig SELECT seq, seq MOD 977, REPEAT(CHAR(65 + seq MOD 26), 60 + seq MOD 60), "
        f"FROM_UNIXTIME(1e9 + seq * 3.25), UNHEX(HEX(seq)) FROM {db}.seq_1_to_60000",
        f"CREATE TABLE {db}.comp (a INT, b VARCHAR(8), v DECIMAL(20,6), PRIMARY KEY (a, b), KEY vk (v))",
        f"INSERT INTO {db}.comp SELECT seq DIV 10, seq MOD 10, seq / 7 FROM {db}.seq_1_to_20000",
        f"CREATE TABLE {db}.nokey (x INT, y VARCHAR(20))",
        f"INSERT INTO {db}.nokey SELECT seq MOD 100, IF(seq MOD 3, 'dup', NULL) FROM {db}.seq_1_to_10000",
    )
    target.execute(
        f"DROP DATABASE IF EXISTS {db}",
        f"DROP DATABASE IF EXISTS {db}_meta",
        f"CREATE DATABASE {db}",
        # a target table created ahead (same columns) whose trigger slows the load down a
        # little, so that kills land inside it
        f"CREATE TABLE {db}.zbig (id INT PRIMARY KEY, k INT, c CHAR(120), ts TIMESTAMP(6) NULL, "
        "b VARBINARY(16))",
        f"CREATE TRIGGER {db}.slow BEFORE INSERT ON {db}.zbig FOR EACH ROW "
        "BEGIN IF NEW.id MOD 100 = 0 THEN DO SLEEP(0.01); END IF; END",
    )


def table_rows(server, db: str, table: str) -> list[tuple]:
    conn = server.connect()
    conn.decoders = {}
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION time_zone = '+00:00'")
            cur.execute(f"SELECT * FROM {db}.{table}")
            return sorted(cur.fetchall(), key=repr)
    finally:
        conn.close()


def test_kill_9_during_dump_and_load(mariadb, dbname, tmp_path):
    seed = random.randrange(1 << 30)
    print(f"random seed: {seed}")
    rng = random.Random(seed)
    prepare(mariadb, dbname)
    d = Daemon(tmp_path / "data").start()
    try:
        resp = d.stub.OperateSource(
            mpb.OperateSourceRequest(
                op=mpb.StartSource, config=[source_yaml(SOURCE, mariadb.up1, gtid=True)]
            ),
            timeout=60,
        )
        assert resp.result, resp
        seen: dict[str, list] = {"dump": [], "load": []}
        kills: list[str] = []

        def status(unit: int) -> pb.SubTaskStatus | None:
            """The subtask once it runs ``unit`` (or has finished); records the progress it shows."""
            st = d.subtask(TASK, SOURCE)
            if st is None:
                return None
            if st.stage == pb.Running and st.unit == pb.Dump and st.dump.finishedRows > 0:
                seen["dump"].append(st.dump)
            if st.stage == pb.Running and st.unit == pb.Load and st.load.finishedBytes > 0:
                seen["load"].append(st.load)
            if st.stage == pb.Finished:
                return st
            return st if st.stage == pb.Running and st.unit == unit else None

        def kill_worker(unit: int, max_delay: float) -> None:
            deadline = time.monotonic() + rng.uniform(0.0, max_delay)
            while time.monotonic() < deadline:  # keep watching the status meanwhile
                status(unit)
                time.sleep(0.02)
            ((name, pid),) = worker_pids(d.pid).items()
            st = d.subtask(TASK, SOURCE)
            kills.append(pb.UnitType.Name(st.unit) if st is not None else "?")
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda: worker_pids(d.pid).get(name, pid) != pid, 60, "the worker to be restarted")

        locker = mariadb.up1.connect()
        try:
            with locker.cursor() as cur:
                cur.execute(f"LOCK TABLES {dbname}.zbig WRITE")
            started = d.stub.StartTask(mpb.StartTaskRequest(task=task_yaml(mariadb, dbname)), timeout=60)
            assert started.result, started
            for _ in range(2):
                wait_for(lambda: status(pb.Dump), 90, "the dump to run", step=0.02)
                kill_worker(pb.Dump, 0.5)
        finally:
            locker.close()  # releases the lock
        for _ in range(2):
            st = wait_for(lambda: status(pb.Load), 120, "the load to run", step=0.02)
            if st.stage == pb.Finished:
                break
            kill_worker(pb.Load, 0.8)
        print(f"killed the worker during: {kills}")
        assert kills.count("Dump") == 2 and "Load" in kills, kills

        final = d.wait_subtask(TASK, SOURCE, lambda st: st.stage == pb.Finished, 180, "the task to finish")
        assert final.unit == pb.Load and final.load.progress == "100.00 %"
        assert final.load.metaBinlog.startswith("(mysql-bin.")
        for table in TABLES:
            assert table_rows(mariadb.target, dbname, table) == table_rows(mariadb.up1, dbname, table), table
        # the secondary index postponed by the load exists in the end, whatever the kills interrupted
        assert mariadb.target.query(f"SHOW CREATE TABLE {dbname}.comp") == mariadb.up1.query(
            f"SHOW CREATE TABLE {dbname}.comp"
        )

        # query-status showed the units' progress live
        dumps, loads = seen["dump"], seen["load"]
        assert dumps and all(s.totalTables == 3 and s.estimateTotalRows > 0 for s in dumps)
        assert any(0 < s.finishedRows < 90000 for s in dumps)
        assert loads and any(0 < s.finishedBytes < s.totalBytes for s in loads)
        assert any(s.consistency == "snapshot" for s in dumps)
        assert any(s.load.finishedBytes > 0 for s in dumps), "no load while dumping"
        assert any(s.resumed.startswith("kept ") for s in dumps), "no resumed dump"
        assert d.stub.OperateTask(mpb.OperateTaskRequest(op=pb.Delete, name=TASK), timeout=60).result
    except BaseException:
        print(d.log())
        raise
    finally:
        d.close()
