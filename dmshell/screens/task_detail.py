"""Task detail: one panel per source with its unit pipeline, positions, lag and errors."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from dmshell.proto import dmworker_pb2 as pb
from dmshell.screens._base import StatusScreen
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
        Binding(
            "e",
            "resolve",
            "Resolve error",
            show=False,  # (the footer's snapshots stay as they are; ? lists it)
            tooltip="Open the guided resolution of this task's error",
        ),
    ]

    def __init__(self, task: str) -> None:
        super().__init__()
        self.task_name = task

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
            panels.remove_children()
            return
        title.append(f"   mode {view.mode or '—'}   ")
        title.append_text(stage_text(view.status, palette))
        if view.error_count:
            title.append("   ")
            title.append_text(error_badge(view.error_count, palette))
        title.append(f"   sources {len(view.subtasks)}")
        self.query_one("#title", Static).update(title)

        history = self.shell.history

        def series(st: SubtaskView) -> tuple[tuple[float, ...], tuple[float, ...]]:
            return (
                history.subtask_lag(view.name, st.source),
                history.subtask_rate(view.name, st.source, st.unit),
            )

        wanted = [_panel_id(st.source) for st in view.subtasks]
        existing = {child.id: child for child in panels.children if isinstance(child, SubtaskPanel)}
        if list(existing) != wanted:
            panels.remove_children()
            panels.mount_all(
                SubtaskPanel(st, view.mode, palette, *series(st), id=pid)
                for st, pid in zip(view.subtasks, wanted, strict=True)
            )
            return
        for st, pid in zip(view.subtasks, wanted, strict=True):
            existing[pid].show(st, view.mode, palette, *series(st), force=force)

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_resolve(self) -> None:
        view = self.shell.snapshot.task(self.task_name)
        failing = next((st for st in view.subtasks if st.errors), None) if view is not None else None
        if failing is None:
            self.notify("No source of this task reports an error.")
            return
        from dmshell.screens.errors import ResolutionScreen  # (imported when first used: start-up time)

        self.app.push_screen(ResolutionScreen(self.task_name, failing.source))

    def action_task_op(self, op: str) -> None:
        self.shell.request_task_op(pb.TaskOp.Value(op), self.task_name)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action == "task_op" and self.shell.read_only)
