"""One source of a task in the task detail screen: pipeline, progress with rate and ETA, positions
(GTID with the upstream's id highlighted), lag and throughput graphs, errors with workaround."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from dmshell.tui.model import SubtaskView, pipeline_units
from dmshell.tui.widgets.format import (
    LAG_SLOW,
    Palette,
    eta_text,
    human_bytes,
    human_seconds,
    lag_text,
    lag_word,
    position_text,
    progress_bar,
    rate_text,
    stage_text,
    upstream_origin,
)
from dmshell.tui.widgets.graph import Graph


class SubtaskPanel(Vertical):
    """Renders a :class:`SubtaskView`; call :meth:`show` again to update it in place."""

    DEFAULT_CSS = """
    SubtaskPanel {
        height: auto;
        border: round $primary;
        padding: 0 1;
        margin: 0 0 1 0;
    }
    SubtaskPanel.-error {
        border: round $error;
    }
    SubtaskPanel > .info {
        height: auto;
    }
    SubtaskPanel > Graph {
        display: none;
    }
    SubtaskPanel > Graph.-shown {
        display: block;
    }
    """

    def __init__(
        self,
        view: SubtaskView,
        mode: str,
        palette: Palette,
        lags: Sequence[float] = (),
        rates: Sequence[float] = (),
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.view: SubtaskView | None = None
        self._initial = (view, mode, palette, tuple(lags), tuple(rates))
        self._last: tuple[object, ...] | None = None

    def compose(self) -> ComposeResult:
        yield Static("", classes="info")
        yield Graph("lag", classes="lag-graph")
        yield Graph("rows/s", classes="rate-graph")

    def on_mount(self) -> None:
        self.show(*self._initial)

    def show(
        self,
        view: SubtaskView,
        mode: str,
        palette: Palette,
        lags: Sequence[float] = (),
        rates: Sequence[float] = (),
        *,
        force: bool = False,
    ) -> None:
        key = (view, mode, palette, tuple(lags), tuple(rates))
        if key == self._last and not force:
            return
        self._last = key
        self.view = view
        self.border_title = Text(f"{view.source} · worker {view.worker or '—'}")
        self.set_class(bool(view.errors), "-error")
        self.query_one(".info", Static).update(render_subtask(view, mode, palette))
        lag_graph = self.query_one(".lag-graph", Graph)
        rate_graph = self.query_one(".rate-graph", Graph)
        is_sync = view.unit == "Sync"
        lag_graph.set_class(is_sync, "-shown")
        rate_graph.set_class(view.unit in ("Sync", "Dump", "Load"), "-shown")
        if is_sync:
            running = view.stage == "Running" and view.lag is not None
            color = palette.muted
            if running:
                color = {"ok": palette.ok, "slow": palette.warn}.get(lag_word(view.lag or 0), palette.bad)
            peak = max(lags, default=0)
            now = human_seconds(view.lag or 0) if running else "—"
            lag_graph.set_data(
                lags, f"now {now} · max {human_seconds(int(peak))}", floor=LAG_SLOW, style=color
            )
            peak_rate = max(rates, default=0)
            rate_graph.query_one(".graph-label", Static).update("rows/s")
            rate_graph.set_data(
                rates, f"now {view.rows_per_sec or 0:,} · max {int(peak_rate):,}", style=palette.accent
            )
        elif view.unit in ("Dump", "Load"):
            peak_rate = max(rates, default=0)
            rate_graph.query_one(".graph-label", Static).update("bytes/s")
            rate_graph.set_data(
                rates,
                f"now {human_bytes(view.bytes_per_sec or 0)}/s · max " f"{human_bytes(peak_rate)}/s",
                style=palette.accent,
            )


def render_subtask(view: SubtaskView, mode: str, palette: Palette) -> Table:
    """The panel's text: a label column and a value column (wrapped values stay aligned)."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", no_wrap=True, width=9)
    grid.add_column(ratio=1)
    # Build lines from an unstyled Text: a base style would leak into everything appended.
    head = Text()
    head.append_text(stage_text(view.stage, palette))
    head.append("   ")
    for i, (unit, state) in enumerate(pipeline_units(mode, view.unit)):
        if i:
            head.append(" → ", style=palette.muted)
        if state == "done":
            head.append(f"{unit} ✓", style=palette.ok)
        elif state == "current":
            head.append(f"[{unit}]", style=f"bold {palette.accent}")
        else:
            head.append(unit, style=palette.muted)
    grid.add_row("stage", head)
    if view.unit in ("Dump", "Load"):
        progress = Text(progress_bar(view.fraction))
        rate = f"   {human_bytes(view.bytes_per_sec)}/s" if view.bytes_per_sec else "   —/s"
        progress.append(rate)
        eta_style = palette.accent if view.eta is not None else palette.muted
        progress.append(f"   {eta_text(view.eta)}", style=eta_style)
        if view.progress_text and "%" not in view.progress_text:
            progress.append(f"   {view.progress_text}", style=palette.muted)
        grid.add_row("progress", progress)
        if view.unit == "Load" and view.master_binlog:
            grid.add_row("dumped at", position_text(view.master_binlog, view.master_gtid, palette))
    if view.unit == "Sync":
        origin = upstream_origin(view.master_gtid)
        grid.add_row("master", position_text(view.master_binlog, view.master_gtid, palette, origin))
        grid.add_row("syncer", position_text(view.syncer_binlog, view.syncer_gtid, palette, origin))
        if view.relay_binlog:
            relay = Text(view.relay_binlog)
            relay.append(f"   ahead of the syncer by {view.relay_ahead or '?'}", style=palette.muted)
            grid.add_row("relay", relay)
        stats = Text()
        stats.append_text(lag_text(view.lag if view.stage == "Running" else None, palette))
        stats.append("   rows/s ")
        stats.append_text(rate_text(view.rows_per_sec))
        if view.total_rows is not None:
            stats.append(f"   total rows {view.total_rows:,}")
        stats.append(
            "   synced" if view.synced else "   not synced yet",
            style=palette.ok if view.synced else palette.warn,
        )
        grid.add_row("lag", stats)
    for ddl in view.blocking_ddls:
        grid.add_row("blocked", Text(ddl, style=palette.warn))
    if view.unresolved_lock:
        grid.add_row("DDL lock", Text(view.unresolved_lock, style=palette.warn))
    if view.msg:
        grid.add_row("message", Text(view.msg))
    for err in view.errors:
        line = Text()
        line.append(err.header, style=f"bold {palette.bad}")
        line.append(f" {err.message}")
        grid.add_row(Text("error", style=f"bold {palette.bad}"), line)
        if err.raw_cause:
            grid.add_row("", Text(f"RawCause: {err.raw_cause}"))
        if err.workaround:
            grid.add_row("", Text(f"Workaround: {err.workaround}", style=palette.accent))
    return grid
