"""Pilot tests of the dmctl front doors in the TUI: the ``:`` prompt, the console, the palette, and
the ``/`` filter; with the fake master answering through real gRPC."""

from __future__ import annotations

import pytest

from dmshell.proto import dmmaster_pb2 as m
from dmshell.proto import dmworker_pb2 as pb
from dmshell.screens.confirm import ConfirmScreen
from dmshell.screens.console import ConsoleScreen
from dmshell.screens.dashboard import DashboardScreen
from dmshell.screens.prompt import PromptScreen
from dmshell.screens.sources import SourcesScreen
from dmshell.screens.task_detail import TaskDetailScreen
from dmshell.tui.app import DMShellApp
from dmshell.tui.widgets.command_line import CommandLine
from dmshell.tui.widgets.tables import TaskTable

from .canned import notifications, wait_for_data, wait_until

pytestmark = pytest.mark.asyncio


def make_app(master, **kwargs) -> DMShellApp:
    kwargs.setdefault("clock", lambda: 1_700_000_100.0)
    return DMShellApp(master.addr, interval_ms=100, **kwargs)


async def prompt(pilot, line: str) -> None:
    """``:``, the line (typed in one go: typing key by key is the console test's job), ``enter``."""
    await pilot.press("colon")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, PromptScreen), what="the prompt")
    pilot.app.screen.query_one(CommandLine).input.value = line
    await pilot.press("enter")


def task_names(table: TaskTable) -> list[str]:
    return [str(row.value) for row in table.rows]


async def test_colon_runs_a_dmctl_line_and_reports_it(master):
    app = make_app(master)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await wait_for_data(pilot)
        before = len(master.calls("QueryStatus"))
        await prompt(pilot, "query-status billing")
        await wait_until(pilot, lambda: bool(app.console_entries), what="the result")
        (entry,) = app.console_entries
        assert entry.line == "query-status billing" and entry.origin == "prompt"
        assert entry.result.ok and '"result": true' in entry.result.output
        req = master.calls("QueryStatus")[before:][-1]
        assert req.name == "billing"
        assert isinstance(app.screen, DashboardScreen)  # the prompt closed, the view stayed
        assert ("information", "query-status: ok") in [(s, t) for s, t, _ in notifications(app)]
        assert app.prompt_history == ["query-status billing"]


async def test_colon_malformed_unknown_and_refused_lines_say_so(master):
    app = make_app(master, read_only=True)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await wait_for_data(pilot)
        await prompt(pilot, 'query-status "billing')
        await wait_until(pilot, lambda: len(app.console_entries) == 1, what="malformed")
        assert "malformed command line: No closing quotation" in app.console_entries[0].note
        await prompt(pilot, "frobnicate now")
        await wait_until(pilot, lambda: len(app.console_entries) == 2, what="unknown")
        unknown = app.console_entries[1].result
        assert not unknown.ok and 'unknown command "frobnicate" for "dmctl"' in unknown.output
        await prompt(pilot, "pause-task billing")
        await wait_until(pilot, lambda: len(app.console_entries) == 3, what="refused")
        assert app.console_entries[2].note == "refused: read-only mode (pause-task changes the cluster)"
        assert master.calls("OperateTask") == []
        shown = notifications(app)
        assert [(s, t) for s, t, _ in shown] == [
            ("error", "malformed command"),
            ("error", "frobnicate: failed"),
            ("warning", "refused"),
        ]
        assert isinstance(app.screen, DashboardScreen)  # nothing crashed, nothing froze
        await pilot.press("down")
        assert app.screen.query_one("#tasks", TaskTable).current_key == "billing"


async def test_colon_destructive_command_asks_first(master):
    app = make_app(master)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_data(pilot)
        await prompt(pilot, "stop-task archive")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirmation")
        assert app.screen.command == f"dmctl --master-addr={master.addr} stop-task archive"
        await pilot.press("n")
        await wait_until(pilot, lambda: bool(app.console_entries), what="cancelled entry")
        assert app.console_entries[0].note == "cancelled" and master.calls("OperateTask") == []
        await prompt(pilot, "stop-task archive")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirmation")
        await pilot.press("y")
        await wait_until(pilot, lambda: bool(master.calls("OperateTask")), what="OperateTask")
        req = master.last("OperateTask")
        assert (req.op, req.name) == (pb.Delete, "archive")


async def test_colon_view_words_and_pasted_dmctl_lines(master):
    app = make_app(master)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_data(pilot)
        await prompt(pilot, "sources")
        await wait_until(pilot, lambda: isinstance(app.screen, SourcesScreen), what="sources view")
        await prompt(pilot, "task billing")
        await wait_until(pilot, lambda: isinstance(app.screen, TaskDetailScreen), what="task view")
        assert app.screen.task_name == "billing" and app.current_mode == "dashboard"
        await prompt(pilot, f"dmctl --master-addr={master.addr} resume-task billing")
        await wait_until(pilot, lambda: bool(master.calls("OperateTask")), what="OperateTask")
        assert (master.last("OperateTask").op, master.last("OperateTask").name) == (pb.Resume, "billing")


async def test_refused_action_is_shown_with_the_masters_reason(master):
    master.set(
        "OperateTask",
        m.OperateTaskResponse(
            result=False,
            msg="[code=38032:class=dm-master:scope=internal:level=high], Message: task billing has "
            "not been started",
        ),
    )
    app = make_app(master)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await wait_for_data(pilot)
        await pilot.press("down", "p", "y")
        await wait_until(pilot, lambda: bool(app.command_log), what="the outcome")
        assert app.command_log[0].endswith(
            "# failed: [code=38032:class=dm-master:scope=internal:level=high], "
            "Message: task billing has not been started"
        )
        severity, title, message = notifications(app)[-1]
        assert (severity, title) == ("error", "refused") and "task billing has not been started" in message
        assert app.console_entries[-1].origin == "action" and not app.console_entries[-1].ok


async def test_console_completes_from_the_registry_and_the_stream(master):
    app = make_app(master)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_data(pilot)
        await pilot.press("3")
        await wait_until(pilot, lambda: isinstance(app.screen, ConsoleScreen), what="console")
        line = app.screen.query_one(CommandLine)
        await pilot.press(*"query-st", "tab")
        assert line.input.value == "query-status "
        await pilot.press("s", "tab")
        assert line.input.value == "query-status shop-merge "
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(app.console_entries), what="output")
        assert app.console_entries[0].result.ok
        assert master.calls("QueryStatus")[-1].name == "shop-merge"
        await pilot.press(*"pause", "tab")  # pause-task and pause-relay: the common prefix, then cycle
        assert line.input.value == "pause-"
        await pilot.press("tab")
        assert line.input.value == "pause-task "
        await pilot.press("tab")
        assert line.input.value == "pause-relay "
        await pilot.press("ctrl+u", "up")  # history
        assert line.input.value == "query-status shop-merge"
        await pilot.press("ctrl+u", "escape")
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), what="back to the dashboard")


async def test_palette_command_opens_the_prompt_with_it(master):
    from textual.command import CommandList

    app = make_app(master)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_data(pilot)
        await pilot.press("ctrl+p", *"check-task")

        def first_hit() -> str:
            hits = app.screen.query(CommandList)
            if not hits or not hits.first().option_count:
                return ""
            return str(hits.first().get_option_at_index(0).prompt)

        await wait_until(pilot, lambda: first_hit().startswith("check-task"), what="the palette hit")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, PromptScreen), what="the prompt")
        assert app.screen.query_one(CommandLine).input.value == "check-task "


@pytest.mark.parametrize("view", ["4", "5"])
async def test_palette_works_on_the_ddl_lock_and_error_views(master, view):
    """Their list of dmctl commands once shadowed Textual's ``Screen.COMMANDS`` (palette providers)."""
    from textual.command import CommandList

    from dmshell.screens.ddl_locks import DDLLocksScreen
    from dmshell.screens.reserved import ReservedScreen

    app = make_app(master)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_data(pilot)
        await pilot.press(view)
        screen = DDLLocksScreen if view == "4" else ReservedScreen
        await wait_until(pilot, lambda: isinstance(app.screen, screen), what="the view")
        await pilot.press("ctrl+p", *"check-task")

        def first_hit() -> str:
            hits = app.screen.query(CommandList)
            if not hits or not hits.first().option_count:
                return ""
            return str(hits.first().get_option_at_index(0).prompt)

        await wait_until(pilot, lambda: first_hit().startswith("check-task"), what="the palette hit")


async def test_slash_filters_the_tasks(master):
    app = make_app(master)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_data(pilot)
        table = app.screen.query_one("#tasks", TaskTable)
        await pilot.press("slash", *"shop")
        await wait_until(pilot, lambda: task_names(table) == ["shop-merge"], what="filtered")
        await pilot.press("enter")
        assert table.has_focus and table.current_key == "shop-merge"
        await pilot.press("slash", "ctrl+u", *"!^(shop|bill)")
        await wait_until(pilot, lambda: task_names(table) == ["archive"], what="inverted regex")
        await pilot.press("ctrl+u", *"Error")  # matches the stage too
        await wait_until(pilot, lambda: task_names(table) == ["billing"], what="by stage")
        await pilot.press("escape")
        await wait_until(
            pilot, lambda: task_names(table) == ["archive", "billing", "shop-merge"], what="cleared"
        )
        assert not app.screen.query_one("#filter").display


async def test_commands_while_the_master_is_gone_fail_with_a_message(master):
    app = make_app(master, backoff=(60,))
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await wait_for_data(pilot)
        master.stop()
        await wait_until(pilot, lambda: app.connected is False, what="the disconnection")
        await prompt(pilot, "query-status")
        await wait_until(pilot, lambda: bool(app.console_entries), timeout=15, what="the failure")
        result = app.console_entries[0].result
        assert not result.ok and "can't connect to" in result.summary
        await pilot.press("down", "p", "y")
        await wait_until(pilot, lambda: bool(app.command_log), timeout=15, what="the task operation")
        # the same text as the dmctl line's: the client layer renders it once
        unreachable = "[code=48001:class=dmctl:scope=internal:level=high], Message: can't connect to"
        assert f"# failed: {unreachable} {master.addr}" in app.command_log[0]
        titles = [title for _, title, _ in notifications(app)]
        assert titles == ["query-status: failed", "failed"]
        assert app.banner.startswith(f"⚠ lost the master at {master.addr}")
