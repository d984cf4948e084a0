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

import grpc
import pytest

from dmshell.proto import dmmaster_pb2 as mpb
from dmshell.proto import dmmaster_pb2_grpc
from dmshell.sandbox import free_port
from dmshell.screens.confirm import ConfirmScreen
from dmshell.tui.app import DMShellApp
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
        yield addr
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
    app = DMShellApp(daemon, interval_ms=200)
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
