"""Confirmation modal for an action, showing the equivalent dmctl command."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmScreen(ModalScreen[bool]):
    """Asks "really?"; dismisses with True (``y``/Confirm) or False (``n``/``escape``/Cancel)."""

    DEFAULT_CSS = """
    ConfirmScreen {
        align: center middle;
    }
    ConfirmScreen > Vertical {
        width: 72;
        max-width: 100%;
        height: auto;
        border: thick $accent;
        background: $surface;
        padding: 0 1;
    }
    ConfirmScreen #question {
        margin: 1 0;
    }
    ConfirmScreen #command-label {
        color: $text-muted;
    }
    ConfirmScreen #command {
        background: $boost;
        padding: 0 1;
        margin-bottom: 1;
    }
    ConfirmScreen Horizontal {
        height: auto;
        align-horizontal: right;
    }
    ConfirmScreen Button {
        margin-left: 2;
    }
    """

    BINDINGS = [
        Binding("y", "answer(True)", "Confirm"),
        Binding("n", "answer(False)", "Cancel"),
        Binding("escape", "answer(False)", "Cancel", show=False),
    ]

    def __init__(self, title: str, question: str, command: str, *, destructive: bool = False) -> None:
        super().__init__()
        self.title_text = title
        self.question = question
        self.command = command
        self.destructive = destructive

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.title_text
            yield Static(self.question, id="question", markup=False)
            yield Static("Equivalent dmctl command:", id="command-label")
            yield Static(self.command, id="command", markup=False)
            with Horizontal():
                yield Button("Confirm (y)", id="confirm", variant="error" if self.destructive else "primary")
                yield Button("Cancel (n)", id="cancel")

    def on_mount(self) -> None:
        # Enter on a destructive question should not do harm: focus Cancel there.
        self.query_one("#cancel" if self.destructive else "#confirm", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
