"""Views whose full workflows come later, already in the navigation and fed by the registry:
errors (``5``). Each lists what the status stream says now and the dmctl
commands (from the one registry) that act on it, ready for the ``:`` prompt."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from dmshell.screens._base import StatusScreen
from dmshell.tui.model import Snapshot
from dmshell.tui.widgets.format import Palette


def registry_usage(paths: tuple[str, ...]) -> list[tuple[str, str]]:
    """(use line, short help) of registry commands; missing ones are skipped."""
    try:
        from dmshell.ctl import registry  # the whole command tree: loaded when the view opens (start-up)
        from dmshell.ctl.command import use_line
    except Exception:
        return []
    out = []
    for path in paths:
        cmd = registry.get(path)
        if cmd is not None:
            out.append((use_line(cmd), cmd.short))
    return out


class ReservedScreen(StatusScreen):
    """A list of what needs attention plus the commands for it."""

    TITLE_TEXT = ""
    DMCTL_COMMANDS: tuple[str, ...] = ()
    COMING = ""

    DEFAULT_CSS = """
    ReservedScreen #reserved-body {
        height: 1fr;
        padding: 0 1;
    }
    """

    BINDINGS = [Binding("escape", "back", "Dashboard")]

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="reserved-body"):
            yield Static("", id="reserved-text")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#reserved-body").focus()

    def show_snapshot(self, snapshot: Snapshot, *, force: bool) -> None:
        palette = self.palette
        parts: list[RenderableType] = [Text(self.TITLE_TEXT, style="bold underline"), Text("")]
        parts += self.items(snapshot, palette)
        parts += [Text(""), Text("Commands (type them at the : prompt or in the console, 3)", style="bold")]
        for use, short in registry_usage(self.DMCTL_COMMANDS):
            parts.append(Text("  " + use.removeprefix("dmctl "), style=palette.accent) + Text(f"   {short}"))
        parts += [Text(""), Text(self.COMING, style=palette.muted)]
        self.query_one("#reserved-text", Static).update(Group(*parts))

    def items(self, snapshot: Snapshot, palette: Palette) -> list[RenderableType]:
        raise NotImplementedError

    def action_back(self) -> None:
        self.shell.switch_view("dashboard")


class ErrorsScreen(ReservedScreen):
    TITLE_TEXT = "Errors"
    DMCTL_COMMANDS = (
        "query-status",
        "resume-task",
        "binlog skip",
        "binlog replace",
        "binlog inject",
        "binlog list",
    )
    COMING = (
        "Guided resolution (the failing event and SQL, skip / replace / inject with a preview) " "comes here."
    )

    def items(self, snapshot: Snapshot, palette: Palette) -> list[RenderableType]:
        out: list[RenderableType] = []
        for task in snapshot.tasks:
            for st in task.subtasks:
                for err in st.errors:
                    out.append(
                        Text(f"{task.name} @ {st.source}  ", style="bold")
                        + Text(err.header, style=f"bold {palette.bad}")
                    )
                    out.append(Text(f"  {err.message}"))
                    if err.raw_cause:
                        out.append(Text(f"  RawCause: {err.raw_cause}"))
                    if err.workaround:
                        out.append(Text(f"  Workaround: {err.workaround}", style=palette.accent))
        return out or [Text("No errors reported.", style=palette.ok)]
