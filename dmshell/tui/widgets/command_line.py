"""A dmctl command line: an input with registry completion, candidates under it, and history.

``tab`` completes the word under the cursor (the common prefix of the candidates, then cycles
through them), ``→`` accepts the grey suggestion, ``↑``/``↓`` walk the history, ``enter`` posts
:class:`CommandLine.Submitted`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.suggester import Suggester
from textual.widgets import Input, Static

from dmshell.tui.dmctl import Completions, complete_line

ValueSource = Callable[[str], Iterable[str]]
#: a line (and the value source) → completions for its last word
Completer = Callable[[str, ValueSource], Completions]


class RegistrySuggester(Suggester):
    """Grey inline suggestion: the first registry candidate for the word being typed."""

    def __init__(self, values: ValueSource, completer: Completer = complete_line) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.values = values
        self.completer = completer

    async def get_suggestion(self, value: str) -> str | None:
        if not value or value[-1].isspace():
            return None
        comp = self.completer(value, self.values)
        for cand in comp.candidates:
            if cand.text.startswith(comp.word) and cand.text != comp.word:
                return comp.head + cand.text
        return None


class CommandInput(Input):
    """The input part; ``tab`` completes instead of moving the focus."""

    BINDINGS = [
        Binding("tab", "complete", "Complete", show=False),
        Binding("up", "history(-1)", "Previous", show=False),
        Binding("down", "history(1)", "Next", show=False),
        Binding("ctrl+r", "search_history", "Search history", show=False),
    ]

    def action_search_history(self) -> None:
        parent = self.parent
        if isinstance(parent, CommandLine):
            parent.search_history()

    def action_complete(self) -> None:
        parent = self.parent
        if isinstance(parent, CommandLine):
            parent.complete()

    def action_history(self, step: int) -> None:
        parent = self.parent
        if isinstance(parent, CommandLine):
            parent.recall(step)


class CommandLine(Vertical):
    """``» `` input plus a line of completion candidates."""

    DEFAULT_CSS = """
    CommandLine {
        height: auto;
    }
    CommandLine > CommandInput {
        height: 1;
        border: none;
        padding: 0 1;
    }
    CommandLine > #candidates {
        height: 1;
        padding: 0 1;
        color: $text-muted;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    class Submitted(Message):
        """A line was entered (already added to the history)."""

        def __init__(self, command_line: CommandLine, line: str) -> None:
            super().__init__()
            self.command_line = command_line
            self.line = line

        @property
        def control(self) -> CommandLine:
            return self.command_line

    def __init__(
        self,
        values: ValueSource,
        history: list[str],
        *,
        value: str = "",
        placeholder: str = "dmctl command, e.g. query-status (tab completes)",
        completer: Completer = complete_line,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.values = values
        self.completer = completer
        self.history = history
        self._initial = value
        self._placeholder = placeholder
        self._history_pos: int | None = None
        self._cycle: tuple[Completions, int] | None = None
        #: ctrl+r: (what was typed, the line shown, its index in the history)
        self._search: tuple[str, str, int] | None = None

    def compose(self) -> ComposeResult:
        yield CommandInput(
            self._initial,
            placeholder=self._placeholder,
            compact=True,
            suggester=RegistrySuggester(self.values, self.completer),
            id="command-input",
        )
        yield Static("", id="candidates", markup=False)

    @property
    def input(self) -> CommandInput:
        return self.query_one(CommandInput)

    def on_mount(self) -> None:
        self.input.cursor_blink = False  # a blinking cursor makes screenshots flaky
        self.input.cursor_position = len(self._initial)
        self._show_candidates(self._initial)

    def focus(self, scroll_visible: bool = True) -> CommandLine:
        self.input.focus(scroll_visible)
        return self

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self._cycle is None or event.value != self._cycle[0].apply(
            self._cycle[0].candidates[self._cycle[1]].text
        ):
            self._cycle = None
        self._show_candidates(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        line = event.value.strip()
        self._history_pos = None
        self._cycle = None
        if line and (not self.history or self.history[-1] != line):
            self.history.append(line)
        self.input.value = ""
        self.post_message(self.Submitted(self, line))

    def _show_candidates(self, value: str) -> None:
        comp = self.completer(value, self.values)
        text = Text()
        if comp.candidates:
            first = comp.candidates[0]
            names = [c.text for c in comp.candidates[:12]]
            text.append("  ".join(names))
            if len(comp.candidates) > 12:
                text.append(f"  … {len(comp.candidates) - 12} more")
            if len(comp.candidates) == 1 and first.meta:
                text.append(f"  — {first.meta}", style="italic")
        self.query_one("#candidates", Static).update(text)

    def complete(self) -> None:
        """``tab``: extend to the common prefix; when that adds nothing, cycle through candidates."""
        inp = self.input
        if self._cycle is not None:
            comp, index = self._cycle
            index = (index + 1) % len(comp.candidates)
            self._set(comp.apply(comp.candidates[index].text))
            self._cycle = (comp, index)
            return
        comp = self.completer(inp.value, self.values)
        if not comp.candidates:
            return
        if len(comp.candidates) == 1:
            self._set(comp.apply(comp.candidates[0].text))
            return
        prefix = comp.common_prefix()
        if len(prefix) > len(comp.word):
            self._set(comp.head + prefix)
            return
        self._set(comp.apply(comp.candidates[0].text))
        self._cycle = (comp, 0)

    def _set(self, value: str) -> None:
        inp = self.input
        inp.value = value
        inp.cursor_position = len(value)

    def search_history(self) -> None:
        """``ctrl+r``: the latest earlier history line containing what was typed (again: older)."""
        value = self.input.value
        if self._search is None or value != self._search[1]:
            self._search = (value, value, len(self.history))
        needle, _shown, pos = self._search
        for i in range(pos - 1, -1, -1):
            if needle.lower() in self.history[i].lower():
                self._set(self.history[i])
                self._search = (needle, self.history[i], i)
                self.query_one("#candidates", Static).update(
                    Text(f"history search: {needle!r} (ctrl+r: older)", style="italic")
                )
                return
        self.app.bell()

    def recall(self, step: int) -> None:
        """Previous (-1) / next (+1) history line."""
        if not self.history:
            return
        pos = len(self.history) if self._history_pos is None else self._history_pos
        pos = max(0, min(len(self.history), pos + step))
        self._history_pos = pos
        self._set(self.history[pos] if pos < len(self.history) else "")
