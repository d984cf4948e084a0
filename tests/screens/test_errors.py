"""The Errors view (5) and the guided resolution against the fake master: what is shown, the exact
dmctl commands previewed and sent, SQL validated before sending, read-only refusal; snapshots."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from textual.widgets import OptionList, Static, TextArea

from dmshell.proto import dmmaster_pb2 as m
from dmshell.proto import dmworker_pb2 as pb
from dmshell.screens.confirm import ConfirmScreen
from dmshell.screens.errors import (
    BinlogEventsScreen,
    FailingEvent,
    OperationsScreen,
    ResolutionScreen,
    SqlEditorScreen,
)
from dmshell.tui.app import DMShellApp
from dmshell.tui.model import ErrorView

from .canned import CLUSTER, canned_status, wait_for_data, wait_until

DDL = "ALTER TABLE `billing`.`invoices` ADD INDEX idx_total (total)"
MESSAGE = (
    "startLocation: [position: (mysql-bin.000006, 77120), gtid-set: 1-101-40], "
    "endLocation: [position: (mysql-bin.000006, 77260), gtid-set: 1-101-41], "
    f"origin SQL: [{DDL}]: fail to handle ddl job for {DDL}"
)
TARGET_SCHEMA = (
    "CREATE TABLE `invoices` (\n  `id` int NOT NULL,\n  `total` int,\n  KEY `idx_total` (`total`)\n)"
)
SCHEMA = "CREATE TABLE `invoices` (\n  `id` int NOT NULL,\n  `total` int,\n  PRIMARY KEY (`id`)\n)"


def ddl_status() -> m.QueryStatusListResponse:
    """The canned status, billing @ mysql-02 paused by a DDL the target rejected."""
    resp = canned_status()
    for src in resp.sources:
        for st in src.subTaskStatus:
            if st.name == "billing":
                del st.result.errors[:]
                st.result.errors.add(
                    ErrCode=36061,
                    ErrClass="sync-unit",
                    ErrScope="downstream",
                    ErrLevel="high",
                    Message=MESSAGE,
                    RawCause="Error 1061 (42000): Duplicate key name 'idx_total'",
                    Workaround="Fix the target so that the DDL can run, or `binlog skip <task>`.",
                )
    return resp


@pytest.fixture
def errors_master(master):
    master.set("QueryStatus", ddl_status())

    def schema(req, _context):
        text = TARGET_SCHEMA if req.fromTarget else SCHEMA
        return m.OperateSchemaResponse(result=True, sources=[pb.CommonWorkerResponse(result=True, msg=text)])

    master.set("OperateSchema", schema)
    master.set(
        "HandleError",
        m.HandleErrorResponse(
            result=True,
            sources=[
                pb.CommonWorkerResponse(
                    result=True,
                    source="mysql-02",
                    msg='op:Skip task:"billing" binlogPos:"mysql-bin.000006:9"',
                )
            ],
        ),
    )
    events = m.ListBinlogEventsResponse(result=True)
    for pos, end, kind, info in [
        (77000, 77042, "Gtid", "BEGIN GTID 1-101-40"),
        (77042, 77120, "Query", "use `billing`; INSERT INTO t VALUES (1)"),
        (77120, 77260, "Query", f"use `billing`; {DDL}"),
        (77260, 77302, "Gtid", "GTID 1-101-42"),
    ]:
        events.events.add(file="mysql-bin.000006", pos=pos, endPos=end, type=kind, info=info)
    master.set("ListBinlogEvents", events)
    return master


def make_app(master, **kwargs) -> DMShellApp:
    return DMShellApp(master.addr, clock=lambda: 1_700_000_100.0, interval_ms=100, **kwargs)


async def open_resolution(pilot) -> ResolutionScreen:
    app = pilot.app
    await wait_for_data(pilot)
    app.master_addr = CLUSTER.masterAddr
    await pilot.press("5")
    await wait_until(
        pilot, lambda: app.current_mode == "errors" and app.screen.query(OptionList), what="view 5"
    )
    await wait_until(pilot, lambda: app.screen.query_one(OptionList).option_count > 0, what="the errors")
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, ResolutionScreen), what="the resolution screen")
    screen = app.screen
    await wait_until(pilot, lambda: screen.target_schema == TARGET_SCHEMA, what="the schemas")
    return screen


@pytest.mark.asyncio
async def test_the_failing_event_is_read_from_dms_annotation() -> None:
    err = ErrorView(36061, "sync-unit", "downstream", "high", MESSAGE, "", "")
    ev = FailingEvent.of(err)
    assert (ev.position, ev.gtid, ev.statement) == ("mysql-bin.000006:77120", "1-101-40", DDL)
    assert ev.table() == ("billing", "invoices")
    assert (
        FailingEvent.of(ErrorView(10006, "database", "", "", "execute statement failed", "", "")).position
        == ""
    )


@pytest.mark.asyncio
async def test_skip_previews_the_exact_command_and_sends_it(errors_master) -> None:
    app = make_app(errors_master)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_resolution(pilot)
        console = Console(width=120, record=True, file=io.StringIO())
        console.print(screen.rendered)
        text = console.export_text()
        assert "mysql-bin.000006:77120" in text and "Duplicate key name" in text
        assert "KEY `idx_total`" in text  # the target's table, next to the tracked one
        assert errors_master.last("OperateSchema").database == "billing"
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        assert app.screen.command == "dmctl --master-addr=127.0.0.1:8261 binlog skip -s mysql-02 billing"
        await pilot.press("y")
        await wait_until(pilot, lambda: bool(errors_master.calls("HandleError")), what="HandleError")
        req = errors_master.last("HandleError")
        assert (req.op, req.task, list(req.sources), req.binlogPos) == (pb.Skip, "billing", ["mysql-02"], "")


@pytest.mark.asyncio
async def test_replace_validates_the_sql_before_sending(errors_master) -> None:
    app = make_app(errors_master)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_resolution(pilot)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, SqlEditorScreen), what="the editor")
        editor = app.screen
        editor.query_one(TextArea).text = "ALTER TABLE billing.invoices ADD INDEX (;"
        await pilot.press("ctrl+s")
        await pilot.pause(0.1)
        assert isinstance(app.screen, SqlEditorScreen)
        assert "invalid statement" in str(editor.query_one("#sql-error", Static).render())
        two = "ALTER TABLE billing.invoices ADD INDEX idx_total2 (total); ALTER TABLE invoices ADD c INT"
        editor.query_one(TextArea).text = two
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        assert "binlog replace -s mysql-02 billing" in app.screen.command
        await pilot.press("y")
        await wait_until(pilot, lambda: bool(errors_master.calls("HandleError")), what="HandleError")
        req = errors_master.last("HandleError")
        assert req.op == pb.Replace and len(req.sqls) == 2 and "idx_total2" in req.sqls[0]


@pytest.mark.asyncio
async def test_registered_operations_are_listed_and_reverted(errors_master) -> None:
    app = make_app(errors_master)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_resolution(pilot)
        await pilot.press("o")
        await wait_until(pilot, lambda: isinstance(app.screen, OperationsScreen), what="the operations")
        ops = app.screen.query_one(OptionList)
        await wait_until(pilot, lambda: ops.option_count == 1, what="the list")
        assert errors_master.last("HandleError").op == pb.List
        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        assert app.screen.command.endswith("binlog revert -s mysql-02 billing -b mysql-bin.000006:9")
        await pilot.press("y")
        await wait_until(pilot, lambda: errors_master.last("HandleError").op == pb.Revert, what="Revert")
        assert errors_master.last("HandleError").binlogPos == "mysql-bin.000006:9"


@pytest.mark.asyncio
async def test_an_event_is_picked_from_the_upstreams_binlog_and_skipped(errors_master) -> None:
    app = make_app(errors_master)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_resolution(pilot)
        await pilot.press("b")
        await wait_until(pilot, lambda: isinstance(app.screen, BinlogEventsScreen), what="the events")
        events = app.screen.query_one(OptionList)
        await wait_until(pilot, lambda: events.option_count == 4, what="the events listed")
        req = errors_master.last("ListBinlogEvents")
        assert (req.source, req.binlogPos) == ("mysql-02", "mysql-bin.000006:77120")
        assert events.highlighted == 2  # the failing event is marked and selected
        await pilot.press("up", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        assert app.screen.command.endswith("binlog skip -s mysql-02 billing -b mysql-bin.000006:77042")
        await pilot.press("y")
        await wait_until(pilot, lambda: bool(errors_master.calls("HandleError")), what="HandleError")
        assert errors_master.last("HandleError").binlogPos == "mysql-bin.000006:77042"


@pytest.mark.asyncio
async def test_the_task_screen_opens_the_resolution(errors_master) -> None:
    app = make_app(errors_master)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_data(pilot)
        app.open_task("billing")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "TaskDetailScreen", what="the task")
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, ResolutionScreen), what="the resolution")
        assert (app.screen.task_name, app.screen.source) == ("billing", "mysql-02")


@pytest.mark.asyncio
async def test_read_only_mode_refuses_the_actions(errors_master) -> None:
    app = make_app(errors_master, read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_resolution(pilot)
        for key in ("s", "r", "f"):
            await pilot.press(key)
            await pilot.pause(0.05)
            assert app.screen is screen
        assert not errors_master.calls("HandleError")


SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("which", ["view", "resolution", "events"])
def test_snapshots(snap_compare, errors_master, size, which) -> None:
    async def run_before(pilot) -> None:
        if which == "view":
            await wait_for_data(pilot)
            pilot.app.master_addr = CLUSTER.masterAddr
            await pilot.press("5")
            await wait_until(pilot, lambda: pilot.app.screen.query(OptionList), what="view 5")
        else:
            await open_resolution(pilot)
        if which == "events":
            await pilot.press("b")
            await wait_until(pilot, lambda: isinstance(pilot.app.screen, BinlogEventsScreen), what="events")
            ops = pilot.app.screen.query_one(OptionList)
            await wait_until(pilot, lambda: ops.option_count == 4, what="the events listed")
        await pilot.pause(0.1)

    assert snap_compare(make_app(errors_master), terminal_size=size, run_before=run_before)
