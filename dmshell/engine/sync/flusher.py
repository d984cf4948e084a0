"""Checkpoint flushing: when the syncer checkpoint is written, and what goes into it.

When (never inside an upstream transaction — the run's loop only asks outside one):

* every ``checkpoint-flush-interval`` (:attr:`Flusher.due`), if the global point moved or the
  safe-mode exit point changed;
* on a heartbeat (an idle upstream) if the global point moved, so the checkpoint reaches the
  master position and the task shows ``synced`` at once;
* before a DDL is executed (so a replay never starts before an applied DDL) and right after it (DM
  flushes synchronously after a DDL: :meth:`Flusher.after_ddl` makes the next flush due at once);
* when the run stops.

What: the DML workers are drained first (only fully applied positions are ever written), then, in
one transaction, the global point, the pruning of the applied record (:mod:`~.checkpoint`), the
safe-mode exit point (:mod:`dmshell.engine.sync.safe_mode`), and the tables whose structure
changed (or that the schema tracker loaded) since the last flush, each with its own point;
dropped tables lose their rows.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Protocol

from dmshell.engine.binlog.location import Location
from dmshell.engine.schema.tracker import SchemaTracker
from dmshell.engine.sync.checkpoint import TablePoint
from dmshell.engine.sync.location import LocationRecorder
from dmshell.engine.sync.safe_mode import SafeMode
from dmshell.engine.sync.status import SyncStats

log = logging.getLogger(__name__)


class CheckpointWriter(Protocol):
    """Where flushes go (:class:`dmshell.engine.sync.checkpoint.SyncCheckpoint`)."""

    def flush(
        self,
        location: Location,
        exit_safe: Location | None = None,
        tables: Iterable[TablePoint] = (),
        removed: Iterable[tuple[str, str]] = (),
    ) -> None: ...


class Flusher:
    """Writes the checkpoint of one run (see the module docstring).

    ``drain``: waits until every dispatched change is applied (the applier's; set once it exists).
    ``clock``: monotonic seconds (injectable for tests).
    """

    def __init__(
        self,
        checkpoint: CheckpointWriter,
        loc: LocationRecorder,
        safe: SafeMode,
        tracker: SchemaTracker,
        stats: SyncStats,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.checkpoint = checkpoint
        self.loc = loc
        self.safe = safe
        self.tracker = tracker
        self.stats = stats
        self.interval = max(0.0, interval)
        self.clock = clock
        self.drain: Callable[[], None] | None = None
        #: the shard coordinator's: the checkpoint may not pass this point for now (held shards are
        #: re-read from it after a crash); their structures then wait too
        self.cap: Callable[[], Location | None] | None = None
        #: the shard coordinator's: told every point written
        self.on_flushed: Callable[[Location], None] | None = None
        self.changed: set[tuple[str, str]] = set()  # tables whose structure changed since the flush
        self.removed: set[tuple[str, str]] = set()  # tables dropped since the flush
        self.flushed_exit: Location | None = None
        #: (location, callback): run once a flush wrote a global point at or past the location
        self.waiting: list[tuple[Location, Callable[[], None]]] = []
        #: clock time from which the loop calls :meth:`on_due` (outside a transaction)
        self.due = clock() + self.interval

    def tables_changed(self, changed: Iterable[tuple[str, str]], removed: Iterable[tuple[str, str]]) -> None:
        """Tables to write (or delete) at the next flush."""
        self.changed.update(changed)
        self.removed.update(removed)

    def once_past(self, location: Location, callback: Callable[[], None]) -> None:
        """Call ``callback`` after the first flush whose global point is at or past ``location``
        (bookkeeping a replay from an earlier checkpoint would still need)."""
        self.waiting.append((location, callback))

    def after_ddl(self) -> None:
        """A DDL was handled: flush as soon as the stream is past it."""
        self.due = 0.0

    def on_due(self) -> None:
        """The interval elapsed (or a DDL asked for a flush): the automatic safe mode may end;
        flush if anything changed."""
        self.safe.maybe_leave(self.loc.global_point)
        if self.loc.moved() or self.flushed_exit != self.safe.exit_point:
            self.flush()
        else:
            self.due = self.clock() + self.interval

    def on_heartbeat(self) -> None:
        """The upstream is idle: flush now if the global point moved, else as :meth:`on_due`."""
        if self.loc.moved():
            self.flush()
        elif self.clock() >= self.due:
            self.on_due()

    def flush(self, drain: bool = True) -> None:
        """Write the global point (after draining the DML workers) and the changed tables."""
        if drain and self.drain is not None:
            self.drain()
        loc, safe, tracker = self.loc, self.safe, self.tracker
        safe.maybe_leave(loc.global_point)
        point = loc.global_point
        lazily_loaded, gone = tracker.take_changes()
        changed = self.changed | {(i.schema, i.name) for i in lazily_loaded}
        removed = self.removed | set(gone)
        held = self.cap() if self.cap is not None else None
        if held is not None and held < point:
            point = held
            self.changed, self.removed = changed, removed  # written once nothing is held
            changed, removed = set(), set()
        tables = []
        for key in changed:
            info = tracker.get(*key)
            if info is not None:
                tables.append(TablePoint(key[0], key[1], loc.table_point(key), info.to_json()))
        self.checkpoint.flush(
            point,
            safe.persisted_exit,
            tables,
            [k for k in removed if tracker.get(*k) is None],
        )
        if held is None or point is not held:
            self.changed, self.removed = set(), set()
        loc.flushed_point = point
        self.flushed_exit = safe.exit_point
        self.due = self.clock() + self.interval
        with self.stats.lock:
            self.stats.flushed = point
        if self.waiting:
            ready = [cb for at, cb in self.waiting if at <= point]
            self.waiting = [(at, cb) for at, cb in self.waiting if not at <= point]
            for callback in ready:
                callback()
        if self.on_flushed is not None:
            self.on_flushed(point)
