"""New source: a form, a connection test against the upstream, then ``operate-source create``.

The Create button works only after the test passed for exactly the values in the form. The
password field is masked, and the YAML preview and the dmctl line show ``'******'``.
"""

from __future__ import annotations

import os

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.content import Content
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from dmshell.screens._base import StatusScreen
from dmshell.tui.model import Snapshot
from dmshell.tui.source_check import CheckItem, SourceForm, check_source, passed
from dmshell.tui.widgets.format import yaml_text


class WordCheckbox(Checkbox):
    """A checkbox that reads ``[x]`` / ``[ ]`` when there is no colour (NO_COLOR): Textual's box
    draws the same ``X`` either way and tells the states apart by colour only."""

    @property
    def _button(self) -> Content:
        if not os.environ.get("NO_COLOR"):
            return super()._button
        return Content("[x]" if self.value else "[ ]")


class SourceFormScreen(StatusScreen):
    """``ctrl+t`` tests the connection, ``ctrl+s`` creates the source, ``escape`` goes back."""

    DEFAULT_CSS = """
    SourceFormScreen #form-body {
        height: 1fr;
        padding: 0 1;
    }
    SourceFormScreen #form-title {
        text-style: bold;
        height: 1;
    }
    SourceFormScreen Grid {
        grid-size: 2;
        grid-columns: 14 1fr;
        grid-rows: 1;
        grid-gutter: 0 1;
        height: auto;
        max-width: 80;
    }
    SourceFormScreen Grid Label {
        width: 100%;
        text-align: right;
    }
    SourceFormScreen Grid Input, SourceFormScreen Grid Select {
        width: 1fr;
    }
    SourceFormScreen Grid Checkbox {
        width: auto;
    }
    SourceFormScreen #form-buttons {
        height: 1;
        margin: 1 0 0 0;
    }
    SourceFormScreen #form-buttons Button {
        margin-right: 2;
    }
    SourceFormScreen #check-result {
        margin: 1 0 0 0;
        height: auto;
    }
    """

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("ctrl+t", "test", "Test connection"),
        Binding("ctrl+s", "create", "Create"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.checks: list[CheckItem] = []
        #: the form values the last test ran with (Create needs a passed test for the current values)
        self.tested_key: tuple[object, ...] | None = None
        self.busy = ""
        self.outcome: Text | None = None

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="form-body"):
            yield Static("New source (operate-source create)", id="form-title")
            with Grid():
                yield Label("source-id")
                yield Input(placeholder="mysql-03", id="source-id", compact=True)
                yield Label("host")
                yield Input(value="127.0.0.1", id="host", compact=True)
                yield Label("port")
                yield Input(value="3306", id="port", type="integer", compact=True)
                yield Label("user")
                yield Input(value="root", id="user", compact=True)
                yield Label("password")
                yield Input(password=True, id="password", compact=True)
                yield Label("flavor")
                yield Select(
                    [("detect", ""), ("mysql", "mysql"), ("mariadb", "mariadb")],
                    value="",
                    allow_blank=False,
                    id="flavor",
                    compact=True,
                )
                yield Label("")
                yield WordCheckbox("enable-gtid", id="enable-gtid", compact=True)
                yield Label("")
                yield WordCheckbox("enable-relay", id="enable-relay", compact=True)
            with Horizontal(id="form-buttons"):
                yield Button("Test connection ^t", id="test", compact=True)
                yield Button("Create ^s", id="create", compact=True, variant="primary", disabled=True)
            yield Static("", id="check-result")

    def on_mount(self) -> None:
        super().on_mount()
        for inp in self.query(Input):
            inp.cursor_blink = False
        self.query_one("#source-id", Input).focus()
        self._render_result()

    def show_snapshot(self, snapshot: Snapshot, *, force: bool) -> None:
        """The form does not show status."""

    # -- form values -------------------------------------------------------------------------
    def form(self) -> SourceForm:
        port_text = self.query_one("#port", Input).value.strip()
        flavor = self.query_one("#flavor", Select).value
        return SourceForm(
            source_id=self.query_one("#source-id", Input).value.strip(),
            host=self.query_one("#host", Input).value.strip(),
            port=int(port_text) if port_text.isdigit() else 0,
            user=self.query_one("#user", Input).value.strip(),
            password=self.query_one("#password", Input).value,
            flavor=flavor if isinstance(flavor, str) else "",
            enable_gtid=self.query_one("#enable-gtid", Checkbox).value,
            enable_relay=self.query_one("#enable-relay", Checkbox).value,
        )

    def can_create(self) -> bool:
        form = self.form()
        return (
            not self.busy
            and not form.problems()
            and self.tested_key == form.key
            and passed(self.checks)
            and not self.shell.read_only
        )

    def on_input_changed(self, _event: Input.Changed) -> None:
        self._render_result()

    def on_checkbox_changed(self, _event: Checkbox.Changed) -> None:
        self._render_result()

    def on_select_changed(self, _event: Select.Changed) -> None:
        self._render_result()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "test":
            self.action_test()
        elif event.button.id == "create":
            self.action_create()

    # -- actions -----------------------------------------------------------------------------
    def action_back(self) -> None:
        self.app.pop_screen()

    def action_test(self) -> None:
        form = self.form()
        problems = form.problems()
        if problems:
            self.checks, self.tested_key = [CheckItem("form", False, p) for p in problems], None
            self._render_result()
            return
        self.busy = f"testing the connection to {form.host}:{form.port} ..."
        self.outcome = None
        self._render_result()
        self._run_test(form)

    @work(thread=True, exclusive=True, group="source-test")
    def _run_test(self, form: SourceForm) -> None:
        items = check_source(form)
        self.app.call_from_thread(self._test_done, form, items)

    def _test_done(self, form: SourceForm, items: list[CheckItem]) -> None:
        self.busy = ""
        self.checks, self.tested_key = items, form.key
        self._render_result()
        self.query_one("#check-result").scroll_visible(animate=False)

    def action_create(self) -> None:
        if self.shell.read_only:
            self.notify("Read-only mode: operate-source create is disabled.", severity="warning")
            return
        if not self.can_create():
            self.notify(
                "Run the connection test first (ctrl+t); Create needs every check to pass "
                "for the values in the form.",
                severity="warning",
            )
            return
        form = self.form()
        self.busy = f"creating source {form.source_id} ..."
        self._render_result()
        self.shell.create_source(form, self._create_done)

    def _create_done(self, ok: bool, detail: str) -> None:
        self.busy = ""
        if ok:
            self.app.pop_screen()
            return
        self.outcome = Text(f"✗ the master refused: {detail}", style=f"bold {self.palette.bad}")
        self._render_result()

    # -- rendering ---------------------------------------------------------------------------
    def _render_result(self) -> None:
        palette = self.palette
        form = self.form()
        self.query_one("#create", Button).disabled = not self.can_create()
        parts: list[RenderableType] = []
        if self.busy:
            parts.append(Text(self.busy, style=f"bold {palette.accent}"))
        elif self.checks:
            stale = self.tested_key is not None and self.tested_key != form.key
            title = "Connection test" + (" (for other values: test again)" if stale else "")
            parts.append(Text(title, style="bold"))
            grid = Table.grid(padding=(0, 1))
            grid.add_column(no_wrap=True, width=3, justify="right")
            grid.add_column(no_wrap=True, style="bold")
            grid.add_column(ratio=1)
            for item in self.checks:
                mark = Text("✓" if item.ok else "✗", style=palette.ok if item.ok else f"bold {palette.bad}")
                grid.add_row(mark, item.name, item.detail)
            parts.append(grid)
            if not stale:
                verdict = (
                    "all checks passed: ctrl+s creates the source"
                    if passed(self.checks)
                    else "fix the failed checks, then test again"
                )
                parts.append(Text(verdict, style=palette.ok if passed(self.checks) else palette.warn))
        else:
            parts.append(
                Text(
                    "ctrl+t tests the connection (binlog, server_id, GTID, privileges) before "
                    "anything is saved.",
                    style=palette.muted,
                )
            )
        if self.outcome is not None:
            parts.append(self.outcome)
        parts.append(Text(""))
        parts.append(Text("Equivalent dmctl command (the YAML below, saved as a file):", style=palette.muted))
        parts.append(
            Text(
                self.shell.dmctl_line("operate-source", "create", f"{form.source_id or 'source'}.yaml"),
                style="bold",
            )
        )
        parts.append(yaml_text(form.yaml(), dark=self.app.current_theme.dark))
        self.query_one("#check-result", Static).update(Group(*parts))
