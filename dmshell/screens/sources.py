"""Sources: every source with its worker, GTID, relay and binlog position, and its config (masked)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Input, Static

from dmshell.screens._base import StatusScreen
from dmshell.tui.linefilter import line_filter
from dmshell.tui.model import Snapshot, SourceView, mask_secrets
from dmshell.tui.widgets.format import error_badge, position_text, stage_text, yaml_text
from dmshell.tui.widgets.tables import SourceTable, width_class


class SourcesScreen(StatusScreen):
    """Sources table on top, the selected source's config below (passwords masked)."""

    DEFAULT_CSS = """
    SourcesScreen .section {
        height: 1;
        padding: 0 1;
        text-style: bold;
    }
    SourcesScreen #source-list {
        height: auto;
        max-height: 50%;
    }
    SourcesScreen #source-filter {
        display: none;
        height: 1;
        margin: 0 1;
    }
    SourcesScreen #source-filter.-shown {
        display: block;
    }
    SourcesScreen #config-pane {
        height: 1fr;
        padding: 0 1;
    }
    """

    BINDINGS = [
        Binding("escape", "back", "Dashboard"),
        Binding("n", "new_source", "New source", tooltip="Create a source (form with a connection test)"),
        Binding("s", "stop_source", "Stop source", tooltip="Stop (remove) the selected source (asks first)"),
        Binding("enter", "focus_config", "Config", show=False, tooltip="Scroll the config of the source"),
        Binding("tab", "toggle_focus", "Switch pane", show=False),
        Binding(
            "y",
            "copy",
            "Copy",
            show=False,
            tooltip="Copy the source's position, GTID and dmctl line (OSC 52)",
        ),
        Binding(
            "slash", "filter", "Filter", key_display="/", tooltip="Filter the sources (regex, ! inverts)"
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter_text = ""

    def compose_body(self) -> ComposeResult:
        yield Static("Sources", classes="section", id="sources-title")
        yield Input(
            placeholder="filter sources: regex, ! inverts; esc clears", id="source-filter", compact=True
        )
        yield SourceTable(id="source-list")
        yield Static("", classes="section", id="config-title")
        with VerticalScroll(id="config-pane"):
            yield Static("", id="source-config")

    def on_mount(self) -> None:
        super().on_mount()
        self.watch(self.app, "source_configs", lambda _configs: self._show_config(), init=False)
        self.query_one("#source-list", SourceTable).focus()

    def show_snapshot(self, snapshot: Snapshot, *, force: bool) -> None:
        table = self.query_one("#source-list", SourceTable)
        keep = line_filter(self.filter_text)
        sources = [
            src for src in snapshot.sources if keep(" ".join((src.source, src.worker, src.relay, *src.tasks)))
        ]
        table.show(sources, self.palette, size=width_class(self.app.size.width), force=force)
        title = f"Sources ({len(snapshot.sources)})"
        if self.filter_text:
            title = f"Sources ({len(sources)} of {len(snapshot.sources)}, filter /{self.filter_text}/)"
        self.query_one("#sources-title", Static).update(title)
        self._show_config()

    def on_resize(self) -> None:
        # The columns depend on the width class; the table rebuilds itself when they change.
        self.show_snapshot(self.shell.snapshot, force=False)

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_config()

    def select_source(self, source: str) -> None:
        """Put the cursor on ``source`` (Enter on a source in the dashboard)."""
        table = self.query_one("#source-list", SourceTable)
        if source in table.keys:
            table.move_cursor(row=table.keys.index(source), animate=False)
            table.focus()
        self._show_config()

    def selected(self) -> SourceView | None:
        key = self.query_one("#source-list", SourceTable).current_key
        return next((s for s in self.shell.snapshot.sources if s.source == key), None)

    def _show_config(self) -> None:
        source = self.selected()
        title = self.query_one("#config-title", Static)
        body = self.query_one("#source-config", Static)
        palette = self.palette
        if source is None:
            title.update("Config")
            body.update(Text("No source yet. Press n to create one.", style=palette.muted))
            return
        head = Text(f"Source {source.source}", style="bold")
        head.append(f"   dmctl config source {source.source}", style=palette.muted)
        title.update(head)
        text = self.shell.source_configs.get(source.source)
        parts: list[RenderableType] = [self._status_grid(source)]
        if text is None:
            parts.append(Text("(config not received yet)", style=palette.muted))
        else:
            parts.append(yaml_text(mask_secrets(text), dark=self.app.current_theme.dark))
        body.update(Group(*parts))

    def _status_grid(self, source: SourceView) -> Table:
        palette = self.palette
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="bold", no_wrap=True, width=9)
        grid.add_column(ratio=1)
        worker = Text(source.worker or "not bound", style="" if source.worker else palette.warn)
        worker.append(f"   relay {source.relay_text}", style=palette.muted if not source.relay else "")
        grid.add_row("worker", worker)
        if source.msg:
            grid.add_row("message", Text(source.msg, style=palette.warn))
        grid.add_row("binlog", position_text(source.master_binlog, source.master_gtid, palette))
        tasks = Text()
        for name in source.tasks:
            task = self.shell.snapshot.task(name)
            sub = next((st for st in task.subtasks if st.source == source.source), None) if task else None
            if tasks:
                tasks.append(" · ", style=palette.muted)
            tasks.append(f"{name} ")
            tasks.append_text(stage_text(sub.stage if sub else "", palette))
            if sub and sub.errors:
                tasks.append(" ")
                tasks.append_text(error_badge(len(sub.errors), palette))
        grid.add_row("tasks", tasks or Text("none", style=palette.muted))
        grid.add_row("", "")
        return grid

    # -- actions -----------------------------------------------------------------------------
    def action_filter(self) -> None:
        box = self.query_one("#source-filter", Input)
        box.add_class("-shown")
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "source-filter":
            self.filter_text = event.value
            self.show_snapshot(self.shell.snapshot, force=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "source-filter":
            if not event.value.strip():
                event.input.remove_class("-shown")
            self.query_one("#source-list", SourceTable).focus()

    def action_back(self) -> None:
        box = self.query_one("#source-filter", Input)
        if box.has_class("-shown") or self.filter_text:  # esc clears the filter first
            box.value = ""
            self.filter_text = ""
            box.remove_class("-shown")
            self.query_one("#source-list", SourceTable).focus()
            self.show_snapshot(self.shell.snapshot, force=False)
            return
        self.shell.switch_view("dashboard")

    def action_copy(self) -> None:
        source = self.selected()
        if source is None:
            return
        lines = [
            f"{source.source} master {source.master_binlog} {source.master_gtid}".rstrip(),
            self.shell.dmctl_line("operate-source", "show", "-s", source.source),
        ]
        self.app.copy_to_clipboard("\n".join(lines))
        self.notify(f"Copied {source.source}'s position, GTID and dmctl line.", title="copied")

    def action_new_source(self) -> None:
        self.shell.open_source_form()

    def action_stop_source(self) -> None:
        source = self.selected()
        if source is None:
            self.notify("No source selected.", severity="warning")
            return
        self.shell.request_stop_source(source.source)

    def action_focus_config(self) -> None:
        self.query_one("#config-pane").focus()

    def action_toggle_focus(self) -> None:
        table = self.query_one("#source-list", SourceTable)
        (self.query_one("#config-pane") if table.has_focus else table).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action in ("new_source", "stop_source") and self.shell.read_only)
