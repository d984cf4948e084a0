"""The dashboard: sources and tasks at a glance, updated live from the status stream."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from dmshell.proto import dmworker_pb2 as pb
from dmshell.screens._base import StatusScreen
from dmshell.screens._data import Snapshot
from dmshell.widgets.tables import SourceTable, TaskTable


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
    DashboardScreen #tasks {
        height: 1fr;
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
        Binding("p", "task_op('Pause')", "Pause", tooltip="Pause the selected task (asks first)"),
        Binding("r", "task_op('Resume')", "Resume", tooltip="Resume the selected task (asks first)"),
        Binding("s", "task_op('Stop')", "Stop", tooltip="Stop the selected task (asks first)"),
        Binding("tab", "focus_next_table", "Switch table", show=False),
    ]

    def compose_body(self) -> ComposeResult:
        yield Static("Sources", classes="section", id="sources-title")
        yield SourceTable(id="sources")
        yield Static("Tasks", classes="section", id="tasks-title")
        yield TaskTable(id="tasks")
        yield Static("", id="empty", markup=False)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#tasks", TaskTable).focus()

    def show_snapshot(self, snapshot: Snapshot, *, force: bool) -> None:
        palette = self.palette
        self.query_one("#sources", SourceTable).show(snapshot.sources, palette, force=force)
        self.query_one("#tasks", TaskTable).show(snapshot.tasks, palette, force=force)
        self.query_one("#sources-title", Static).update(f"Sources ({len(snapshot.sources)})")
        self.query_one("#tasks-title", Static).update(f"Tasks ({len(snapshot.tasks)})")
        empty = self.query_one("#empty", Static)
        hint = ""
        if not snapshot.result and snapshot.msg:
            hint = f"query-status: {snapshot.msg}"
        elif not snapshot.tasks and self.shell.connected:
            hint = "No task yet. Start one with `dmctl start-task task.yaml` (or ctrl+p for commands)."
        empty.update(hint)
        empty.set_class(bool(hint), "-shown")

    def on_resize(self) -> None:
        # The sources table shows task names only when there is room for them.
        self.show_snapshot(self.shell.snapshot, force=True)

    # -- actions -----------------------------------------------------------------------------
    def selected_task(self) -> str | None:
        return self.query_one("#tasks", TaskTable).current_key

    def action_open_task(self) -> None:
        name = self.selected_task()
        if name is not None:
            self.shell.open_task(name)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "tasks" and event.row_key.value is not None:
            self.shell.open_task(event.row_key.value)

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
        return not (action == "task_op" and self.shell.read_only)
