"""End to end: ``dmshell`` (headless) against a real ``dmshell daemon`` with two sources on the MariaDB
fixture's upstreams and a running incremental task. The TUI sees the lag rise while the target is
blocked and fall when it is released, and the stage change when the task is paused from the TUI."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest

from dmshell.proto import dmmaster_pb2 as mpb
from dmshell.proto import dmmaster_pb2_grpc
from dmshell.proto import dmworker_pb2 as pb
from dmshell.sandbox import free_port
from dmshell.screens.confirm import ConfirmScreen
from dmshell.screens.task_detail import TaskDetailScreen
from dmshell.tui.app import DMShellApp
from dmshell.tui.widgets.subtask_panel import SubtaskPanel
from dmshell.tui.widgets.tables import TaskTable

from .canned import wait_until

TASK = "tui-e2e"


def _source_yaml(source_id: str, server, gtid: bool) -> str:
    return (
        f"source-id: {source_id}\nenable-gtid: {str(gtid).lower()}\nfrom:\n  host: {server.host}\n"
        f"  port: {server.port}\n  user: {server.user}\n  password: {server.password}\n"
    )


def _task_yaml(mariadb, db: str) -> str:
    t = mariadb.target
    return (
        f"name: {TASK}\ntask-mode: incremental\nmeta-schema: {db}_meta\n"
        f"target-database:\n  host: {t.host}\n  port: {t.port}\n  user: {t.user}\n  password: {t.password}\n"
        f'block-allow-list:\n  bal:\n    do-dbs: ["{db}"]\n'
        "mysql-instances:\n  - source-id: e2e-up1\n    block-allow-list: bal\n"
        "  - source-id: e2e-up2\n    block-allow-list: bal\n"
    )


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(grpc.RpcError):
            if value := predicate():
                return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def daemon(tmp_path, mariadb, dbname):
    """A daemon with both sources and the incremental task ``tui-e2e`` on ``<dbname>.t``."""
    for server in (mariadb.up1, mariadb.up2, mariadb.target):
        server.execute(
            f"DROP DATABASE IF EXISTS {dbname}",
            f"CREATE DATABASE {dbname}",
            f"CREATE TABLE {dbname}.t (id INT PRIMARY KEY, v VARCHAR(32))",
            f"INSERT INTO {dbname}.t VALUES (1, 'start')",
        )
    addr = f"127.0.0.1:{free_port()}"
    log = open(tmp_path / "daemon.log", "ab")  # noqa: SIM115 - the child writes to it
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dmshell",
            "daemon",
            "--master-addr",
            addr,
            "--data-dir",
            str(tmp_path / "data"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    channel = grpc.insecure_channel(addr)
    try:
        stub = dmmaster_pb2_grpc.MasterStub(channel)
        _wait(lambda: stub.GetClusterInfo(mpb.Empty(), timeout=1).pid == proc.pid, 30, "the master")
        resp = stub.OperateSource(
            mpb.OperateSourceRequest(
                op=mpb.StartSource,
                config=[
                    _source_yaml("e2e-up1", mariadb.up1, True),
                    _source_yaml("e2e-up2", mariadb.up2, False),
                ],
            ),
            timeout=60,
        )
        assert resp.result, resp
        resp = stub.StartTask(mpb.StartTaskRequest(task=_task_yaml(mariadb, dbname)), timeout=60)
        assert resp.result, resp
        yield addr, proc.pid
    finally:
        channel.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the daemon and its embedded workers
        proc.wait(30)
        log.close()
        with contextlib.suppress(Exception):
            mariadb.target.execute(
                f"DROP DATABASE IF EXISTS {dbname}", f"DROP DATABASE IF EXISTS {dbname}_meta"
            )


@pytest.mark.asyncio
async def test_tui_follows_stage_and_lag_of_a_real_task(daemon, mariadb, dbname):
    app = DMShellApp(daemon[0], interval_ms=200)
    async with app.run_test(size=(120, 40)) as pilot:

        def cell(column: str) -> str:
            table = app.screen.query_one("#tasks", TaskTable)
            return str(table.get_cell(TASK, column)) if TASK in table.keys else ""

        await wait_until(
            pilot,
            lambda: cell("stage") == "Running"
            and cell("unit") == "Sync"
            and cell("lag") == "0s ok"
            and app.cluster_info is not None
            and all(s.gtid != "?" for s in app.snapshot.sources),
            timeout=60,
            what="the task running in Sync",
        )
        assert app.cluster_info is not None and app.cluster_info.workersUp == 2
        assert {s.source: s.gtid for s in app.snapshot.sources} == {"e2e-up1": "on", "e2e-up2": "off"}

        # Hold the row lock on the target: the syncer's UPDATE waits, its event ages, the lag grows.
        blocker = mariadb.target.connect()
        try:
            with blocker.cursor() as cur:
                cur.execute("BEGIN")
                cur.execute(f"SELECT * FROM {dbname}.t WHERE id = 1 FOR UPDATE")
                mariadb.up1.execute(f"UPDATE {dbname}.t SET v = 'blocked' WHERE id = 1")
                await wait_until(
                    pilot, lambda: (app.snapshot.task(TASK).lag or 0) >= 2, timeout=30, what="the lag to grow"
                )
                assert cell("lag").endswith(" ok") and cell("lag") != "0s ok"
                cur.execute("ROLLBACK")
        finally:
            blocker.close()
        await wait_until(pilot, lambda: cell("lag") == "0s ok", timeout=30, what="the lag to fall back")
        assert max(app.history.task_lag(TASK)) >= 2 and app.history.task_lag(TASK)[-1] == 0
        assert mariadb.target.query(f"SELECT v FROM {dbname}.t WHERE id = 1") == [("blocked",)]

        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirmation")
        await pilot.press("y")
        await wait_until(pilot, lambda: cell("stage") == "Paused", timeout=30, what="the task to pause")
        assert cell("lag") == "—"  # a paused syncer's lag is not shown as if it were live


def _worker_pid(daemon_pid: int, worker: str) -> int:
    """The pid of the daemon's embedded worker ``worker`` (found by its command line)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            want = [b"--name", worker.encode()]
            if (
                b"worker" in argv
                and f"{daemon_pid}".encode() in argv
                and any(argv[i : i + 2] == want for i in range(len(argv)))
            ):
                return int(entry)
    raise AssertionError(f"no process for worker {worker}")


@pytest.mark.asyncio
async def test_new_tui_shows_the_daemons_history_and_names_a_hung_worker(daemon, mariadb, dbname):
    """The master samples the status on its own: a TUI opened after an incident graphs it. Then a
    worker is SIGSTOPped while the task detail is open: the TUI survives, the banner names the
    worker (not the master), and the panels come back after SIGCONT."""
    addr, daemon_pid = daemon
    stub = dmmaster_pb2_grpc.MasterStub(grpc.insecure_channel(addr))

    def lag() -> int:
        resp = stub.QueryStatus(mpb.QueryStatusListRequest(name=TASK), timeout=10)
        return max((st.sync.secondsBehindMaster for s in resp.sources for st in s.subTaskStatus), default=0)

    _wait(
        lambda: all(
            st.unit == pb.Sync and st.stage == pb.Running
            for s in stub.QueryStatus(mpb.QueryStatusListRequest(name=TASK), timeout=10).sources
            for st in s.subTaskStatus
        ),
        60,
        "the task in Sync",
    )
    blocker = mariadb.target.connect()  # an incident before any TUI is open: the lag grows
    try:
        with blocker.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute(f"SELECT * FROM {dbname}.t WHERE id = 1 FOR UPDATE")
            mariadb.up1.execute(f"UPDATE {dbname}.t SET v = 'blocked' WHERE id = 1")
            _wait(lambda: lag() >= 4, 30, "the lag to grow")
            time.sleep(2.5)  # at least one more master sample
            cur.execute("ROLLBACK")
    finally:
        blocker.close()
    _wait(lambda: lag() == 0, 30, "the lag to fall back")
    status = stub.QueryStatus(mpb.QueryStatusListRequest(name=TASK), timeout=10)
    assert all(st.sync.readBinlog for s in status.sources for st in s.subTaskStatus)  # the read position
    logs = stub.TaskLog(mpb.TaskLogRequest(name=TASK, lines=5), timeout=10)
    assert logs.result and len(logs.workers) == 2
    assert all(w.file.endswith(f"{w.worker}.log") and w.lines for w in logs.workers), logs
    assert all(TASK in line for w in logs.workers for line in w.lines)

    app = DMShellApp(addr, interval_ms=300)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: max(app.history.task_lag(TASK), default=0) >= 4, what="history")
        started = time.time()
        assert app.history.task_lag(TASK).points[0][0] < started - 2  # from before this TUI

        await wait_until(pilot, lambda: app.snapshot.task(TASK) is not None, what="the task")
        app.open_task(TASK)
        await wait_until(pilot, lambda: isinstance(app.screen, TaskDetailScreen), what="detail")
        await wait_until(pilot, lambda: len(app.screen.query(SubtaskPanel)) == 2, what="two panels")
        worker = next(s.worker for s in app.snapshot.sources if s.source == "e2e-up2")
        pid = _worker_pid(daemon_pid, worker)
        os.kill(pid, signal.SIGSTOP)
        try:
            await wait_until(
                pilot, lambda: f"worker {worker} (e2e-up2)" in app.banner, timeout=20, what="the banner"
            )
            assert "not answering" in app.banner and "master" not in app.banner.split("not answering")[0]
            bar = str(app.screen.query_one("ClusterBar").render())
            assert "(1 not answering)" in bar
            # its subtask stays on screen with its last known status, marked as such
            await wait_until(
                pilot,
                lambda: [p.view.stale for p in app.screen.query(SubtaskPanel) if p.view is not None]
                == ["", f"worker {worker} not answering: its last known status"],
                what="the stale panel",
            )
            assert app.snapshot.task(TASK).lag is not None  # from the live source only
        finally:
            os.kill(pid, signal.SIGCONT)
        await wait_until(pilot, lambda: app.banner == "", timeout=20, what="the banner to clear")
        await wait_until(pilot, lambda: len(app.screen.query(SubtaskPanel)) == 2, what="panels back")
        assert isinstance(app.screen, TaskDetailScreen)
