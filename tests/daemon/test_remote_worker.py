"""``--workers N`` and a standalone ``dmshell worker`` (DM's scale-out model), and what the master
says while a worker is offline (anchor-dm §3.2)."""

from __future__ import annotations

import signal
import subprocess
import sys

from daemon_helpers import source_yaml, wait_for

from dmshell.proto import dmmaster_pb2 as mpb
from dmshell.proto import dmworker_pb2 as pb

S1, S2, S3 = "mysql-replica-01", "mysql-replica-02", "mysql-replica-03"


def start_worker(name: str, join: str, data_dir, secret) -> subprocess.Popen:
    """A worker with its own data dir; ``secret``: the master's cluster secret file."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / f"{name}.log", "ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dmshell",
                "worker",
                "--name",
                name,
                "--join",
                join,
                "--worker-addr",
                "127.0.0.1:0",
                "--data-dir",
                str(data_dir),
                "--cluster-secret",
                str(secret),
            ],
            stdout=out,
            stderr=out,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def create(d, config: str, worker: str = "") -> mpb.OperateSourceResponse:
    return d.stub.OperateSource(
        mpb.OperateSourceRequest(op=mpb.StartSource, config=[config], workerName=worker), timeout=60
    )


def test_fixed_workers_and_a_remote_worker(daemon_factory, mariadb, dbname, tmp_path):
    d = daemon_factory(workers="1").start()
    remote = None
    try:
        first = create(d, source_yaml(S1, mariadb.up1, gtid=True))
        assert [(s.source, s.worker, s.result) for s in first.sources] == [(S1, "worker1", True)]

        remote = start_worker("remote1", d.addr, tmp_path / "remote", d.data_dir / "cluster.secret")
        wait_for(
            lambda: d.workers().get("remote1") and d.workers()["remote1"].stage == "free",
            30,
            "the remote worker to register",
        )

        busy = create(d, source_yaml(S2, mariadb.up2), worker="worker1")
        assert not busy.result
        assert (
            busy.msg == "[code=46033:class=scheduler:scope=internal:level=low], "
            "Message: dm-worker with name worker1 not free"
        )
        nobody = create(d, source_yaml(S2, mariadb.up2), worker="worker7")
        assert not nobody.result and nobody.msg.endswith("Message: dm-worker with name worker7 not exists")
        assert sorted(d.stub.ListSourceConfigs(mpb.Empty(), timeout=5).sourceConfigs) == [S1]

        second = create(d, source_yaml(S2, mariadb.up2), worker="remote1")
        assert [(s.source, s.worker, s.result) for s in second.sources] == [(S2, "remote1", True)]

        # --workers 1: no worker is spawned for a third source
        third = create(d, source_yaml(S3, mariadb.up1))
        assert [(s.source, s.result, s.msg) for s in third.sources] == [
            (S3, True, "source is added but there is no free worker to bound")
        ]
        assert sorted(d.workers()) == ["remote1", "worker1"]
        removed = d.stub.OperateSource(mpb.OperateSourceRequest(op=mpb.StopSource, sourceID=[S3]), timeout=30)
        assert [(s.source, s.msg) for s in removed.sources] == [
            (S3, "source is stopped and hasn't bound to worker before being stopped")
        ]

        for server in (mariadb.up1, mariadb.up2, mariadb.target):
            server.execute(f"DROP DATABASE IF EXISTS {dbname}", f"CREATE DATABASE {dbname}")
        t = mariadb.target
        task = (
            f"name: remote\ntask-mode: incremental\ntarget-database:\n  host: {t.host}\n  port: {t.port}\n"
            f'  user: {t.user}\n  password: {t.password}\nblock-allow-list:\n  b:\n    do-dbs: ["{dbname}"]\n'
            f"mysql-instances:\n  - source-id: {S1}\n    block-allow-list: b\n"
            f"  - source-id: {S2}\n    block-allow-list: b\n"
        )
        started = d.stub.StartTask(mpb.StartTaskRequest(task=task), timeout=60)
        assert started.result and [s.worker for s in started.sources] == ["worker1", "remote1"], started

        # the remote worker stops (SIGTERM: clean); nothing restarts it
        remote.send_signal(signal.SIGTERM)
        assert remote.wait(30) == 0
        wait_for(lambda: d.workers()["remote1"].stage == "offline", 10, "remote1 to be offline")
        by_task = d.stub.QueryStatus(mpb.QueryStatusListRequest(name="remote"), timeout=15)
        assert [s.sourceStatus.source for s in by_task.sources] == [S1, S2]
        assert by_task.sources[0].result and not by_task.sources[1].result
        assert by_task.sources[1].msg == (
            "[code=38029:class=dm-master:scope=internal:level=high], Message: mysql-replica-02 relevant "
            "worker-client not found, Workaround: Please use list-member command to see if the some workers "
            "are offline."
        )
        everything = d.stub.QueryStatus(mpb.QueryStatusListRequest(), timeout=15)
        fake = everything.sources[1]
        assert (fake.result, fake.sourceStatus.source, fake.sourceStatus.worker) == (
            False,
            S2,
            "source not bound",
        )
        assert fake.msg == (
            "can't find task=remote from dm-worker for source=mysql-replica-02, please use dmctl "
            "list-member to check if worker is offline."
        )
        assert [st.name for st in fake.subTaskStatus] == ["remote"]

        # it comes back (new port, same name): bound again, its subtask runs again
        remote = start_worker("remote1", d.addr, tmp_path / "remote", d.data_dir / "cluster.secret")
        d.wait_subtask("remote", S2, lambda st: st.stage == pb.Running and st.unit == pb.Sync, 30)
        assert d.workers()["remote1"].stage == "bound"
        assert d.stub.OperateTask(mpb.OperateTaskRequest(op=pb.Delete, name="remote"), timeout=60).result
        # removing a bound source frees its worker
        gone = d.stub.OperateSource(mpb.OperateSourceRequest(op=mpb.StopSource, sourceID=[S2]), timeout=30)
        assert [(s.source, s.worker, s.result, s.msg) for s in gone.sources] == [(S2, "remote1", True, "")]
        assert d.workers()["remote1"].stage == "free"
    finally:
        if remote is not None and remote.poll() is None:
            remote.kill()
            remote.wait(10)
