"""One source of a task in the task detail screen: pipeline, positions, lag, errors."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from dmshell.screens._data import SubtaskView, pipeline_units
from dmshell.widgets.format import Palette, dim_position, lag_text, progress_bar, rate_text, stage_text


class SubtaskPanel(Static):
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
    """

    def __init__(self, view: SubtaskView, mode: str, palette: Palette, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.view: SubtaskView | None = None
        self.show(view, mode, palette)

    def show(self, view: SubtaskView, mode: str, palette: Palette, *, force: bool = False) -> None:
        if view == self.view and not force:
            return
        self.view = view
        self.border_title = Text(f"{view.source} · worker {view.worker or '—'}")
        self.set_class(bool(view.errors), "-error")
        self.update(render_subtask(view, mode, palette))


def render_subtask(view: SubtaskView, mode: str, palette: Palette) -> Table:
    """The panel's content: a label column and a value column (wrapped values stay aligned)."""
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
        grid.add_row("progress", Text(progress_bar(view.fraction)))
        if view.unit == "Load" and view.master_binlog:
            grid.add_row("dumped at", dim_position(view.master_binlog, view.master_gtid, palette))
    if view.unit == "Sync":
        grid.add_row("master", dim_position(view.master_binlog, view.master_gtid, palette))
        grid.add_row("syncer", dim_position(view.syncer_binlog, view.syncer_gtid, palette))
        stats = Text()
        stats.append_text(lag_text(view.lag if view.stage == "Running" else None, palette))
        stats.append("   rows/s ")
        stats.append_text(rate_text(view.rows_per_sec))
        if view.total_rows is not None:
            stats.append(f"   total rows {view.total_rows:,}")
        stats.append("   synced" if view.synced else "   not synced yet",
                     style=palette.ok if view.synced else palette.warn)
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
