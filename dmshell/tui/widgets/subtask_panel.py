"""One source of a task in the task detail screen: pipeline, progress with rate and ETA, positions
(GTID with the upstream's id highlighted), lag and throughput graphs, errors with workaround."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from dmshell.tui.history import NO_SERIES, Series, window_label
from dmshell.tui.model import SubtaskView, pipeline_units
from dmshell.tui.widgets.format import (
    LAG_SLOW,
    RATE_FLOOR,
    Palette,
    eta_text,
    graph_top,
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
        lags: Series = NO_SERIES,
        rates: Series = NO_SERIES,
        *,
        stall: str = "",
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.view: SubtaskView | None = None
        self._initial = (view, mode, palette, lags, rates)
        self._initial_stall = stall
        self._ready = False
        self._last: tuple[object, ...] | None = None

    def compose(self) -> ComposeResult:
        yield Static("", classes="info")
        yield Graph("lag", classes="lag-graph")
        yield Graph("rows/s", classes="rate-graph")

    def on_mount(self) -> None:
        self._ready = True
        self.show(*self._initial, stall=self._initial_stall)

    def show(
        self,
        view: SubtaskView,
        mode: str,
        palette: Palette,
        lags: Series = NO_SERIES,
        rates: Series = NO_SERIES,
        *,
        stall: str = "",
        force: bool = False,
    ) -> None:
        if not self._ready:  # not composed yet: on_mount shows the latest
            self._initial, self._initial_stall = (view, mode, palette, lags, rates), stall
            return
        key = (view, mode, palette, lags, rates, stall)
        if key == self._last and not force:
            return
        self._last = key
        self.view = view
        title = f"{view.source} · worker {view.worker or '—'}"
        self.border_title = Text(title + (" · NOT ANSWERING" if view.stale else ""))
        self.set_class(bool(view.errors or view.stale), "-error")
        self.query_one(".info", Static).update(render_subtask(view, mode, palette, stall))
        lag_graph = self.query_one(".lag-graph", Graph)
        rate_graph = self.query_one(".rate-graph", Graph)
        is_sync = view.unit == "Sync"
        lag_graph.set_class(is_sync, "-shown")
        rate_graph.set_class(view.unit in ("Sync", "Dump", "Load"), "-shown")
        span = window_label(lags.window)
        if is_sync:
            running = view.stage == "Running" and view.lag is not None
            color = palette.muted
            if running:
                color = {"ok": palette.ok, "slow": palette.warn}.get(lag_word(view.lag or 0), palette.bad)
            now = human_seconds(view.lag or 0) if running else "—"
            top = graph_top(lags.values, LAG_SLOW)
            lag_graph.set_data(
                lags, f"now {now} · top {human_seconds(int(top))}", floor=LAG_SLOW, style=color
            )
            lag_graph.set_label(f"lag {span}")
            top = graph_top(rates.values, RATE_FLOOR)
            rate_graph.set_label(f"rows/s {span}")
            rate_graph.set_data(
                rates,
                f"now {view.rows_per_sec or 0:,} · top {int(top):,}",
                floor=RATE_FLOOR,
                style=palette.accent,
            )
        elif view.unit in ("Dump", "Load"):
            top = graph_top(rates.values)
            rate_graph.set_label(f"bytes/s {span}")
            rate_graph.set_data(
                rates,
                f"now {human_bytes(view.bytes_per_sec or 0)}/s · top {human_bytes(top)}/s",
                style=palette.accent,
            )


def waiting_text(view: SubtaskView) -> str:
    """``31 transactions waiting`` (from the GTID sets) or ``4.6KiB of binlog waiting``."""
    txns, nbytes = view.behind_txns, view.behind_bytes
    if txns:
        return f"{txns:,} transaction{'s' if txns != 1 else ''} waiting"
    if nbytes:
        return f"{human_bytes(nbytes)} of binlog waiting"
    return ""


def stall_reason(view: SubtaskView, paused_for: float | None) -> str:
    """Why a syncer is not moving, or ``caught up`` (the task detail's ``state`` line)."""
    if view.stale:
        return view.stale
    if view.unit != "Sync":
        return ""
    waiting = waiting_text(view)
    if view.stage == "Paused":
        head = "failed" if view.errors else "paused"
        if paused_for is not None:
            head += f" {human_seconds(paused_for)}"
        return head + (f", {waiting}" if waiting else "")
    if view.stage != "Running":
        return view.stage.lower() or "unknown"
    if view.unresolved_lock or view.blocking_ddls:
        return f"blocked by DDL lock {view.unresolved_lock}".rstrip()
    if view.executing_ddl:
        return "executing a DDL on the target"
    if view.queued and not view.rows_per_sec:
        return f"waiting on target ({view.queued:,} changes queued)"
    if waiting or view.queued:
        return "catching up" + (f", {waiting}" if waiting else "")
    return "caught up"


def behind_text(view: SubtaskView, palette: Palette) -> Text:
    """``31 transactions · 4.6KiB · queued 12 (4 queues of 1024)``: how far the reader is from the
    master, and what is read but not applied."""
    parts = []
    if view.behind_txns is not None:
        parts.append(f"{view.behind_txns:,} transactions")
    if view.behind_bytes is not None:
        parts.append(human_bytes(view.behind_bytes))
    elif view.read_binlog or view.syncer_binlog:
        parts.append("an earlier binlog file")
    queues = len(view.queue_depths)
    if queues:
        parts.append(
            f"queued {view.queued:,} ({queues} queue{'s' if queues != 1 else ''} of {view.queue_capacity:,})"
        )
    return Text(" · ".join(parts) or "—", style="" if parts else palette.muted)


def render_subtask(view: SubtaskView, mode: str, palette: Palette, stall: str = "") -> Table:
    """The panel's text: a label column and a value column (wrapped values stay aligned);
    ``stall`` is the state line with what only the app knows (``paused 1m20s``)."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", no_wrap=True, width=10)
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
    if view.stale:
        grid.add_row(
            Text("worker", style=f"bold {palette.bad}"), Text(view.stale, style=f"bold {palette.bad}")
        )
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
        if view.read_binlog:
            grid.add_row("read", position_text(view.read_binlog, view.read_gtid, palette, origin))
        saved = position_text(view.syncer_binlog, view.syncer_gtid, palette, origin)
        saved.append("  (saved about every 30s)", style=palette.muted)
        grid.add_row("checkpoint", saved)
        grid.add_row("behind", behind_text(view, palette))
        if view.relay_binlog:
            relay = Text(view.relay_binlog)
            relay.append(f"   ahead of the syncer by {view.relay_ahead or '?'}", style=palette.muted)
            grid.add_row("relay", relay)
        stats = Text()
        stats.append_text(lag_text(view.lag if view.stage == "Running" else None, palette))
        stats.append("   rows/s ")
        stats.append_text(rate_text(view.rows_per_sec if view.stage == "Running" else None))
        if view.total_rows is not None:
            stats.append(f"   total rows {view.total_rows:,}")
        grid.add_row("lag", stats)
        reason = stall or stall_reason(view, None)
        ok = reason == "caught up"
        grid.add_row("state", Text(reason, style=palette.ok if ok else f"bold {palette.warn}"))
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
