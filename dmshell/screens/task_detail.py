"""Task detail: one panel per source with its unit pipeline, positions, how far behind and why,
lag and throughput graphs and errors; below them the task's timeline. ``d`` shows the task's
config (passwords masked), ``l`` the worker log lines about it, ``y`` copies positions and GTIDs."""

from __future__ import annotations

import asyncio

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from dmshell.proto import dmworker_pb2 as pb
from dmshell.screens._base import StatusScreen
from dmshell.tui.history import Series
from dmshell.tui.model import Snapshot, SubtaskView
from dmshell.tui.widgets.format import error_badge, human_seconds, stage_text
from dmshell.tui.widgets.subtask_panel import SubtaskPanel

#: timeline lines shown under the panels (newest first)
TIMELINE_LINES = 12


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
    TaskDetailScreen #detail {
        height: 1fr;
        padding: 0 1;
    }
    TaskDetailScreen #panels {
        height: auto;
    }
    TaskDetailScreen #timeline {
        height: auto;
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
        Binding("d", "describe", "Describe", tooltip="The task's config as YAML (passwords masked)"),
        Binding("l", "logs", "Logs", tooltip="The worker log lines about this task"),
        Binding("y", "copy", "Copy", show=False, tooltip="Copy the positions, GTIDs and dmctl line (OSC 52)"),
        Binding("j", "scroll(1)", "Down", show=False),
        Binding("k", "scroll(-1)", "Up", show=False),
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
        self._rebuild_lock = asyncio.Lock()

    def compose_body(self) -> ComposeResult:
        yield Static("", id="title")
        with VerticalScroll(id="detail"):
            yield Vertical(id="panels")
            yield Static("", id="timeline")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#detail").focus()

    def show_snapshot(self, snapshot: Snapshot, *, force: bool) -> None:
        palette = self.palette
        view = snapshot.task(self.task_name)
        title = Text()
        title.append(f"Task {self.task_name}", style="bold")
        panels = self.query_one("#panels", Vertical)
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
        self.query_one("#timeline", Static).update(self._timeline_text())

        wanted = [_panel_id(st.source) for st in view.subtasks]
        existing = {child.id: child for child in panels.children if isinstance(child, SubtaskPanel)}
        if list(existing) != wanted or self._rebuild_lock.locked():
            # Panels come and go (a hung worker's subtask drops out of the status, then returns):
            # rebuild in one awaited step so an id is never mounted while its old panel still exists.
            self._rebuild_panels()
            return
        for st, pid in zip(view.subtasks, wanted, strict=True):
            stall = self.shell.stall_text(view.name, st)
            existing[pid].show(st, view.mode, palette, *self._series(view.name, st), stall=stall, force=force)

    def _series(self, task: str, st: SubtaskView) -> tuple[Series, Series]:
        history = self.shell.history
        return history.subtask_lag(task, st.source), history.subtask_rate(task, st.source, st.unit)

    @work(group="panels", exclusive=False)
    async def _rebuild_panels(self) -> None:
        async with self._rebuild_lock:
            found = self.query("#panels")
            if not found:  # the screen is closing
                return
            panels = found.first(Vertical)
            view = self.shell.snapshot.task(self.task_name)  # the latest, not the one that asked
            subtasks = view.subtasks if view is not None else ()
            wanted = [_panel_id(st.source) for st in subtasks]
            existing = [child.id for child in panels.children if isinstance(child, SubtaskPanel)]
            if existing == wanted or view is None:
                return
            await panels.remove_children()
            await panels.mount_all(
                SubtaskPanel(
                    st,
                    view.mode,
                    self.palette,
                    *self._series(view.name, st),
                    stall=self.shell.stall_text(view.name, st),
                    id=pid,
                )
                for st, pid in zip(subtasks, wanted, strict=True)
            )

    @work(group="panels", exclusive=False)
    async def _clear_panels(self) -> None:
        async with self._rebuild_lock:
            found = self.query("#panels")
            if found:  # not when the screen is closing
                await found.first(Vertical).remove_children()

    def _timeline_text(self) -> Text:
        palette = self.palette
        events = self.shell.timeline.events(self.task_name)[-TIMELINE_LINES:]
        out = Text("Timeline", style="bold underline")
        if not events:
            out.append("\n(nothing yet)", style=palette.muted)
        now = self.shell.history.end
        kind_style = {"error": palette.bad, "worker": palette.warn, "action": palette.accent}
        for e in reversed(events):
            ago = f"{human_seconds(now - e.at)} ago" if now > e.at else "now"
            out.append(f"\n{ago:>11}  ", style=palette.muted)
            out.append(f"{e.source or 'all':<10} ", style="bold")
            out.append(e.text, style=kind_style.get(e.kind, ""))
        return out

    def action_scroll(self, step: int) -> None:
        self.query_one("#detail", VerticalScroll).scroll_relative(y=step, animate=False)

    def action_describe(self) -> None:
        self.shell.describe_task(self.task_name)

    def action_logs(self) -> None:
        self.shell.show_task_log(self.task_name)

    def action_copy(self) -> None:
        view = self.shell.snapshot.task(self.task_name)
        if view is None:
            return
        lines = []
        for st in view.subtasks:
            for label, pos, gtid in (
                ("master", st.master_binlog, st.master_gtid),
                ("read", st.read_binlog, st.read_gtid),
                ("checkpoint", st.syncer_binlog, st.syncer_gtid),
            ):
                if pos or gtid:
                    lines.append(f"{st.source} {label} {pos} {gtid}".rstrip())
        lines.append(self.shell.dmctl_line("query-status", self.task_name))
        self.app.copy_to_clipboard("\n".join(lines))
        self.notify(f"Copied {len(lines)} line(s): positions, GTIDs and the dmctl line.", title="copied")

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
