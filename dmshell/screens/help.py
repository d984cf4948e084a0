"""``?`` help: the keys that work here, and the dmctl commands (from the command registry)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from dmshell.tui.linefilter import line_filter


class HelpScreen(ModalScreen[None]):
    """Keys for the screen underneath plus every dmctl command with its usage line."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > Vertical {
        width: 100;
        max-width: 100%;
        height: 90%;
        border: thick $accent;
        background: $surface;
    }
    HelpScreen VerticalScroll {
        padding: 0 1;
    }
    HelpScreen #help-filter {
        display: none;
        height: 1;
        margin: 0 1;
    }
    HelpScreen #help-filter.-shown {
        display: block;
    }
    HelpScreen #help-hint {
        height: 1;
        padding: 0 1;
        color: $text-muted;
    }
    """

    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("q", "close", "Close", show=False),
        Binding("question_mark", "close", "Close", show=False),
        Binding("slash", "filter", "Filter", key_display="/", show=False),
        Binding("j", "scroll(1)", "Down", show=False),
        Binding("k", "scroll(-1)", "Up", show=False),
    ]

    def __init__(
        self,
        keys: Sequence[tuple[str, str]],
        commands: Sequence[tuple[str, str, str]],
        notes: Sequence[tuple[str, str]] = (),
    ) -> None:
        """``keys``: (key, description); ``commands``: (name, usage, short help); ``notes``: (example,
        what it does) for the ``:`` prompt."""
        super().__init__()
        self.keys = list(keys)
        self.commands = list(commands)
        self.notes = list(notes)
        self.pattern = ""

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Help"
            yield Input(placeholder="filter: regex, ! inverts; esc clears", id="help-filter", compact=True)
            with VerticalScroll(id="help-body"):
                yield Static(self._render_help(), id="help-text")
            yield Static("esc close · / filter · ↑↓ j k scroll · ctrl+p command palette", id="help-hint")

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def action_filter(self) -> None:
        box = self.query_one("#help-filter", Input)
        box.add_class("-shown")
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.pattern = event.value
        self.query_one("#help-text", Static).update(self._render_help())

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self.query_one("#help-body").focus()

    def action_scroll(self, step: int) -> None:
        self.query_one("#help-body", VerticalScroll).scroll_relative(y=step, animate=False)

    def _render_help(self) -> Group:
        keep = line_filter(self.pattern)
        keys = Table.grid(padding=(0, 2))
        keys.add_column(style="bold", no_wrap=True)
        keys.add_column()
        for key, description in self.keys:
            if not keep(f"{key} {description}"):
                continue
            keys.add_row(Text(key), Text(description))
        parts: list[RenderableType] = [Text("Keys", style="bold underline"), keys, Text("")]
        if self.notes:
            notes = Table.grid(padding=(0, 2))
            notes.add_column(style="bold", no_wrap=True)
            notes.add_column()
            for example, what in self.notes:
                if not keep(f"{example} {what}"):
                    continue
                notes.add_row(Text(example), Text(what))
            parts += [Text("The : prompt and the console (3)", style="bold underline"), notes, Text("")]
        if self.commands:
            cmds = Table.grid(padding=(0, 2))
            cmds.add_column(style="bold", no_wrap=True)
            cmds.add_column()
            for name, usage, short in self.commands:
                if not keep(f"{name} {short} {usage}"):
                    continue
                usage_text = Text(f"\n{usage}", style="dim") if usage else Text("")
                cmds.add_row(Text(name), Text(short) + usage_text)
            title = Text("dmctl commands (also in the command palette, ctrl+p)", style="bold underline")
            parts += [title, cmds]
        return Group(*parts)

    def action_close(self) -> None:
        box = self.query_one("#help-filter", Input)
        if box.has_focus or self.pattern:
            box.value = ""
            box.remove_class("-shown")
            self.query_one("#help-body").focus()
            return
        self.dismiss(None)
