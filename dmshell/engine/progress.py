"""Progress helpers shared by the dump and load units: DM's percent string and a bytes/s meter."""

from __future__ import annotations

import threading
import time
from collections import deque


def percent(done: float, total: float, finished: bool) -> str:
    """DM's progress rendering: ``"42.00 %"``; ``"100.00 %"`` once finished."""
    if finished:
        return "100.00 %"
    if total <= 0:
        return "0.00 %"
    return f"{min(done / total, 1.0) * 100:.2f} %"


class RateMeter:
    """Current speed of a growing counter, averaged over the last ``window`` seconds."""

    def __init__(self, window: float = 10.0) -> None:
        self._window = window
        self._samples: deque[tuple[float, float]] = deque()
        self._lock = threading.Lock()

    def rate(self, value: float) -> int:
        """Record the counter's current ``value`` and return its rate per second."""
        now = time.monotonic()
        with self._lock:
            self._samples.append((now, value))
            while len(self._samples) > 2 and now - self._samples[1][0] >= self._window:
                self._samples.popleft()
            t0, v0 = self._samples[0]
        if now - t0 <= 0:
            return 0
        return max(0, int((value - v0) / (now - t0)))
