"""The console: dmctl commands inside the TUI, with completion and highlighted JSON output.

It also lists what the TUI itself did (each action as its dmctl command line with the outcome), so
it doubles as the command log. Lines typed at the ``:`` prompt land here too.
"""

from __future__ import annotations

import json

from rich.console import Group, RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import RichLog

from dmshell.screens._base import StatusScreen
from dmshell.tui.dmctl import ConsoleEntry
from dmshell.tui.model import Snapshot, mask_secrets
from dmshell.tui.widgets.command_line import CommandLine
from dmshell.tui.widgets.format import Palette, yaml_text


def render_output(output: str, *, dark: bool = True) -> RenderableType:
    """Command output: JSON documents highlighted, anything else as plain text. A multi-line string
    in the JSON (``config task NAME``'s ``cfg``, a YAML document) is shown below it as YAML instead
    of one long escaped line."""
    text = output.rstrip("\n")
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        from rich.json import JSON

        try:
            doc = json.loads(stripped)
        except ValueError:
            return Text(text)
        blocks = {}
        if isinstance(doc, dict):
            for key, value in doc.items():
                if isinstance(value, str) and value.count("\n") >= 2:
                    blocks[key] = value
                    doc[key] = f"<{value.count(chr(10))} lines, below>"
        parts: list[RenderableType] = [JSON.from_data(doc, indent=4, ensure_ascii=False)]
        for key, value in blocks.items():
            parts += [Text(f"{key}:", style="bold"), yaml_text(mask_secrets(value), dark=dark)]
        return Group(*parts) if blocks else parts[0]
    return Text(text)


def render_entry(entry: ConsoleEntry, palette: Palette) -> RenderableType:
    """How an entry looks in the console."""
    head = Text()
    if entry.origin == "action":
        head.append("tui ", style=palette.muted)
        head.append(entry.line, style="bold")
        style = palette.ok if entry.ok else f"bold {palette.bad}"
        mark = Text(f"  # {entry.note}" if entry.note else "", style=style)
        return head + mark
    head.append("» ", style=f"bold {palette.accent}")
    head.append(entry.line, style="bold")
    if entry.origin == "prompt":
        head.append("   (from the : prompt)", style=palette.muted)
    parts: list[RenderableType] = [head]
    if entry.result is not None:
        if entry.result.output.strip():
            parts.append(render_output(entry.result.output))
        status = "ok" if entry.result.ok else f"exit {entry.result.exit_code}: {entry.result.summary}"
        parts.append(
            Text(
                ("✓ " if entry.result.ok else "✗ ") + status,
                style=palette.ok if entry.result.ok else f"bold {palette.bad}",
            )
        )
    if entry.note:
        parts.append(Text(entry.note, style=palette.ok if entry.ok else f"bold {palette.bad}"))
    return Group(*parts)


class ConsoleScreen(StatusScreen):
    """Output log on top, a dmctl command line at the bottom."""

    DEFAULT_CSS = """
    ConsoleScreen #console-log {
        height: 1fr;
        padding: 0 1;
        scrollbar-size-vertical: 1;
    }
    ConsoleScreen #console-line {
        border-top: solid $primary;
    }
    """

    BINDINGS = [
        Binding("escape", "back", "Dashboard"),
        Binding("ctrl+l", "clear", "Clear"),
        Binding("pageup", "scroll(-1)", "Scroll up", show=False),
        Binding("pagedown", "scroll(1)", "Scroll down", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._shown = 0

    def compose_body(self) -> ComposeResult:
        yield RichLog(id="console-log", wrap=True, markup=False, highlight=False, min_width=40)
        yield CommandLine(self.shell.completion_values, self.shell.prompt_history, id="console-line")

    def on_mount(self) -> None:
        super().on_mount()
        log = self.query_one("#console-log", RichLog)
        log.write(
            Text(
                "dmctl commands run against the master here (tab completes, ↑ history). "
                "The TUI's own actions are listed too, as dmctl lines.",
                style=self.palette.muted,
            )
        )
        self.watch(self.app, "console_version", self._entries_changed)
        self.query_one(CommandLine).focus()

    def _entries_changed(self, _version: int) -> None:
        log = self.query_one("#console-log", RichLog)
        entries = self.shell.console_entries
        palette = self.palette
        for entry in entries[self._shown :]:
            log.write(render_entry(entry, palette))
        self._shown = len(entries)

    def show_snapshot(self, snapshot: Snapshot, *, force: bool) -> None:
        """The console does not show status; completion reads the latest snapshot when asked."""

    def on_command_line_submitted(self, event: CommandLine.Submitted) -> None:
        if event.line:
            self.shell.run_dmctl(event.line, origin="console")

    def action_back(self) -> None:
        self.shell.switch_view("dashboard")

    def action_clear(self) -> None:
        self.query_one("#console-log", RichLog).clear()

    def action_scroll(self, pages: int) -> None:
        log = self.query_one("#console-log", RichLog)
        log.scroll_to(y=log.scroll_y + pages * max(1, log.size.height - 1), animate=False)
