"""The master's memory of the last minutes of status, for the TUI (``StatusHistory``).

A thread samples every source's status every :data:`INTERVAL` seconds and keeps :data:`WINDOW`
seconds of samples, so a TUI opened mid-incident graphs the lag and throughput from before it
started. Samples with no subtask at all are not kept (an idle cluster costs nothing but the query).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from dmshell.proto import dmmaster_pb2 as mpb

log = logging.getLogger(__name__)

#: seconds between samples, and seconds of samples kept (the TUI's graph window)
INTERVAL = 2.0
WINDOW = 300.0


class StatusHistory:
    """A ring of ``(unix ms, QueryStatusListResponse)`` filled by a sampling thread."""

    def __init__(
        self,
        sample: Callable[[], mpb.QueryStatusListResponse],
        *,
        interval: float = INTERVAL,
        window: float = WINDOW,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sample = sample
        self.interval = interval
        self.clock = clock
        self._ring: deque[tuple[int, mpb.QueryStatusListResponse]] = deque(
            maxlen=max(1, int(window / interval))
        )
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="master-status-history", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.record(self.sample())
            except Exception:  # a failed sample is a gap in the graphs, never the end of sampling
                log.exception("status history: sampling failed")

    def record(self, resp: mpb.QueryStatusListResponse) -> None:
        if any(src.subTaskStatus for src in resp.sources):
            with self._lock:
                self._ring.append((int(self.clock() * 1000), resp))

    def response(self, name: str = "") -> mpb.StatusHistoryResponse:
        """The samples, oldest first; only task ``name``'s subtasks when given."""
        with self._lock:
            ring = list(self._ring)
        out = mpb.StatusHistoryResponse(result=True, intervalMs=int(self.interval * 1000))
        for ms, resp in ring:
            sample = out.samples.add(unixMs=ms)
            sample.status.CopyFrom(resp)
            if name:
                for src in sample.status.sources:
                    keep = [st for st in src.subTaskStatus if st.name == name]
                    del src.subTaskStatus[:]
                    src.subTaskStatus.extend(keep)
        return out
