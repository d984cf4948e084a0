"""Ring buffers of the numbers the TUI graphs: lag and throughput per task and per subtask.

Fed with every :class:`~dmshell.tui.model.Snapshot` the status stream delivers (about one per
second), so :data:`SAMPLES` samples cover the last few minutes. Pure Python, no Textual.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable

from dmshell.tui.model import Snapshot

#: Samples kept per series: 5 minutes at the stream's default one update per second.
SAMPLES = 300

Key = tuple[Hashable, ...]


class History:
    """Per-series ring buffers; a series disappears with its task or subtask."""

    def __init__(self, samples: int = SAMPLES) -> None:
        self.samples = samples
        self._series: dict[Key, deque[float]] = {}
        #: number of snapshots recorded (a cheap "changed" marker for the screens)
        self.version = 0

    def record(self, snapshot: Snapshot) -> None:
        """Append one sample per task and subtask (a missing value breaks nothing: it is skipped)."""
        alive: set[Key] = set()
        for task in snapshot.tasks:
            self._push(alive, ("task", task.name, "lag"), task.lag)
            self._push(alive, ("task", task.name, "rps"), task.rows_per_sec)
            for st in task.subtasks:
                running_sync = st.unit == "Sync" and st.stage == "Running"
                self._push(alive, ("sub", task.name, st.source, "lag"), st.lag if running_sync else None)
                rate = st.rows_per_sec if st.unit == "Sync" else st.bytes_per_sec
                self._push(alive, ("sub", task.name, st.source, st.unit, "rate"), rate)
        for key in [k for k in self._series if k not in alive]:
            del self._series[key]
        self.version += 1

    def _push(self, alive: set[Key], key: Key, value: float | None) -> None:
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = deque(maxlen=self.samples)
        alive.add(key)
        if value is not None:
            series.append(float(value))

    def series(self, *key: Hashable) -> tuple[float, ...]:
        """The samples of one series, oldest first (empty when unknown)."""
        return tuple(self._series.get(key, ()))

    def task_lag(self, task: str) -> tuple[float, ...]:
        return self.series("task", task, "lag")

    def task_rate(self, task: str) -> tuple[float, ...]:
        return self.series("task", task, "rps")

    def subtask_lag(self, task: str, source: str) -> tuple[float, ...]:
        return self.series("sub", task, source, "lag")

    def subtask_rate(self, task: str, source: str, unit: str) -> tuple[float, ...]:
        """Rows/s for the Sync unit, bytes/s for Dump and Load."""
        return self.series("sub", task, source, unit, "rate")
