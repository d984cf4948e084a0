"""One task on one source: the pipeline of units (DM's ``worker.SubTask``).

Units per ``task-mode`` (DM's ``createRealUnits``): ``all`` = Dump → Load → Sync, ``full`` = Dump →
Load (then the subtask is Finished), ``incremental`` = Sync; also ``dump``, ``load`` and ``load&sync``.
In ``all`` and ``full`` one full-copy unit does the dump and the load at once
(:mod:`dmshell.engine.load.fullcopy`); it reports itself as ``Dump`` while it dumps, then ``Load``.
A run starts at the unit after the last one whose ``completed()`` is true, and runs each unit's
``process(stop)`` in a thread. Stages: New → Running ⇄ Paused → Stopped | Finished (Pausing and
Stopping while the thread winds down).

Pausing sets the run's stop event and joins the thread: the unit returns at a consistent point and
resuming runs it again from its checkpoint. An error pauses the subtask with DM's ``ProcessError``
in ``result.errors``; when every error is resumable (:attr:`DMError.resumable`),
:meth:`SubTask.check_auto_resume` (called periodically by the worker, DM's task checker) resumes it
with exponential backoff.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from dmshell.engine import errors
from dmshell.engine.config.source import CheckerConfig
from dmshell.engine.unit import Unit, UnitContext
from dmshell.proto import dmworker_pb2 as pb

log = logging.getLogger(__name__)

UnitFactory = Callable[[UnitContext], list[Unit]]

#: task-mode → the units' (module, class) in pipeline order
MODE_UNITS: dict[str, list[tuple[str, str]]] = {
    "all": [("dmshell.engine.load.fullcopy", "FullCopyUnit"), ("dmshell.engine.sync.syncer", "SyncUnit")],
    "full": [("dmshell.engine.load.fullcopy", "FullCopyUnit")],
    "incremental": [("dmshell.engine.sync.syncer", "SyncUnit")],
    "dump": [("dmshell.engine.dump.dumper", "DumpUnit")],
    "load": [("dmshell.engine.load.loader", "LoadUnit")],
    "load&sync": [("dmshell.engine.load.loader", "LoadUnit"), ("dmshell.engine.sync.syncer", "SyncUnit")],
}


def default_units(ctx: UnitContext) -> list[Unit]:
    """Build the units for ``ctx.cfg.task_mode``; imports them only now (they are optional at import time).

    Raises ``ErrWorkerNoAvailUnits`` (the import or construction failure as raw cause).
    """
    import importlib

    specs = MODE_UNITS.get(ctx.cfg.task_mode)
    if not specs:
        raise errors.ErrWorkerNoAvailUnits(ctx.cfg.name, ctx.cfg.task_mode)
    units = []
    for module, cls in specs:
        try:
            unit_cls = getattr(importlib.import_module(module), cls)
        except (ImportError, AttributeError) as exc:
            raise errors.ErrWorkerNoAvailUnits(ctx.cfg.name, ctx.cfg.task_mode, cause=exc) from exc
        units.append(unit_cls(ctx))
    return units


def process_error(exc: BaseException) -> pb.ProcessError:
    """DM's ``unit.NewProcessError``: a DMError keeps its fields; anything else becomes ErrNotSet."""
    if not isinstance(exc, errors.DMError):
        text = str(exc)
        exc = errors.ErrNotSet(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)
    e = exc.entry
    return pb.ProcessError(
        ErrCode=e.code,
        ErrClass=str(e.cls),
        ErrScope=str(e.scope),
        ErrLevel=str(e.level),
        Message=exc.message,
        RawCause=exc.raw_cause,
        Workaround=exc.workaround,
    )


@dataclass(slots=True)
class AutoResume:
    """DM's task checker settings (``dm/worker/task_checker.go``): check every 5 s, backoff 1 s..5 min
    doubling, reset after running 5 min without a new error."""

    check_interval: float = 5.0
    backoff_min: float = 1.0
    backoff_max: float = 300.0
    factor: float = 2.0
    rollback: float = 300.0
    #: the source's ``checker.check-enable``: False = a paused subtask stays paused
    enabled: bool = True

    def for_source(self, checker: CheckerConfig) -> AutoResume:
        """These settings with the source's ``checker`` (check-enable, backoff-max,
        backoff-rollback) applied; DM fixes the interval, the minimum and the factor."""
        return dataclasses.replace(
            self,
            enabled=bool(checker.check_enable),
            backoff_max=float(checker.backoff_max),
            rollback=float(checker.backoff_rollback),
        )


class SubTask:
    """A subtask and its unit pipeline. Thread-safe; only ``pause``/``stop``/``join`` block."""

    def __init__(
        self,
        ctx: UnitContext,
        unit_factory: UnitFactory = default_units,
        auto_resume: AutoResume | None = None,
    ) -> None:
        self.ctx = ctx
        self._factory = unit_factory
        self.auto_resume = (auto_resume or AutoResume()).for_source(ctx.source.checker)
        self._lock = threading.RLock()
        self._stage: pb.Stage = pb.New
        self._result: pb.ProcessResult | None = None
        self._units: list[Unit] | None = None
        self._cur = 0  # index of the current unit
        self._finished: set[int] = set()  # units that finished in this process
        self._closed_units: set[int] = set()
        self._thread: threading.Thread | None = None
        self._stop: threading.Event | None = None
        self._closed = False
        # auto-resume bookkeeping
        self._resumable = False
        self._paused_at = 0.0
        self._resumed_at = 0.0
        self._backoff = self.auto_resume.backoff_min

    # -- properties ------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.ctx.cfg.name

    @property
    def stage(self) -> int:
        with self._lock:
            return self._stage

    def result(self) -> pb.ProcessResult | None:
        with self._lock:
            if self._result is None:
                return None
            copy = pb.ProcessResult()
            copy.CopyFrom(self._result)
            return copy

    def current_unit(self) -> Unit | None:
        with self._lock:
            return self._units[self._cur] if self._units else None

    # -- operations ------------------------------------------------------------------------
    def run(self, expect: pb.Stage = pb.Running) -> None:
        """First start: run now (``Running``) or just take the expected stage (``Paused``/``Stopped``)."""
        with self._lock:
            if self._stage != pb.New:
                return
            if expect == pb.Running:
                self._start_locked()
            elif expect == pb.Stopped:
                self._closed = True
                self._stage = pb.Stopped
            else:
                # like DM, a paused subtask still shows its current unit: build the units now and
                # find the current one (completed() may query the target) in the background
                self._stage = expect
                try:
                    self._ensure_units()
                except BaseException as exc:
                    self._pause_with_error_locked(exc)
                    return
                threading.Thread(
                    target=self._locate_current, daemon=True, name=f"subtask-{self.name}-locate"
                ).start()

    def _locate_current(self) -> None:
        try:
            units = self._ensure_units()
            idx = self._start_index(units)
        except Exception as exc:
            log.info("subtask %s: cannot tell its current unit yet: %s", self.name, exc)
            return
        with self._lock:
            if self._thread is None and self._stage == pb.Paused:  # not resumed meanwhile
                self._cur = min(idx, len(units) - 1)

    def resume(self) -> bool:
        """Run again from the checkpoints (Paused or New). False when there is nothing to resume."""
        with self._lock:
            if self._closed or self._stage not in (pb.Paused, pb.New):
                return False
            self._start_locked()
            return True

    def pause(self, wait: bool = True) -> bool:
        """Stop the running unit at a consistent point. A subtask already paused by an error is only
        marked canceled (it will not auto-resume). False when it was neither running nor paused."""
        with self._lock:
            if self._stage == pb.Paused:
                if self._result is not None and not self._result.isCanceled:
                    self._result.isCanceled = True
                return True
            if self._stage == pb.New:
                self._stage = pb.Paused
                return True
            if self._stage != pb.Running:
                return self._stage == pb.Pausing
            self._stage = pb.Pausing
            assert self._stop is not None
            self._stop.set()
            thread = self._thread
        if wait and thread is not None:
            thread.join()
        return True

    def stop(self, wait: bool = True, timeout: float | None = None) -> None:
        """Stop for good: the unit returns at a consistent point, then every unit is closed."""
        with self._lock:
            if self._closed:
                thread = self._thread
            else:
                self._closed = True
                if self._stage in (pb.Running, pb.Pausing):
                    self._stage = pb.Stopping
                    assert self._stop is not None
                    self._stop.set()
                    thread = self._thread
                else:
                    self._stage = pb.Stopped if self._stage != pb.Finished else pb.Finished
                    thread = None
                    self._close_units_locked()
        if wait and thread is not None:
            thread.join(timeout)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the current run thread (tests, shutdown)."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def check_auto_resume(self, now: float | None = None) -> bool:
        """Resume when paused by resumable errors and the backoff has elapsed. Returns True if resumed."""
        now = time.monotonic() if now is None else now
        ar = self.auto_resume
        with self._lock:
            if self._stage == pb.Running and self._resumed_at and now - self._resumed_at >= ar.rollback:
                self._backoff = ar.backoff_min
            if (
                not ar.enabled
                or self._closed
                or self._stage != pb.Paused
                or not self._resumable
                or self._result is None
                or self._result.isCanceled
            ):
                return False
            if now - self._paused_at < self._backoff:
                log.info("backoff skip auto resume task %s (backoff %.1fs)", self.name, self._backoff)
                return False
            log.info("dispatch auto resume task %s", self.name)
            self._backoff = min(self._backoff * ar.factor, ar.backoff_max)
            self._resumed_at = now
            self._start_locked()
            return True

    # -- status ----------------------------------------------------------------------------
    def status(self) -> pb.SubTaskStatus:
        """DM's ``SubTaskStatus``: stage, current unit, result and the unit's own status."""
        with self._lock:
            st = pb.SubTaskStatus(name=self.name, stage=self._stage)
            if self._result is not None:
                st.result.CopyFrom(self._result)
            unit = self._units[self._cur] if self._units else None
        if unit is not None:
            st.unit = getattr(unit, "unit_type", pb.InvalidUnit)
            st.unresolvedDDLLockID = str(getattr(unit, "unresolved_lock_id", ""))
            try:
                us = unit.status()
            except Exception:  # a status snapshot must never break query-status
                log.exception("status of unit %s of subtask %s", st.unit, self.name)
                us = None
            if isinstance(us, pb.DumpStatus):
                st.dump.CopyFrom(us)
            elif isinstance(us, pb.LoadStatus):
                st.load.CopyFrom(us)
            elif isinstance(us, pb.SyncStatus):
                st.sync.CopyFrom(us)
        return st

    # -- internals -------------------------------------------------------------------------
    def _start_locked(self) -> None:
        # DM builds the units before the subtask counts as Running: a subtask whose units cannot
        # be created is Paused with that error right away
        try:
            self._ensure_units()
        except BaseException as exc:
            if not isinstance(exc, errors.DMError):
                log.exception("subtask %s: cannot create its units", self.name)
            self._pause_with_error_locked(exc)
            return
        self._stage = pb.Running
        self._result = None
        self._resumable = False
        stop = threading.Event()
        self._stop = stop
        self._thread = threading.Thread(
            target=self._run,
            args=(stop,),
            daemon=True,
            name=f"subtask-{self.name}-{self.ctx.source.source_id}",
        )
        self._thread.start()

    def _run(self, stop: threading.Event) -> None:
        error: BaseException | None = None
        finished = False
        try:
            units = self._ensure_units()
            idx = self._start_index(units)
            with self._lock:
                self._cur = min(idx, len(units) - 1)
            while idx < len(units) and not stop.is_set():
                with self._lock:
                    self._cur = idx
                log.info("subtask %s: start unit %s", self.name, pb.UnitType.Name(units[idx].unit_type))
                units[idx].process(stop)
                if stop.is_set():
                    break  # paused or stopped; the next run asks completed() again
                self._finish_unit(units, idx)
                idx += 1
            else:
                finished = idx >= len(units)
        except BaseException as exc:  # every failure becomes the subtask's error
            error = exc
            if not isinstance(exc, errors.DMError):
                log.exception("subtask %s: unexpected error", self.name)
        self._after_run(stop, error, finished)

    def _ensure_units(self) -> list[Unit]:
        with self._lock:
            if self._units is not None:
                return self._units
            self.ctx.work_dir.mkdir(parents=True, exist_ok=True)
            units = self._factory(self.ctx)
            if not units:
                raise errors.ErrWorkerNoAvailUnits(self.name, self.ctx.cfg.task_mode)
            self._units = units
            return units

    def _pause_with_error_locked(self, error: BaseException) -> pb.ProcessResult:
        error, self._resumable = errors.pause_verdict(error)
        self._result = result = pb.ProcessResult(errors=[process_error(error)])
        self._stage = pb.Paused
        self._paused_at = time.monotonic()
        log.warning("subtask %s paused by error: %s", self.name, error)
        return result

    def _start_index(self, units: list[Unit]) -> int:
        """The unit after the last completed one, never before the current one."""
        with self._lock:
            cur = self._cur
        for i in range(len(units) - 1, cur - 1, -1):
            if i in self._finished or units[i].completed():
                return i + 1
        return cur

    def _finish_unit(self, units: list[Unit], idx: int) -> None:
        with self._lock:
            self._finished.add(idx)
        self._close_unit(idx)  # its status() still answers: a Finished subtask shows the last unit

    def _after_run(self, stop: threading.Event, error: BaseException | None, finished: bool) -> None:
        with self._lock:
            if self._stop is not stop:  # a newer run replaced this one (cannot happen, defensive)
                return
            result = pb.ProcessResult()
            if error is not None:
                if self._stage == pb.Stopping:
                    result.errors.append(process_error(error))
                    self._stage = pb.Stopped
                else:
                    result = self._pause_with_error_locked(error)
            elif self._stage == pb.Stopping:
                self._stage = pb.Stopped
            elif finished and not stop.is_set():
                self._stage = pb.Finished
                log.info("subtask %s: all units finished", self.name)
            else:
                result.isCanceled = True
                self._stage = pb.Paused
                self._paused_at = time.monotonic()
            self._result = result
            if self._stage == pb.Stopped:
                self._closed = True
            if self._stage in (pb.Stopped, pb.Finished):
                self._close_units_locked()

    def _close_units_locked(self) -> None:
        for i in range(len(self._units or [])):
            self._close_unit(i)

    def _close_unit(self, idx: int) -> None:
        with self._lock:
            if self._units is None or idx in self._closed_units:
                return
            self._closed_units.add(idx)
            unit = self._units[idx]
        try:
            unit.close()
        except Exception:
            log.exception("subtask %s: closing unit", self.name)
