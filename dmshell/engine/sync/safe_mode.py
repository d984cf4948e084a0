"""Safe mode: row changes applied idempotently (REPLACE, DELETE + REPLACE; see
:mod:`dmshell.engine.sync.dml`), and "already applied" DDL errors ignored.

On with ``syncers.safe-mode: true`` (the user's, for the whole run). Crash recovery does NOT use
it (the applied record makes a replay exactly-once, see :mod:`~.checkpoint`; DM turns it on after
every restart): the *automatic* safe mode is only for the first run after a dump that was not
consistent (``consistency: none``, or its metadata is gone), whose rows may already hold changes
of the binlog after the dump's position. It lasts until the stream has passed the upstream's master
position observed at start AND at least ``safe-mode-duration`` has passed. The exit point is
persisted in the checkpoint (``exit_safe_binlog_*``), so a restart during it still ends in safe
mode.
``safe-mode-duration: 0s`` disables the automatic safe mode; a persisted exit point past the start
then fails the start (``ErrSyncerReprocessWithSafeModeFail``, as DM).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from dmshell.engine import errors
from dmshell.engine.binlog.location import Location


class SafeMode:
    """The safe-mode state of one run; ``clock``: monotonic seconds (injectable for tests)."""

    __slots__ = ("auto", "clock", "duration", "exit_point", "on", "until", "user")

    def __init__(self, user: bool, duration: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.user = user
        self.duration = duration
        self.clock = clock
        self.auto = False  # the automatic safe mode after a (re)start
        self.exit_point: Location | None = None  # the automatic safe mode ends past this point...
        self.until = 0.0  # ...and not before this clock time
        #: whether changes are applied idempotently now (read per rows event)
        self.on = user

    def start(
        self, saved_exit: Location | None, master: Location, start: Location, needed: bool = False
    ) -> None:
        """A run starts at ``start`` while the upstream's master is at ``master``; ``saved_exit``:
        the exit point the checkpoint holds; ``needed``: the first run after a non-consistent dump."""
        if not needed and saved_exit is None:
            return
        if self.duration <= 0:
            if saved_exit is not None and saved_exit > start:
                raise errors.ErrSyncerReprocessWithSafeModeFail()
            return
        exit_point = master
        if saved_exit is not None and saved_exit > exit_point:
            exit_point = saved_exit
        self.auto = True
        self.exit_point = exit_point
        self.until = self.clock() + self.duration
        self.on = True

    def maybe_leave(self, point: Location) -> bool:
        """The automatic safe mode ends once the stream is at or past the exit point and the
        duration has passed; returns True when it ends now."""
        exit_point = self.exit_point
        if not self.auto or exit_point is None or point < exit_point or self.clock() < self.until:
            return False
        self.auto = False
        self.exit_point = None
        self.on = self.user
        return True

    @property
    def persisted_exit(self) -> Location | None:
        """The exit point to write into the checkpoint (None: no automatic safe mode)."""
        return self.exit_point if self.auto else None
