"""What each command sends to the master, and how it prints the answer."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from fake_master import FakeMaster

from dmshell.ctl.errors import EXIT_FAILED, EXIT_OK
from dmshell.proto import dmmaster_pb2 as mpb
from dmshell.proto import dmworker_pb2 as pb

Dmctl = Callable[..., Any]  # the `dmctl` fixture (tests/ctl/conftest.py)

TASK_YAML = "name: test\ntask-mode: all\nshard-mode: pessimistic\n"


@pytest.fixture
def task_file(tmp_path: Path) -> str:
    path = tmp_path / "task.yaml"
    path.write_text(TASK_YAML)
    return str(path)


def test_start_task_sends_file_and_flags(dmctl: Dmctl, fake_master: FakeMaster, task_file: str) -> None:
    fake_master.set(
        "StartTask",
        mpb.StartTaskResponse(
            result=True,
            sources=[pb.CommonWorkerResponse(result=True, source="mysql-replica-01", worker="worker1")],
        ),
    )
    r = dmctl(
        "start-task",
        task_file,
        "-s",
        "mysql-replica-01",
        "--remove-meta",
        "--start-time",
        "2021-10-21 00:01:00",
    )
    assert r.rc == EXIT_OK
    req = fake_master.last("StartTask")
    assert (req.task, list(req.sources), req.removeMeta, req.startTime) == (
        TASK_YAML,
        ["mysql-replica-01"],
        True,
        "2021-10-21 00:01:00",
    )
    assert r.out.count('"result": true') == 2 and '"source": "mysql-replica-01"' in r.out


def test_start_task_rejects_is_sharding_conflict(
    dmctl: Dmctl, fake_master: FakeMaster, tmp_path: Path
) -> None:
    f = tmp_path / "t.yaml"
    f.write_text("name: test\nis-sharding: false\nshard-mode: optimistic\n")
    r = dmctl("start-task", str(f))
    assert r.rc == EXIT_FAILED
    assert "The behaviour of `is-sharding` and `shard-mode` is conflicting." in r.out
    assert fake_master.calls("StartTask") == []


@pytest.mark.parametrize(
    ("cmd", "op"), [("stop-task", "Delete"), ("pause-task", "Pause"), ("resume-task", "Resume")]
)
def test_operate_task_ops(dmctl: Dmctl, fake_master: FakeMaster, task_file: str, cmd: str, op: str) -> None:
    r = dmctl(cmd, task_file, "-s", "a,b")
    assert r.rc == EXIT_OK
    req = fake_master.last("OperateTask")
    assert (pb.TaskOp.Name(req.op), req.name, list(req.sources)) == (op, "test", ["a", "b"])


def test_operate_task_result_false_exits_1(dmctl: Dmctl, fake_master: FakeMaster) -> None:
    fake_master.set(
        "OperateTask",
        mpb.OperateTaskResponse(
            op=pb.Delete,
            result=False,
            msg="task test has no source or not exist, please check the task name and status",
        ),
    )
    r = dmctl("stop-task", "test")
    assert r.rc == EXIT_FAILED
    assert '"op": "Delete",\n    "result": false,' in r.out


def test_batch_stop_on_one_source(dmctl: Dmctl, fake_master: FakeMaster) -> None:
    status = mpb.QueryStatusListResponse(
        result=True,
        sources=[
            pb.QueryStatusResponse(
                result=True,
                sourceStatus=pb.SourceStatus(source="s1"),
                subTaskStatus=[pb.SubTaskStatus(name="t2"), pb.SubTaskStatus(name="t1")],
            )
        ],
    )
    fake_master.set("QueryStatus", status)
    fake_master.set(
        "OperateTask",
        lambda req, ctx: mpb.OperateTaskResponse(
            op=req.op,
            result=req.name == "t1",
            msg="" if req.name == "t1" else "boom",
            sources=[pb.CommonWorkerResponse(result=True, source="s1", worker="w1")],
        ),
    )
    r = dmctl("stop-task", "-s", "s1", "--batch-size", "1")
    assert [q.name for q in fake_master.calls("OperateTask")] == ["t2", "t1"]
    assert list(fake_master.last("QueryStatus").sources) == ["s1"]
    assert json.loads(r.out) == {
        "result": True,
        "msg": "",
        "tasks": [
            {
                "task": "t1",
                "op": "Delete",
                "result": True,
                "msg": "",
                "sources": [{"result": True, "source": "s1", "worker": "w1"}],
            },
            {
                "task": "t2",
                "op": "Delete",
                "result": False,
                "msg": "boom",
                "sources": [{"result": True, "source": "s1", "worker": "w1"}],
            },
        ],
    }
    assert r.rc == EXIT_FAILED  # one task failed


def test_batch_stop_unknown_source(dmctl: Dmctl, fake_master: FakeMaster) -> None:
    fake_master.set(
        "QueryStatus", mpb.QueryStatusListResponse(result=False, msg="sources [x] haven't been added")
    )
    r = dmctl("pause-task", "-s", "x")
    assert (
        r.out
        == '{\n    "result": false,\n    "msg": "sources [x] haven\'t been added",\n    "tasks": []\n}\n'
    )
    assert r.rc == EXIT_FAILED


def test_check_task_counts(dmctl: Dmctl, fake_master: FakeMaster, task_file: str) -> None:
    dmctl("check-task", task_file, "-e", "1", "-w", "0")
    req = fake_master.last("CheckTask")
    assert (req.errCnt, req.warnCnt, req.task) == (1, 0, TASK_YAML)


def test_query_status_requests(dmctl: Dmctl, fake_master: FakeMaster) -> None:
    dmctl("query-status", "test", "-s", "a", "--source", "b")
    req = fake_master.last("QueryStatus")
    assert (req.name, list(req.sources)) == ("test", ["a", "b"])


def test_query_status_rpc_error(dmctl: Dmctl, fake_master: FakeMaster) -> None:
    fake_master.set(
        "QueryStatus", FakeMaster.error(grpc.StatusCode.DEADLINE_EXCEEDED, "context deadline exceeded")
    )
    r = dmctl("query-status", "test", "-s", "a,b")
    assert r.out == "can not query test task's status(in sources [a b])\n"
    assert r.err == "Error: rpc error: code = DeadlineExceeded desc = context deadline exceeded\n"
    assert r.rc == EXIT_FAILED


def test_query_status_simplified_only_when_all_results_true(dmctl: Dmctl, fake_master: FakeMaster) -> None:
    ok = pb.QueryStatusResponse(
        result=True,
        sourceStatus=pb.SourceStatus(source="s1", worker="w1"),
        subTaskStatus=[pb.SubTaskStatus(name="test", stage=pb.Running, unit=pb.Sync)],
    )
    offline = pb.QueryStatusResponse(
        result=False,
        msg="can't find task=test from dm-worker for source=s2",
        sourceStatus=pb.SourceStatus(source="s2", worker="source not bound"),
        subTaskStatus=[pb.SubTaskStatus(name="test")],
    )
    fake_master.set(
        "QueryStatus",
        [
            mpb.QueryStatusListResponse(result=True, sources=[ok]),
            mpb.QueryStatusListResponse(result=True, sources=[ok, offline]),
        ],
    )
    simple = dmctl("query-status")
    assert json.loads(simple.out) == {
        "result": True,
        "msg": "",
        "tasks": [{"taskName": "test", "taskStatus": "Running", "sources": ["s1"]}],
    }
    full = dmctl("query-status")
    assert full.out.count('"result": false') == 1 and '"worker": "source not bound"' in full.out
    more = dmctl("query-status", "--more")
    assert '"subTaskStatus": [' in more.out


def test_ddl_lock_commands(dmctl: Dmctl, fake_master: FakeMaster) -> None:
    fake_master.set("ShowDDLLocks", mpb.ShowDDLLocksResponse(result=True, msg="no DDL lock exists"))
    r = dmctl("shard-ddl-lock", "test")
    assert '"msg": "no DDL lock exists"' in r.out and fake_master.last("ShowDDLLocks").task == "test"
    dmctl(
        "shard-ddl-lock",
        "unlock",
        "test-`db`.`tb`",
        "-a",
        "exec",
        "-o",
        "s1",
        "-f",
        "-d",
        "db",
        "-t",
        "tb",
        "-s",
        "s2",
    )
    req = fake_master.last("UnlockDDLLock")
    assert (
        req.ID,
        req.replaceOwner,
        req.forceRemove,
        mpb.UnlockDDLLockOp.Name(req.op),
        list(req.sources),
        req.database,
        req.table,
    ) == ("test-`db`.`tb`", "s1", True, "ExecLock", ["s2"], "db", "tb")
    dmctl("unlock-ddl-lock", "id")
    assert mpb.UnlockDDLLockOp.Name(fake_master.last("UnlockDDLLock").op) == "SkipLock"


def test_relay_commands(dmctl: Dmctl, fake_master: FakeMaster) -> None:
    dmctl("pause-relay", "-s", "a", "-s", "b")
    req = fake_master.last("OperateWorkerRelayTask")
    assert (pb.RelayOp.Name(req.op), list(req.sources)) == ("PauseRelay", ["a", "b"])
    dmctl("resume-relay", "-s", "a")
    assert pb.RelayOp.Name(fake_master.last("OperateWorkerRelayTask").op) == "ResumeRelay"
    r = dmctl("purge-relay", "-s", "a", "-f", '"mysql-bin.000006"')
    assert r.out.startswith("[warn] no --sub-dir specify for --filename, the latest one will be used\n")
    req = fake_master.last("PurgeWorkerRelay")
    assert (list(req.sources), req.filename, req.subDir) == (["a"], "mysql-bin.000006", "")
    r = dmctl("start-relay", "-s", "s1", "worker1")
    assert r.out.startswith("start-relay/stop-relay with worker name will be deprecated soon.")
    req = fake_master.last("OperateRelay")
    assert (mpb.RelayOpV2.Name(req.op), req.source, list(req.worker)) == ("StartRelayV2", "s1", ["worker1"])
    dmctl("stop-relay", "-s", "s1")
    assert mpb.RelayOpV2.Name(fake_master.last("OperateRelay").op) == "StopRelayV2"


def test_operate_source(dmctl: Dmctl, fake_master: FakeMaster, tmp_path: Path) -> None:
    src = tmp_path / "source1.yaml"
    src.write_text("source-id: mysql-replica-01\nrelay-dir: /tmp/relay\nfrom:\n  host: 127.0.0.1\n")
    r = dmctl("operate-source", "create", str(src), "-w", "worker1")
    assert r.out.startswith("`relay-dir` in source config will be deprecated soon")
    req = fake_master.last("OperateSource")
    assert (mpb.SourceOp.Name(req.op), list(req.config), req.workerName) == (
        "StartSource",
        [src.read_text()],
        "worker1",
    )
    dmctl("operate-source", "stop", str(src), "mysql-replica-02", "-s", "mysql-replica-03")
    req = fake_master.last("OperateSource")
    assert (mpb.SourceOp.Name(req.op), len(req.config), list(req.sourceID), req.workerName) == (
        "StopSource",
        1,
        ["mysql-replica-03", "mysql-replica-02"],
        "",
    )
    dmctl("operate-source", "show")
    assert mpb.SourceOp.Name(fake_master.last("OperateSource").op) == "ShowSource"
    n = len(fake_master.requests)
    sample = dmctl("operate-source", "-p")
    assert "source-id: mysql-replica-01" in sample.out and len(fake_master.requests) == n


def test_members(dmctl: Dmctl, fake_master: FakeMaster) -> None:
    dmctl("offline-member", "--worker", "--name", "w1")
    req = fake_master.last("OfflineMember")
    assert (req.type, req.name) == ("worker", "w1")
    fake_master.set("OfflineMember", mpb.OfflineMemberResponse(result=False, msg="worker w1 is still alive"))
    r = dmctl("offline-member", "-m", "-n", "m1")
    assert r.out == "offline member failed:\nworker w1 is still alive\n"
    assert r.err == "Error: please check output to see error\n" and r.rc == EXIT_FAILED
    dmctl("operate-leader", "cancel-evict")
    assert mpb.LeaderOp.Name(fake_master.last("OperateLeader").op) == "CancelEvictLeaderOp"
    dmctl("list-member", "-l", "-w", "--name", "a,b", "-n", "c")
    req = fake_master.last("ListMember")
    assert (req.leader, req.master, req.worker, list(req.names)) == (True, False, True, ["a", "b", "c"])
    dmctl("transfer-source", "s1", "w2")
    req = fake_master.last("TransferSource")
    assert (req.source, req.worker) == ("s1", "w2")


def test_schema_commands(dmctl: Dmctl, fake_master: FakeMaster, tmp_path: Path) -> None:
    schema = tmp_path / "t.sql"
    schema.write_text("CREATE TABLE t (id INT PRIMARY KEY)")
    dmctl("operate-schema", "set", "-s", "s1", "test", "-d", "db", "-t", "t", str(schema))
    req = fake_master.last("OperateSchema")
    assert (
        pb.SchemaOp.Name(req.op),
        req.task,
        list(req.sources),
        req.database,
        req.table,
        req.schema,
        req.flush,
        req.sync,
    ) == ("SetSchema", "test", ["s1"], "db", "t", schema.read_text(), True, True)
    dmctl("binlog-schema", "update", "test", "db", "t", "--from-target", "--flush=false")
    req = fake_master.last("OperateSchema")
    assert (pb.SchemaOp.Name(req.op), req.fromTarget, req.fromSource, req.schema, req.flush, req.sync) == (
        "SetSchema",
        True,
        False,
        "",
        False,
        True,
    )
    dmctl("binlog-schema", "list", "test", "db", "t", "-s", "s1")
    req = fake_master.last("OperateSchema")
    assert (pb.SchemaOp.Name(req.op), req.flush, req.sync, list(req.sources)) == (
        "GetSchema",
        False,
        False,
        ["s1"],
    )
    dmctl("binlog-schema", "delete", "test", "db", "t")
    assert pb.SchemaOp.Name(fake_master.last("OperateSchema").op) == "RemoveSchema"


def test_binlog_commands(dmctl: Dmctl, fake_master: FakeMaster) -> None:
    dmctl("binlog", "skip", "test", "-b", "mysql-bin|000001.000003:3270", "-s", "s1")
    req = fake_master.last("HandleError")
    assert (pb.ErrorOp.Name(req.op), req.task, req.binlogPos, list(req.sources), list(req.sqls)) == (
        "Skip",
        "test",
        "mysql-bin|000001.000003:3270",
        ["s1"],
        [],
    )
    dmctl("binlog", "inject", "test", "alter table tb add column c int;", "alter table tb add column d int;")
    assert list(fake_master.last("HandleError").sqls) == [
        "alter table tb add column c int;",
        " alter table tb add column d int;",
    ]
    dmctl("binlog", "replace", "test", "\"alter table tb add column c varchar(3) default ';'; drop table x\"")
    req = fake_master.last("HandleError")
    assert pb.ErrorOp.Name(req.op) == "Replace"
    assert list(req.sqls) == ["alter table tb add column c varchar(3) default ';';", " drop table x"]
    dmctl("binlog", "revert", "test")
    dmctl("binlog", "list", "test")
    assert [pb.ErrorOp.Name(q.op) for q in fake_master.calls("HandleError")][-2:] == ["Revert", "List"]
    dmctl("handle-error", "test", "replace", "alter table t add c int;", "alter table t add d int")
    req = fake_master.last("HandleError")
    assert (pb.ErrorOp.Name(req.op), list(req.sqls)) == (
        "Replace",
        ["alter table t add c int;", " alter table t add d int"],
    )


def test_get_config(dmctl: Dmctl, fake_master: FakeMaster, tmp_path: Path) -> None:
    fake_master.set("GetCfg", mpb.GetCfgResponse(result=True, cfg="name: test\n"))
    r = dmctl("get-task-config", "test")
    req = fake_master.last("GetCfg")
    assert (mpb.CfgType.Name(req.type), req.name) == ("TaskType", "test")
    assert '"cfg": "name: test\\n"' in r.out
    out = tmp_path / "cfg.yaml"
    r = dmctl("get-config", "source", "s1", "--file", str(out))
    assert mpb.CfgType.Name(fake_master.last("GetCfg").type) == "SourceType"
    assert out.read_text() == "name: test\n" and (out.stat().st_mode & 0o777) == 0o600
    assert f'"msg": "write config to file {out} succeed",\n    "cfg": ""' in r.out
    dmctl("config", "master", "m1")
    dmctl("config", "task-template", "t1")
    assert [mpb.CfgType.Name(q.type) for q in fake_master.calls("GetCfg")][-2:] == [
        "MasterType",
        "TaskTemplateType",
    ]


def test_config_export_and_import(dmctl: Dmctl, fake_master: FakeMaster, tmp_path: Path) -> None:
    fake_master.set(
        "ListSourceConfigs",
        mpb.ListSourceConfigsResponse(result=True, sourceConfigs={"s1": "source-id: s1\n"}),
    )
    fake_master.set(
        "ListTaskConfigs", mpb.ListTaskConfigsResponse(result=True, taskConfigs={"t1": "name: t1\n"})
    )
    target = tmp_path / "cfgs"
    r = dmctl("config", "export", "-p", str(target))
    assert r.out == f"export configs to directory `{target}` succeed\n"
    assert (target / "sources" / "s1.yaml").read_text() == "source-id: s1\n"
    assert (target / "tasks" / "t1.yaml").read_text() == "name: t1\n"
    assert oct(os.stat(target / "tasks").st_mode & 0o777) == "0o700"
    fake_master.set(
        "OperateSource",
        mpb.OperateSourceResponse(result=False, msg="source config with ID s1 already exists"),
    )
    r = dmctl("config", "import", "--path", str(target))
    assert r.rc == EXIT_OK
    assert (
        r.out
        == f"start creating sources\nstart creating tasks\nimport configs from directory `{target}` succeed\n"
    )
    assert list(fake_master.last("OperateSource").config) == ["source-id: s1\n"]
    assert fake_master.last("StartTask").task == "name: t1\n"
    missing = dmctl("config", "import", "-p", str(tmp_path / "nope"))
    assert missing.err == f"Error: config directory `{tmp_path / 'nope'}` not exists\n"


def test_validation_commands(dmctl: Dmctl, fake_master: FakeMaster) -> None:
    dmctl("validation", "start", "test")
    req = fake_master.last("StartValidation")
    assert req.WhichOneof("mode") is None and req.WhichOneof("startTime") is None and req.taskName == "test"
    dmctl(
        "validation",
        "start",
        "--all-task",
        "--mode",
        "fast",
        "--start-time",
        "2021-10-21T00:01:00+08:00",
        "-s",
        "s1",
    )
    req = fake_master.last("StartValidation")
    assert (req.mode_value, req.start_time_value, req.taskName, list(req.sources)) == (
        "fast",
        "2021-10-21T00:01:00+08:00",
        "",
        ["s1"],
    )
    dmctl("validation", "stop", "--all-task")
    assert fake_master.last("StopValidation").taskName == ""
    dmctl("validation", "update", "t", "--cutover-binlog-pos", "(mysql-bin.000001, 5989)")
    assert fake_master.last("UpdateValidation").binlogPos == "(mysql-bin.000001, 5989)"
    dmctl("validation", "show-error", "--error", "all", "t")
    assert pb.ValidateErrorState.Name(fake_master.last("GetValidationError").errState) == "InvalidErr"
    dmctl("validation", "status", "t", "--table-stage", "running")
    assert pb.Stage.Name(fake_master.last("GetValidationStatus").filterStatus) == "Running"
    dmctl("validation", "ignore-error", "t", "3")
    req = fake_master.last("OperateValidationError")
    assert (mpb.ValidationErrOp.Name(req.op), req.errId, req.isAllError) == ("IgnoreErrOp", 3, False)
    dmctl("validation", "clear-error", "t", "--all")
    req = fake_master.last("OperateValidationError")
    assert (mpb.ValidationErrOp.Name(req.op), req.isAllError) == ("ClearErrOp", True)


def test_encrypt_and_decrypt(dmctl: Dmctl, fake_master: FakeMaster) -> None:
    fake_master.set(
        "Encrypt", mpb.EncryptResponse(result=True, ciphertext="fCxfQ9XKCezSzuCD0Wf5dUD+LsKegSg=")
    )
    r = dmctl("encrypt", "123456")
    assert fake_master.last("Encrypt").plaintext == "123456"
    assert r.out == "fCxfQ9XKCezSzuCD0Wf5dUD+LsKegSg=\n" and r.rc == EXIT_OK
    fake_master.set("Encrypt", mpb.EncryptResponse(result=False, msg="secret key not initialized"))
    r = dmctl("encrypt", "abc")
    assert r.err == "Error: secret key not initialized\n" and r.rc == EXIT_FAILED
    n = len(fake_master.requests)
    assert dmctl("decrypt", "fCxfQ9XKCezSzuCD0Wf5dUD+LsKegSg=").out == "123456\n"
    assert len(fake_master.requests) == n  # decrypt is local


def test_unimplemented_rpc_is_an_error_not_a_success(dmctl: Dmctl, fake_master: FakeMaster) -> None:
    fake_master.set(
        "TransferSource",
        FakeMaster.error(
            grpc.StatusCode.UNIMPLEMENTED,
            "[code=38032:class=dm-master:scope=internal:level=high], Message: TransferSource not supported yet",  # noqa: E501
        ),
    )
    r = dmctl("transfer-source", "s1", "w1")
    assert r.rc == EXIT_FAILED and r.out == ""
    assert r.err == (
        "Error: [code=38032:class=dm-master:scope=internal:level=high], Message: TransferSource "
        "not supported yet\n"
    )
    fake_master.set("TransferSource", FakeMaster.error(grpc.StatusCode.UNIMPLEMENTED, "Method not found!"))
    r = dmctl("transfer-source", "s1", "w1")
    assert r.err == (
        "Error: TransferSource is not supported yet by this dm-master "
        "(rpc error: code = Unimplemented desc = Method not found!)\n"
    )


def test_help_unknown_topic(dmctl: Dmctl) -> None:
    r = dmctl("help", "nosuch")
    assert r.err.startswith("Unknown help topic [`nosuch`]\nUsage:\n  dmctl [flags]\n  dmctl [command]\n")
    assert dmctl("help", "binlog", "skip").out.startswith("skip the current error event")
