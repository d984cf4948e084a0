"""Time series of the numbers the TUI graphs: lag and throughput per task and per subtask.

Every :class:`~dmshell.tui.model.Snapshot` (about one a second) is recorded with its time; a series
holds ``(time, value)`` points for the last :data:`WINDOW` seconds, ``None`` where the value does not
apply (a paused syncer has no live lag). Every series of a task gets a point at every snapshot, so
lag and rows/s stay aligned in time; a stretch with no snapshot at all (TUI not connected, master
not answering) is a gap. :meth:`Series.columns` compresses the whole window into a graph's width.
The daemon keeps the same samples (``StatusHistory``), so a TUI opened mid-incident starts with
the minutes before it. Pure Python, no Textual.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from dmshell.tui.model import Snapshot

#: Seconds the graphs cover (the docs promise the last 5 minutes).
WINDOW = 300.0

Key = tuple[Hashable, ...]
Point = tuple[float, float | None]


def window_label(seconds: float) -> str:
    """``5m``, ``90s``: the span a graph covers, for its label."""
    seconds = int(seconds)
    return f"{seconds // 60}m" if seconds >= 120 and seconds % 60 == 0 else f"{seconds}s"


@dataclass(frozen=True, slots=True)
class Series:
    """The points of one series over the window ending at ``end`` (the latest snapshot)."""

    points: tuple[Point, ...] = ()
    end: float = 0.0
    window: float = WINDOW
    #: how a column summarises its points: ``max`` for lag (peaks stay visible), mean for rates
    peak: bool = True

    @property
    def values(self) -> tuple[float, ...]:
        """The known values, oldest first."""
        return tuple(v for _, v in self.points if v is not None)

    def __bool__(self) -> bool:
        return bool(self.values)

    def __len__(self) -> int:
        return len(self.values)

    def __iter__(self) -> Iterator[float | None]:
        return iter(self.values)

    def __getitem__(self, index: int) -> float:
        return self.values[index]

    def columns(self, width: int) -> list[float | None]:
        """``width`` columns, each summarising ``window / width`` seconds (newest on the right);
        ``None`` for a column with no known value (a gap)."""
        if width <= 0:
            return []
        span = self.window / width
        start = self.end - self.window
        buckets: list[list[float]] = [[] for _ in range(width)]
        for t, v in self.points:
            if v is None or t <= start:
                continue
            i = min(width - 1, max(0, math.ceil((t - start) / span) - 1))
            buckets[i].append(v)
        if self.peak:
            return [max(b) if b else None for b in buckets]
        return [sum(b) / len(b) if b else None for b in buckets]


NO_SERIES = Series()


class History:
    """Per-series points; a series disappears with its task or subtask."""

    def __init__(self, window: float = WINDOW) -> None:
        self.window = window
        self._series: dict[Key, deque[Point]] = {}
        #: time of the latest recorded snapshot
        self.end = 0.0
        #: number of snapshots recorded (a cheap "changed" marker for the screens)
        self.version = 0

    def record(self, snapshot: Snapshot, at: float) -> None:
        """One point per task and subtask at time ``at`` (``None`` where there is no value)."""
        if at < self.end:  # older than what we have (a late history answer): ignore
            return
        alive: set[Key] = set()
        for task in snapshot.tasks:
            self._push(alive, at, ("task", task.name, "lag"), task.lag)
            self._push(alive, at, ("task", task.name, "rps"), task.rows_per_sec)
            for st in task.subtasks:
                if st.stale:  # a hung worker's last figures: a gap, not a flat line
                    self._push(alive, at, ("sub", task.name, st.source, "lag"), None)
                    self._push(alive, at, ("sub", task.name, st.source, st.unit, "rate"), None)
                    continue
                running_sync = st.unit == "Sync" and st.stage == "Running"
                self._push(alive, at, ("sub", task.name, st.source, "lag"), st.lag if running_sync else None)
                rate = st.rows_per_sec if st.unit == "Sync" else st.bytes_per_sec
                self._push(alive, at, ("sub", task.name, st.source, st.unit, "rate"), rate)
        for key in [k for k in self._series if k not in alive]:
            del self._series[key]
        self.end = at
        self.version += 1

    def replay(self, samples: Iterable[tuple[float, Snapshot]]) -> None:
        """Put earlier samples (the daemon's history) before the ones recorded here; series of tasks
        that are gone by now are not brought back."""
        earlier = History(self.window)
        for at, snapshot in sorted(samples, key=lambda s: s[0]):
            earlier.record(snapshot, at)
        if not self.version:
            self._series, self.end, self.version = earlier._series, earlier.end, earlier.version
            return
        for key, series in self._series.items():
            first = series[0][0] if series else self.end
            older = [p for p in earlier._series.get(key, ()) if first - self.window < p[0] < first]
            series.extendleft(reversed(older))
        self.version += 1

    def _push(self, alive: set[Key], at: float, key: Key, value: float | None) -> None:
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = deque()
        alive.add(key)
        series.append((at, None if value is None else float(value)))
        while series and series[0][0] <= at - self.window:
            series.popleft()

    def series(self, *key: Hashable) -> Series:
        """One series over the window (empty when unknown)."""
        return Series(tuple(self._series.get(key, ())), self.end, self.window, peak=key[-1] == "lag")

    def task_lag(self, task: str) -> Series:
        return self.series("task", task, "lag")

    def task_rate(self, task: str) -> Series:
        return self.series("task", task, "rps")

    def subtask_lag(self, task: str, source: str) -> Series:
        return self.series("sub", task, source, "lag")

    def subtask_rate(self, task: str, source: str, unit: str) -> Series:
        """Rows/s for the Sync unit, bytes/s for Dump and Load."""
        return self.series("sub", task, source, unit, "rate")


#: what the graphs accept: a time series, or values already one per column
Graphable = Series | Sequence[float | None]
SeriesOf = Callable[[str], Series]
