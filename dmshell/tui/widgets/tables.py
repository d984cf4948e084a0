"""Tables updated in place by row key: the cursor and scroll position survive every refresh.

The columns depend on the terminal width (:func:`width_class`): at 80 columns the less useful
ones are dropped, at 160+ columns more are shown and the lag trend gets wider.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from dmshell.tui.history import WINDOW, Graphable, window_label
from dmshell.tui.model import SourceView, TaskView
from dmshell.tui.widgets.format import (
    LAG_SLOW,
    Palette,
    error_badge,
    lag_text,
    lag_word,
    rate_text,
    stage_text,
    text_sparkline,
)

Cells = tuple[object, ...]
#: (key, label, fixed width or None for "as wide as the content")
Columns = tuple[tuple[str, str, int | None], ...]

#: Terminal widths where the layout changes (also the app's HORIZONTAL_BREAKPOINTS).
NORMAL_WIDTH = 100
WIDE_WIDTH = 160


def width_class(width: int) -> str:
    """``narrow`` (< 100 columns), ``normal`` or ``wide`` (>= 160)."""
    if width >= WIDE_WIDTH:
        return "wide"
    return "normal" if width >= NORMAL_WIDTH else "narrow"


def _cell_width(cell: object) -> int:
    return cell.cell_len if isinstance(cell, Text) else len(str(cell))


def _cell_key(cell: object) -> object:
    # rich.Text equality ignores the base style; a colour-only change must still repaint.
    if isinstance(cell, Text):
        return (cell.plain, str(cell.style), tuple(cell.spans))
    return cell


_NUMBER = re.compile(r"^-?[0-9][0-9,]*(\.[0-9]+)?")
_DURATION = re.compile(r"(\d+)([dhms])")
_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def sort_value(cell: object) -> tuple[int, float, str]:
    """How a cell sorts: durations (``1m05s``) and numbers by value, then text; blanks last."""
    text = cell.plain if isinstance(cell, Text) else str(cell)
    text = text.strip()
    if not text or text == "—":
        return (2, 0.0, "")
    parts = _DURATION.findall(text.split(" ")[0])
    if parts and "".join(n + u for n, u in parts) == text.split(" ")[0]:
        return (0, float(sum(int(n) * _SECONDS[u] for n, u in parts)), text)
    m = _NUMBER.match(text)
    if m:
        return (0, float(m.group(0).replace(",", "")), text)
    return (1, 0.0, text.lower())


class KeyedTable(DataTable):
    """A row-cursor ``DataTable`` whose rows are replaced by key with :meth:`sync_rows`; ``o``
    sorts by the next column (``O`` reverses), ``j``/``k`` move like ``↓``/``↑``."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("o", "sort_next", "Sort", tooltip="Sort by the next column (O reverses the order)"),
        Binding("O", "sort_reverse", "Reverse sort", show=False, tooltip="Reverse the sort order"),
    ]

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=False)
        #: column key the rows are sorted by (None: the natural order), and the direction
        self.sort_column: str | None = None
        self.sort_descending = False
        self._last_rows: tuple[Columns, Sequence[tuple[str, Cells]]] | None = None
        self._keys: list[str] = []
        self._cells: dict[str, tuple[object, ...]] = {}
        self._columns: Columns = ()
        #: the cursor's key before the columns changed (the rows are rebuilt next)
        self._restore_key: str | None = None

    @property
    def current_key(self) -> str | None:
        """Row key under the cursor, or None when the table is empty."""
        if not self._keys or not 0 <= self.cursor_row < len(self._keys):
            return None
        return self._keys[self.cursor_row]

    @property
    def keys(self) -> list[str]:
        return list(self._keys)

    def set_columns(self, columns: Columns) -> bool:
        """Use ``columns`` ((key, label) pairs); returns True when they changed (rows are then gone)."""
        if columns == self._columns:
            return False
        cursor_key = self.current_key
        self.clear(columns=True)
        for key, label, width in columns:
            self.add_column(label, key=key, width=width)
        self._columns = columns
        self._keys, self._cells = [], {}
        self._restore_key = cursor_key
        return True

    def show_rows(self, columns: Columns, rows: Sequence[tuple[str, Cells]], *, force: bool = False) -> None:
        """Show ``rows`` under ``columns``; a column without a width gets the width of its widest
        cell. Widths are always explicit (DataTable's own auto-width can leave a stale header when
        rows arrive while it renders), so a wider value rebuilds the rows once."""
        self._last_rows = (columns, rows)
        keys = [key for key, _, _ in columns]
        if self.sort_column in keys:
            i = keys.index(self.sort_column)
            ranked = sorted(rows, key=lambda row: sort_value(row[1][i]), reverse=self.sort_descending)
            # blanks (no value) last in either direction
            rows = [r for r in ranked if sort_value(r[1][i])[0] < 2] + [
                r for r in ranked if sort_value(r[1][i])[0] == 2
            ]
            arrow = " ▼" if self.sort_descending else " ▲"
            columns = tuple(
                (k, label + arrow if k == self.sort_column else label, w) for k, label, w in columns
            )
        widths = []
        for i, (_key, label, width) in enumerate(columns):
            if width is None:
                width = max([len(label), *(_cell_width(cells[i]) for _, cells in rows)])
            widths.append(width)
        fixed = tuple((key, label, width) for (key, label, _), width in zip(columns, widths, strict=True))
        force = self.set_columns(fixed) or force
        self.sync_rows(rows, force=force)

    def action_sort_next(self) -> None:
        if self._last_rows is None:
            return
        keys = [key for key, _, _ in self._last_rows[0]]
        at = keys.index(self.sort_column) + 1 if self.sort_column in keys else 0
        self.sort_column = keys[at] if at < len(keys) else None
        self.show_rows(*self._last_rows)

    def action_sort_reverse(self) -> None:
        if self._last_rows is not None and self.sort_column is not None:
            self.sort_descending = not self.sort_descending
            self.show_rows(*self._last_rows)

    def sync_rows(self, rows: Sequence[tuple[str, Cells]], *, force: bool = False) -> None:
        """Make the table show ``rows`` (in that order): changed cells are updated in place; when
        the set or order of keys changes the rows are rebuilt and the cursor follows its key."""
        keys = [key for key, _ in rows]
        if keys == self._keys and not force:
            for key, cells in rows:
                old = self._cells[key]
                for (col, _, _), new, prev in zip(self._columns, cells, old, strict=True):
                    if _cell_key(new) != _cell_key(prev):
                        self.update_cell(key, col, new)
        else:
            cursor_key = self.current_key or self._restore_key
            self._restore_key = None
            self.clear()
            for key, cells in rows:
                self.add_row(*cells, key=key)
            if cursor_key in keys:
                self.move_cursor(row=keys.index(cursor_key), animate=False)
        self._keys = keys
        self._cells = {key: cells for key, cells in rows}


class TaskTable(KeyedTable):
    """Tasks: name, mode, stage, unit, progress, rows/s, lag, lag trend, error badge."""

    BINDINGS = [Binding("enter", "select_cursor", "Open", tooltip="Open the selected task")]

    #: Width of the lag-trend sparkline by width class.
    TREND = {"narrow": 8, "normal": 16, "wide": 30}

    @classmethod
    def columns_for(cls, size: str) -> Columns:
        # Fixed widths for the live columns: they don't jump as the values change.
        cols = [
            ("task", "task", None),
            ("mode", "mode", 11),
            ("stage", "stage", 8),
            ("unit", "unit", 5),
            ("progress", "progress", 8),
            ("rate", "rows/s", 7),
            ("lag", "lag", 12),
            ("trend", f"lag {window_label(WINDOW)}", cls.TREND[size]),
            ("sources", "sources", 7),
            ("err", "err", 6),
        ]
        if size == "narrow":
            cols = [c for c in cols if c[0] not in ("mode", "sources")]
        elif size == "normal":
            cols = [c for c in cols if c[0] != "sources"]
        return tuple(cols)

    def show(
        self,
        tasks: Sequence[TaskView],
        palette: Palette,
        *,
        size: str = "normal",
        lag_history: Callable[[str], Graphable] = lambda _name: (),
        force: bool = False,
    ) -> None:
        columns = self.columns_for(size)
        keys = [key for key, _, _ in columns]
        trend = self.TREND[size]
        rows = []
        for t in tasks:
            cells = self.cells(t, palette, lag_history(t.name), trend)
            rows.append((t.name, tuple(cells[k] for k in keys)))
        self.show_rows(columns, rows, force=force)

    @staticmethod
    def cells(t: TaskView, palette: Palette, lags: Graphable = (), trend: int = 16) -> dict[str, Text]:
        # Plain strings would be parsed as markup by DataTable: every cell is a Text.
        if lags and t.lag is not None:
            color = {"ok": palette.ok, "slow": palette.warn}.get(lag_word(t.lag), palette.bad)
            spark = Text(text_sparkline(lags, trend, floor=LAG_SLOW), style=color)
        else:
            spark = Text(" " * trend)
        return {
            "task": Text(t.name, style="bold"),
            "mode": Text(t.mode or "—"),
            "stage": stage_text(t.status, palette),
            "unit": Text(t.unit or "—"),
            "progress": Text(t.progress or "—"),
            "rate": rate_text(t.rows_per_sec),
            "lag": lag_text(t.lag, palette),
            "trend": spark,
            "sources": Text(str(len(t.subtasks)), justify="right"),
            "err": error_badge(t.error_count, palette),
        }


class SourceTable(KeyedTable):
    """Sources: id, bound worker, GTID on/off, relay stage and how far it is behind the upstream,
    upstream binlog position, errors, tasks."""

    @classmethod
    def columns_for(cls, size: str) -> Columns:
        cols = [
            ("source", "source", None),
            ("worker", "worker", None),
            ("gtid", "GTID", 4),
            ("relay", "relay", 8),
            ("relaylag", "relay behind", 12),
            ("binlog", "master binlog", None),
            ("address", "upstream", None),
            ("flavor", "flavor", 7),
            ("err", "err", 6),
            ("tasks", "tasks", None),
        ]
        if size != "wide":
            cols = [c for c in cols if c[0] not in ("address", "flavor", "relaylag")]
        return tuple(cols)

    def show(
        self, sources: Sequence[SourceView], palette: Palette, *, size: str = "normal", force: bool = False
    ) -> None:
        columns = self.columns_for(size)
        keys = [key for key, _, _ in columns]
        rows = [
            (s.source, tuple(self.cells(s, palette, wide=size != "narrow")[k] for k in keys)) for s in sources
        ]
        self.show_rows(columns, rows, force=force)

    @staticmethod
    def cells(s: SourceView, palette: Palette, *, wide: bool = True) -> dict[str, Text]:
        worker = Text(s.worker or "not bound", style="" if s.worker else palette.warn)
        tasks = ", ".join(s.tasks) if wide else str(len(s.tasks))
        gtid_style = {"on": palette.ok, "off": ""}.get(s.gtid, palette.muted)
        relay_style = {"Running": palette.ok, "Paused": f"bold {palette.warn}"}.get(s.relay, palette.muted)
        return {
            "source": Text(s.source, style="bold"),
            "worker": worker,
            "gtid": Text(s.gtid, style=gtid_style),
            "relay": Text(s.relay_text, style=relay_style),
            "relaylag": Text(s.relay_behind or "—", style="" if s.relay_behind else palette.muted),
            "binlog": Text(s.master_binlog or "—"),
            "address": Text(s.address or "—"),
            "flavor": Text(s.flavor or "—"),
            "err": error_badge(s.error_count, palette),
            "tasks": Text(tasks or "—"),
        }
