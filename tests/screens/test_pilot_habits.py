"""Pilot tests of the k9s/lazygit habits: ``:`` completion with view words, aliases and names;
``j``/``k`` and column sorting; one meaning per key; Enter on a source; ``d`` describe, ``l`` logs,
``y`` copy; the timeline; a resume confirmed by the status; the playground banner."""

from __future__ import annotations

import pytest

from dmshell.proto import dmmaster_pb2 as m
from dmshell.proto import dmworker_pb2 as pb
from dmshell.screens.confirm import ConfirmScreen
from dmshell.screens.sources import SourcesScreen
from dmshell.screens.task_detail import TaskDetailScreen
from dmshell.screens.text_view import TextViewScreen
from dmshell.tui.app import DMShellApp
from dmshell.tui.dmctl import complete_prompt
from dmshell.tui.widgets.command_line import CommandLine
from dmshell.tui.widgets.tables import SourceTable, TaskTable

from .canned import canned_status, notifications, screen_text, ticking, wait_for_data, wait_until
from .test_pilot_commands import prompt


def make_app(master, **kwargs) -> DMShellApp:
    kwargs.setdefault("clock", lambda: 1_700_000_100.0)
    return DMShellApp(master.addr, interval_ms=100, history_clock=ticking(), **kwargs)


def test_prompt_completes_view_words_aliases_task_names_and_source_ids():
    names = {"task": ["shop-merge", "archive"], "source": ["mysql-01", "mysql-02"]}

    def values(kind: str) -> list[str]:
        return names.get(kind, [])

    first = [c.text for c in complete_prompt("so", values).candidates]
    assert first[:2] == ["sources", "source"]
    assert "source" in first and all(not c.startswith("q") for c in first)
    assert [c.text for c in complete_prompt("task s", values).candidates] == ["shop-merge"]
    assert [c.text for c in complete_prompt("t ", values).candidates] == ["archive", "shop-merge"]
    assert [c.text for c in complete_prompt("source mysql-0", values).candidates] == ["mysql-01", "mysql-02"]
    assert "query-status" in [c.text for c in complete_prompt("query", values).candidates]


@pytest.mark.asyncio
async def test_aliases_go_to_views_tasks_and_sources(master):
    app = make_app(master)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_data(pilot)
        await prompt(pilot, "src")
        await wait_until(pilot, lambda: app.current_mode == "sources", what="sources view")
        await prompt(pilot, "so mysql-02")
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, SourcesScreen)
            and app.screen.query_one("#source-list", SourceTable).current_key == "mysql-02",
            what="mysql-02 selected",
        )
        await prompt(pilot, "t billing")
        await wait_until(pilot, lambda: isinstance(app.screen, TaskDetailScreen), what="task detail")
        assert app.screen.task_name == "billing"


@pytest.mark.asyncio
async def test_jk_sort_and_one_meaning_per_key_on_the_dashboard(master):
    app = make_app(master)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_data(pilot)
        tasks = app.screen.query_one("#tasks", TaskTable)
        await pilot.press("j", "j")
        assert tasks.current_key == "shop-merge"
        await pilot.press("k")
        assert tasks.current_key == "billing"
        await pilot.press("o")  # sort by the first column (task)
        assert tasks.sort_column == "task" and tasks.keys == ["archive", "billing", "shop-merge"]
        await pilot.press("O")
        assert tasks.keys == ["shop-merge", "billing", "archive"]
        assert "task ▼" in [str(c.label) for c in tasks.columns.values()]
        for _ in range(6):  # on to the lag column: a duration sorts by value
            await pilot.press("o")
        assert tasks.sort_column == "lag" and tasks.keys[0] == "shop-merge"
        await pilot.press("tab")  # the sources table: p/r/s are not task keys there
        assert app.screen.query_one("#sources", SourceTable).has_focus
        await pilot.press("s")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.press("down", "enter")  # Enter on a source opens it
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, SourcesScreen)
            and app.screen.query_one("#source-list", SourceTable).current_key == "mysql-02",
            what="the source opened",
        )


@pytest.mark.asyncio
async def test_describe_logs_copy_and_timeline_on_the_task_detail(master):
    master.set(
        "GetCfg", m.GetCfgResponse(result=True, cfg="name: billing\ntarget-database:\n  password: s3cret\n")
    )
    master.set(
        "TaskLog",
        m.TaskLogResponse(
            result=True,
            workers=[
                m.TaskLogLines(worker="worker-2", file="/x/worker-2.log", lines=["a billing", "b billing"])
            ],
        ),
    )
    app = make_app(master)
    copied: list[str] = []
    app.copy_to_clipboard = copied.append  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_data(pilot)
        app.open_task("billing")
        await wait_until(pilot, lambda: isinstance(app.screen, TaskDetailScreen), what="task detail")
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, TextViewScreen), what="describe")
        assert "s3cret" not in app.screen.text and "******" in app.screen.text
        assert master.last("GetCfg").name == "billing"
        await pilot.press("escape", "l")
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, TextViewScreen) and "log" in app.screen.title_text,
            what="logs",
        )
        assert app.screen.text.splitlines() == ["== worker-2: /x/worker-2.log", "a billing", "b billing"]
        await pilot.press("slash", *"^b", "enter")
        assert app.screen.shown() == "b billing"
        await pilot.press("escape", "escape", "y")
        await wait_until(pilot, lambda: bool(copied), what="copy")
        assert "mysql-02 master (mysql-bin.000007, 9120)" in copied[0]
        assert copied[0].splitlines()[-1].endswith("query-status billing")
        # paused on an error: the state line says so (never "syncing"), and the timeline has it
        (st,) = app.snapshot.task("billing").subtasks
        assert app.stall_text("billing", st) == "failed"
        assert app.snapshot.task("billing").progress == "failed"
        assert app.timeline.events("billing")[0].text == "Paused in Sync (first seen)"
        assert "state      failed" in screen_text(app)


@pytest.mark.asyncio
async def test_a_resume_is_judged_by_the_status_not_the_first_answer(master):
    """The master's first look after a resume can still show the old error: that was once
    reported as "refused" with the previous error's text."""
    resp = m.OperateTaskResponse(op=pb.Resume, result=True)
    resp.sources.add(result=False, source="mysql-02", msg="[code=10006:...] Duplicate entry '17'")
    master.set("OperateTask", resp)
    running = canned_status()
    running.sources[1].subTaskStatus[2].stage = pb.Running
    running.sources[1].subTaskStatus[2].ClearField("result")
    master.set("QueryStatus", running)
    app = make_app(master)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_data(pilot)
        app.request_task_op(pb.Resume, "billing")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirmation")
        await pilot.press("y")
        await wait_until(pilot, lambda: bool(app.command_log), what="the outcome")
        assert app.command_log[-1].endswith("resume-task billing  # ok"), app.command_log
        assert ("information", "done") in [(sev, title) for sev, title, _msg in notifications(app)]


@pytest.mark.asyncio
async def test_playground_banner_is_reachable_from_the_tui(master):
    app = make_app(master, about="master: 127.0.0.1:8261\nexport DM_MASTER_ADDR=127.0.0.1:8261")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_data(pilot)
        await prompt(pilot, "pg")
        await wait_until(pilot, lambda: isinstance(app.screen, TextViewScreen), what="the banner")
        assert "export DM_MASTER_ADDR=127.0.0.1:8261" in app.screen.text


def test_console_shows_a_config_as_yaml_not_one_escaped_string():
    from rich.console import Console

    from dmshell.screens.console import render_output

    cfg = "name: shop\\ntask-mode: all\\ntarget-database:\\n  password: x\\n"
    out = '{"result": true, "msg": "", "cfg": "' + cfg + '"}'
    console = Console(width=80, record=True, color_system=None)
    console.print(render_output(out))
    text = console.export_text()
    assert '"cfg": "<4 lines, below>"' in text and "\ntask-mode: all\n" in text
    assert "password: '******'" in text or "password: ******" in text


@pytest.mark.asyncio
async def test_prompt_history_is_the_repls_file_with_ctrl_r(master, tmp_path):
    path = tmp_path / "dmctl_history"
    path.write_text("\n# 2024\n+query-status shop-merge\n\n# 2024\n+pause-task billing\n")
    app = make_app(master, history_file=path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_data(pilot)
        await wait_until(pilot, lambda: len(app.prompt_history) == 2, what="the REPL's history")
        await pilot.press("3")  # the console
        line = app.screen.query_one(CommandLine)
        line.focus()
        await pilot.press(*"query", "ctrl+r")
        assert line.input.value == "query-status shop-merge"
        line.input.value = "list-member"
        await pilot.press("enter")
        await wait_until(pilot, lambda: "+list-member" in path.read_text(), what="the line in the file")
        assert app.prompt_history[-1] == "list-member"


def test_empty_required_fields_say_required():
    from dmshell.tui.source_check import SourceForm

    form = SourceForm(source_id="", host="", port=0, user="", password="")
    assert form.problems() == [
        "source-id: required",
        "host: required",
        "port: required",
        "user: required",
    ]


@pytest.mark.asyncio
async def test_no_color_checkbox_reads_x_or_blank(master, monkeypatch):
    from dmshell.screens.source_form import SourceFormScreen, WordCheckbox

    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(master)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_data(pilot)
        app.open_source_form()
        await wait_until(pilot, lambda: isinstance(app.screen, SourceFormScreen), what="form")
        box = app.screen.query_one(WordCheckbox)
        assert "[ ] enable-gtid" in screen_text(app)
        box.value = True
        await pilot.pause(0.1)
        assert "[x] enable-gtid" in screen_text(app)


@pytest.mark.asyncio
async def test_slash_filters_the_help_and_the_sources(master):
    from dmshell.screens.help import HelpScreen

    app = make_app(master)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_data(pilot)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        await pilot.press("slash", *"binlog")
        text = screen_text(app)
        assert "binlog skip" in text and "query-status" not in text
        await pilot.press("escape", "escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, HelpScreen), what="help closed")
        await pilot.press("2")
        await wait_until(pilot, lambda: isinstance(app.screen, SourcesScreen), what="sources")
        await pilot.press("slash", *"02")
        table = app.screen.query_one("#source-list", SourceTable)
        await wait_until(pilot, lambda: table.keys == ["mysql-02"], what="filtered")
        await pilot.press("enter", "escape")
        await wait_until(pilot, lambda: table.keys == ["mysql-01", "mysql-02"], what="filter cleared")
        assert isinstance(app.screen, SourcesScreen)


@pytest.mark.asyncio
async def test_y_copies_a_sources_position_and_dmctl_line(master):
    app = make_app(master)
    copied: list[str] = []
    app.copy_to_clipboard = copied.append  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_data(pilot)
        app.open_source("mysql-01")
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, SourcesScreen)
            and app.screen.query_one("#source-list", SourceTable).current_key == "mysql-01",
            what="mysql-01",
        )
        await pilot.press("y")
        await wait_until(pilot, lambda: bool(copied), what="copy")
        first, line = copied[0].splitlines()
        assert first == "mysql-01 master (mysql-bin.000003, 48211) 1-101-3377"
        assert line.endswith("operate-source show -s mysql-01")
