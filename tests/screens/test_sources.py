"""The sources screen and the "new source" form: the connection test against real MariaDB servers
(the session fixture), then ``operate-source create`` through the (fake) master."""

from __future__ import annotations

import pytest
from textual.widgets import Checkbox, Input, Select

from dmshell.proto import dmmaster_pb2 as m
from dmshell.screens.confirm import ConfirmScreen
from dmshell.screens.source_form import SourceFormScreen
from dmshell.screens.sources import SourcesScreen
from dmshell.tui.app import DMShellApp
from dmshell.tui.source_check import CheckItem, SourceForm, check_source, passed

from .canned import screen_text, wait_for_data, wait_until

NOW = 1_700_000_100.0


def _form(server, **kwargs) -> SourceForm:
    values = {
        "source_id": "mysql-03",
        "host": server.host,
        "port": server.port,
        "user": server.user,
        "password": server.password,
        "flavor": "mariadb",
        "enable_gtid": True,
    }
    return SourceForm(**(values | kwargs))


def test_check_passes_on_a_replication_ready_upstream(mariadb):
    items = check_source(_form(mariadb.up1))
    # the task checker's server items (dmshell.engine.checker.check_server), one line each
    assert [i.name for i in items] == [
        "connect",
        "version",
        "server_id",
        "binlog",
        "binlog_format",
        "binlog_row_image",
        "GTID",
        "flavor",
        "privileges",
    ]
    assert passed(items), items
    assert items[0].detail.startswith(f"root@127.0.0.1:{mariadb.up1.port} (MariaDB ")
    assert items[4].detail == "mysql binlog_format is ROW"
    assert items[8].detail == "dump privileges of source DB; replication privileges of source DB"


def test_check_names_what_is_wrong_and_never_the_password(mariadb, dbname):
    user, pw = f"u{abs(hash(dbname)) % 10**8}", "s3cret-Pa55"
    mariadb.up1.execute(
        f"CREATE USER '{user}'@'%' IDENTIFIED BY '{pw}'", f"GRANT SELECT ON *.* TO '{user}'@'%'"
    )
    try:
        items = check_source(_form(mariadb.up1, user=user, password=pw, flavor="mysql"))
        by_name = {i.name: i for i in items}
        assert not passed(items)
        assert by_name["flavor"].detail == (
            "flavor is mysql but the server is MariaDB (leave flavor empty to detect it)"
        )
        assert not by_name["privileges"].ok
        assert by_name["privileges"].detail == (
            "lack of RELOAD privilege (Grant the required privileges to the account.); "
            "lack of REPLICATION CLIENT privilege; lack of REPLICATION SLAVE privilege "
            "(Grant the required privileges to the account.)"
        )
        wrong = check_source(_form(mariadb.up1, user=user, password="not-" + pw))
        assert [(i.name, i.ok) for i in wrong] == [("connect", False)]
        assert "Access denied" in wrong[0].detail
        assert all(pw not in i.detail for i in [*items, *wrong])
    finally:
        mariadb.up1.execute(f"DROP USER '{user}'@'%'")


def test_check_reports_an_upstream_that_does_not_answer():
    items = check_source(SourceForm("s", "127.0.0.1", 1, "root", "pw"), timeout=2)
    assert [(i.name, i.ok) for i in items] == [("connect", False)]
    assert "Error 2003" in items[0].detail


@pytest.mark.asyncio
async def test_form_tests_the_connection_then_creates_the_source(master, mariadb):
    up = mariadb.up1
    app = DMShellApp(master.addr, clock=lambda: NOW, interval_ms=100)
    async with app.run_test(size=(100, 50)) as pilot:
        await wait_for_data(pilot)
        await pilot.press("2")
        await wait_until(pilot, lambda: isinstance(app.screen, SourcesScreen), what="sources")
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, SourceFormScreen), what="form")
        await pilot.pause()
        form = app.screen
        await pilot.press(*"mysql-03")
        form.query_one("#port", Input).value = str(up.port)
        form.query_one("#password", Input).focus()
        await pilot.press(*up.password)
        form.query_one("#flavor", Select).value = "mariadb"
        form.query_one("#enable-gtid", Checkbox).value = True
        await pilot.press("ctrl+s")  # not tested yet: nothing is sent
        await pilot.pause(0.2)
        assert master.calls("OperateSource") == [] and isinstance(app.screen, SourceFormScreen)
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: bool(form.checks) and not form.busy, timeout=20, what="the test")
        assert passed(form.checks), form.checks
        text = screen_text(app)
        assert "✓" in text and "privileges" in text and up.password not in text
        assert "password: '******'" in text
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, SourcesScreen), what="the form to close")
        (req,) = master.calls("OperateSource")
        assert req.op == m.StartSource
        assert f'password: "{up.password}"' in req.config[0] and 'source-id: "mysql-03"' in req.config[0]
        assert "enable-gtid: true" in req.config[0] and "flavor: mariadb" in req.config[0]
        action = app.console_entries[-1]
        assert action.line == f"dmctl --master-addr={master.addr} operate-source create mysql-03.yaml"
        assert action.ok and action.origin == "action"
        assert all(up.password not in e.line + e.note for e in app.console_entries)


@pytest.mark.asyncio
async def test_form_keeps_create_disabled_when_a_check_fails_or_values_change(master, mariadb):
    app = DMShellApp(master.addr, clock=lambda: NOW, interval_ms=100)
    async with app.run_test(size=(100, 36)) as pilot:
        await wait_for_data(pilot)
        app.open_source_form()
        await wait_until(pilot, lambda: isinstance(app.screen, SourceFormScreen), what="form")
        await pilot.pause()
        form = app.screen
        form.query_one("#source-id", Input).value = "mysql-04"
        form.query_one("#port", Input).value = str(mariadb.up2.port)
        form.query_one("#password", Input).value = mariadb.up2.password
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: bool(form.checks) and not form.busy, timeout=20, what="the test")
        assert form.can_create()
        form.query_one("#host", Input).value = "localhost"  # other values: test again first
        await pilot.pause()
        assert not form.can_create() and "(for other values: test again)" in screen_text(app)
        form.query_one("#password", Input).value = "wrong"
        await pilot.press("ctrl+t")
        await wait_until(
            pilot,
            lambda: form.tested_key == form.form().key and not form.busy,
            timeout=20,
            what="the second test",
        )
        assert not passed(form.checks) and not form.can_create()
        await pilot.press("ctrl+s")
        await pilot.pause(0.2)
        assert master.calls("OperateSource") == []


@pytest.mark.asyncio
async def test_sources_screen_masks_passwords_and_stops_a_source_after_asking(master):
    configs = {"mysql-01": "source-id: mysql-01\nfrom:\n  host: h\n  password: plain-text-pw\n"}
    master.set("ListSourceConfigs", m.ListSourceConfigsResponse(result=True, sourceConfigs=configs))
    app = DMShellApp(master.addr, clock=lambda: NOW, interval_ms=100)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(
            pilot, lambda: bool(app.source_configs) and bool(app.snapshot.sources), what="sources"
        )
        await pilot.press("2")
        await wait_until(pilot, lambda: isinstance(app.screen, SourcesScreen), what="sources")
        await pilot.pause()
        text = screen_text(app)
        assert "password: '******'" in text and "plain-text-pw" not in text
        assert "dmctl config source mysql-01" in text
        await pilot.press("down", "s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirmation")
        assert app.screen.command == f"dmctl --master-addr={master.addr} operate-source stop mysql-02"
        await pilot.press("y")
        await wait_until(pilot, lambda: bool(master.calls("OperateSource")), what="OperateSource")
        req = master.last("OperateSource")
        assert (req.op, list(req.sourceID)) == (m.StopSource, ["mysql-02"])


@pytest.mark.asyncio
async def test_read_only_has_no_source_changes(master):
    app = DMShellApp(master.addr, clock=lambda: NOW, interval_ms=100, read_only=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_data(pilot)
        await pilot.press("2", "n", "s")
        await pilot.pause(0.2)
        assert isinstance(app.screen, SourcesScreen)
        app.open_source_form()
        app.request_stop_source("mysql-01")
        await pilot.pause(0.2)
        assert isinstance(app.screen, SourcesScreen) and master.calls("OperateSource") == []


@pytest.mark.asyncio
async def test_form_shows_the_masters_refusal_and_stays_open(master):
    refusal = (
        "[code=46002:class=scheduler:scope=internal:level=medium], "
        "Message: source config with ID mysql-01 already exists"
    )
    master.set("OperateSource", m.OperateSourceResponse(result=False, msg=refusal))
    app = DMShellApp(master.addr, clock=lambda: NOW, interval_ms=100)
    async with app.run_test(size=(100, 36), notifications=True) as pilot:
        await wait_for_data(pilot)
        app.open_source_form()
        await wait_until(pilot, lambda: isinstance(app.screen, SourceFormScreen), what="form")
        await pilot.pause()
        form = app.screen
        form.query_one("#source-id", Input).value = "mysql-01"
        form.query_one("#password", Input).value = "pw-never-shown"
        form._test_done(form.form(), [CheckItem("connect", True, "root@127.0.0.1:3306 (MariaDB 11)")])
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: form.outcome is not None, what="the refusal")
        assert isinstance(app.screen, SourceFormScreen)
        text = screen_text(app)
        assert "✗ the master refused: [code=46002" in text and "pw-never-shown" not in text
        assert app.console_entries[-1].note == f"failed: {refusal}"
