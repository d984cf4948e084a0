"""The one-line cluster bar at the top of every screen."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from dmshell.proto import dmmaster_pb2
from dmshell.tui.widgets.format import human_seconds


class ClusterBar(Static):
    """``dmshell │ ● live 0s │ master A │ workers 2/2 │ data /dir`` (plus ``READ-ONLY``); the seconds are
    the age of the data on screen."""

    DEFAULT_CSS = """
    ClusterBar {
        height: 1;
        width: 1fr;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(self, master_addr: str, *, read_only: bool = False, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.master_addr = master_addr
        self.read_only = read_only
        self.info: dmmaster_pb2.ClusterInfo | None = None
        self.connected: bool | None = None
        self.age: int | None = None
        self.silent = 0

    def on_mount(self) -> None:
        self._render_bar()

    def set_state(
        self,
        info: dmmaster_pb2.ClusterInfo | None,
        connected: bool | None,
        age: int | None = None,
        silent: int = 0,
    ) -> None:
        """``silent``: workers that are registered but do not answer the master's status queries."""
        self.info, self.connected, self.age, self.silent = info, connected, age, silent
        self._render_bar()

    def _render_bar(self) -> None:
        sep = ("  │  ", "dim")
        text = Text()
        text.append(" dmshell", style="bold")
        text.append(*sep)
        if self.connected is None:
            text.append("… connecting")
        elif self.connected:
            text.append("● live")
        else:
            text.append("○ OFFLINE", style="bold")
        if self.age is not None:
            age = f" {human_seconds(self.age)} ago" if self.age else " now"
            text.append(age, style="" if self.age < 5 else "bold")
        if self.read_only:
            text.append("  READ-ONLY", style="bold reverse")
        text.append(*sep)
        text.append("master ")
        addr = self.info.masterAddr if self.info and self.info.masterAddr else self.master_addr
        text.append(addr, style="bold")
        text.append(*sep)
        if self.info is not None:
            text.append(f"workers {self.info.workersUp}/{self.info.workersTotal}")
            if self.silent:
                text.append(f" ({self.silent} not answering)", style="bold")
            if self.info.dataDir:
                text.append(*sep)
                text.append(f"data {self.info.dataDir}")
        else:
            text.append("workers ?/?")
        self.update(text)
