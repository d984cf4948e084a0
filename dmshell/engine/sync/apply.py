"""Applying row changes to the target: causality dispatch over ``worker-count`` DML queues.

Each change carries causality keys (the routed table + the values of its primary/unique keys, see
:func:`dmshell.engine.sync.dml.causality_keys`). A change goes to the queue ("lane") that already holds
any of its keys, so changes to one row stay in order; a change whose keys live in two different
lanes is a *conflict*: every lane is drained first (DM's conflict job), then the key map starts
afresh. Keys are forgotten once every change that used them is committed (two generations of the
key map), so a long stream of distinct keys never forces a drain.

The dispatching (reader) thread collects each lane's changes in a buffer and hands it over as one
batch when it holds ``batch`` changes, when the reader is about to wait for the upstream
(:meth:`Applier.flush`), or when its oldest change has waited ``MAX_BUFFER_AGE``. (DM's worker
executes "when its batch is full or its queue is momentarily empty"; here a busy stream always
fills batches, which is what keeps the target's cost per row low, and the age limit bounds the
delay of a change to a quiet lane.) Each lane owns one target connection; the lanes' batches
are executed by :mod:`dmshell.engine.sync.dml_exec` — by default in a child process
(:mod:`dmshell.engine.sync.dml_process`), so that rendering SQL and talking to the target don't
take the CPU the binlog decoding needs (``DMSHELL_DML_PROCESS=0`` keeps them in threads of this
process) — with bounded queues (back-pressure on the reader). A
batch is one transaction with multi-row statements when ``multiple-rows`` is on and the changes
of one row collapsed when ``compact`` is on (:func:`dmshell.engine.sync.dml.batch_statements`).

:meth:`Applier.drain` is a barrier: it returns when every change dispatched before it is committed
— the syncer calls it before flushing a checkpoint and before executing a DDL, which is what makes
"only fully applied positions are flushed" true.

Upstream transactions stay whole (:class:`Transactions`): the syncer calls
:meth:`Applier.txn_begin` when the stream enters one and :meth:`Applier.txn_commit` with its end
location when it leaves it; the changes dispatched in between are collected and, at the commit,
go to ONE lane as a whole — the lane that holds any of their causality keys (keys in two lanes: a
conflict, every lane is drained first). A lane's batch holds whole transactions only, so a target
transaction never shows part of an upstream one. Each batch also records, in its own target
transaction, the ids of the upstream transactions it completes (the applied record, see
:mod:`dmshell.engine.sync.checkpoint`); after a restart, a transaction the record holds is read
and dropped, so every upstream transaction is applied exactly once without relying on REPLACE.

The exception: a transaction of more than ``max_txn_rows`` changes is applied in parts (memory
stays bounded): every lane is drained, the parts go to lane 0 in order, each recording how many of
the transaction's changes are applied; a replay drops that many; the lanes are drained again at
its end. Its parts are visible one by one on the target while it is applied.
Changes dispatched outside a transaction (no :meth:`txn_begin`) go straight to their lanes.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from dmshell.engine import errors
from dmshell.engine.binlog.location import Location
from dmshell.engine.config.database import DBConfig
from dmshell.engine.db import classify
from dmshell.engine.sync.checkpoint import AppliedRecord
from dmshell.engine.sync.dml import INSERT, UPDATE, RowChange, causality_keys, plan_of
from dmshell.engine.sync.dml_exec import Aborted, Batch, ThreadExecutor, tune_gc
from dmshell.engine.sync.dml_process import ProcessExecutor

__all__ = ["Aborted", "Applier", "Causality", "Transactions", "downstream"]

log = logging.getLogger(__name__)

#: keys remembered per generation of the causality map (two generations are kept)
MAX_CAUSALITY_KEYS = 100_000
#: a buffered change waits at most this long (seconds) before its batch is handed to its lane
MAX_BUFFER_AGE = 0.1
#: dispatches (or events, see :meth:`Applier.check`) between two checks of the buffers' age
AGE_CHECK_EVERY = 256
#: an upstream transaction with more changes than this is applied in parts (see the module docstring)
MAX_TXN_ROWS = 100_000


def downstream(err: errors.DMError) -> errors.DMError:
    """DM's ``terror.WithScope(err, ScopeDownstream)`` for errors the target raised."""
    entry = dataclasses.replace(err.entry, scope=errors.Scope.DOWNSTREAM)
    return errors.DMError(entry, err.message, err.cause, err.workaround)


class Transactions(Protocol):
    """How the syncer tells an applier about upstream transaction boundaries.

    Every ``txn_begin`` is followed by exactly one ``txn_commit``; the row changes dispatched in
    between belong to that transaction (none for a DDL's, or a transaction the GTID skip set holds).
    """

    def txn_begin(self) -> None:
        """The stream entered a transaction (a GTID event, or ``BEGIN``)."""
        ...

    def txn_commit(self, end: Location) -> None:
        """The transaction ended (XID, ``COMMIT``, ``ROLLBACK``, or the DDL it held); ``end``: the
        global point after it (file, position and the GTID set including it)."""
        ...


class Causality:
    """Key → worker map; :meth:`assign` returns None on a conflict.

    Two generations: keys go to ``relations``; when it is full it becomes ``older`` (dropped once
    everything dispatched before the switch is committed, see :meth:`Applier._rotate`).
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.relations: dict[Any, int] = {}
        self.older: dict[Any, int] = {}

    def assign(self, keys: list) -> int | None:
        rel, older = self.relations, self.older
        if len(keys) == 1:
            k = keys[0]
            q = rel.get(k)
            if q is None:
                q = older.get(k)
                if q is None:
                    q = hash(k) % self.workers
                rel[k] = q
            return q
        found = None
        for k in keys:
            q = rel.get(k)
            if q is None:
                q = older.get(k)
            if q is not None:
                if found is not None and q != found:
                    return None
                found = q
        if found is None:
            found = hash(keys[0]) % self.workers
        for k in keys:
            rel[k] = found
        return found

    def size(self) -> int:
        return len(self.relations) + len(self.older)

    def reset(self) -> None:
        self.relations.clear()
        self.older.clear()


class Applier:
    """``worker-count`` DML lanes with causality dispatch (see the module docstring).

    ``process``: execute in a child process (default: yes, unless ``connect_fn`` — a test's fake
    connections — is given or ``DMSHELL_DML_PROCESS=0``).
    """

    def __init__(
        self,
        target: DBConfig,
        *,
        workers: int,
        batch: int,
        queue_size: int,
        multiple_rows: bool = False,
        compact: bool = False,
        connect_fn: Callable[[DBConfig], Any] | None = None,
        process: bool | None = None,
        record: AppliedRecord | None = None,
        max_txn_rows: int = MAX_TXN_ROWS,
    ) -> None:
        self.workers_n = max(1, workers)
        self.batch = max(1, batch)
        self.queue_size = max(1, queue_size // 2)  # changes per lane queue (DM: queue-size / 2)
        self.multiple_rows = multiple_rows
        self.compact = compact  # changes of one row in a batch collapse (DM's syncers.compact)
        self.causality = Causality(self.workers_n)
        self.error: errors.DMError | None = None
        self._lock = threading.Lock()
        self._inflight: OrderedDict[int, Batch] = OrderedDict()  # first seq of a batch -> batch
        self._seq = 0
        self._since_check = 0
        self._older_until = 0  # every change up to this seq must be committed to drop `older`
        self.rows_applied = 0
        #: polled while blocked on a full queue or a drain; True makes the wait raise :class:`Aborted`
        self.should_abort: Callable[[], bool] = lambda: False
        #: the stream's position (the syncer's LocationRecorder): the GTID and start of a transaction
        self.loc: Any = None
        self.record = record
        self.max_txn_rows = max(1, max_txn_rows)
        self._txn: list[RowChange] | None = None  # changes of the open upstream transaction
        self._txn_gtid = ""
        self._txn_start = ""  # "@file:pos" where it began (the id of its parts)
        self._txn_skip = 0  # its changes applied already (parts recorded before a restart)
        self._txn_done = -1  # changes handed over in parts (-1: not in parts)
        self._txn_base = 0  # changes of it recorded as applied when the run started
        rec = (record.table, record.source_id) if record is not None else None
        tune_gc()
        if process is None:
            process = connect_fn is None and os.environ.get("DMSHELL_DML_PROCESS", "1") != "0"
        lanes, capacity = self.workers_n, self.queue_size
        self._executor: ProcessExecutor | ThreadExecutor
        if process:
            self._executor = ProcessExecutor(
                self,
                target,
                lanes=lanes,
                batch=self.batch,
                capacity=capacity,
                multiple_rows=multiple_rows,
                compact=compact,
                record=rec,
            )
        else:
            self._executor = ThreadExecutor(
                self,
                target,
                lanes=lanes,
                batch=self.batch,
                capacity=capacity,
                multiple_rows=multiple_rows,
                compact=compact,
                connect_fn=connect_fn,
                record=rec,
            )
        self._buffers: list[Batch | None] = [None] * self.workers_n

    # -- reports of the executor (any thread) ----------------------------------------------------
    def fail(self, err: errors.DMError) -> None:
        with self._lock:
            if self.error is None:
                self.error = err

    def applied(self, lane: int, seqs: list[int], rows: int) -> None:
        with self._lock:
            for seq in seqs:
                self._inflight.pop(seq, None)
            self.rows_applied += rows

    def failed(
        self, lane: int, seqs: list[int], rows: int, exc: BaseException, sql: str, change: Any
    ) -> None:
        """A batch failed: its changes stay "in flight" (never applied: the checkpoint can't pass
        them, and the lag keeps counting them); the first failure is the applier's error."""
        err = classify(exc, sql[:2048] + ("..." if len(sql) > 2048 else ""))
        if not err.resumable:
            err = downstream(err)
        origin = change.origin if change is not None else None
        if origin is not None:
            err = err.annotate(str(origin))
        self.fail(err)

    # -- called by the syncer ------------------------------------------------------------------
    def check(self) -> None:
        """Raise the first worker error, if any. (Called by the syncer after every event: also
        hands over buffers that waited too long while the stream carried no rows for them.)"""
        if self.error is not None:
            raise self.error
        self._since_check += 1
        if self._since_check >= AGE_CHECK_EVERY:
            self._since_check = 0
            self._submit_old()

    def txn_begin(self) -> None:
        """See :class:`Transactions`: a lane's failure stops the stream before the transaction;
        the changes up to :meth:`txn_commit` are collected."""
        if self.error is not None:
            raise self.error
        self._txn = []
        self._txn_done = -1
        loc = self.loc
        if loc is None:
            self._txn_gtid = self._txn_start = ""
            self._txn_skip = self._txn_base = 0
            return
        self._txn_gtid = loc.pending_gtid
        point = loc.global_point
        self._txn_start = f"@{point.file}:{point.pos}"
        rec = self.record
        self._txn_skip = rec.partial.pop(self._txn_start, 0) if rec is not None and rec.partial else 0
        self._txn_base = self._txn_skip

    def txn_commit(self, end: Location) -> None:
        """See :class:`Transactions`: the transaction's changes go to one lane as a whole (or, if
        the applied record holds it, nowhere); raises a lane's error."""
        txn, self._txn = self._txn, None
        if txn is None:
            self.check()
            return
        tid = self._txn_gtid or f"{end.file}:{end.pos}"
        rec = self.record
        if rec is not None and rec.done and tid in rec.done:
            rec.done.discard(tid)  # applied before the restart
            self.check()
            return
        if self._txn_done >= 0:  # the last part of a transaction applied in parts
            self._part(txn, tid)
            self.drain()
            return
        if not txn:
            self.check()
            return
        keys: list = []
        for c in txn:
            keys.extend(c.keys or ())
        causality = self.causality
        q = causality.assign(keys)
        if q is None:
            self.drain()  # the transaction touches rows of several lanes: they go first
            q = causality.assign(keys)
            assert q is not None
        elif len(causality.relations) > MAX_CAUSALITY_KEYS:
            self._rotate()
        buf = self._buffers[q]
        if buf is None:
            buf = self._buffers[q] = Batch(self._seq + 1, txn[0].ts)
            with self._lock:
                self._inflight[buf.seq] = buf
        self._seq += len(txn)
        buf.changes.extend(txn)
        if rec is not None:
            buf.ids.append(tid)
        if len(buf.changes) >= self.batch:
            self._submit(q)
        self.check()

    def _collect(self, change: RowChange) -> None:
        """A change of the open transaction (dropped when applied before a restart)."""
        if self._txn_skip:
            self._txn_skip -= 1
            return
        txn = self._txn
        assert txn is not None
        txn.append(change)
        if len(txn) >= self.max_txn_rows:
            if self._txn_done < 0:
                self.drain()  # everything before goes first; the parts use lane 0 alone
                self._txn_done = 0
            self._part(txn, None)
            self._txn = []

    def _part(self, changes: list[RowChange], tid: str | None) -> None:
        """Hand a part of a transaction applied in parts to lane 0; ``tid``: the last part's id."""
        done = self._txn_done = self._txn_done + len(changes)
        buf = Batch(self._seq + 1, changes[0].ts if changes else 0)
        buf.changes = changes
        if self.record is not None:
            if tid is not None:
                buf.ids.append(tid)
            buf.partial = (self._txn_start, done + self._txn_base)
        self._seq += max(1, len(changes))
        with self._lock:
            self._inflight[buf.seq] = buf
        self._executor.submit(0, buf)

    @property
    def dispatched(self) -> int:
        """Changes dispatched so far (the sequence number of the last one)."""
        return self._seq

    def committed_through(self) -> int:
        """The largest ``n`` such that the first ``n`` dispatched changes are all committed."""
        with self._lock:
            if not self._inflight:
                return self._seq
            return next(iter(self._inflight)) - 1

    def oldest_pending_ts(self) -> int | None:
        """Event timestamp of the oldest change dispatched but not committed yet."""
        with self._lock:
            if not self._inflight:
                return None
            return next(iter(self._inflight.values())).ts

    def queue_depths(self) -> list[int]:
        """Changes waiting for (or being applied by) each lane."""
        depths = self._executor.depths()
        return [
            d + (len(b.changes) if (b := self._buffers[i]) is not None else 0) for i, d in enumerate(depths)
        ]

    def dispatch(self, change: RowChange, safe_mode: bool) -> None:
        """Queue one change (blocks while its worker's queue is full). Raises a worker's error."""
        if self.error is not None:
            raise self.error
        change.safe = safe_mode
        if change.plan is None:
            change.plan = plan_of(change.table, change.target)
        keys = change.keys = causality_keys(change)
        if self._txn is not None:
            self._collect(change)
            return
        self._enqueue(change, keys)

    def dispatch_rows(
        self,
        op: str,
        info,
        target: tuple[str, str],
        images: list[list],
        ts: int,
        origin: Any,
        safe_mode: bool,
    ) -> None:
        """Dispatch every row of one rows event (``images`` as from ``RowsEvent.decode``: UPDATE
        before and after images alternate); the same as :meth:`dispatch` per row, cheaper (the
        common case — a one-column primary key that doesn't change — is done inline)."""
        if self.error is not None:
            raise self.error
        plan = plan_of(info, target)
        if self._txn is not None:
            self._collect_rows(op, info, target, images, ts, origin, safe_mode, plan)
            return
        single, table = plan.single_key, plan.table
        causality, buffers, limit, workers = self.causality, self._buffers, self.batch, self.workers_n
        update = op == UPDATE
        for n in range(0, len(images), 2 if update else 1):
            if update:
                before, after = images[n], images[n + 1]
                v = before[single] if single >= 0 else None
                if v is not None and after[single] != v:
                    v = None
            elif op == INSERT:
                before, after = None, images[n]
                v = after[single] if single >= 0 else None
            else:
                before, after = images[n], None
                v = before[single] if single >= 0 else None
            c = RowChange(op, info, target, before, after, ts, origin, safe_mode, None, plan)
            if v is None:  # several keys, or a moving one
                keys = c.keys = causality_keys(c)
                self._enqueue(c, keys)
                continue
            key = (table, 0, v.lower() if type(v) is str else v)
            c.keys = [key]
            rel = causality.relations
            q = rel.get(key)
            if q is None:
                q = causality.older.get(key)
                if q is None:
                    q = hash(key) % workers
                rel[key] = q
                if len(rel) > MAX_CAUSALITY_KEYS:
                    self._rotate()
            seq = self._seq = self._seq + 1
            buf = buffers[q]
            if buf is None:
                buf = buffers[q] = Batch(seq, ts)
                with self._lock:
                    self._inflight[seq] = buf
            changes = buf.changes
            changes.append(c)
            if len(changes) >= limit:
                self._submit(q)
        self._since_check += len(images)
        if self._since_check >= AGE_CHECK_EVERY:
            self._since_check = 0
            self._submit_old()

    def _collect_rows(self, op, info, target, images, ts, origin, safe_mode, plan) -> None:
        """:meth:`dispatch_rows` inside a transaction: the changes are collected."""
        single, table = plan.single_key, plan.table
        update = op == UPDATE
        collect = self._collect
        for n in range(0, len(images), 2 if update else 1):
            if update:
                before, after = images[n], images[n + 1]
                v = before[single] if single >= 0 else None
                if v is not None and after[single] != v:
                    v = None
            elif op == INSERT:
                before, after = None, images[n]
                v = after[single] if single >= 0 else None
            else:
                before, after = images[n], None
                v = before[single] if single >= 0 else None
            c = RowChange(op, info, target, before, after, ts, origin, safe_mode, None, plan)
            c.keys = causality_keys(c) if v is None else [(table, 0, v.lower() if type(v) is str else v)]
            collect(c)

    def _enqueue(self, change: RowChange, keys: list) -> None:
        q = self.causality.assign(keys)
        if q is None:
            self.drain()  # conflict: everything before this change must be applied first
            q = self.causality.assign(keys)
            assert q is not None
        elif len(self.causality.relations) > MAX_CAUSALITY_KEYS:
            self._rotate()
        self._seq += 1
        buf = self._buffers[q]
        if buf is None:
            buf = self._buffers[q] = Batch(self._seq, change.ts)
            with self._lock:
                self._inflight[self._seq] = buf
        changes = buf.changes
        changes.append(change)
        if len(changes) >= self.batch:
            self._submit(q)
        self._since_check += 1
        if self._since_check >= AGE_CHECK_EVERY:
            self._since_check = 0
            self._submit_old()

    def flush(self) -> None:
        """Hand every buffered change to its lane (e.g. before waiting for the upstream)."""
        for q, buf in enumerate(self._buffers):
            if buf is not None:
                self._submit(q)

    def _submit_old(self) -> None:
        limit = time.monotonic() - MAX_BUFFER_AGE
        for q, buf in enumerate(self._buffers):
            if buf is not None and buf.created < limit:
                self._submit(q)

    def _submit(self, q: int) -> None:
        buf = self._buffers[q]
        if buf is None:
            return
        self._buffers[q] = None
        self._executor.submit(q, buf)

    def _rotate(self) -> None:
        """The causality map is full: drop the older generation when its changes are committed."""
        c = self.causality
        if c.older and self.committed_through() < self._older_until:
            if len(c.relations) < 2 * MAX_CAUSALITY_KEYS:
                return  # still in flight: keep growing for a while
            self.drain()  # bounded memory: wait for the lanes
            return
        c.older = c.relations
        c.relations = {}
        self._older_until = self._seq

    def drain(self) -> None:
        """Wait until every change dispatched so far is committed; then forget all causality keys."""
        self.flush()
        self._executor.barrier()
        self.causality.reset()
        self.check()

    def close(self, timeout: float = 10) -> None:
        """Stop the lanes (after executing what they hold) and close their connections; a lane
        still stuck in the target after ``timeout`` has its connection cut."""
        try:
            self.flush()
        except Exception:  # failed or aborted: what is buffered is not applied
            pass
        self._executor.close(timeout)
