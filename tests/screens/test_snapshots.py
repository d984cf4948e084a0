"""Snapshot tests of every screen at 80x24 and 120x40 (and the wide layouts at 200x60), against the
fake master with a fixed clock and a fixed lag history."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from dmshell.screens.confirm import ConfirmScreen
from dmshell.screens.console import ConsoleScreen
from dmshell.screens.help import HelpScreen
from dmshell.screens.prompt import PromptScreen
from dmshell.screens.source_form import SourceFormScreen
from dmshell.screens.sources import SourcesScreen
from dmshell.screens.task_detail import TaskDetailScreen
from dmshell.tui.app import DMShellApp
from dmshell.tui.source_check import CheckItem
from dmshell.tui.widgets.command_line import CommandLine

from .canned import (
    CLUSTER,
    SHARD_LOCKS,
    conflict_status,
    lock_status,
    push_history,
    ticking,
    wait_for_data,
    wait_until,
)

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
WIDE = pytest.param((200, 60), id="200x60")


def _app(master) -> DMShellApp:
    return DMShellApp(master.addr, clock=lambda: 1_700_000_100.0, history_clock=ticking(), interval_ms=200)


def _run(master, steps=None):
    """First status, then the canned lag history, then ``steps``. dmctl lines show the canonical
    address (the fake master listens on a random port)."""

    async def run_before(pilot) -> None:
        await wait_for_data(pilot)
        await push_history(pilot, master)
        pilot.app.master_addr = CLUSTER.masterAddr
        if steps is not None:
            await steps(pilot)
        await pilot.pause(0.1)

    return run_before


@pytest.mark.parametrize("size", [*SIZES, WIDE])
def test_dashboard(snap_compare, master, size):
    async def steps(pilot):
        await pilot.press("down", "down")  # shop-merge: previewed on the right at 200 columns

    assert snap_compare(_app(master), terminal_size=size, run_before=_run(master, steps))


def test_dashboard_filtered(snap_compare, master):
    async def steps(pilot):
        await pilot.press("slash")
        pilot.app.screen.query_one("#filter", Input).value = "!shop"

    assert snap_compare(_app(master), terminal_size=(80, 24), run_before=_run(master, steps))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("task", ["shop-merge", "billing", "archive"])
def test_task_detail(snap_compare, master, size, task):
    async def steps(pilot):
        pilot.app.open_task(task)
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, TaskDetailScreen), what="detail screen")
        await pilot.pause()

    assert snap_compare(_app(master), terminal_size=size, run_before=_run(master, steps))


def test_task_detail_wide(snap_compare, master):
    async def steps(pilot):
        pilot.app.open_task("shop-merge")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, TaskDetailScreen), what="detail screen")
        await pilot.pause()

    assert snap_compare(_app(master), terminal_size=(200, 60), run_before=_run(master, steps))


@pytest.mark.parametrize("size", SIZES)
def test_sources(snap_compare, master, size):
    async def steps(pilot):
        await pilot.press("2")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, SourcesScreen), what="sources")
        await pilot.press("down")

    assert snap_compare(_app(master), terminal_size=size, run_before=_run(master, steps))


@pytest.mark.parametrize("size", SIZES)
def test_source_form_after_a_failed_test(snap_compare, master, size):
    async def steps(pilot):
        await pilot.press("2", "n")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, SourceFormScreen), what="form")
        form = pilot.app.screen
        for field, value in (("source-id", "mysql-03"), ("host", "10.0.0.13"), ("password", "secret")):
            form.query_one(f"#{field}", Input).value = value
        # the outcome of a test against a server that is not set up for replication
        form._test_done(
            form.form(),
            [
                CheckItem("connect", True, "root@10.0.0.13:3306 (MariaDB 11.4.2-MariaDB)"),
                CheckItem("binlog", False, "log_bin=OFF: enable the binary log (log_bin) and restart"),
                CheckItem("binlog_format", True, "binlog_format=ROW"),
                CheckItem("privileges", False, "missing RELOAD (GRANT ... ON *.* TO the user)"),
            ],
        )
        await pilot.pause()

    assert snap_compare(_app(master), terminal_size=size, run_before=_run(master, steps))


@pytest.mark.parametrize("size", SIZES)
def test_console(snap_compare, master, size):
    async def steps(pilot):
        await pilot.press("3")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ConsoleScreen), what="console")
        pilot.app.run_dmctl("list-member", origin="console")
        await wait_until(pilot, lambda: bool(pilot.app.console_entries), what="the command's output")
        pilot.app.screen.query_one(CommandLine).input.value = "query-st"

    assert snap_compare(_app(master), terminal_size=size, run_before=_run(master, steps))


@pytest.mark.parametrize("size", SIZES)
def test_prompt(snap_compare, master, size):
    async def steps(pilot):
        await pilot.press("colon")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, PromptScreen), what="prompt")
        pilot.app.screen.query_one(CommandLine).input.value = "pause-task "

    assert snap_compare(_app(master), terminal_size=size, run_before=_run(master, steps))


@pytest.mark.parametrize("size", SIZES)
def test_help(snap_compare, master, size):
    async def steps(pilot):
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), what="help")

    assert snap_compare(_app(master), terminal_size=size, run_before=_run(master, steps))


@pytest.mark.parametrize("size", SIZES)
def test_confirm_stop(snap_compare, master, size):
    async def steps(pilot):
        await pilot.press("down", "down", "s")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), what="confirmation")

    assert snap_compare(_app(master), terminal_size=size, run_before=_run(master, steps))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("view", ["4", "5"])
def test_ddl_locks_and_errors(snap_compare, master, size, view):
    async def steps(pilot):
        await pilot.press(view)
        await pilot.pause()

    assert snap_compare(_app(master), terminal_size=size, run_before=_run(master, steps))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("step", ["locks", "shard", "confirm"])
def test_ddl_lock_screen(snap_compare, master, size, step):
    """A pending lock: the lock list, its shard grid (synced and waiting shards across sources), a
    shard's drill-down, and the guided unlock's confirmation with the exact dmctl command."""
    from dmshell.screens.ddl_locks import DDLLocksScreen

    master.set("ShowDDLLocks", SHARD_LOCKS)

    async def steps(pilot):
        master.push_status(lock_status())
        await wait_until(
            pilot,
            lambda: any(st.unresolved_groups for t in pilot.app.snapshot.tasks for st in t.subtasks),
            what="the groups",
        )
        await pilot.press("4")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, DDLLocksScreen), what="the view")
        await wait_until(pilot, lambda: bool(pilot.app.screen.locks), what="the locks")
        if step == "shard":
            await pilot.press("tab", "down", "down")
        if step == "confirm":
            await pilot.press("o", "x")
            await wait_until(
                pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), what="the confirmation"
            )
        await pilot.pause()

    assert snap_compare(_app(master), terminal_size=size, run_before=_run(master, steps))


def test_ddl_lock_screen_optimistic_conflict(snap_compare, master):
    """An optimistic conflict: the blocked shard and the reason, with the names highlighted."""
    from dmshell.screens.ddl_locks import DDLLocksScreen

    async def steps(pilot):
        master.push_status(conflict_status())
        await wait_until(
            pilot,
            lambda: any(st.conflict_msg for t in pilot.app.snapshot.tasks for st in t.subtasks),
            what="the conflict",
        )
        await pilot.press("4")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, DDLLocksScreen), what="the view")
        await pilot.pause(0.3)

    assert snap_compare(_app(master), terminal_size=(80, 24), run_before=_run(master, steps))
