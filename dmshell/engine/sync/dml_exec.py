"""Executing batches of row changes on the target's ``worker-count`` connections ("lanes").

Two executors with one interface (:class:`ThreadExecutor`, :class:`ProcessExecutor`), used by
:class:`dmshell.engine.sync.apply.Applier`, which decides what goes to which lane and reports
progress from the callbacks of its :class:`Sink`:

* :class:`ThreadExecutor`: the lanes' batches run on at most ``MAX_THREADS`` threads of this
  process (fewer Python threads than lanes: on a CPU-bound process every extra thread costs GIL
  hand-overs; the target still sees one connection per lane, and a lane never holds locks while
  its thread serves another, because a batch is one whole transaction).
* :class:`dmshell.engine.sync.dml_process.ProcessExecutor`: the same, in a child process, so that
  rendering SQL and talking to the target use the second core instead of the syncer's process.

A batch is one transaction sent in as few round trips as possible: ``s1;s2;...`` as one
multi-statement text on a session without autocommit (the first statement opens the transaction),
cut below ``MAX_ROUND_TRIP_BYTES``, then ``COMMIT``. Deadlocks and lock wait timeouts roll the
batch back and run it again; any other error stops the lanes (the Applier reports the failing
change).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import queue
import socket
import threading
import time
from typing import Any, Protocol

from pymysql import err as pymysql_err
from pymysql.constants import COMMAND, CR, SERVER_STATUS

from dmshell.engine import errors
from dmshell.engine.config.database import DBConfig
from dmshell.engine.db import classify, connect, errno_of
from dmshell.engine.sync.checkpoint import record_sql
from dmshell.engine.sync.dml import RowChange, batch_statements, encode

log = logging.getLogger(__name__)

#: deadlock / lock wait timeout: the transaction is rolled back and the batch runs again
RETRY_ERRNOS = frozenset({1213, 1205})
RETRIES = 10
#: the SQL text sent in one round trip (and one multi-row statement) stays below this
MAX_ROUND_TRIP_BYTES = 4 << 20
#: Python threads executing the lanes' batches (at most)
MAX_THREADS = 4
#: the garbage collector's first threshold while a sync unit runs (CPython's default is 700)
GC_THRESHOLD = 10_000
#: DML sessions: UTC (TIMESTAMP values are decoded as UTC), explicit zeros in AUTO_INCREMENT
#: columns stay zero, no foreign-key checks (causality reorders changes across tables); the
#: session's sql_mode loses NO_BACKSLASH_ESCAPES (the SQL text is generated with escapes)
DML_SESSION = (
    "SET SESSION time_zone = '+00:00'",
    "SET SESSION foreign_key_checks = 0",
)
_MULTI_STATEMENTS_ON = b"\x00\x00"  # COM_SET_OPTION MYSQL_OPTION_MULTI_STATEMENTS_ON


class Aborted(Exception):
    """Waiting for the workers was given up (the sink's ``should_abort`` said so)."""


class Batch:
    """Changes for one lane; ``seq``: the dispatch number of the first one. ``ids``: the upstream
    transactions the batch completes, ``partial``: (start id, changes applied) of a transaction
    applied in parts — both recorded in the batch's transaction (see
    :mod:`dmshell.engine.sync.checkpoint`)."""

    __slots__ = ("changes", "created", "ids", "partial", "seq", "ts")

    def __init__(self, seq: int, ts: int) -> None:
        self.seq = seq
        self.ts = ts
        self.changes: list[RowChange] = []
        self.created = time.monotonic()
        self.ids: list[str] = []
        self.partial: tuple[str, int] | None = None


class Sink(Protocol):
    """What an executor reports to (the Applier)."""

    error: errors.DMError | None

    def applied(self, lane: int, seqs: list[int], rows: int) -> None: ...

    def failed(
        self, lane: int, seqs: list[int], rows: int, exc: BaseException, sql: str, change: Any
    ) -> None:
        """``change``: the failing RowChange (its ``origin`` names it), or None."""

    def should_abort(self) -> bool: ...


def tune_gc() -> None:
    """Collect the youngest generation every ``GC_THRESHOLD`` allocations, not every 700.

    Replication allocates a few container objects per row (the decoded values, the change, its
    keys) and keeps thousands in flight in the queues; with the default threshold the collector
    ran a thousand times per 200,000 rows and took 15% of the process's CPU, for no garbage (the
    objects are freed by reference counting). Process-wide: the worker process is dedicated to
    one source's subtasks.
    """
    threshold, *older = gc.get_threshold()
    if 0 < threshold < GC_THRESHOLD:
        gc.set_threshold(GC_THRESHOLD, *older)


# -- the target connection -------------------------------------------------------------------------
def prepare(conn) -> None:
    """DML session settings, no autocommit, multi-statement texts on (COM_SET_OPTION)."""
    with conn.cursor() as cur:
        for stmt in DML_SESSION:
            cur.execute(stmt)
        cur.execute("SELECT @@SESSION.sql_mode")
        modes = [m for m in str(cur.fetchone()[0] or "").split(",") if m and m != "NO_BACKSLASH_ESCAPES"]
        cur.execute("SET SESSION sql_mode = %s", (",".join([*modes, "NO_AUTO_VALUE_ON_ZERO"]),))
    conn.commit()
    conn.autocommit(False)
    conn._execute_command(COMMAND.COM_SET_OPTION, _MULTI_STATEMENTS_ON)
    conn._read_packet()  # EOF or OK; an error raises
    if conn.server_status & SERVER_STATUS.SERVER_STATUS_NO_BACKSLASH_ESCAPES:
        raise errors.ErrSyncerUnitPanic("the DML session kept NO_BACKSLASH_ESCAPES")


class _Failed(Exception):
    def __init__(self, done: int, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.done = done  # statements of the text that completed before the failing one
        self.cause = cause


def _lost(detail: str = "") -> pymysql_err.OperationalError:
    return pymysql_err.OperationalError(
        CR.CR_SERVER_LOST, "Lost connection to MySQL server during query" + (f" ({detail})" if detail else "")
    )


def execute_texts(conn, sql: bytes) -> None:
    """Send a multi-statement text and read its results (OK packets only: DML, COMMIT), lighter
    than PyMySQL's result objects. Raises :class:`_Failed` with the cause and the number of
    statements that completed before it."""
    done = 0
    try:
        conn._execute_command(COMMAND.COM_QUERY, sql)
        read = conn._rfile.read
        while True:
            head = read(4)
            if len(head) < 4:
                raise _lost()
            n = head[0] | head[1] << 8 | head[2] << 16
            data = read(n)
            if len(data) < n:
                raise _lost()
            if data[0] != 0:
                if data[0] == 0xFF:
                    pymysql_err.raise_mysql_exception(data)
                raise pymysql_err.InternalError(f"unexpected packet 0x{data[0]:02x} after a DML statement")
            done += 1
            p = 1
            for _ in range(2):  # affected rows, last insert id (length-encoded)
                c = data[p]
                p += 1 if c < 251 else 3 if c == 252 else 4 if c == 253 else 9
            if not (data[p] | data[p + 1] << 8) & SERVER_STATUS.SERVER_MORE_RESULTS_EXISTS:
                return
    except (OSError, ValueError) as exc:  # the socket broke (ValueError: read on a closed file)
        conn._force_close()
        raise _Failed(done, _lost(str(exc))) from exc
    except Exception as exc:
        raise _Failed(done, exc) from exc


# -- threads ---------------------------------------------------------------------------------------
class _Barrier:
    def __init__(self, n: int, done: threading.Event | None = None) -> None:
        self._left = n
        self._lock = threading.Lock()
        self.done = done or threading.Event()
        if n == 0:
            self.done.set()

    def arrive(self) -> None:
        with self._lock:
            self._left -= 1
            if self._left == 0:
                self.done.set()


_STOP = object()


class _Lane:
    """One of the ``worker-count`` DML queues: its own target connection (DM: one per queue)."""

    __slots__ = ("conn", "index", "pending", "thread")

    def __init__(self, index: int, conn) -> None:
        self.index = index
        self.conn = conn
        self.pending = 0  # changes handed over and not finished yet
        self.thread: _Worker | None = None


class _Worker(threading.Thread):
    """Executes the batches of a few lanes, in the order they were handed over."""

    def __init__(self, executor: ThreadExecutor, index: int, capacity: int) -> None:
        super().__init__(name=f"dml-worker-{index}", daemon=True)
        self.executor = executor
        self.lanes: list[_Lane] = []
        self.queue: queue.Queue = queue.Queue(maxsize=capacity)
        self._sql = ""  # the statement being executed (for error reports)
        self._change: RowChange | None = None

    def run(self) -> None:
        q = self.queue
        limit = self.executor.batch
        while True:
            item = q.get()
            if item is _STOP:
                return
            if isinstance(item, _Barrier):
                item.arrive()
                continue
            lane, batch = item
            batches = [batch]
            size = len(batch.changes)
            follow = None
            while size < limit:  # small batches of this lane queued behind it: the same transaction
                try:
                    nxt = q.get_nowait()
                except queue.Empty:
                    break
                if type(nxt) is not tuple or nxt[0] is not lane or size + len(nxt[1].changes) > limit:
                    follow = nxt
                    break
                batches.append(nxt[1])
                size += len(nxt[1].changes)
            self._execute(lane, batches)
            if follow is _STOP:
                return
            if isinstance(follow, _Barrier):
                follow.arrive()
            elif follow is not None:
                self._execute(follow[0], [follow[1]])

    def _execute(self, lane: _Lane, batches: list[Batch]) -> None:
        executor = self.executor
        sink = executor.sink
        seqs = [b.seq for b in batches]
        rows = sum(len(b.changes) for b in batches)
        if sink.error is not None:  # failed already: dropped (the checkpoint won't pass them)
            executor.done(lane, rows)
            return
        changes = batches[0].changes if len(batches) == 1 else [c for b in batches for c in b.changes]
        record = executor.record
        tail = ""
        if record is not None:
            ids = [i for b in batches for i in b.ids]
            partial = next((b.partial for b in reversed(batches) if b.partial is not None), None)
            if ids or partial is not None:
                tail = record_sql(record[0], record[1], ids, partial)
        for attempt in range(RETRIES + 1):
            try:
                self._transaction(lane.conn, changes, tail)
                break
            except Exception as exc:  # every failure must reach the syncer
                try:
                    lane.conn.rollback()
                except Exception:  # broken connection: the first error matters
                    pass
                if errno_of(exc) in RETRY_ERRNOS and attempt < RETRIES:
                    time.sleep(min(1.0, 0.01 * 2**attempt))
                    continue  # the whole batch was rolled back: run it again
                executor.done(lane, rows)
                sink.failed(lane.index, seqs, rows, exc, self._sql, self._change)
                return
        executor.done(lane, rows)
        sink.applied(lane.index, seqs, rows)

    def _transaction(self, conn, changes: list[RowChange], tail: str = "") -> None:
        """The changes, then ``tail`` (the applied record), in one transaction."""
        self._sql, self._change = "", changes[0] if changes else None
        executor = self.executor
        stmts = batch_statements(changes, executor.multiple_rows, MAX_ROUND_TRIP_BYTES, executor.compact)
        if tail:  # (no change to report: the empty last part of a transaction applied in parts)
            stmts.append((tail, changes[-1] if changes else None))  # type: ignore[arg-type]
        trips: list[list[tuple[str, RowChange]]] = [[]]
        size = 0
        for stmt in stmts:
            if trips[-1] and size + len(stmt[0]) > MAX_ROUND_TRIP_BYTES:
                trips.append([])
                size = 0
            trips[-1].append(stmt)
            size += len(stmt[0]) + 1
        for trip in trips:
            if not trip:
                continue
            try:
                execute_texts(conn, encode(";".join(s for s, _c in trip)))
            except _Failed as failed:
                k = failed.done
                self._sql, self._change = trip[k] if k < len(trip) else trip[-1]
                raise failed.cause from None
        # COMMIT on its own: if this process dies before sending it, the server rolls back (with
        # "...;COMMIT" in the same text, a statement still waiting for a lock would commit after
        # our death, possibly over a newer replay of the same rows)
        self._sql = "COMMIT"
        try:
            execute_texts(conn, b"COMMIT")
        except _Failed as failed:
            raise failed.cause from None


class ThreadExecutor:
    """The lanes in this process (see the module docstring)."""

    def __init__(
        self,
        sink: Sink,
        target: DBConfig,
        *,
        lanes: int,
        batch: int,
        capacity: int,
        multiple_rows: bool,
        compact: bool,
        connect_fn=None,
        record: tuple[str, str] | None = None,
    ) -> None:
        """``record``: (quoted applied-record table, source id); None: batches record nothing."""
        self.sink = sink
        self.record = record
        self.batch = batch
        self.multiple_rows = multiple_rows
        self.compact = compact
        conns = []
        make = connect_fn or (lambda cfg: connect(cfg, autocommit=False))
        try:
            for _ in range(lanes):
                conn = make(target)
                conns.append(conn)
                prepare(conn)
        except Exception as exc:
            for c in conns:
                with contextlib.suppress(Exception):
                    c.close()
            raise classify(exc, "prepare DML connections") from exc
        self._lanes = [_Lane(i, c) for i, c in enumerate(conns)]
        self._lock = threading.Lock()
        per_lane = max(1, capacity // batch)  # batches queued per lane
        threads = min(lanes, MAX_THREADS)
        self._workers: list[_Worker] = []
        for t in range(threads):
            worker = _Worker(self, t, per_lane * len(self._lanes[t::threads]))
            worker.lanes = self._lanes[t::threads]
            for lane in worker.lanes:
                lane.thread = worker
            self._workers.append(worker)
        for w in self._workers:
            w.start()

    def done(self, lane: _Lane, rows: int) -> None:
        with self._lock:
            lane.pending -= rows

    def depths(self) -> list[int]:
        return [lane.pending for lane in self._lanes]

    def submit(self, index: int, batch: Batch) -> None:
        lane = self._lanes[index]
        with self._lock:
            lane.pending += len(batch.changes)
        worker = lane.thread
        assert worker is not None  # every lane is given a thread at start
        self._put(worker, (lane, batch))

    def _put(self, worker: _Worker, item: Any) -> None:
        sink = self.sink
        while True:
            try:
                worker.queue.put(item, timeout=0.5)
                return
            except queue.Full:
                if sink.error is not None:
                    raise sink.error from None
                if not worker.is_alive():
                    raise errors.ErrSyncerUnitPanic(f"{worker.name} stopped") from None
                if sink.should_abort():
                    raise Aborted() from None

    def barrier(self) -> None:
        barrier = _Barrier(len(self._workers))
        for w in self._workers:
            self._put(w, barrier)
        while not barrier.done.wait(0.2):
            if not all(w.is_alive() for w in self._workers):
                raise errors.ErrSyncerUnitPanic("a DML worker stopped")
            if self.sink.should_abort():
                raise Aborted()

    def close(self, timeout: float = 10) -> None:
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
            if w.is_alive():  # blocked in the target: cut its sockets, the statement fails
                for lane in w.lanes:
                    sock = getattr(lane.conn, "_sock", None)
                    if sock is not None:
                        with contextlib.suppress(OSError):
                            sock.shutdown(socket.SHUT_RDWR)
                w.join(1)
        for lane in self._lanes:
            if lane.thread is not None and not lane.thread.is_alive():
                with contextlib.suppress(Exception):
                    lane.conn.close()
