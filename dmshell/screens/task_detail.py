"""Task detail: one panel per source with its unit pipeline, positions, lag and errors."""

from __future__ import annotations

import asyncio

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from dmshell.proto import dmworker_pb2 as pb
from dmshell.screens._base import StatusScreen
from dmshell.tui.history import Series
from dmshell.tui.model import Snapshot, SubtaskView
from dmshell.tui.widgets.format import error_badge, stage_text
from dmshell.tui.widgets.subtask_panel import SubtaskPanel


def _panel_id(source: str) -> str:
    return "src-" + "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in source)


class TaskDetailScreen(StatusScreen):
    """Everything ``query-status <task>`` says, one panel per source."""

    DEFAULT_CSS = """
    TaskDetailScreen #title {
        height: 1;
        padding: 0 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    TaskDetailScreen #panels {
        height: 1fr;
        padding: 0 1;
    }
    TaskDetailScreen.-wide #panels {
        layout: grid;
        grid-size: 2;
        grid-gutter: 0 1;
        grid-rows: auto;
    }
    TaskDetailScreen.-tall GraphBars {
        height: 3;
    }
    TaskDetailScreen.-very-tall GraphBars {
        height: 5;
    }
    """

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (160, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (40, "-tall"), (56, "-very-tall")]

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("backspace", "back", "Back", show=False),
        Binding("p", "task_op('Pause')", "Pause", tooltip="Pause this task (asks first)"),
        Binding("r", "task_op('Resume')", "Resume", tooltip="Resume this task (asks first)"),
        Binding("s", "task_op('Stop')", "Stop", tooltip="Stop this task (asks first)"),
    ]

    def __init__(self, task: str) -> None:
        super().__init__()
        self.task_name = task
        self._rebuild_lock = asyncio.Lock()

    def compose_body(self) -> ComposeResult:
        yield Static("", id="title")
        yield VerticalScroll(id="panels")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#panels").focus()

    def show_snapshot(self, snapshot: Snapshot, *, force: bool) -> None:
        palette = self.palette
        view = snapshot.task(self.task_name)
        title = Text()
        title.append(f"Task {self.task_name}", style="bold")
        panels = self.query_one("#panels", VerticalScroll)
        if view is None:
            title.append("  — not reported by the master (stopped or removed?)")
            self.query_one("#title", Static).update(title)
            self._clear_panels()
            return
        title.append(f"   mode {view.mode or '—'}   ")
        title.append_text(stage_text(view.status, palette))
        if view.error_count:
            title.append("   ")
            title.append_text(error_badge(view.error_count, palette))
        title.append(f"   sources {len(view.subtasks)}")
        self.query_one("#title", Static).update(title)

        wanted = [_panel_id(st.source) for st in view.subtasks]
        existing = {child.id: child for child in panels.children if isinstance(child, SubtaskPanel)}
        if list(existing) != wanted:
            # Panels come and go (a hung worker's subtask drops out of the status, then returns):
            # rebuild in one awaited step so an id is never mounted while its old panel still exists.
            self._rebuild_panels()
            return
        for st, pid in zip(view.subtasks, wanted, strict=True):
            existing[pid].show(st, view.mode, palette, *self._series(view.name, st), force=force)

    def _series(self, task: str, st: SubtaskView) -> tuple[Series, Series]:
        history = self.shell.history
        return history.subtask_lag(task, st.source), history.subtask_rate(task, st.source, st.unit)

    @work(group="panels", exclusive=False)
    async def _rebuild_panels(self) -> None:
        async with self._rebuild_lock:
            panels = self.query_one("#panels", VerticalScroll)
            view = self.shell.snapshot.task(self.task_name)  # the latest, not the one that asked
            subtasks = view.subtasks if view is not None else ()
            wanted = [_panel_id(st.source) for st in subtasks]
            existing = [child.id for child in panels.children if isinstance(child, SubtaskPanel)]
            if existing == wanted or view is None:
                return
            await panels.remove_children()
            await panels.mount_all(
                SubtaskPanel(st, view.mode, self.palette, *self._series(view.name, st), id=pid)
                for st, pid in zip(subtasks, wanted, strict=True)
            )

    @work(group="panels", exclusive=False)
    async def _clear_panels(self) -> None:
        async with self._rebuild_lock:
            await self.query_one("#panels", VerticalScroll).remove_children()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_task_op(self, op: str) -> None:
        self.shell.request_task_op(pb.TaskOp.Value(op), self.task_name)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action == "task_op" and self.shell.read_only)
