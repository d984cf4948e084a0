"""The guided resolution and the binlog-skip workflow in the TUI against a real daemon and MariaDB:
a DDL the target rejects pauses the task, the TUI resolves it, the task runs again and the target
equals the source (the skipped DDL aside)."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from daemon.daemon_helpers import Daemon, source_yaml, wait_for
from textual.widgets import OptionList

from dmshell.ctl.main import run_command
from dmshell.screens.confirm import ConfirmScreen
from dmshell.screens.errors import BinlogEventsScreen, ResolutionScreen
from dmshell.tui.app import DMShellApp

from .canned import wait_until

SOURCE = "errors-tui-up2"
TASK = "errors-tui"
DB = "errors_tui_db"


def dmctl(daemon: Daemon, *argv: str) -> str:
    out = io.StringIO()
    run_command([f"--master-addr={daemon.addr}", *argv], out=out, err=io.StringIO())
    return out.getvalue()


@pytest.fixture(scope="module")
def daemon(mariadb, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    root = tmp_path_factory.mktemp("errors_tui")
    for server in (mariadb.up2, mariadb.target):
        server.execute(f"DROP DATABASE IF EXISTS {DB}", f"CREATE DATABASE {DB}")
    mariadb.target.execute(f"DROP DATABASE IF EXISTS {DB}_meta")
    d = Daemon(root / "data").start()
    try:
        (root / "source.yaml").write_text(source_yaml(SOURCE, mariadb.up2))
        assert '"result": true' in dmctl(d, "operate-source", "create", str(root / "source.yaml"))
        (root / "task.yaml").write_text(
            f"name: {TASK}\ntask-mode: incremental\nmeta-schema: {DB}_meta\ntarget-database:\n"
            f'{mariadb.target.connection_yaml()}block-allow-list:\n  bal:\n    do-dbs: ["{DB}"]\n'
            "syncers:\n  g:\n    safe-mode-duration: 0s\n"
            f"mysql-instances:\n  - source-id: {SOURCE}\n    block-allow-list: bal\n"
            "    syncer-config-name: g\n"
        )
        assert '"result": true' in dmctl(d, "start-task", str(root / "task.yaml"))
        mariadb.up2.execute(
            f"CREATE TABLE {DB}.t (a INT PRIMARY KEY, b INT)", f"INSERT INTO {DB}.t VALUES (1, 1)"
        )
        yield d
    finally:
        d.close()


def same(mariadb) -> bool:
    q = f"SELECT * FROM {DB}.t ORDER BY a"
    try:
        return mariadb.up2.query(q) == mariadb.target.query(q)
    except Exception:
        return False


async def paused_then_resolved(pilot, mariadb, index: str, keys: tuple[str, ...]) -> None:
    """Make ``ADD INDEX <index>`` fail on the target, open its resolution, press ``keys``, confirm,
    and wait for the task to run with the target equal to the source."""
    app = pilot.app
    wait_for(lambda: same(mariadb), 30, "the table replicated")
    mariadb.target.execute(f"ALTER TABLE {DB}.t ADD INDEX {index} (b)")
    mariadb.up2.execute(f"ALTER TABLE {DB}.t ADD INDEX {index} (b)")

    def paused() -> bool:
        task = app.snapshot.task(TASK)
        return task is not None and any(st.stage == "Paused" and st.errors for st in task.subtasks)

    await wait_until(pilot, paused, 60, "the task paused by the DDL")
    await pilot.press("5")
    await wait_until(
        pilot, lambda: app.current_mode == "errors" and app.screen.query(OptionList), what="view 5"
    )
    await wait_until(pilot, lambda: app.screen.query_one(OptionList).option_count > 0, what="the error")
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, ResolutionScreen), what="the resolution")
    for key in keys:
        await pilot.press(key)
        if key == "b":
            await wait_until(pilot, lambda: isinstance(app.screen, BinlogEventsScreen), what="the events")
            listed = app.screen.query_one(OptionList)
            await wait_until(pilot, lambda: listed.highlighted is not None, 20, "the events listed")  # noqa: B023
    await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
    await pilot.press("y")

    def running() -> bool:
        task = app.snapshot.task(TASK)
        return task is not None and all(st.stage == "Running" and not st.errors for st in task.subtasks)

    await wait_until(pilot, running, 60, "the task running again")
    if isinstance(app.screen, ResolutionScreen):  # it shows the task resuming
        await wait_until(
            pilot, lambda: "Resolved" in str(app.screen.rendered.renderables[1]), what="Resolved"
        )
    mariadb.up2.execute(f"INSERT INTO {DB}.t VALUES ({index[-1]}0, 2)")
    await wait_until(pilot, lambda: same(mariadb), 30, "the target equal to the source")
    await pilot.press("escape")


@pytest.mark.asyncio
async def test_resolution_skip_and_the_binlog_skip_workflow(daemon, mariadb) -> None:
    app = DMShellApp(daemon.addr, interval_ms=200)
    async with app.run_test(size=(120, 40)) as pilot:
        await paused_then_resolved(pilot, mariadb, "i1", ("s",))
        await paused_then_resolved(pilot, mariadb, "i2", ("b", "enter"))
