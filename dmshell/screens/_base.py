"""Common frame of the data screens: cluster bar and stale-data banner on top, footer below."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from dmshell.tui.model import Snapshot
from dmshell.tui.widgets.banner import StaleBanner
from dmshell.tui.widgets.cluster_bar import ClusterBar
from dmshell.tui.widgets.format import Palette

if TYPE_CHECKING:
    from dmshell.tui.app import DMShellApp


class StatusScreen(Screen):
    """A screen fed by the app's status snapshot. Subclasses implement :meth:`compose_body` and
    :meth:`show_snapshot` (called on every change and when the theme changes)."""

    @property
    def shell(self) -> DMShellApp:
        return cast("DMShellApp", self.app)

    @property
    def palette(self) -> Palette:
        return Palette.from_theme(self.app.current_theme)

    def compose(self) -> ComposeResult:
        yield ClusterBar(self.shell.master_addr, read_only=self.shell.read_only)
        yield StaleBanner()
        yield from self.compose_body()
        yield Footer(compact=True)

    def compose_body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.watch(self.app, "snapshot", self._snapshot_changed)
        self.watch(self.app, "cluster_info", self._cluster_changed)
        self.watch(self.app, "connected", self._cluster_changed)
        self.watch(self.app, "data_age", self._cluster_changed)
        self.watch(self.app, "banner", self._banner_changed)
        self.watch(self.app, "theme", self._theme_changed, init=False)

    def _snapshot_changed(self, snapshot: Snapshot) -> None:
        self.show_snapshot(snapshot, force=False)
        self._cluster_changed(None)  # "workers 2/2 (1 not answering)" follows the status

    def _cluster_changed(self, _value: object) -> None:
        shell = self.shell
        silent = len(shell.snapshot.silent_workers())
        self.query_one(ClusterBar).set_state(shell.cluster_info, shell.connected, shell.data_age, silent)

    def _banner_changed(self, message: str) -> None:
        self.query_one(StaleBanner).show_message(message)

    def _theme_changed(self, _theme: str) -> None:
        self.show_snapshot(self.shell.snapshot, force=True)

    def show_snapshot(self, snapshot: Snapshot, *, force: bool) -> None:
        raise NotImplementedError
