"""A labelled bar graph of the last minutes: the whole window compressed into the width, newest on
the right, the window in the label (``lag 5m``) and the scale in the summary (``top 25s``)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Static

from dmshell.tui.history import Graphable
from dmshell.tui.widgets.format import graph_lines


class GraphBars(Widget):
    """The bars; as wide and as tall as CSS makes it."""

    DEFAULT_CSS = """
    GraphBars {
        width: 1fr;
        height: 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.values: Graphable = ()
        self.floor = 0.0
        self.style = ""

    def set_data(self, values: Graphable, *, floor: float = 0.0, style: str = "") -> None:
        if (values, floor, style) != (self.values, self.floor, self.style):
            self.values, self.floor, self.style = values, floor, style
            self.refresh()

    def render(self) -> Text:
        lines = graph_lines(self.values, self.size.width, max(self.size.height, 1), floor=self.floor)
        return Text("\n".join(lines), style=self.style, no_wrap=True, overflow="crop")


class Graph(Horizontal):
    """``lag 5m  ▁▂▃▅█▇▅▃  now 3s · top 25s``."""

    DEFAULT_CSS = """
    Graph {
        height: auto;
    }
    Graph > .graph-label {
        width: 11;
        text-style: bold;
    }
    Graph > .graph-summary {
        width: 26;
        padding-left: 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(self, label: str, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.label = label

    def compose(self) -> ComposeResult:
        yield Static(self.label, classes="graph-label", markup=False)
        yield GraphBars()
        yield Static("", classes="graph-summary", markup=False)

    def set_label(self, label: str) -> None:
        if label != self.label:
            self.label = label
            self.query_one(".graph-label", Static).update(label)

    def set_data(
        self, values: Graphable, summary: Text | str, *, floor: float = 0.0, style: str = ""
    ) -> None:
        self.query_one(GraphBars).set_data(values, floor=floor, style=style)
        self.query_one(".graph-summary", Static).update(summary)
