"""``binlog skip|replace|inject|revert|list`` and ``handle-error`` against a real daemon and MariaDB.

Each test makes a DDL that succeeds upstream fail on the target (the target was changed behind the
task's back), resolves it with dmctl and checks that the task runs again and the target equals the
source (minus what was skipped). The task runs with ``safe-mode-duration: 0s``: in safe mode
"already applied" DDL errors are ignored.
"""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon.daemon_helpers import Daemon, source_yaml, wait_for

from dmshell.ctl.main import run_command
from dmshell.proto import dmmaster_pb2 as mpb
from dmshell.proto import dmworker_pb2 as pb

S1 = "mysql-replica-01"
TASK = "binlog_ops"
DB = "binlog_ops_db"
LOCATION = re.compile(
    r"startLocation: \[position: \((.*), (.*)\), gtid-set: (.*)\], "
    r"endLocation: \[position: \((.*), (.*)\), gtid-set: (.*)\]"
)


class Env:
    def __init__(self, daemon: Daemon, mariadb, root: Path) -> None:
        self.daemon, self.mariadb, self.root = daemon, mariadb, root

    def dmctl(self, *argv: str) -> dict:
        out, err = io.StringIO(), io.StringIO()
        run_command([f"--master-addr={self.daemon.addr}", *argv], out=out, err=err)
        return (
            json.loads(out.getvalue())
            if out.getvalue().startswith("{")
            else {"raw": out.getvalue() + err.getvalue()}
        )

    def up(self, *sql: str) -> None:
        self.mariadb.up1.execute(f"USE {DB}", *sql)

    def tgt(self, *sql: str) -> None:
        self.mariadb.target.execute(f"USE {DB}", *sql)

    def paused(self) -> pb.SubTaskStatus:
        return self.daemon.wait_subtask(
            TASK, S1, lambda st: st.stage == pb.Paused and bool(st.result.errors), 60, "paused by an error"
        )

    def running(self) -> pb.SubTaskStatus:
        return self.daemon.wait_subtask(
            TASK, S1, lambda st: st.stage == pb.Running and not st.result.errors, 60
        )

    def synced(self, table: str) -> None:
        """Wait until the target's rows and columns of ``table`` equal the upstream's."""
        q = f"SELECT * FROM {DB}.{table} ORDER BY 1"

        def same() -> bool:
            try:
                return self.mariadb.up1.query(q) == self.mariadb.target.query(q)
            except Exception:
                return False

        try:
            wait_for(same, 30, f"{table} on the target equal to the source")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {self.daemon.subtask(TASK, S1)}") from None

    def master_pos(self) -> tuple[str, int]:
        file, pos = self.mariadb.up1.query("SHOW MASTER STATUS")[0][:2]
        return file, int(pos)

    def event_pos(self, since: tuple[str, int], needle: str) -> int:
        """The ``Pos`` of the query event whose statement contains ``needle``, after ``since``."""
        rows = self.mariadb.up1.query(f"SHOW BINLOG EVENTS IN '{since[0]}' FROM {since[1]}")
        return next(int(r[1]) for r in rows if r[2] == "Query" and needle in r[5])


def task_yaml(mariadb) -> str:
    return f"""\
name: {TASK}
task-mode: incremental
meta-schema: {DB}_meta
target-database:
{mariadb.target.connection_yaml()}block-allow-list:
  bal:
    do-dbs: ["{DB}"]
syncers:
  g:
    safe-mode-duration: 0s
mysql-instances:
  - source-id: {S1}
    block-allow-list: bal
    syncer-config-name: g
"""


@pytest.fixture(scope="module")
def env(mariadb, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("binlog_ops")
    for server in (mariadb.up1, mariadb.target):
        server.execute(f"DROP DATABASE IF EXISTS {DB}")
    mariadb.target.execute(f"DROP DATABASE IF EXISTS {DB}_meta")
    for server in (mariadb.up1, mariadb.target):
        server.execute(f"CREATE DATABASE {DB}")
    daemon = Daemon(root / "data").start()
    e = Env(daemon, mariadb, root)
    try:
        (root / "source.yaml").write_text(source_yaml(S1, mariadb.up1))
        assert e.dmctl("operate-source", "create", str(root / "source.yaml"))["result"] is True
        (root / "task.yaml").write_text(task_yaml(mariadb))
        r = e.dmctl("start-task", str(root / "task.yaml"))
        assert r["result"] is True, r
        e.running()
        yield e
    finally:
        e.daemon.close()


def test_skip_current_error_with_dm_error_text(env: Env) -> None:
    env.up("CREATE TABLE t1 (a INT PRIMARY KEY, b INT)", "INSERT INTO t1 VALUES (1, 1)")
    env.synced("t1")
    env.tgt("ALTER TABLE t1 ADD INDEX idx_b (b)")  # behind the task's back
    env.up("ALTER TABLE t1 ADD INDEX idx_b (b)")
    err = env.paused().result.errors[0]
    assert (err.ErrCode, err.ErrClass, err.ErrScope, err.ErrLevel) == (
        36061,
        "sync-unit",
        "downstream",
        "high",
    )
    m = LOCATION.search(err.Message)
    assert m is not None, err.Message
    assert ", origin SQL: [ALTER TABLE t1 ADD INDEX idx_b (b)]" in err.Message
    assert "Duplicate key name 'idx_b'" in err.RawCause
    assert err.Workaround
    r = env.dmctl("binlog", "skip", TASK)
    assert r["result"] is True and r["sources"][0]["result"] is True, r
    env.running()
    env.up("INSERT INTO t1 VALUES (2, 2)")
    env.synced("t1")
    # nothing left to handle: DM's message
    r = env.dmctl("binlog", "skip", TASK)
    assert r["sources"][0] == {"result": False, "msg": f"source '{S1}' has no error", "source": S1,
                               "worker": r["sources"][0]["worker"]}  # fmt: skip


def test_replace_with_two_statements(env: Env) -> None:
    env.up("CREATE TABLE t2 (a INT PRIMARY KEY, b INT)", "INSERT INTO t2 VALUES (1, 1)")
    env.synced("t2")
    env.tgt("ALTER TABLE t2 ADD INDEX ic (a)")
    env.up("ALTER TABLE t2 ADD COLUMN c INT, ADD INDEX ic (c)")
    env.paused()
    bad = env.dmctl("binlog", "replace", TASK, "ALTER TABLE t2 ADD COLUMN;")
    assert bad.get("result") is not True, bad
    r = env.dmctl(
        "handle-error", TASK, "replace", "ALTER TABLE t2 ADD COLUMN c INT; ALTER TABLE t2 ADD INDEX ic_c (c);"
    )
    assert r["result"] is True and r["sources"][0]["result"] is True, r
    env.running()
    env.up("INSERT INTO t2 VALUES (2, 2, 2)")
    env.synced("t2")
    cols = env.mariadb.target.query(f"SHOW INDEX FROM {DB}.t2 WHERE Key_name = 'ic_c'")
    assert cols, "the replacing statements ran"


def test_inject_before_the_failing_ddl(env: Env) -> None:
    env.up("CREATE TABLE t3 (a INT PRIMARY KEY, c INT)", "INSERT INTO t3 VALUES (1, 1)")
    env.synced("t3")
    env.tgt("ALTER TABLE t3 DROP COLUMN c")
    env.up("ALTER TABLE t3 DROP COLUMN c")
    env.paused()
    r = env.dmctl("binlog", "inject", TASK, "ALTER TABLE t3 ADD COLUMN c INT")
    assert r["result"] is True and r["sources"][0]["result"] is True, r
    env.running()
    env.up("INSERT INTO t3 VALUES (2)")
    env.synced("t3")


def test_registered_ahead_listed_reverted_and_kept_across_a_restart(env: Env) -> None:
    env.up("CREATE TABLE t4 (a INT PRIMARY KEY, b INT)", "INSERT INTO t4 VALUES (1, 1)")
    env.synced("t4")
    assert env.dmctl("pause-task", TASK)["result"] is True
    since = env.master_pos()
    env.up("ALTER TABLE t4 ADD INDEX i1 (b)", "ALTER TABLE t4 ADD INDEX i2 (b)")
    env.tgt("ALTER TABLE t4 ADD INDEX i1 (b)")  # the first DDL would fail on the target
    p1, p2 = env.event_pos(since, "ADD INDEX i1"), env.event_pos(since, "ADD INDEX i2")
    skip = env.dmctl("binlog", "skip", TASK, "-b", f"{since[0]}:{p1}")
    assert skip["result"] is True and skip["sources"][0]["result"] is True, skip
    other = env.dmctl("binlog", "skip", TASK, "-b", f"{since[0]}:{p2}")
    assert other["result"] is True, other
    listed = env.dmctl("binlog", "list", TASK)["sources"][0]["msg"].splitlines()
    assert listed == [
        f'op:Skip task:"{TASK}" binlogPos:"{since[0]}:{p1}"',
        f'op:Skip task:"{TASK}" binlogPos:"{since[0]}:{p2}"',
    ]
    after = env.dmctl("binlog", "list", TASK, "-b", f"{since[0]}:{p2}")["sources"][0]["msg"]
    assert after == f'op:Skip task:"{TASK}" binlogPos:"{since[0]}:{p2}"'
    reverted = env.dmctl("binlog", "revert", TASK, "-b", f"{since[0]}:{p2}")
    assert reverted["sources"][0]["result"] is True, reverted
    again = env.dmctl("binlog", "revert", TASK, "-b", f"{since[0]}:{p2}")
    assert again["sources"][0] == {
        "result": False,
        "msg": f"source '{S1}' has no binlog operation at position {since[0]}:{p2}",
        "source": S1,
        "worker": again["sources"][0]["worker"],
    }
    # the operation is in the master's store: it survives a restart of the daemon and its workers
    env.daemon.kill()
    env.daemon.start()
    assert len(env.dmctl("binlog", "list", TASK)["sources"][0]["msg"].splitlines()) == 1
    assert env.dmctl("resume-task", TASK)["result"] is True
    env.running()
    env.up("INSERT INTO t4 VALUES (2, 2)")
    env.synced("t4")
    idx = {r[2] for r in env.mariadb.target.query(f"SHOW INDEX FROM {DB}.t4")}
    assert {"i1", "i2"} <= idx  # i1 made behind the task's back, i2 applied (its skip reverted)
    assert env.running().stage == pb.Running


def test_registered_ahead_while_running_fires_when_the_event_arrives(env: Env) -> None:
    env.up("CREATE TABLE t7 (a INT PRIMARY KEY, b INT)", "INSERT INTO t7 VALUES (1, 1)")
    env.synced("t7")
    # where the next DDL's query event will start: after its GTID event, whose size the last
    # DDL's shows
    file, here = env.master_pos()
    rows = env.mariadb.up1.query(f"SHOW BINLOG EVENTS IN '{file}'")
    ddl = max(i for i, r in enumerate(rows) if r[2] == "Query" and "CREATE TABLE t7" in r[5])
    assert rows[ddl - 1][2] == "Gtid"
    ahead = f"{file}:{here + int(rows[ddl][1]) - int(rows[ddl - 1][1])}"
    r = env.dmctl("binlog", "skip", TASK, "-b", ahead)
    assert r["sources"][0]["result"] is True, r
    assert env.running().stage == pb.Running  # registering ahead leaves a running task alone
    env.tgt("ALTER TABLE t7 ADD INDEX i7 (b)")  # the target has it already: the upstream's would fail
    env.up("ALTER TABLE t7 ADD INDEX i7 (b)")
    assert env.event_pos((file, here), "ADD INDEX i7") == int(ahead.rpartition(":")[2])
    env.up("INSERT INTO t7 VALUES (2, 2)")
    env.synced("t7")
    assert env.running().stage == pb.Running  # the skip fired: no error


def test_binlog_schema_repairs_column_count_mismatch(env: Env) -> None:
    env.up("CREATE TABLE t5 (a INT PRIMARY KEY, b INT)", "INSERT INTO t5 VALUES (1, 1)")
    env.synced("t5")
    running = env.dmctl("binlog-schema", "list", TASK, DB, "t5", "-s", S1)["sources"][0]
    assert running["result"] is False and running["msg"].endswith(
        "Message: current stage is Running but not paused, invalid, "
        "Workaround: Please use `pause-task` to pause the task first."
    ), running
    assert env.dmctl("pause-task", TASK)["result"] is True
    listed = env.dmctl("binlog-schema", "list", TASK, DB, "t5", "-s", S1)["sources"][0]
    assert listed["result"] is True and listed["msg"].startswith("CREATE TABLE `t5` (\n  `a` int"), listed
    target = env.daemon.stub.OperateSchema(
        mpb.OperateSchemaRequest(
            op=pb.GetSchema, task=TASK, sources=[S1], database=DB, table="t5", fromTarget=True
        ),
        timeout=15,
    ).sources[0]
    assert target.result and target.msg.startswith("CREATE TABLE `t5`"), target  # the TUI's side by side
    wrong = env.root / "t5.sql"
    wrong.write_text("CREATE TABLE t5 (a INT PRIMARY KEY, b INT, c INT)")
    r = env.dmctl("binlog-schema", "update", TASK, DB, "t5", str(wrong), "-s", S1)
    assert r["sources"][0]["result"] is True, r
    assert "`c` int" in env.dmctl("binlog-schema", "list", TASK, DB, "t5", "-s", S1)["sources"][0]["msg"]
    assert env.dmctl("resume-task", TASK)["result"] is True
    env.up("INSERT INTO t5 VALUES (2, 2)")
    err = env.paused().result.errors[0]
    assert "Column count doesn't match" in err.Message, err
    r = env.dmctl("binlog-schema", "update", TASK, DB, "t5", "--from-source", "-s", S1)
    assert r["sources"][0]["result"] is True, r
    assert env.dmctl("resume-task", TASK)["result"] is True
    env.running()
    env.synced("t5")
    assert env.dmctl("pause-task", TASK)["result"] is True
    deleted = env.dmctl("binlog-schema", "delete", TASK, DB, "t5", "-s", S1)["sources"][0]
    assert deleted["result"] is True, deleted
    gone = env.dmctl("binlog-schema", "delete", TASK, DB, "t5", "-s", S1)["sources"][0]
    assert gone["result"] is False and "`binlog_ops_db`.`t5`" in gone["msg"], gone
    assert env.dmctl("resume-task", TASK)["result"] is True
    env.up("INSERT INTO t5 VALUES (3, 3)")
    env.synced("t5")  # the next run took the table from the upstream


def test_a_purged_upstream_binlog_stays_paused_and_says_what_to_do(env: Env) -> None:
    """(Last in the module: it purges the upstream's older binlog files.)"""
    env.up("CREATE TABLE t6 (a INT PRIMARY KEY)", "INSERT INTO t6 VALUES (1)")
    env.synced("t6")
    assert env.dmctl("pause-task", TASK)["result"] is True
    env.daemon.wait_subtask(TASK, S1, lambda st: st.stage == pb.Paused)
    env.up("INSERT INTO t6 VALUES (2)", "FLUSH BINARY LOGS")
    newest = env.master_pos()[0]

    def purged() -> bool:  # (a dump thread of the paused task may still hold the file a moment)
        env.mariadb.up1.execute(f"PURGE BINARY LOGS TO '{newest}'")
        return env.mariadb.up1.query("SHOW BINARY LOGS")[0][0] == newest

    wait_for(purged, 30, "the upstream's older binlog files purged")
    assert env.dmctl("resume-task", TASK)["result"] is True
    err = env.paused().result.errors[0]
    assert "start-task --remove-meta" in err.Workaround, err
    time.sleep(7)  # longer than the task checker's interval (5 s) plus its first backoff (1 s)
    again = env.paused().result.errors[0]
    assert again == err and env.daemon.subtask(TASK, S1).result.errors[0] == err
