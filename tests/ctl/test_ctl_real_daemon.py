"""dmctl against a real dmshell daemon: exit statuses, DM's messages and JSON shapes, `dmshell repl`.

One daemon (master + embedded workers) with both ``mariadb`` upstreams as sources and one running
incremental task serves the module. Commands run in-process through ``run_command`` (the same code
path as the console script) and, where the process exit status itself matters, as subprocesses.
"""

from __future__ import annotations

import io
import json
import os
import pty
import select
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from daemon.daemon_helpers import Daemon, source_yaml

from dmshell.ctl.errors import EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE
from dmshell.ctl.main import run_command
from dmshell.proto import dmworker_pb2 as pb

S1, S2 = "mysql-replica-01", "mysql-replica-02"
TASK = "ctl_real"
DB = "ctl_real_db"
ROOT = Path(__file__).resolve().parents[2]

#: DM's SyncStatus fields, in DM's order (dm/proto/dmworker.proto)
DM_SYNC_FIELDS = [
    "totalEvents", "totalTps", "recentTps", "masterBinlog", "masterBinlogGtid", "syncerBinlog",
    "syncerBinlogGtid", "blockingDDLs", "unresolvedGroups", "synced", "binlogType",
    "secondsBehindMaster", "blockDDLOwner", "conflictMsg", "totalRows", "totalRps", "recentRps",
    "ioTotalBytes", "dumpIOTotalBytes",
]  # fmt: skip


@dataclass
class Result:
    rc: int
    out: str
    err: str


@dataclass
class Cluster:
    daemon: Daemon
    task_file: Path

    @property
    def addr(self) -> str:
        return self.daemon.addr

    def dmctl(self, *argv: str, stdin: str | None = None) -> Result:
        """``dmctl --master-addr=<daemon> <argv>`` in-process."""
        out, err = io.StringIO(), io.StringIO()
        rc = run_command(
            [f"--master-addr={self.addr}", *argv],
            out=out,
            err=err,
            stdin=io.StringIO(stdin) if stdin is not None else None,
        )
        return Result(rc, out.getvalue(), err.getvalue())


def task_yaml(mariadb) -> str:
    t = mariadb.target
    return f"""\
name: {TASK}
task-mode: incremental
meta-schema: {DB}_meta
target-database:
{t.connection_yaml()}block-allow-list:
  bal:
    do-dbs: ["{DB}"]
mysql-instances:
  - source-id: {S1}
    block-allow-list: bal
  - source-id: {S2}
    block-allow-list: bal
"""


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k != "DM_MASTER_ADDR"}
    e["PYTHONPATH"] = str(ROOT)
    return e


@pytest.fixture(scope="module")
def cluster(mariadb, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("ctl_real")
    for server in (mariadb.up1, mariadb.up2, mariadb.target):
        server.execute(f"DROP DATABASE IF EXISTS {DB}", f"CREATE DATABASE {DB}")
    mariadb.target.execute(f"DROP DATABASE IF EXISTS {DB}_meta")
    daemon = Daemon(root / "data").start()
    try:
        c = Cluster(daemon, root / "task.yaml")
        for i, (sid, server) in enumerate(((S1, mariadb.up1), (S2, mariadb.up2)), start=1):
            path = root / f"source{i}.yaml"
            path.write_text(source_yaml(sid, server))
            r = c.dmctl("operate-source", "create", str(path))
            assert r.rc == EXIT_OK, r
        c.task_file.write_text(task_yaml(mariadb))
        r = c.dmctl("start-task", str(c.task_file))
        assert r.rc == EXIT_OK and '"result": true' in r.out, r
        for source in (S1, S2):
            daemon.wait_subtask(TASK, source, lambda st: st.stage == pb.Running and st.unit == pb.Sync)
        yield c
    finally:
        daemon.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- exit statuses


def test_process_exit_statuses(cluster: Cluster) -> None:
    base = [sys.executable, "-m", "dmshell.ctl.main", f"--master-addr={cluster.addr}"]

    def run(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run([*base, *argv], capture_output=True, text=True, env=env(), timeout=60)

    ok = run("list-member", "--worker")
    assert ok.returncode == EXIT_OK and json.loads(ok.stdout)["result"] is True, ok.stderr
    false = run("query-status", "no_such_task")
    assert false.returncode == EXIT_FAILED, false.stderr
    assert json.loads(false.stdout) == {
        "result": False,
        "msg": "task no_such_task has no source or not exist",
        "sources": [],
    }
    usage = run("stop-task")
    assert usage.returncode == EXIT_USAGE
    assert usage.stdout.startswith(
        "must give one source-name when task-name/task-conf is not specified\n"
        "Usage:\n  dmctl stop-task [-s source ...] [task-name | task-file] [flags]\n"
    )
    assert usage.stderr == "Error: please check output to see error\n"
    addrs = f"127.0.0.1:{closed_port()}"
    gone = subprocess.run(
        [sys.executable, "-m", "dmshell.ctl.main", f"--master-addr={addrs}", "list-member"],
        capture_output=True,
        text=True,
        env=env(),
        timeout=60,
    )
    assert gone.returncode == EXIT_UNREACHABLE and gone.stdout == ""
    assert gone.stderr == (
        f"Error: [code=48001:class=dmctl:scope=internal:level=high], Message: can't connect to {addrs}, "
        "RawCause: context deadline exceeded, Workaround: Please check your network connection.\n"
    )


def test_result_false_messages_are_dms(cluster: Cluster) -> None:
    r = cluster.dmctl("pause-task", "no_such_task")
    assert r.rc == EXIT_FAILED and r.err == ""
    assert json.loads(r.out) == {
        "op": "Pause",
        "result": False,
        "msg": "task no_such_task has no source or not exist, please check the task name and status",
        "sources": [],
    }
    r = cluster.dmctl("query-status", "-s", "source-x")
    assert r.rc == EXIT_FAILED and json.loads(r.out)["msg"] == "sources [source-x] haven't been added"
    r = cluster.dmctl("operate-source", "stop", "mysql-replica-09")
    assert r.rc == EXIT_FAILED
    assert json.loads(r.out)["msg"].endswith("Message: source config with ID mysql-replica-09 not exists")
    r = cluster.dmctl("start-task", str(cluster.task_file))
    assert r.rc == EXIT_FAILED
    assert json.loads(r.out)["msg"] == (
        "[code=46014:class=scheduler:scope=internal:level=medium], Message: subtasks with name "
        f"{TASK} for sources [{S1} {S2}] already exist, Workaround: Please use `query-status` command "
        "to see tasks."
    )
    r = cluster.dmctl("config", "task", "no_such_task")
    assert r.rc == EXIT_FAILED and json.loads(r.out) == {"result": False, "msg": "task not found", "cfg": ""}


def test_piped_mode_runs_every_line_and_keeps_the_last_failure(cluster: Cluster) -> None:
    r = cluster.dmctl(stdin=f"query-status {TASK}\npause-task no_such_task\nlist-member --leader\n")
    assert r.rc == EXIT_FAILED
    docs = r.out.split("\n}\n")
    assert json.loads(docs[0] + "}")["sources"][0]["subTaskStatus"][0]["name"] == TASK
    assert json.loads(docs[1] + "}")["result"] is False
    assert json.loads(docs[2] + "}")["members"][0]["leader"]["addr"] == cluster.addr


def test_unsupported_commands_fail_clearly(cluster: Cluster) -> None:
    for argv, command in [
        (["transfer-source", S1, "worker2"], "transfer-source"),
    ]:
        r = cluster.dmctl(*argv)
        assert r.rc == EXIT_FAILED, (argv, r)
        assert r.err.startswith(
            "Error: [code=38002:class=dm-master:scope=internal:level=medium], Message: op "
        )
        assert f"Workaround: dmshell does not support `{command}` yet." in r.err, r.err
        assert '"result": true' not in r.out


def test_binlog_skip_without_an_error_says_so_per_source(cluster: Cluster) -> None:
    r = cluster.dmctl("binlog", "skip", TASK)
    assert r.rc == EXIT_OK, r  # (DM: the request succeeded; each source says why it did nothing)
    doc = json.loads(r.out)
    assert doc["result"] is True
    assert [(s["result"], s["msg"]) for s in doc["sources"]] == [
        (False, f"source '{S1}' has no error"),
        (False, f"source '{S2}' has no error"),
    ]


# --------------------------------------------------------------------------- output shapes


def test_query_status_shapes_are_dms(cluster: Cluster) -> None:
    simple = cluster.dmctl("query-status")
    assert simple.rc == EXIT_OK
    doc = json.loads(simple.out)
    assert list(doc) == ["result", "msg", "tasks"]
    assert {"taskName": TASK, "taskStatus": "Running", "sources": [S1, S2]} in doc["tasks"]

    detail = cluster.dmctl("query-status", TASK)
    assert detail.rc == EXIT_OK
    doc = json.loads(detail.out)
    assert list(doc) == ["result", "msg", "sources"]
    assert [s["sourceStatus"]["source"] for s in doc["sources"]] == [S1, S2]
    for source in doc["sources"]:
        assert list(source) == ["result", "msg", "sourceStatus", "subTaskStatus"]
        assert list(source["sourceStatus"]) == ["source", "worker", "result", "relayStatus"]
        st = source["subTaskStatus"][0]
        assert list(st) == ["name", "stage", "unit", "result", "unresolvedDDLLockID", "sync", "validation"]
        assert (st["stage"], st["unit"]) == ("Running", "Sync")
        assert list(st["sync"]) == DM_SYNC_FIELDS  # dmshell's extra fields stay out of DM's JSON
        assert isinstance(st["sync"]["totalEvents"], str)  # int64 as a string, as jsonpb does
    assert detail.out.count('"stage": "Running"') == 2 and detail.out.count('"unit": "Sync"') == 2

    plain = cluster.dmctl("query-status", TASK, "--output", "plain")
    assert f"sources[0].subTaskStatus[0].name: {TASK}" in plain.out
    assert "sources[0].subTaskStatus[0].sync.recentEps: " in plain.out  # beyond DM: the extra fields

    table = cluster.dmctl("query-status", TASK, "--output=table")
    rows = [line.split() for line in table.out.splitlines()]
    assert [[r[0], *r[2:5]] for r in rows if r and r[0] in (S1, S2)] == [
        [S1, TASK, "Running", "Sync"],
        [S2, TASK, "Running", "Sync"],
    ]


def test_batch_pause_and_resume_by_source(cluster: Cluster) -> None:
    r = cluster.dmctl("pause-task", "-s", S2)
    assert r.rc == EXIT_OK, r
    doc = json.loads(r.out)
    assert doc["result"] is True and [(t["task"], t["op"], t["result"]) for t in doc["tasks"]] == [
        (TASK, "Pause", True)
    ]
    assert [s["source"] for s in doc["tasks"][0]["sources"]] == [S2]
    assert cluster.daemon.subtask(TASK, S2).stage == pb.Paused
    assert cluster.daemon.subtask(TASK, S1).stage == pb.Running
    r = cluster.dmctl("resume-task", "-s", S2, "--batch-size", "1")
    assert r.rc == EXIT_OK and json.loads(r.out)["tasks"][0]["op"] == "Resume", r
    cluster.daemon.wait_subtask(TASK, S2, lambda st: st.stage == pb.Running)


def test_config_and_encrypt(cluster: Cluster, mariadb, tmp_path: Path) -> None:
    r = cluster.dmctl("get-config", "task", TASK)
    assert r.rc == EXIT_OK
    cfg = json.loads(r.out)["cfg"]
    assert f"name: {TASK}" in cfg and "password: '******'" in cfg and mariadb.target.password not in cfg
    r = cluster.dmctl("config", "source", S1, "--path", str(tmp_path / "s1.yaml"))
    assert r.rc == EXIT_OK and json.loads(r.out)["result"] is True
    assert f"source-id: {S1}" in (tmp_path / "s1.yaml").read_text()
    r = cluster.dmctl("config", "export", "-p", str(tmp_path / "exported"))
    assert (r.rc, r.out) == (EXIT_OK, f"export configs to directory `{tmp_path / 'exported'}` succeed\n")
    assert sorted(p.name for p in (tmp_path / "exported").rglob("*.yaml")) == [
        f"{TASK}.yaml",
        f"{S1}.yaml",
        f"{S2}.yaml",
    ]
    # the master encrypts with its per-install key; dmctl decrypts with it when it can read it
    r = cluster.dmctl("encrypt", "s3cret pass")
    assert r.rc == EXIT_OK and r.out.strip() != "s3cret pass"
    os.environ["DMSHELL_SECRET_KEY_PATH"] = str(cluster.daemon.data_dir / "secret.key")
    try:
        assert cluster.dmctl("decrypt", r.out.strip()).out == "s3cret pass\n"
    finally:
        del os.environ["DMSHELL_SECRET_KEY_PATH"]
        from dmshell.engine.config import encrypt

        encrypt.init_cipher(None)


# --------------------------------------------------------------------------- dmshell repl


def test_dmshell_repl_piped(cluster: Cluster) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "dmshell", "repl"],
        input="list-member --leader\nexit\nquery-status\n",
        capture_output=True,
        text=True,
        env={**env(), "DM_MASTER_ADDR": cluster.addr},
        timeout=60,
    )
    assert proc.returncode == EXIT_OK, proc.stderr
    assert json.loads(proc.stdout)["members"][0]["leader"]["addr"] == cluster.addr  # nothing after exit
    usage = subprocess.run(
        [sys.executable, "-m", "dmshell", "repl", "query-status"],
        capture_output=True,
        text=True,
        env=env(),
        timeout=60,
    )
    assert usage.returncode == EXIT_USAGE and "dmshell repl takes no command" in usage.stderr


def test_dmshell_repl_on_a_terminal(cluster: Cluster, tmp_path: Path) -> None:
    """`dmshell repl` on a pseudo-terminal: prompt-toolkit's `» ` prompt, a command, history, exit."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dmshell", "repl", "--master-addr", cluster.addr],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        # NO_COLOR: the JSON is compared as text (the REPL colours it on a terminal otherwise)
        env={
            **env(),
            "TERM": "xterm",
            "XDG_STATE_HOME": str(tmp_path / "state"),
            "PAGER": "cat",
            "NO_COLOR": "1",
        },
        start_new_session=True,
    )
    os.close(slave)
    seen = bytearray()

    def read_until(marker: bytes, timeout: float = 30) -> None:
        """Read until ``marker`` appears in what came after the previous call's marker."""
        nonlocal start
        deadline = time.monotonic() + timeout
        while (found := seen.find(marker, start)) < 0:
            assert time.monotonic() < deadline, f"no {marker!r} in {bytes(seen[start:])!r}"
            if select.select([master], [], [], 0.2)[0]:
                chunk = os.read(master, 65536)
                seen.extend(chunk)
                if b"\x1b[6n" in chunk:  # answer prompt-toolkit's cursor position request
                    os.write(master, b"\x1b[1;1R")
        start = found + len(marker)

    start = 0
    try:
        read_until("»".encode())
        os.write(master, b"list-member --leader\r")
        read_until(f'"addr": "{cluster.addr}"'.encode())
        os.write(master, b"encrypt secret-words\r")
        read_until(b"=\r\n")  # the base64 ciphertext line
        os.write(master, b"exit\r")
        assert proc.wait(30) == EXIT_OK
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    history = tmp_path / "state" / "dmshell" / "dmctl_history"
    assert stat.S_IMODE(history.stat().st_mode) == 0o600
    text = history.read_text()
    assert "list-member --leader" in text and "secret-words" not in text


def test_shard_ddl_lock_answers_as_dm_without_a_lock(cluster: Cluster) -> None:
    for argv in (["shard-ddl-lock"], ["shard-ddl-lock", TASK], ["show-ddl-locks"]):
        r = cluster.dmctl(*argv)
        assert r.rc == 0, (argv, r)
        assert json.loads(r.out) == {"result": True, "msg": "no DDL lock exists", "locks": []}, argv
    r = cluster.dmctl("shard-ddl-lock", "unlock", "no-such-lock")
    doc = json.loads(r.out)
    assert doc["result"] is False
    assert doc["msg"] == (
        "[code=38019:class=dm-master:scope=internal:level=high], Message: lock with ID no-such-lock not found"
    )
    r = cluster.dmctl("unlock-ddl-lock", "no-such-lock", "--database", "db", "--table", "t")
    assert "apply to optimistic locks only" in json.loads(r.out)["msg"]
