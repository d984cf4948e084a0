"""The relay through dmctl and a real daemon: start/stop/pause/resume/purge-relay with DM's JSON,
``query-status`` relay fields, a task reading the relay (``binlogType: local``) also across kill -9
of its worker, ``enable-relay``."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import threading

import pytest
from daemon_helpers import Daemon, wait_for, worker_pids

from dmshell.ctl.main import run_command
from dmshell.engine.relay.recovery import file_checksum, valid_end
from dmshell.proto import dmworker_pb2 as pb

S1, S2 = "relay-src-01", "relay-src-02"
TASK = "relaytask"


def dmctl(d: Daemon, *argv: str) -> dict:
    out, err = io.StringIO(), io.StringIO()
    run_command([f"--master-addr={d.addr}", *argv], out=out, err=err)
    assert err.getvalue() == "", err.getvalue()
    text = out.getvalue()
    return json.loads(text[text.index("{") :])


def relay_status(d: Daemon, source: str) -> dict | None:
    doc = dmctl(d, "query-status", "-s", source)
    return doc["sources"][0]["sourceStatus"]["relayStatus"]


@pytest.fixture
def daemon(daemon_factory, mariadb, tmp_path, dbname):
    for server in (mariadb.up1, mariadb.up2, mariadb.target):
        server.execute(
            f"DROP DATABASE IF EXISTS {dbname}",
            f"DROP DATABASE IF EXISTS {dbname}_meta",
            f"CREATE DATABASE {dbname}",
            f"CREATE TABLE {dbname}.t (id INT PRIMARY KEY, v VARCHAR(20))",
        )
    d = daemon_factory(tmp_path / "data").start()
    (tmp_path / "s1.yaml").write_text(mariadb.up1.source_yaml(S1))
    relay_yaml = (
        mariadb.up2.source_yaml(S2) + "enable-relay: true\npurge:\n  interval: 1\n  remain-space: 0\n"
    )
    (tmp_path / "s2.yaml").write_text(relay_yaml)
    doc = dmctl(d, "operate-source", "create", str(tmp_path / "s1.yaml"), str(tmp_path / "s2.yaml"))
    assert doc["result"], doc
    return d


def task_file(tmp_path, mariadb, db: str):
    path = tmp_path / "task.yaml"
    path.write_text(f"""\
name: {TASK}
task-mode: incremental
meta-schema: {db}_meta
target-database:
{mariadb.target.connection_yaml()}block-allow-list:
  bal:
    do-dbs: ["{db}"]
mysql-instances:
  - source-id: {S1}
    block-allow-list: bal
""")
    return path


def test_relay_commands_status_and_a_task_reading_the_relay(daemon, mariadb, tmp_path, dbname):
    d, up = daemon, mariadb.up1
    assert relay_status(d, S1) is None
    # enable-relay in the source configuration works alone
    st = wait_for(lambda: (r := relay_status(d, S2)) and r["relayCatchUpMaster"] and r, 30, "S2's relay")
    assert st["stage"] == "Running" and re.fullmatch(r"2-\d+\.000001", st["relaySubDir"]), st

    assert dmctl(d, "start-relay", "-s", S1) == {"result": True, "msg": "", "sources": []}
    st = wait_for(lambda: (r := relay_status(d, S1)) and r["relayCatchUpMaster"] and r, 30, "S1's relay")
    assert list(st) == [
        "masterBinlog", "masterBinlogGtid", "relaySubDir", "relayBinlog", "relayBinlogGtid",
        "relayCatchUpMaster", "stage", "result",
    ]  # fmt: skip
    assert (st["relayBinlog"], st["relayBinlogGtid"]) == (st["masterBinlog"], st["masterBinlogGtid"])
    assert (
        st["stage"] == "Running"
        and st["result"] is None
        and re.fullmatch(r"1-\d+\.000001", st["relaySubDir"])
    )
    worker = dmctl(d, "query-status", "-s", S1)["sources"][0]["sourceStatus"]["worker"]
    refused = dmctl(d, "start-relay", "-s", S1, worker)
    assert refused["result"] is False and refused["msg"] == (
        "[code=46030:class=scheduler:scope=internal:level=low], Message: the source has `start-relay` "
        "automatically for bound worker, so it can't `start-relay` with worker name now, Workaround: "
        "Please stop relay by `stop-relay` without worker name first."
    )

    doc = dmctl(d, "start-task", str(task_file(tmp_path, mariadb, dbname)))
    assert doc["result"], doc
    up.execute(*[f"INSERT INTO {dbname}.t VALUES ({i}, 'a')" for i in range(20)])
    sync = d.wait_subtask(TASK, S1, lambda s: s.unit == pb.Sync and s.sync.synced and s.sync.totalEvents, 30)
    assert sync.sync.binlogType == "local"
    wait_for(lambda: mariadb.target.query(f"SELECT COUNT(*) FROM {dbname}.t") == [(20,)], 30, "rows")

    paused = dmctl(d, "pause-relay", "-s", S1)
    assert paused == {
        "op": "PauseRelay",
        "result": True,
        "msg": "",
        "sources": [{"result": True, "msg": "", "source": S1, "worker": worker}],
    }
    assert relay_status(d, S1)["stage"] == "Paused"
    assert {
        "taskName": TASK,
        "taskStatus": f"Error - Relay status is Paused. Please run `query-status {TASK}` to get more "
        "details.",
        "sources": [S1],
    } in dmctl(d, "query-status")["tasks"]
    up.execute(f"INSERT INTO {dbname}.t VALUES (100, 'while paused')")
    resumed = dmctl(d, "resume-relay", "-s", S1)
    assert resumed["op"] == "ResumeRelay" and resumed["sources"][0]["result"] is True, resumed
    wait_for(lambda: mariadb.target.query(f"SELECT COUNT(*) FROM {dbname}.t") == [(21,)], 30, "the new row")

    # kill -9 of the worker while the relay writes: no torn relay file, the task converges
    pid = worker_pids(d.pid)[worker]
    writer = threading.Thread(
        target=lambda: [up.execute(f"INSERT INTO {dbname}.t VALUES ({i}, 'k')") for i in range(200, 400)]
    )
    writer.start()
    wait_for(lambda: mariadb.target.query(f"SELECT COUNT(*) FROM {dbname}.t WHERE id >= 200")[0][0] > 20, 30)
    os.kill(pid, signal.SIGKILL)
    writer.join(60)
    wait_for(lambda: worker_pids(d.pid).get(worker, pid) != pid, 30, "the worker to be restarted")
    # (the restarted task replays from its checkpoint in safe mode, as after any crash)
    wait_for(lambda: mariadb.target.query(f"SELECT COUNT(*) FROM {dbname}.t") == [(221,)], 60, "all rows")
    relay_root = d.data_dir / "workers" / worker / "relay-dir" / S1
    files = [p for p in relay_root.glob("*/mysql-bin.*")]
    assert files
    for path in files:
        data = path.read_bytes()
        assert valid_end(data, 4, file_checksum(data)) == len(data), path
    assert d.subtask(TASK, S1).sync.binlogType == "local"

    # purge-relay: a file the task has passed goes; one it (or the relay) still needs never does
    first = relay_status(d, S1)["relayBinlog"].strip("()").split(",")[0]
    up.execute("FLUSH BINARY LOGS", f"INSERT INTO {dbname}.t VALUES (101, 'x')")
    now = wait_for(
        lambda: (s := d.subtask(TASK, S1)) and s.sync.synced and first not in s.sync.syncerBinlog and s,
        30,
        "the task to move to the next file",
    )
    needed = now.sync.syncerBinlog.strip("()").split(",")[0]
    sub = relay_status(d, S1)["relaySubDir"]
    ok = dmctl(d, "purge-relay", "-s", S1, "-f", needed, "--sub-dir", sub)
    assert ok == {
        "result": True,
        "msg": "",
        "sources": [{"result": True, "msg": "", "source": S1, "worker": worker}],
    }
    base = needed.rsplit(".", 1)[0]
    refused = dmctl(d, "purge-relay", "-s", S1, "-f", f"{base}.999999", "--sub-dir", sub)
    assert refused["result"] is True and refused["sources"][0]["result"] is False
    assert refused["sources"][0]["msg"].startswith(
        "[code=30037:class=relay-unit:scope=internal:level=high], Message: relay log purge is forbidden "
        f"temporarily, because relay log file {sub}/{needed} is before {base}.999999 and subtask {TASK} "
        "still needs it"
    ), refused

    assert dmctl(d, "stop-task", TASK)["result"]
    assert dmctl(d, "stop-relay", "-s", S1) == {"result": True, "msg": "", "sources": []}
    wait_for(lambda: relay_status(d, S1) is None, 30, "the relay to stop")
    none = dmctl(d, "pause-relay", "-s", S1)
    assert none["result"] is False and none["msg"] == (
        "[code=46012:class=scheduler:scope=internal:level=medium], Message: sources "
        f"[{S1}] need to update expectant relay stage not exist"
    )
    gone = dmctl(d, "purge-relay", "-s", S1, "-f", needed)
    assert gone["sources"] == [
        {"result": False, "msg": f"relay worker for source {S1} not found, please `start-relay` first",
         "source": S1, "worker": ""}
    ]  # fmt: skip
