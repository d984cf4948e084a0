"""The dashboard: sources and tasks at a glance, updated live from the status stream.

``/`` filters the tasks (substring or regex over name, mode, stage and unit; a leading ``!``
inverts). At 160+ columns the task under the cursor is previewed on the right; on short
terminals the sources table shrinks to a few rows.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Group, RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Input, Static

from dmshell.proto import dmworker_pb2 as pb
from dmshell.screens._base import StatusScreen
from dmshell.tui.history import window_label
from dmshell.tui.linefilter import line_filter
from dmshell.tui.model import Snapshot, TaskView
from dmshell.tui.widgets.format import LAG_SLOW, RATE_FLOOR, error_badge, stage_text, text_sparkline
from dmshell.tui.widgets.subtask_panel import render_subtask
from dmshell.tui.widgets.tables import SourceTable, TaskTable, width_class


def task_filter(pattern: str) -> Callable[[TaskView], bool]:
    """A predicate on tasks for the ``/`` filter (over name, mode, stage and unit)."""
    keep = line_filter(pattern)
    return lambda task: keep(" ".join((task.name, task.mode, task.status, task.unit)))


class DashboardScreen(StatusScreen):
    """Cluster bar, sources table, tasks table. ``enter`` opens the task under the cursor."""

    DEFAULT_CSS = """
    DashboardScreen .section {
        height: 1;
        padding: 0 1;
        text-style: bold;
    }
    DashboardScreen #sources {
        height: auto;
        max-height: 8;
    }
    DashboardScreen.-short #sources {
        max-height: 4;
    }
    DashboardScreen #main {
        height: 1fr;
    }
    DashboardScreen #task-pane {
        width: 1fr;
    }
    DashboardScreen #tasks {
        height: 1fr;
    }
    DashboardScreen #preview {
        display: none;
        width: 72;
        border-left: solid $primary;
        padding: 0 1;
    }
    DashboardScreen.-wide #preview {
        display: block;
    }
    DashboardScreen #filter {
        display: none;
        height: 1;
        margin: 0 1;
    }
    DashboardScreen #filter.-shown {
        display: block;
    }
    DashboardScreen #empty {
        padding: 0 1;
        display: none;
    }
    DashboardScreen #empty.-shown {
        display: block;
    }
    """

    BINDINGS = [
        Binding("enter", "open_task", "Open", show=True),
        Binding("slash", "filter", "Filter", key_display="/", tooltip="Filter the tasks (regex, ! inverts)"),
        Binding("p", "task_op('Pause')", "Pause", tooltip="Pause the selected task (asks first)"),
        Binding("r", "task_op('Resume')", "Resume", tooltip="Resume the selected task (asks first)"),
        Binding("s", "task_op('Stop')", "Stop", tooltip="Stop the selected task (asks first)"),
        Binding("tab", "focus_next_table", "Switch table", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-normal"), (160, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]

    def __init__(self) -> None:
        super().__init__()
        self.filter_text = ""

    def compose_body(self) -> ComposeResult:
        yield Static("Sources", classes="section", id="sources-title")
        yield SourceTable(id="sources")
        with Horizontal(id="main"):
            with Vertical(id="task-pane"):
                yield Static("Tasks", classes="section", id="tasks-title")
                yield Input(
                    placeholder="filter tasks: text or regex, ! inverts; enter keeps, esc clears",
                    id="filter",
                    compact=True,
                )
                yield TaskTable(id="tasks")
                yield Static("", id="empty", markup=False)
            with VerticalScroll(id="preview"):
                yield Static("", id="preview-text")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#filter", Input).cursor_blink = False
        self.query_one("#tasks", TaskTable).focus()

    def visible_tasks(self, snapshot: Snapshot) -> list[TaskView]:
        pred = task_filter(self.filter_text)
        return [t for t in snapshot.tasks if pred(t)]

    def show_snapshot(self, snapshot: Snapshot, *, force: bool) -> None:
        palette = self.palette
        size = width_class(self.app.size.width)
        history = self.shell.history
        tasks = self.visible_tasks(snapshot)
        self.query_one("#sources", SourceTable).show(snapshot.sources, palette, size=size, force=force)
        self.query_one("#tasks", TaskTable).show(
            tasks, palette, size=size, lag_history=history.task_lag, force=force
        )
        self.query_one("#sources-title", Static).update(f"Sources ({len(snapshot.sources)})")
        title = f"Tasks ({len(snapshot.tasks)})"
        if self.filter_text:
            title = f"Tasks ({len(tasks)} of {len(snapshot.tasks)}, filter /{self.filter_text}/)"
        self.query_one("#tasks-title", Static).update(title)
        empty = self.query_one("#empty", Static)
        hint = ""
        if not snapshot.result and snapshot.msg:
            hint = f"query-status: {snapshot.msg}"
        elif not snapshot.tasks and self.shell.connected:
            hint = "No task yet. Start one with `:start-task task.yaml` (or ctrl+p for commands)."
        elif snapshot.tasks and not tasks:
            hint = f"No task matches /{self.filter_text}/ (esc clears the filter)."
        empty.update(hint)
        empty.set_class(bool(hint), "-shown")
        self._show_preview()

    def _show_preview(self) -> None:
        if width_class(self.app.size.width) != "wide":
            return
        preview = self.query_one("#preview-text", Static)
        key = self.selected_task()
        task = self.shell.snapshot.task(key) if key else None
        if task is None:
            preview.update("")
            return
        palette = self.palette
        head = Text(task.name, style="bold")
        head.append(f"   {task.mode or '—'}   ")
        head.append_text(stage_text(task.status, palette))
        if task.error_count:
            head.append("   ")
            head.append_text(error_badge(task.error_count, palette))
        parts: list[RenderableType] = [head, Text("enter opens the task", style=palette.muted)]
        for st in task.subtasks:
            parts.append(Text(""))
            parts.append(Text(f"{st.source} · worker {st.worker or '—'}", style=f"bold {palette.accent}"))
            parts.append(render_subtask(st, task.mode, palette, self.shell.stall_text(task.name, st)))
            history = self.shell.history
            span = window_label(history.window)
            if st.unit == "Sync":
                lags = history.subtask_lag(task.name, st.source)
                parts.append(
                    Text(f"{'lag ' + span:<10}", style="bold")
                    + Text(text_sparkline(lags, 48, floor=LAG_SLOW), style=palette.accent)
                )
            rate_label = ("rows/s " if st.unit == "Sync" else "bytes/s ") + span
            rates = history.subtask_rate(task.name, st.source, st.unit)
            floor = RATE_FLOOR if st.unit == "Sync" else 0
            if rates:
                parts.append(
                    Text(f"{rate_label:<10}", style="bold")
                    + Text(text_sparkline(rates, 48, floor=floor), style=palette.accent)
                )
        preview.update(Group(*parts))

    def on_resize(self) -> None:
        # The columns depend on the width class; the tables rebuild themselves when those change.
        self.show_snapshot(self.shell.snapshot, force=False)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "tasks":
            self._show_preview()

    # -- filter ------------------------------------------------------------------------------
    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("-shown")
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.filter_text = event.value
            self.show_snapshot(self.shell.snapshot, force=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            if not event.value.strip():
                event.input.remove_class("-shown")
            self.query_one("#tasks", TaskTable).focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if not box.has_class("-shown") and not self.filter_text:
            return
        box.value = ""
        self.filter_text = ""
        box.remove_class("-shown")
        self.query_one("#tasks", TaskTable).focus()
        self.show_snapshot(self.shell.snapshot, force=False)

    # -- actions -----------------------------------------------------------------------------
    def selected_task(self) -> str | None:
        return self.query_one("#tasks", TaskTable).current_key

    def action_open_task(self) -> None:
        name = self.selected_task()
        if name is not None:
            self.shell.open_task(name)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is None:
            return
        if event.data_table.id == "tasks":
            self.shell.open_task(event.row_key.value)
        elif event.data_table.id == "sources":  # Enter on a source opens it in the Sources view
            self.shell.open_source(event.row_key.value)

    def on_descendant_focus(self, _event: object) -> None:
        self.refresh_bindings()  # the task keys belong to the tasks table only

    def action_task_op(self, op: str) -> None:
        name = self.selected_task()
        if name is None:
            self.notify("No task selected.", severity="warning")
            return
        self.shell.request_task_op(pb.TaskOp.Value(op), name)

    def action_focus_next_table(self) -> None:
        tasks = self.query_one("#tasks", TaskTable)
        (self.query_one("#sources", SourceTable) if tasks.has_focus else tasks).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("task_op", "open_task"):
            # One meaning per key: p/r/s act on the task under the cursor, so not while the
            # sources table has the focus (s there once offered "Stop task").
            if self.query_one("#sources", SourceTable).has_focus:
                return False
            return not (action == "task_op" and self.shell.read_only)
        return True
