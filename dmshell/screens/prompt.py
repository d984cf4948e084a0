"""The ``:`` prompt (k9s-style): one dmctl line, or a view name, at the bottom of any screen."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from dmshell.tui.dmctl import PROMPT_WORDS, complete_prompt
from dmshell.tui.widgets.command_line import CommandLine

#: Prompt words that switch views instead of running a dmctl command (aliases in PROMPT_WORDS).
VIEW_WORDS = tuple(PROMPT_WORDS)


class PromptScreen(ModalScreen[str | None]):
    """Dismisses with the entered line (None on ``escape``)."""

    DEFAULT_CSS = """
    PromptScreen {
        align: left bottom;
        background: $background 40%;
    }
    PromptScreen > Vertical {
        height: auto;
        width: 100%;
        background: $surface;
        border-top: solid $accent;
    }
    PromptScreen #prompt-hint {
        height: 1;
        padding: 0 1;
        color: $text-muted;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self, values: Callable[[str], Iterable[str]], history: list[str], *, value: str = ""
    ) -> None:
        super().__init__()
        self.values = values
        self.history = history
        self.initial = value

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = ":"
            yield Static(
                Text(
                    "dmctl syntax, e.g. pause-task my-task · go to: "
                    + ", ".join(f"{w} ({a[0]})" for w, a in PROMPT_WORDS.items() if w != "quit")
                    + " · esc cancels"
                ),
                id="prompt-hint",
            )
            yield CommandLine(
                self.values,
                self.history,
                value=self.initial,
                placeholder="query-status · pause-task NAME · sources · task NAME",
                completer=complete_prompt,
                id="prompt-line",
            )

    def on_mount(self) -> None:
        self.query_one(CommandLine).focus()

    def on_command_line_submitted(self, event: CommandLine.Submitted) -> None:
        self.dismiss(event.line or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
