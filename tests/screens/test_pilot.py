"""Pilot tests: drive the TUI with keys against the fake master (real gRPC, real stream thread)."""

from __future__ import annotations

import pytest
from textual.command import CommandList

from dmshell.proto import dmmaster_pb2 as m
from dmshell.proto import dmworker_pb2 as pb
from dmshell.screens.confirm import ConfirmScreen
from dmshell.screens.dashboard import DashboardScreen
from dmshell.screens.help import HelpScreen
from dmshell.screens.task_detail import TaskDetailScreen
from dmshell.tui.app import DMShellApp
from dmshell.tui.widgets.banner import StaleBanner
from dmshell.tui.widgets.tables import TaskTable

from .canned import canned_status, many_tasks, wait_for_data, wait_until

pytestmark = pytest.mark.asyncio

NOW = 1_700_000_100.0


def make_app(master, **kwargs) -> DMShellApp:
    kwargs.setdefault("clock", lambda: NOW)
    return DMShellApp(master.addr, interval_ms=100, **kwargs)


def task_names(table: TaskTable) -> list[str]:
    return [str(row.value) for row in table.rows]


async def test_enter_opens_detail_and_escape_returns_with_cursor_kept(master):
    app = make_app(master)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_data(pilot)
        table = app.screen.query_one("#tasks", TaskTable)
        assert task_names(table) == ["archive", "billing", "shop-merge"]
        await pilot.press("down", "down")
        assert table.current_key == "shop-merge"
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, TaskDetailScreen), what="detail")
        assert app.screen.task_name == "shop-merge"
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), what="dashboard")
        assert app.screen.query_one("#tasks", TaskTable).current_key == "shop-merge"


async def test_pause_asks_with_dmctl_command_then_calls_operate_task(master):
    app = make_app(master)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_data(pilot)
        await pilot.press("down", "down", "p")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirmation")
        assert app.screen.command == f"dmctl --master-addr={master.addr} pause-task shop-merge"
        assert master.calls("OperateTask") == []  # nothing happens before the answer
        await pilot.press("y")
        await wait_until(pilot, lambda: bool(master.calls("OperateTask")), what="OperateTask")
        (req,) = master.calls("OperateTask")
        assert (req.op, req.name, list(req.sources)) == (pb.Pause, "shop-merge", [])
        await wait_until(pilot, lambda: bool(app.command_log), what="command log")
        assert app.command_log == [f"dmctl --master-addr={master.addr} pause-task shop-merge  # ok"]


async def test_stop_cancelled_sends_nothing_and_enter_defaults_to_cancel(master):
    app = make_app(master)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_data(pilot)
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirmation")
        assert "stop-task archive" in app.screen.command
        await pilot.press("enter")  # Cancel has the focus on a destructive question
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), what="dashboard")
        await pilot.press("r", "n")
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), what="dashboard")
        await pilot.pause(0.2)
        assert master.calls("OperateTask") == []


async def test_resume_from_detail_screen(master):
    app = make_app(master)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_data(pilot)
        app.open_task("billing")
        await wait_until(pilot, lambda: isinstance(app.screen, TaskDetailScreen), what="detail")
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirmation")
        await pilot.press("y")
        await wait_until(pilot, lambda: bool(master.calls("OperateTask")), what="OperateTask")
        assert [(r.op, r.name) for r in master.calls("OperateTask")] == [(pb.Resume, "billing")]
        assert isinstance(app.screen, TaskDetailScreen)


async def test_question_mark_opens_help_listing_keys(master):
    app = make_app(master)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_data(pilot)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        described = dict((d, k) for k, d in app.screen.keys)
        assert described["Pause the selected task (asks first)"] == "p"
        assert "q" in described["Quit dmshell (the daemon keeps running)"].split()
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), what="dashboard")


async def test_read_only_disables_actions(master):
    app = make_app(master, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_data(pilot)
        await pilot.press("p", "s")
        await pilot.pause(0.2)
        assert isinstance(app.screen, DashboardScreen)
        app.request_task_op(pb.Stop, "archive")  # the palette path is guarded too
        await pilot.pause(0.1)
        assert isinstance(app.screen, DashboardScreen)
        assert master.calls("OperateTask") == []
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        assert not any("Pause" in description for _, description in app.screen.keys)


async def test_rows_update_in_place_and_cursor_stays(master):
    app = make_app(master)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_data(pilot)
        table = app.screen.query_one("#tasks", TaskTable)
        await pilot.press("down", "down")
        assert str(table.get_cell("shop-merge", "lag")) == "25s BEHIND"
        master.set("QueryStatus", canned_status(shop_lag=12))
        master.push_status(canned_status(shop_lag=12))
        await wait_until(
            pilot, lambda: str(table.get_cell("shop-merge", "lag")) == "12s slow", what="the new lag"
        )
        assert table.current_key == "shop-merge"
        assert task_names(table) == ["archive", "billing", "shop-merge"]


async def test_banner_when_master_goes_away_and_reconnect(master):
    app = make_app(master, backoff=(0.2,))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_data(pilot)
        banner = app.screen.query_one(StaleBanner)
        assert not banner.display
        master.stop()
        await wait_until(pilot, lambda: app.connected is False, what="disconnect")
        assert banner.display
        assert app.banner.startswith(f"⚠ lost the master at {master.addr}")
        assert "data is 0s old" in app.banner  # the clock is frozen
        assert app.snapshot.tasks  # the last data stays on screen
        master.start(port=master.port)
        await wait_until(pilot, lambda: app.connected is True, what="reconnect")
        await wait_until(pilot, lambda: not banner.display, what="banner hidden")


async def test_stale_banner_counts_data_age():
    now = [NOW]
    app = DMShellApp("127.0.0.1:1", clock=lambda: now[0], backoff=(60,))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.connected is False, timeout=15, what="connection failure")
        assert app.banner.startswith("⚠ cannot reach the master at 127.0.0.1:1")
        assert "data is" not in app.banner  # nothing was ever received
        app.last_update = NOW
        now[0] = NOW + 75
        app._refresh_banner()
        assert "data is 1m15s old" in app.banner


async def test_palette_offers_task_actions(master):
    app = make_app(master)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_data(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"pause-task billing")

        def first_hit() -> str:
            hits = app.screen.query(CommandList)
            if not hits or not hits.first().option_count:
                return ""
            return str(hits.first().get_option_at_index(0).prompt)

        await wait_until(pilot, lambda: first_hit().startswith("pause-task billing\n"), what="palette hit")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirmation")
        assert app.screen.command.endswith("pause-task billing")


@pytest.mark.parametrize(
    "theme,textual_theme",
    [("dark", "textual-dark"), ("light", "textual-light"), ("high-contrast", "dmshell-high-contrast")],
)
async def test_themes(master, theme, textual_theme):
    app = make_app(master, theme_name=theme)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_data(pilot)
        assert app.theme == textual_theme
        assert [p.name for p in app.css_path] == [f"{theme}.tcss"]


async def test_no_color_keeps_meaning_in_words(master, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(master)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_data(pilot)
        assert app.no_color
        table = app.screen.query_one("#tasks", TaskTable)
        assert str(table.get_cell("billing", "err")) == "ERR 1"
        assert str(table.get_cell("billing", "stage")) == "Error"
        assert str(table.get_cell("shop-merge", "lag")) == "25s BEHIND"


async def test_updates_keep_cursor_and_scroll_in_a_long_table(master):
    master.set("QueryStatus", many_tasks(0))
    master.set("ListTaskConfigs", m.ListTaskConfigsResponse(result=True))
    app = make_app(master)
    async with app.run_test(size=(100, 24)) as pilot:
        await wait_until(pilot, lambda: len(app.snapshot.tasks) == 100, what="100 tasks")
        await pilot.pause()
        table = app.screen.query_one("#tasks", TaskTable)
        table.focus()
        await pilot.press("ctrl+end", "up", "up")
        await pilot.pause()
        key, scroll = table.current_key, table.scroll_y
        assert key == "task-097" and scroll > 50
        lag_before = str(table.get_cell(key, "lag"))
        master.push_status(many_tasks(1))
        await wait_until(pilot, lambda: str(table.get_cell(key, "lag")) != lag_before, what="the update")
        assert (table.current_key, table.scroll_y) == (key, scroll)


def _without_source(resp: m.QueryStatusListResponse, source: str) -> m.QueryStatusListResponse:
    """The status with ``source``'s subtasks gone (what a hung worker's source looks like)."""
    out = m.QueryStatusListResponse()
    out.CopyFrom(resp)
    for src in out.sources:
        if src.sourceStatus.source == source:
            del src.subTaskStatus[:]
            src.result, src.msg = False, "context deadline exceeded"
    return out


async def test_detail_survives_a_source_dropping_out_and_coming_back(master):
    """A SIGSTOPped worker's subtask drops out of the status and returns: the panels were once
    rebuilt with an un-awaited ``remove_children()`` and the new panel hit DuplicateIds."""
    app = make_app(master)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_data(pilot)
        await pilot.press("down", "down", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, TaskDetailScreen), what="detail")
        panel_ids = lambda: [w.id for w in app.screen.query("#panels > SubtaskPanel")]  # noqa: E731
        await wait_until(pilot, lambda: panel_ids() == ["src-mysql-01", "src-mysql-02"], what="panels")
        for _ in range(3):  # back and forth within a few updates
            master.push_status(_without_source(canned_status(), "mysql-02"))
            master.push_status(canned_status())
            master.push_status(_without_source(canned_status(), "mysql-01"))
        master.push_status(canned_status())
        await pilot.pause(0.5)
        await wait_until(pilot, lambda: panel_ids() == ["src-mysql-01", "src-mysql-02"], what="panels back")
        assert app.return_code is None  # still running
