"""Applying row changes to the target: causality dispatch over ``worker-count`` DML workers.

Each change carries causality keys (the routed table + the values of its primary/unique keys, see
:func:`dmshell.engine.dml.causality_keys`). A change goes to the queue that already holds any of its
keys, so changes to one row stay in order; a change whose keys live in two different queues is a
*conflict*: every queue is drained first (DM's conflict job), then the key map starts afresh.

Each worker owns one target connection and a bounded queue (back-pressure on the reader). It
collects changes and executes them in one transaction when it has ``batch`` of them or when its
queue is momentarily empty. :meth:`Applier.drain` is a barrier: it returns when every change
dispatched before it is committed — the syncer calls it before flushing a checkpoint and before
executing a DDL, which is what makes "only fully applied positions are flushed" true.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import queue
import socket
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dmshell.engine import errors
from dmshell.engine.config import DBConfig
from dmshell.engine.db import classify, connect, errno_of
from dmshell.engine.dml import RowChange, causality_keys, gen_sql

log = logging.getLogger(__name__)

#: deadlock / lock wait timeout: the transaction is rolled back and the batch runs again
RETRY_ERRNOS = frozenset({1213, 1205})
RETRIES = 10
#: when the causality map grows beyond this many keys, drain and start afresh (bounds memory)
MAX_CAUSALITY_KEYS = 200_000
#: DML sessions: UTC (TIMESTAMP values are decoded as UTC), explicit zeros in AUTO_INCREMENT
#: columns stay zero, and no foreign-key checks (causality reorders changes across tables).
DML_SESSION = (
    "SET SESSION time_zone = '+00:00'",
    "SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',NO_AUTO_VALUE_ON_ZERO')",
    "SET SESSION foreign_key_checks = 0",
)


def downstream(err: errors.DMError) -> errors.DMError:
    """DM's ``terror.WithScope(err, ScopeDownstream)`` for errors the target raised."""
    entry = dataclasses.replace(err.entry, scope=errors.Scope.DOWNSTREAM)
    return errors.DMError(entry, err.message, err.cause, err.workaround)


class Aborted(Exception):
    """Waiting for the workers was given up (:attr:`Applier.should_abort` said so)."""


class Causality:
    """Key → queue map; :meth:`assign` returns None on a conflict."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.relations: dict[str, int] = {}

    def assign(self, keys: list[str]) -> int | None:
        queues = {self.relations[k] for k in keys if k in self.relations}
        if len(queues) > 1:
            return None
        q = queues.pop() if queues else zlib.crc32(keys[0].encode("utf-8", "surrogatepass")) % self.workers
        for k in keys:
            self.relations[k] = q
        return q

    def reset(self) -> None:
        self.relations.clear()


class _Barrier:
    def __init__(self, n: int) -> None:
        self._left = n
        self._lock = threading.Lock()
        self.done = threading.Event()
        if n == 0:
            self.done.set()

    def arrive(self) -> None:
        with self._lock:
            self._left -= 1
            if self._left == 0:
                self.done.set()


@dataclass(slots=True)
class _Job:
    change: RowChange | None
    safe_mode: bool = False
    seq: int = 0
    barrier: _Barrier | None = None


_STOP = _Job(None)


class _Worker(threading.Thread):
    def __init__(self, applier: Applier, index: int, conn) -> None:
        super().__init__(name=f"dml-worker-{index}", daemon=True)
        self.applier = applier
        self.index = index
        self.conn = conn
        self.queue: queue.Queue[_Job] = queue.Queue(maxsize=applier.queue_size)
        self._sql = ""  # the statement being executed (for error reports)
        self._job: _Job | None = None

    def run(self) -> None:
        pending: list[_Job] = []
        batch = self.applier.batch
        while True:
            try:
                job = self.queue.get_nowait() if pending else self.queue.get()
            except queue.Empty:
                self._execute(pending)
                pending = []
                continue
            if job is _STOP:
                self._execute(pending)
                return
            if job.barrier is not None:
                self._execute(pending)
                pending = []
                job.barrier.arrive()
                continue
            pending.append(job)
            if len(pending) >= batch:
                self._execute(pending)
                pending = []

    def _execute(self, jobs: list[_Job]) -> None:
        if not jobs:
            return
        if self.applier.error is not None:
            self.applier.forget(jobs)  # failed already: drop, the checkpoint won't move past them
            return
        for attempt in range(RETRIES + 1):
            try:
                self._transaction(jobs)
                break
            except Exception as exc:  # every failure must reach the syncer
                try:
                    self.conn.rollback()
                except Exception:  # broken connection: the first error matters
                    pass
                if errno_of(exc) in RETRY_ERRNOS and attempt < RETRIES:
                    time.sleep(min(1.0, 0.01 * 2 ** attempt))
                    continue  # the whole batch was rolled back: run it again
                self._failed(jobs, exc)
                return
        self.applier.applied(jobs)

    def _transaction(self, jobs: list[_Job]) -> None:
        self._sql, self._job = "", jobs[0]
        self.conn.begin()
        with self.conn.cursor() as cur:
            for job in jobs:
                self._job = job
                for sql, args in gen_sql(job.change, job.safe_mode):
                    self._sql = sql
                    cur.execute(sql, args)
        self.conn.commit()

    def _failed(self, jobs: list[_Job], exc: Exception) -> None:
        sql, job = self._sql, self._job
        err = classify(exc, sql)
        if not err.resumable:
            err = downstream(err)
        origin = job.change.origin if job is not None and job.change is not None else None
        if origin is not None:
            err = err.annotate(str(origin))
        self.applier.fail(err)
        self.applier.forget(jobs)


class Applier:
    """``worker-count`` DML workers with causality dispatch (see the module docstring)."""

    def __init__(self, target: DBConfig, *, workers: int, batch: int, queue_size: int,
                 connect_fn: Callable[[DBConfig], Any] | None = None) -> None:
        self.workers_n = max(1, workers)
        self.batch = max(1, batch)
        self.queue_size = max(1, queue_size // 2)
        self.causality = Causality(self.workers_n)
        self.error: errors.DMError | None = None
        self._lock = threading.Lock()
        self._inflight: OrderedDict[int, int] = OrderedDict()  # seq -> event timestamp
        self._seq = 0
        self.rows_applied = 0
        #: polled while blocked on a full queue or a drain; True makes the wait raise :class:`Aborted`
        self.should_abort: Callable[[], bool] = lambda: False
        conns = []
        make = connect_fn or (lambda cfg: connect(cfg, autocommit=False))
        try:
            for _ in range(self.workers_n):
                conn = make(target)
                with conn.cursor() as cur:
                    for stmt in DML_SESSION:
                        cur.execute(stmt)
                conn.commit()
                conns.append(conn)
        except Exception as exc:
            for c in conns:
                c.close()
            raise classify(exc, "prepare DML connections") from exc
        self._workers = [_Worker(self, i, c) for i, c in enumerate(conns)]
        for w in self._workers:
            w.start()

    # -- called by the workers -----------------------------------------------------------------
    def fail(self, err: errors.DMError) -> None:
        with self._lock:
            if self.error is None:
                self.error = err

    def applied(self, jobs: list[_Job]) -> None:
        with self._lock:
            for j in jobs:
                self._inflight.pop(j.seq, None)
            self.rows_applied += len(jobs)

    def forget(self, jobs: list[_Job]) -> None:
        with self._lock:
            for j in jobs:
                self._inflight.pop(j.seq, None)

    # -- called by the syncer ------------------------------------------------------------------
    def check(self) -> None:
        """Raise the first worker error, if any."""
        if self.error is not None:
            raise self.error

    def oldest_pending_ts(self) -> int | None:
        """Event timestamp of the oldest change dispatched but not committed yet."""
        with self._lock:
            if not self._inflight:
                return None
            return next(iter(self._inflight.values()))

    def dispatch(self, change: RowChange, safe_mode: bool) -> None:
        """Queue one change (blocks while its queue is full). Raises a worker's error."""
        self.check()
        keys = causality_keys(change)
        q = self.causality.assign(keys)
        if q is None or len(self.causality.relations) > MAX_CAUSALITY_KEYS:
            self.drain()  # conflict: everything before this change must be applied first
            q = self.causality.assign(keys)
            assert q is not None
        with self._lock:
            self._seq += 1
            seq = self._seq
            self._inflight[seq] = change.ts
        self._put(self._workers[q], _Job(change, safe_mode, seq))

    def _put(self, worker: _Worker, job: _Job) -> None:
        while True:
            try:
                worker.queue.put(job, timeout=0.5)
                return
            except queue.Full:
                self.check()
                if not worker.is_alive():
                    raise errors.ErrSyncerUnitPanic(f"{worker.name} stopped") from None
                if self.should_abort():
                    raise Aborted() from None

    def drain(self) -> None:
        """Wait until every change dispatched so far is committed; then forget all causality keys."""
        barrier = _Barrier(len(self._workers))
        for w in self._workers:
            self._put(w, _Job(None, barrier=barrier))
        while not barrier.done.wait(0.2):
            if not all(w.is_alive() for w in self._workers):
                raise errors.ErrSyncerUnitPanic("a DML worker stopped")
            if self.should_abort():
                raise Aborted()
        self.causality.reset()
        self.check()

    def close(self, timeout: float = 10) -> None:
        """Stop the workers (after executing what they hold) and close their connections; a worker
        still stuck in the target after ``timeout`` has its connection cut."""
        deadline = time.monotonic() + timeout
        for w in self._workers:
            if w.is_alive():
                try:
                    w.queue.put(_STOP, timeout=max(0.1, deadline - time.monotonic()))
                except queue.Full:
                    log.warning("%s did not take the stop request", w.name)
        for w in self._workers:
            w.join(max(0.1, deadline - time.monotonic()))
        for w in self._workers:
            if w.is_alive():  # blocked in the target: cut the socket, its statement fails
                sock = getattr(w.conn, "_sock", None)
                with contextlib.suppress(OSError, AttributeError):
                    sock.shutdown(socket.SHUT_RDWR)
                w.join(1)
                continue
            with contextlib.suppress(Exception):
                w.conn.close()
