"""A full-screen text viewer: a task's config (``d``), its worker log (``l``), the playground's
banner. ``/`` filters the lines (regex or substring, ``!`` inverts), ``j``/``k`` scroll, ``y``
copies the text (OSC 52: works over SSH), ``r`` reloads when the caller gave a loader."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Static

from dmshell.tui.linefilter import line_filter
from dmshell.tui.widgets.format import yaml_text


class TextViewScreen(ModalScreen[None]):
    """``title`` over ``text``; YAML is highlighted when ``yaml`` is set."""

    DEFAULT_CSS = """
    TextViewScreen {
        align: center middle;
    }
    TextViewScreen > Vertical {
        width: 100%;
        height: 100%;
        border: round $accent;
        background: $surface;
    }
    TextViewScreen #text-body {
        padding: 0 1;
    }
    TextViewScreen #text-filter {
        display: none;
        height: 1;
        border: none;
        padding: 0 1;
    }
    TextViewScreen #text-filter.-shown {
        display: block;
    }
    """

    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("q", "close", "Close", show=False),
        Binding("slash", "filter", "Filter", key_display="/", tooltip="Show only the lines matching"),
        Binding("j", "scroll(1)", "Down", show=False),
        Binding("k", "scroll(-1)", "Up", show=False),
        Binding("y", "copy", "Copy", tooltip="Copy the text shown (OSC 52, works over SSH)"),
        Binding("r", "reload", "Reload", tooltip="Load the text again"),
    ]

    def __init__(
        self, title: str, text: str, *, yaml: bool = False, loader: Callable[[], str] | None = None
    ) -> None:
        super().__init__()
        self.title_text = title
        self.text = text
        self.yaml = yaml
        self.loader = loader
        self.pattern = ""

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.title_text
            yield Input(placeholder="filter lines: regex, ! inverts, esc clears", id="text-filter")
            with VerticalScroll(id="text-body"):
                yield Static("", id="text")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._show()
        self.query_one("#text-body").focus()

    def shown(self) -> str:
        keep = line_filter(self.pattern)
        return "\n".join(line for line in self.text.splitlines() if keep(line))

    def _show(self) -> None:
        text = self.shown()
        body = self.query_one("#text", Static)
        if not text:
            body.update(Text("(nothing)" if not self.pattern else f"(no line matches /{self.pattern}/)"))
        elif self.yaml and not self.pattern:
            body.update(yaml_text(text, dark=self.app.current_theme.dark))
        else:
            body.update(Text(text))

    def action_filter(self) -> None:
        box = self.query_one("#text-filter", Input)
        box.add_class("-shown")
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.pattern = event.value
        self._show()

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self.query_one("#text-body").focus()

    def action_scroll(self, step: int) -> None:
        self.query_one("#text-body", VerticalScroll).scroll_relative(y=step, animate=False)

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.shown())
        self.notify(f"Copied {len(self.shown().splitlines())} line(s) (OSC 52).", title="copied")

    def action_reload(self) -> None:
        if self.loader is not None:
            self.text = self.loader()
            self._show()

    def action_close(self) -> None:
        box = self.query_one("#text-filter", Input)
        if box.has_focus or self.pattern:
            box.value = ""
            box.remove_class("-shown")
            self.pattern = ""
            self._show()
            self.query_one("#text-body").focus()
            return
        self.dismiss(None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if (
            action in ("filter", "scroll", "copy", "close", "reload")
            and self.query_one("#text-filter").has_focus
        ):
            return action == "close"  # typing in the filter: letters are text
        if action == "reload":
            return self.loader is not None
        return True
