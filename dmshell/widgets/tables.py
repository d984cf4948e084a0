"""Tables updated in place by row key: the cursor and scroll position survive every refresh."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from dmshell.screens._data import SourceView, TaskView
from dmshell.widgets.format import Palette, error_badge, lag_text, rate_text, stage_text

Cells = tuple[object, ...]


def _cell_key(cell: object) -> object:
    # rich.Text equality ignores the base style; a colour-only change must still repaint.
    if isinstance(cell, Text):
        return (cell.plain, str(cell.style), tuple(cell.spans))
    return cell


class KeyedTable(DataTable):
    """A row-cursor ``DataTable`` whose rows are replaced by key with :meth:`sync_rows`."""

    #: (column key, label) pairs.
    COLUMNS: tuple[tuple[str, str], ...] = ()

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=False)
        self._keys: list[str] = []
        self._cells: dict[str, tuple[object, ...]] = {}

    def on_mount(self) -> None:
        for key, label in self.COLUMNS:
            self.add_column(label, key=key)

    @property
    def current_key(self) -> str | None:
        """Row key under the cursor, or None when the table is empty."""
        if not self._keys or not 0 <= self.cursor_row < len(self._keys):
            return None
        return self._keys[self.cursor_row]

    def sync_rows(self, rows: Sequence[tuple[str, Cells]], *, force: bool = False) -> None:
        """Make the table show ``rows`` (in that order): changed cells are updated in place; when
        the set or order of keys changes the rows are rebuilt and the cursor follows its key."""
        keys = [key for key, _ in rows]
        if keys == self._keys and not force:
            for key, cells in rows:
                old = self._cells[key]
                for (col, _), new, prev in zip(self.COLUMNS, cells, old, strict=True):
                    if _cell_key(new) != _cell_key(prev):
                        self.update_cell(key, col, new, update_width=True)
        else:
            cursor_key = self.current_key
            self.clear()
            for key, cells in rows:
                self.add_row(*cells, key=key)
            if cursor_key in keys:
                self.move_cursor(row=keys.index(cursor_key), animate=False)
        self._keys = keys
        self._cells = {key: cells for key, cells in rows}


class TaskTable(KeyedTable):
    """Tasks: name, mode, stage, unit, progress, rows/s, lag, error badge."""

    BINDINGS = [Binding("enter", "select_cursor", "Open", tooltip="Open the selected task")]

    COLUMNS = (("task", "task"), ("mode", "mode"), ("stage", "stage"), ("unit", "unit"),
               ("progress", "progress"), ("rate", "rows/s"), ("lag", "lag"), ("err", "err"))

    def show(self, tasks: Sequence[TaskView], palette: Palette, *, force: bool = False) -> None:
        self.sync_rows([(t.name, self.cells(t, palette)) for t in tasks], force=force)

    @staticmethod
    def cells(t: TaskView, palette: Palette) -> Cells:
        # Plain strings would be parsed as markup by DataTable: every cell is a Text.
        return (Text(t.name, style="bold"), Text(t.mode or "—"), stage_text(t.status, palette),
                Text(t.unit or "—"), Text(t.progress or "—"), rate_text(t.rows_per_sec),
                lag_text(t.lag, palette), error_badge(t.error_count, palette))


class SourceTable(KeyedTable):
    """Sources: id, bound worker, upstream binlog position, tasks, error badge."""

    COLUMNS = (("source", "source"), ("worker", "worker"), ("binlog", "master binlog"),
               ("err", "err"), ("tasks", "tasks"))

    #: Below this width the tasks column shows a count instead of the names.
    WIDE = 100

    def show(self, sources: Sequence[SourceView], palette: Palette, *, force: bool = False) -> None:
        wide = self.app.size.width >= self.WIDE
        self.sync_rows([(s.source, self.cells(s, palette, wide=wide)) for s in sources], force=force)

    @staticmethod
    def cells(s: SourceView, palette: Palette, *, wide: bool = True) -> Cells:
        worker = Text(s.worker or "—", style="" if s.worker else palette.muted)
        tasks = ", ".join(s.tasks) if wide else str(len(s.tasks))
        return (Text(s.source, style="bold"), worker, Text(s.master_binlog or "—"),
                error_badge(s.error_count, palette), Text(tasks or "—"))
