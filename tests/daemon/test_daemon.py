"""The daemon end to end: real processes (master + embedded workers) and the MariaDB fixture.

Sources, members, tasks (start / pause / resume / stop, DM's messages), a worker killed with -9,
and a daemon restart that keeps every task's expected stage.
"""

from __future__ import annotations

import os
import signal
import time

import grpc
import pytest
from daemon_helpers import Daemon, dmshell, source_yaml, wait_for, worker_pids

from dmshell.daemon.process import read_pidfile
from dmshell.proto import dmmaster_pb2 as mpb
from dmshell.proto import dmworker_pb2 as pb
from dmshell.sandbox import free_port

S1, S2 = "mysql-replica-01", "mysql-replica-02"


def task_yaml(name: str, mariadb, db: str, mode: str = "incremental", meta_schema: str = "dm_meta") -> str:
    t = mariadb.target
    return f"""\
name: {name}
task-mode: {mode}
meta-schema: {meta_schema}
target-database:
{t.connection_yaml()}block-allow-list:
  bal:
    do-dbs: ["{db}"]
mysql-instances:
  - source-id: {S1}
    block-allow-list: bal
  - source-id: {S2}
    block-allow-list: bal
"""


def create_sources(d: Daemon, mariadb) -> mpb.OperateSourceResponse:
    return d.stub.OperateSource(
        mpb.OperateSourceRequest(
            op=mpb.StartSource, config=[source_yaml(S1, mariadb.up1, gtid=True), source_yaml(S2, mariadb.up2)]
        ),
        timeout=60,
    )


def check_running(d: Daemon, task: str, source: str, timeout: float = 30) -> pb.SubTaskStatus:
    """Wait until the (incremental) subtask runs its Sync unit."""
    return d.wait_subtask(
        task,
        source,
        lambda st: st.stage == pb.Running and st.unit == pb.Sync,
        timeout,
        f"{task} on {source} to run",
    )


def replicated(mariadb, db: str, row_id: int, value: str, timeout: float = 30) -> None:
    wait_for(
        lambda: mariadb.target.query(f"SELECT v FROM {db}.t WHERE id = %s", (row_id,)) == [(value,)],
        timeout,
        f"row {row_id} to reach the target",
    )


@pytest.fixture(scope="module")
def cluster(mariadb, tmp_path_factory):
    """One daemon with both sources for the tests that don't restart it."""
    d = Daemon(tmp_path_factory.mktemp("daemon") / "data").start()
    resp = create_sources(d, mariadb)
    assert resp.result, resp
    d.create_response = resp
    yield d
    d.close()


def test_sources_are_bound_to_embedded_workers(cluster, mariadb):
    d = cluster
    resp = d.create_response
    assert [(s.result, s.source, s.msg) for s in resp.sources] == [(True, S1, ""), (True, S2, "")]
    assert {s.worker for s in resp.sources} == {"worker1", "worker2"}
    workers = d.workers()
    assert sorted(workers) == ["worker1", "worker2"]
    assert {w.stage for w in workers.values()} == {"bound"}
    assert {w.source for w in workers.values()} == {S1, S2}
    assert all(w.addr.startswith("127.0.0.1:") for w in workers.values())
    assert set(worker_pids(d.pid)) == {"worker1", "worker2"}

    members = d.stub.ListMember(mpb.ListMemberRequest(), timeout=5)
    assert members.result and [m.WhichOneof("member") for m in members.members] == [
        "leader",
        "master",
        "worker",
    ]
    leader, master = members.members[0].leader, members.members[1].master
    assert leader.addr == d.addr and leader.name == master.masters[0].name and master.masters[0].alive
    only = d.stub.ListMember(mpb.ListMemberRequest(worker=True, names=["worker2"]), timeout=5)
    assert [w.name for w in only.members[0].worker.workers] == ["worker2"]

    show = d.stub.OperateSource(mpb.OperateSourceRequest(op=mpb.ShowSource), timeout=30)
    assert show.result and [(s.source, s.result) for s in show.sources] == [(S1, True), (S2, True)]

    info = d.stub.GetClusterInfo(mpb.Empty(), timeout=5)
    assert (info.masterAddr, info.workersUp, info.workersTotal, info.pid) == (d.addr, 2, 2, d.pid)

    cfg = d.stub.GetCfg(mpb.GetCfgRequest(type=mpb.SourceType, name=S1), timeout=5)
    assert cfg.result and "source-id: mysql-replica-01" in cfg.cfg
    assert "******" in cfg.cfg and mariadb.up1.password not in cfg.cfg
    listed = d.stub.ListSourceConfigs(mpb.Empty(), timeout=5)
    assert sorted(listed.sourceConfigs) == [S1, S2]
    assert all(mariadb.up1.password not in text for text in listed.sourceConfigs.values())
    assert (
        d.stub.GetCfg(mpb.GetCfgRequest(type=mpb.SourceType, name="nope"), timeout=5).msg
        == "source not found"
    )
    wcfg = d.stub.GetCfg(mpb.GetCfgRequest(type=mpb.WorkerType, name="worker1"), timeout=5)
    assert wcfg.result and 'name = "worker1"' in wcfg.cfg


def test_bad_sources_are_rejected_and_nothing_is_created(cluster, mariadb):
    d = cluster
    dead_port = free_port()
    resp = d.stub.OperateSource(
        mpb.OperateSourceRequest(
            op=mpb.StartSource, config=[source_yaml("mysql-replica-09", mariadb.up1, port=dead_port)]
        ),
        timeout=30,
    )
    assert not resp.result and not resp.sources
    assert resp.msg.startswith(
        "[code=10001:class=database:scope=not-set:level=high], Message: database driver error"
    )
    assert "Can't connect" in resp.msg and mariadb.up1.password not in resp.msg

    dup = d.stub.OperateSource(
        mpb.OperateSourceRequest(
            op=mpb.StartSource,
            config=[source_yaml("mysql-replica-03", mariadb.up2), source_yaml(S1, mariadb.up1)],
        ),
        timeout=30,
    )
    assert not dup.result
    assert dup.msg == (
        "[code=46007:class=scheduler:scope=internal:level=medium], "
        f"Message: source config with ID {S1} already exists"
    )

    bad = d.stub.OperateSource(
        mpb.OperateSourceRequest(op=mpb.StartSource, config=["source-id: [x"]), timeout=5
    )
    assert not bad.result and "code=" in bad.msg

    # nothing half-created: neither the unreachable source nor the one before the duplicate
    assert sorted(d.stub.ListSourceConfigs(mpb.Empty(), timeout=5).sourceConfigs) == [S1, S2]
    assert sorted(d.workers()) == ["worker1", "worker2"]

    stop = d.stub.OperateSource(mpb.OperateSourceRequest(op=mpb.StopSource, sourceID=["nope"]), timeout=5)
    assert not stop.result and stop.msg.endswith("Message: source config with ID nope not exists")
    upd = d.stub.OperateSource(
        mpb.OperateSourceRequest(op=mpb.UpdateSource, config=[source_yaml(S1, mariadb.up1)]), timeout=30
    )
    assert (upd.result, upd.msg) == (False, "Update worker config is not supported by dm-ha now")


def test_task_lifecycle_and_dm_messages(cluster, mariadb, dbname):
    d = cluster
    for server in (mariadb.up1, mariadb.up2, mariadb.target):
        server.execute(
            f"DROP DATABASE IF EXISTS {dbname}",
            f"CREATE DATABASE {dbname}",
            f"CREATE TABLE {dbname}.t (id INT PRIMARY KEY, v VARCHAR(20))",
        )
    task = "lifecycle"
    text = task_yaml(task, mariadb, dbname)

    check = d.stub.CheckTask(mpb.CheckTaskRequest(task=text), timeout=30)
    assert (check.result, check.msg) == (True, "pre-check is passed. ")

    resp = d.stub.StartTask(mpb.StartTaskRequest(task=text), timeout=60)
    assert resp.result and resp.checkResult == "pre-check is passed. "
    assert [s.source for s in resp.sources] == [S1, S2]
    assert [(s.result, s.msg) for s in resp.sources] == [(True, ""), (True, "")]
    for source in (S1, S2):
        check_running(d, task, source)

    again = d.stub.StartTask(mpb.StartTaskRequest(task=text), timeout=60)
    assert not again.result
    assert again.msg == (
        "[code=46014:class=scheduler:scope=internal:level=medium], Message: subtasks with name "
        f"{task} for sources [{S1} {S2}] already exist, Workaround: Please use `query-status` "
        "command to see tasks."
    )

    # query-status: whole list, by task, by source; DM's messages for unknown things
    listing = d.stub.QueryStatus(mpb.QueryStatusListRequest(), timeout=15)
    assert listing.result and [s.sourceStatus.source for s in listing.sources] == [S1, S2]
    assert {s.sourceStatus.worker for s in listing.sources} == {"worker1", "worker2"}
    assert all(task in [st.name for st in s.subTaskStatus] for s in listing.sources)
    unknown = d.stub.QueryStatus(mpb.QueryStatusListRequest(name="nope"), timeout=15)
    assert (unknown.result, unknown.msg) == (False, "task nope has no source or not exist")
    bad_src = d.stub.QueryStatus(mpb.QueryStatusListRequest(sources=["source-x"]), timeout=15)
    assert (bad_src.result, bad_src.msg) == (False, "sources [source-x] haven't been added")

    # pause: Paused, marked canceled (no auto-resume), on both sources
    paused = d.stub.OperateTask(mpb.OperateTaskRequest(op=pb.Pause, name=task), timeout=60)
    assert paused.result and paused.op == pb.Pause
    assert [(s.source, s.result) for s in paused.sources] == [(S1, True), (S2, True)]
    for source in (S1, S2):
        st = d.subtask(task, source)
        assert st.stage == pb.Paused and st.result.isCanceled

    # resume one source only
    resumed = d.stub.OperateTask(mpb.OperateTaskRequest(op=pb.Resume, name=task, sources=[S2]), timeout=60)
    assert resumed.result and [s.source for s in resumed.sources] == [S2]
    st2 = check_running(d, task, S2)
    assert not st2.result.isCanceled
    assert d.subtask(task, S1).stage == pb.Paused

    mariadb.up2.execute(f"INSERT INTO {dbname}.t VALUES (2, 'from up2')")
    replicated(mariadb, dbname, 2, "from up2")

    nope = d.stub.OperateTask(mpb.OperateTaskRequest(op=pb.Pause, name="nope"), timeout=10)
    assert (nope.result, nope.msg) == (
        False,
        "task nope has no source or not exist, please check the task name and status",
    )
    wrong = d.stub.OperateTask(mpb.OperateTaskRequest(op=pb.Pause, name=task, sources=["x"]), timeout=10)
    assert not wrong.result and wrong.msg.endswith("Message: sources [x] need to be operate not exist")

    # a source with tasks cannot be removed
    busy = d.stub.OperateSource(mpb.OperateSourceRequest(op=mpb.StopSource, sourceID=[S1]), timeout=10)
    assert not busy.result
    assert f"source with name {S1} need to operate has existing tasks [{task}]" in busy.msg

    cfg = d.stub.GetCfg(mpb.GetCfgRequest(type=mpb.TaskType, name=task), timeout=5)
    assert cfg.result and f"name: {task}" in cfg.cfg and mariadb.target.password not in cfg.cfg
    assert task in d.stub.ListTaskConfigs(mpb.Empty(), timeout=5).taskConfigs
    sub = d.stub.GetSubTaskCfg(mpb.GetSubTaskCfgRequest(name=task), timeout=5)
    assert sub.result and len(sub.cfgs) == 2

    # stop-task (Delete): gone from workers and store
    stopped = d.stub.OperateTask(mpb.OperateTaskRequest(op=pb.Delete, name=task), timeout=60)
    assert stopped.result and [(s.source, s.result) for s in stopped.sources] == [(S1, True), (S2, True)]
    gone = d.stub.QueryStatus(mpb.QueryStatusListRequest(name=task), timeout=15)
    assert gone.msg == f"task {task} has no source or not exist"
    assert d.stub.GetCfg(mpb.GetCfgRequest(type=mpb.TaskType, name=task), timeout=5).msg == "task not found"


def test_start_task_errors_create_nothing(cluster, mariadb, dbname):
    d = cluster
    text = task_yaml("broken", mariadb, dbname)
    unknown_source = text.replace(f"source-id: {S2}", "source-id: mysql-replica-77")
    resp = d.stub.StartTask(mpb.StartTaskRequest(task=unknown_source), timeout=30)
    assert not resp.result
    assert resp.msg.startswith(
        "[code=20031:class=dm-master:scope=internal:level=medium], "
        "Message: source mysql-replica-77 in deployment configuration not found"
    )

    dead = text.replace(f"port: {mariadb.target.port}", f"port: {free_port()}")
    resp = d.stub.StartTask(mpb.StartTaskRequest(task=dead), timeout=30)
    assert not resp.result and not resp.sources
    assert resp.checkResult.startswith(
        "[code=26002:class=dm-master:scope=downstream:level=high], "
        "Message: fail to initialize checker: failed to open DSN root:***@127.0.0.1:"
    )
    assert mariadb.target.password not in resp.checkResult
    check = d.stub.CheckTask(mpb.CheckTaskRequest(task=dead), timeout=30)
    assert not check.result and "code=26002" in check.msg

    only_x = d.stub.StartTask(mpb.StartTaskRequest(task=text, sources=["x"]), timeout=30)
    assert not only_x.result
    assert [(s.source, s.msg) for s in only_x.sources] == [("x", "source not found in task's config")]

    bad_yaml = d.stub.StartTask(mpb.StartTaskRequest(task="name: x\ntask-mode: nonsense\n"), timeout=30)
    assert not bad_yaml.result and ":class=dm-master:" in bad_yaml.msg

    assert "broken" not in d.stub.ListTaskConfigs(mpb.Empty(), timeout=5).taskConfigs
    assert d.stub.QueryStatus(mpb.QueryStatusListRequest(name="broken"), timeout=5).msg == (
        "task broken has no source or not exist"
    )


def test_start_task_is_refused_by_a_failed_check_item(cluster, mariadb, dbname):
    d = cluster
    for server in (mariadb.up1, mariadb.up2):
        server.execute(
            f"DROP DATABASE IF EXISTS {dbname}",
            f"CREATE DATABASE {dbname}",
            f"CREATE TABLE {dbname}.nokey (a INT)",
        )
    text = task_yaml("nokey", mariadb, dbname)
    check = d.stub.CheckTask(mpb.CheckTaskRequest(task=text, errCnt=1, warnCnt=10), timeout=30)
    assert not check.result
    assert check.msg.startswith(
        "[code=26005:class=dm-master:scope=internal:level=medium], Message: fail to check synchronization "
        "configuration with type: check was failed, please see detail\n detail: {"
    )
    assert '"name": "table structure compatibility check"' in check.msg
    assert f"table `{dbname}`.`nokey` primary/unique key does not exist" in check.msg
    assert check.msg.count('"severity": "fail"') == 1 and '"failed": 2' in check.msg  # --error 1 of 2

    resp = d.stub.StartTask(mpb.StartTaskRequest(task=text), timeout=30)
    assert not resp.result and not resp.sources and "primary/unique key does not exist" in resp.checkResult
    assert d.subtask("nokey", S1) is None and d.subtask("nokey", S2) is None

    ignored = text + 'ignore-checking-items: ["table_schema"]\n'
    check = d.stub.CheckTask(mpb.CheckTaskRequest(task=ignored), timeout=30)
    assert (check.result, check.msg) == (True, "pre-check is passed. ")


def test_remove_meta_drops_the_task_tables(cluster, mariadb, dbname):
    d = cluster
    meta = f"{dbname}_meta"
    mariadb.target.execute(
        f"DROP DATABASE IF EXISTS {meta}",
        f"CREATE DATABASE {meta}",
        f"CREATE TABLE {meta}.rm_syncer_checkpoint (stale INT)",
        f"CREATE TABLE {meta}.rm_loader_checkpoint (stale INT)",
        f"CREATE TABLE {meta}.rmx_syncer_checkpoint (stale INT)",
    )
    text = task_yaml("rm", mariadb, dbname, meta_schema=meta)
    resp = d.stub.StartTask(mpb.StartTaskRequest(task=text, removeMeta=True), timeout=60)
    assert resp.checkResult == "pre-check is passed. " and [s.source for s in resp.sources] == [S1, S2]
    # the old tables of task "rm" are gone (the sync unit may have created its own since);
    # the table of task "rmx" is untouched
    stale = mariadb.target.query(
        "SELECT table_name FROM information_schema.columns "
        "WHERE table_schema = %s AND column_name = 'stale'",
        (meta,),
    )
    assert stale == [("rmx_syncer_checkpoint",)]
    again = d.stub.StartTask(mpb.StartTaskRequest(task=text, removeMeta=True), timeout=60)
    assert not again.result and "while remove-meta is true: subtasks with name rm for sources" in again.msg
    assert d.stub.OperateTask(mpb.OperateTaskRequest(op=pb.Delete, name="rm"), timeout=60).result


def test_unimplemented_rpcs_say_so_in_dm_style(cluster):
    with pytest.raises(grpc.RpcError) as info:
        cluster.stub.TransferSource(mpb.TransferSourceRequest(source=S1, worker="worker2"), timeout=5)
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert info.value.details() == (
        "[code=38002:class=dm-master:scope=internal:level=medium], Message: op "
        "TransferSource not supported, Workaround: dmshell does not support "
        "`transfer-source` yet."
    )


def test_watch_status_streams_until_the_client_goes_away(cluster):
    call = cluster.stub.WatchStatus(mpb.WatchStatusRequest(intervalMs=100), timeout=30)
    got = []
    for resp in call:
        got.append(resp)
        if len(got) == 3:
            call.cancel()
            break
    assert len(got) == 3 and all(r.result for r in got)
    assert [s.sourceStatus.source for s in got[0].sources] == [S1, S2]


def test_killed_worker_is_restarted_and_its_subtask_resumes(cluster, mariadb, dbname):
    d = cluster
    for server in (mariadb.up1, mariadb.up2, mariadb.target):
        server.execute(
            f"DROP DATABASE IF EXISTS {dbname}",
            f"CREATE DATABASE {dbname}",
            f"CREATE TABLE {dbname}.t (id INT PRIMARY KEY, v VARCHAR(20))",
        )
    task = "killme"
    started = d.stub.StartTask(mpb.StartTaskRequest(task=task_yaml(task, mariadb, dbname)), timeout=60)
    assert started.result, started
    check_running(d, task, S1)
    mariadb.up1.execute(f"INSERT INTO {dbname}.t VALUES (1, 'before')")
    replicated(mariadb, dbname, 1, "before")
    worker = next(w for w in d.workers().values() if w.source == S1)
    old_pid = worker_pids(d.pid)[worker.name]
    os.kill(old_pid, signal.SIGKILL)
    mariadb.up1.execute(f"INSERT INTO {dbname}.t VALUES (2, 'while dead')")
    # the master sees it offline, the worker host restarts it, it registers again and resumes
    new_pid = wait_for(
        lambda: (p := worker_pids(d.pid).get(worker.name)) and p != old_pid and p,
        30,
        "the worker to be restarted",
    )
    wait_for(lambda: d.workers()[worker.name].stage == "bound", 30, "the worker to be bound again")
    check_running(d, task, S1)
    replicated(mariadb, dbname, 2, "while dead")
    assert worker_pids(d.pid)[worker.name] == new_pid
    assert d.stub.OperateTask(mpb.OperateTaskRequest(op=pb.Delete, name=task), timeout=60).result


def test_daemon_restart_keeps_expected_stages(daemon_factory, mariadb, dbname, tmp_path):
    d = daemon_factory(tmp_path / "restart").start()
    assert create_sources(d, mariadb).result
    for server in (mariadb.up1, mariadb.up2, mariadb.target):
        server.execute(f"DROP DATABASE IF EXISTS {dbname}", f"CREATE DATABASE {dbname}")
    assert d.stub.StartTask(
        mpb.StartTaskRequest(task=task_yaml("runs", mariadb, dbname)), timeout=60
    ).checkResult
    assert d.stub.StartTask(
        mpb.StartTaskRequest(task=task_yaml("rests", mariadb, dbname)), timeout=60
    ).checkResult
    assert d.stub.OperateTask(mpb.OperateTaskRequest(op=pb.Pause, name="rests"), timeout=60).result
    for source in (S1, S2):
        check_running(d, "runs", source)

    status = dmshell("daemon", "status", "--data-dir", str(d.data_dir))
    assert status.returncode == 0 and f"dmshell daemon is running (pid {d.pid})" in status.stdout
    assert "workers:  2 up / 2 registered" in status.stdout
    stop = dmshell("daemon", "stop", "--data-dir", str(d.data_dir))
    assert stop.returncode == 0 and f"dmshell daemon stopped (pid {d.pid})" in stop.stdout, stop.stderr
    assert d.proc.wait(5) == 0
    assert worker_pids(d.pid) == {}  # the workers stopped with it
    assert read_pidfile(d.data_dir) is None
    gone = dmshell("daemon", "status", "--data-dir", str(d.data_dir))
    assert gone.returncode == 3 and "not running" in gone.stdout

    # start again, detached this time, same data dir and address
    started = dmshell("daemon", "--master-addr", d.addr, "--data-dir", str(d.data_dir), "--detach")
    assert started.returncode == 0, started.stderr
    pid = int(started.stdout.strip())
    d.proc = None
    try:
        d.connect()
        assert d.stub.GetClusterInfo(mpb.Empty(), timeout=5).pid == pid
        for source in (S1, S2):
            check_running(d, "runs", source)
            rest = d.wait_subtask("rests", source, lambda st: st.stage == pb.Paused, 30)
            assert not rest.result.errors
        assert sorted(d.workers()) == ["worker1", "worker2"]
    finally:
        stop = dmshell("daemon", "stop", "--data-dir", str(d.data_dir))
    assert stop.returncode == 0 and f"(pid {pid})" in stop.stdout
    wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 10, "the detached daemon to exit")


def test_a_second_daemon_on_the_same_data_dir_is_refused(cluster):
    out = dmshell("daemon", "--master-addr", f"127.0.0.1:{free_port()}", "--data-dir", str(cluster.data_dir))
    assert out.returncode == 1
    assert f"a dmshell daemon (pid {cluster.pid}) is already running with data dir" in out.stderr
    assert time.monotonic() > 0


def test_start_task_start_time_reaches_the_sync_unit(cluster, mariadb, dbname):
    """``start-task --start-time``: replication starts at the first event at or after that time."""
    d = cluster
    for server in (mariadb.up1, mariadb.up2, mariadb.target):
        server.execute(
            f"DROP DATABASE IF EXISTS {dbname}",
            f"CREATE DATABASE {dbname}",
            f"CREATE TABLE {dbname}.t (id INT PRIMARY KEY, v VARCHAR(20))",
        )
    mariadb.up1.execute(f"INSERT INTO {dbname}.t VALUES (1, 'before')")
    time.sleep(1.1)  # binlog timestamps have one-second resolution
    (start_time,) = mariadb.up1.query("SELECT DATE_FORMAT(NOW(), '%Y-%m-%d %H:%i:%s')")[0]
    time.sleep(1.1)
    mariadb.up1.execute(f"INSERT INTO {dbname}.t VALUES (2, 'after')")

    task = "starttime"
    resp = d.stub.StartTask(
        mpb.StartTaskRequest(task=task_yaml(task, mariadb, dbname), startTime=start_time), timeout=60
    )
    assert resp.result, resp
    check_running(d, task, S1)
    replicated(mariadb, dbname, 2, "after")  # written after the start time, before start-task
    assert mariadb.target.query(f"SELECT id FROM {dbname}.t ORDER BY id") == [(2,)]
    d.stub.OperateTask(mpb.OperateTaskRequest(op=pb.Delete, name=task), timeout=60)


def test_bad_start_time_is_refused_with_dms_message(cluster, mariadb, dbname):
    text = task_yaml("badtime", mariadb, dbname)
    for call, req in (
        (cluster.stub.StartTask, mpb.StartTaskRequest(task=text, startTime="20060102 150405")),
        (cluster.stub.CheckTask, mpb.CheckTaskRequest(task=text, startTime="20060102 150405")),
    ):
        resp = call(req, timeout=30)
        assert not resp.result
        assert resp.msg.startswith(
            "error while parse start-time, expected in the format like '2006-01-02 15:04:05'"
        )
    assert cluster.stub.QueryStatus(mpb.QueryStatusListRequest(name="badtime"), timeout=15).msg == (
        "task badtime has no source or not exist"
    )


def test_exported_configs_carry_encrypted_passwords(cluster, mariadb):
    """config export / import round-trips: passwords are DM-encrypted (with the daemon's per-install
    key, <data-dir>/secret.key), never plaintext or masked."""
    from dmshell.engine.config import encrypt
    from dmshell.engine.config.load import load_source_config

    exported = cluster.stub.ListSourceConfigs(mpb.Empty(), timeout=10)
    assert exported.result and set(exported.sourceConfigs) >= {S1, S2}
    key_file = cluster.data_dir / "secret.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    encrypt.init_cipher(encrypt.load_secret_key(key_file))
    try:
        for text in exported.sourceConfigs.values():
            assert mariadb.up1.password not in text and "******" not in text
            assert load_source_config(text).from_db.password == mariadb.up1.password
    finally:
        encrypt.init_cipher(None)
    # without the key, the ciphertext is not the password
    assert load_source_config(text).from_db.password != mariadb.up1.password
