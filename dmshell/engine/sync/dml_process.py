"""The DML lanes in a child process: :class:`ProcessExecutor` (the parent's side) and
:func:`child_main` (``python -m dmshell.engine.sync.dml_process``, spawned, never forked).

The batches travel through a pipe as pickled tuples; rendering SQL and talking to the target then
use the second core instead of the syncer's process, whose CPU the binlog decoding and
dispatching need. The child runs a :class:`dmshell.engine.sync.dml_exec.ThreadExecutor`; a lane's
batches keep their order (one FIFO per thread).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import struct
import subprocess
import sys
import threading
from typing import Any

from pymysql import err as pymysql_err

from dmshell.engine import errors
from dmshell.engine.config.database import DBConfig
from dmshell.engine.db import classify, errno_of
from dmshell.engine.sync.dml import DELETE, INSERT, UPDATE, RowChange
from dmshell.engine.sync.dml_exec import Aborted, Batch, Sink, ThreadExecutor, tune_gc

log = logging.getLogger(__name__)

_OPS = (INSERT, UPDATE, DELETE)
_OP_CODES = {op: n for n, op in enumerate(_OPS)}


# -- the parent's side ----------------------------------------------------------------------------
_LEN = struct.Struct("<I")


def _send(stream, msg: Any) -> None:
    data = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LEN.pack(len(data)) + data)
    stream.flush()


def _receive(stream) -> Any:
    head = stream.read(4)
    if len(head) < 4:
        raise EOFError()
    (n,) = _LEN.unpack(head)
    data = stream.read(n)
    if len(data) < n:
        raise EOFError()
    return pickle.loads(data)


def _exception_info(exc: BaseException) -> tuple[int | None, str, str]:
    """(errno, message, class name) of an exception, to rebuild it in the parent."""
    errno = errno_of(exc)
    args: tuple = getattr(exc, "args", ())
    message = str(args[1]) if errno is not None and len(args) > 1 else str(exc)
    return errno, message, type(exc).__name__


def _rebuild(info: tuple[int | None, str, str]) -> BaseException:
    errno, message, name = info
    if errno is None:
        return RuntimeError(f"{name}: {message}")
    cls = getattr(pymysql_err, name, None)
    if not (isinstance(cls, type) and issubclass(cls, pymysql_err.MySQLError)):
        cls = pymysql_err.OperationalError
    return cls(errno, message)


class ProcessExecutor:
    """The lanes in a child process (see the module docstring)."""

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
        record: tuple[str, str] | None = None,
    ) -> None:
        self.sink = sink
        self._capacity = max(batch, capacity)  # changes in flight per lane
        self._pending = [0] * lanes
        self._cond = threading.Condition()
        self._closing = False
        self._dead: errors.DMError | None = None
        self._barriers: dict[int, threading.Event] = {}
        self._tokens = 0
        self._plans: dict[int, Any] = {}  # id(plan) -> plan sent to the child
        self._batches: dict[int, Batch] = {}  # seq -> batch in flight (for error reports)
        self._write_lock = threading.Lock()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in [_package_root(), env.get("PYTHONPATH", "")] if p)
        argv = [sys.executable, "-m", "dmshell.engine.sync.dml_process", str(os.getpid())]
        self._proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True
        )
        try:
            _send(self._proc.stdin, ("init", target, lanes, batch, capacity, multiple_rows, compact, record))
            reply = _receive(self._proc.stdout)
        except (OSError, EOFError) as exc:
            self._kill()
            raise errors.ErrSyncerUnitPanic(f"the DML process did not start: {exc}") from exc
        if reply[0] != "ready":
            self._kill()
            raise classify(_rebuild(reply[1]), "prepare DML connections")
        self._reader = threading.Thread(target=self._read_loop, name="dml-process-reader", daemon=True)
        self._reader.start()

    # -- the child's reports ---------------------------------------------------------------------
    def _read_loop(self) -> None:
        sink = self.sink
        try:
            while True:
                msg = _receive(self._proc.stdout)
                kind = msg[0]
                if kind == "ok":
                    _, lane, seqs, rows = msg
                    sink.applied(lane, seqs, rows)
                    self._finish(lane, seqs, rows)
                elif kind == "fail":
                    _, lane, seqs, rows, info, sql, ref = msg
                    change = None
                    if ref is not None:
                        batch = self._batches.get(ref[0])
                        if batch is not None and ref[1] < len(batch.changes):
                            change = batch.changes[ref[1]]
                    self._finish(lane, seqs, rows)
                    sink.failed(lane, seqs, rows, _rebuild(info), sql, change)
                elif kind == "barrier":
                    event = self._barriers.pop(msg[1], None)
                    if event is not None:
                        event.set()
        except (EOFError, OSError, pickle.UnpicklingError) as exc:
            if not self._closing:
                self._dead = errors.ErrSyncerUnitPanic(f"the DML process stopped ({type(exc).__name__})")
                log.error("DML process stopped unexpectedly (exit code %s)", self._proc.poll())
        finally:
            with self._cond:
                self._closing = True
                self._cond.notify_all()
            for event in list(self._barriers.values()):
                event.set()

    def _finish(self, lane: int, seqs: list[int], rows: int) -> None:
        with self._cond:
            self._pending[lane] -= rows
            for seq in seqs:
                self._batches.pop(seq, None)
            self._cond.notify_all()

    # -- the interface -----------------------------------------------------------------------------
    def depths(self) -> list[int]:
        return list(self._pending)

    def _check(self) -> None:
        if self.sink.error is not None:
            raise self.sink.error
        if self._dead is not None:
            raise self._dead
        if self._closing:
            raise errors.ErrSyncerUnitPanic("the DML process stopped")

    def submit(self, index: int, batch: Batch) -> None:
        n = len(batch.changes)
        with self._cond:
            while self._pending[index] and self._pending[index] + n > self._capacity:
                self._check()
                if self.sink.should_abort():
                    raise Aborted()
                self._cond.wait(0.5)
            self._check()
            self._pending[index] += n
            self._batches[batch.seq] = batch
        rows = []
        plans = self._plans
        new_plans = []
        last: Any = None
        wire: Any = None
        for c in batch.changes:
            plan = c.plan
            if plan is not last:
                last = plan
                wire = plans.get(id(plan))
                if wire is None or wire[1] is not plan:
                    wire = plans[id(plan)] = (len(plans) + 1, plan)
                    new_plans.append(wire)
            rows.append((_OP_CODES[c.op], wire[0], c.before, c.after, c.safe))
        msg = (
            "batch",
            index,
            batch.seq,
            rows,
            [(w[0], w[1]) for w in new_plans],
            batch.ids,
            batch.partial,
        )
        try:
            with self._write_lock:
                _send(self._proc.stdin, msg)
        except OSError as exc:
            self._check()
            raise errors.ErrSyncerUnitPanic(f"the DML process stopped ({exc})") from exc

    def barrier(self) -> None:
        with self._cond:
            self._check()
            self._tokens += 1
            token = self._tokens
            event = self._barriers[token] = threading.Event()
        try:
            with self._write_lock:
                _send(self._proc.stdin, ("barrier", token))
        except OSError as exc:
            self._check()
            raise errors.ErrSyncerUnitPanic(f"the DML process stopped ({exc})") from exc
        while not event.wait(0.2):
            if self.sink.should_abort():
                raise Aborted()
        if self._dead is not None:
            raise self._dead

    def close(self, timeout: float = 10) -> None:
        with self._cond:
            closing, self._closing = self._closing, True
        if not closing:
            with contextlib.suppress(OSError), self._write_lock:
                _send(self._proc.stdin, ("stop",))
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:  # blocked in the target: its connections go with it
            self._kill()
        stdin, stdout = self._proc.stdin, self._proc.stdout
        if stdin is not None:
            with contextlib.suppress(OSError):
                stdin.close()
        self._reader.join(5)
        if stdout is not None:
            with contextlib.suppress(OSError):
                stdout.close()

    def _kill(self) -> None:
        with contextlib.suppress(OSError):
            self._proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(10)


def _package_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


# -- the child's side ------------------------------------------------------------------------------
class _ChildSink:
    """Reports of the child's executor, written to the parent."""

    def __init__(self, out) -> None:
        self.out = out
        self.error: errors.DMError | None = None
        self._lock = threading.Lock()

    def should_abort(self) -> bool:
        return False

    def applied(self, lane: int, seqs: list[int], rows: int) -> None:
        self.write(("ok", lane, seqs, rows))

    def failed(
        self, lane: int, seqs: list[int], rows: int, exc: BaseException, sql: str, change: Any
    ) -> None:
        if self.error is None:  # the lanes drop what follows (the parent stops at the failure)
            self.error = errors.ErrSyncerUnitPanic("stopped after a failure")
        ref = change.origin if change is not None else None
        self.write(("fail", lane, seqs, rows, _exception_info(exc), sql[:4096], ref))

    def write(self, msg: Any) -> None:
        with self._lock:
            _send(self.out, msg)


def _die_with_parent(parent: int) -> None:
    """Linux: be killed (SIGKILL) when the process that spawned us dies, e.g. a worker killed with
    kill -9: its restarted sync unit replays from the checkpoint, and an orphan still applying
    older batches would race with it."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
    except (OSError, AttributeError):  # not Linux: the EOF on stdin stops us (below)
        return
    if os.getppid() != parent:  # it died before the prctl
        os._exit(1)


def child_main() -> int:
    """The DML process: reads batches from stdin, reports on stdout (see :class:`ProcessExecutor`)."""
    from dmshell.engine.sync.dml import causality_keys

    if len(sys.argv) > 1:
        _die_with_parent(int(sys.argv[1]))
    tune_gc()
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing else may write to the protocol stream
    _, target, lanes, batch, _capacity, multiple_rows, compact, record = _receive(inp)
    sink = _ChildSink(out)
    try:
        executor = ThreadExecutor(
            sink,
            target,
            lanes=lanes,
            batch=batch,
            capacity=1 << 40,
            multiple_rows=multiple_rows,
            compact=compact,
            record=record,
        )
    except errors.DMError as err:
        cause = err.cause if isinstance(err.cause, BaseException) else err
        sink.write(("error", _exception_info(cause)))
        return 1
    sink.write(("ready",))
    need_keys = multiple_rows or compact
    plans: dict[int, Any] = {}
    no_table: Any = None  # only the plan travels: the structure and the routed name stay in the parent
    try:
        while True:
            msg = _receive(inp)
            kind = msg[0]
            if kind == "batch":
                _, lane, seq, rows, new_plans, ids, partial = msg
                if new_plans:
                    plans.update(new_plans)
                b = Batch(seq, 0)
                b.ids, b.partial = ids, partial
                changes = b.changes = [
                    RowChange(_OPS[op], no_table, no_table, before, after, 0, (seq, i), safe, None, plans[p])
                    for i, (op, p, before, after, safe) in enumerate(rows)
                ]
                if need_keys:
                    for c in changes:
                        c.keys = causality_keys(c)
                executor.submit(lane, b)
            elif kind == "barrier":
                executor.barrier()
                sink.write(("barrier", msg[1]))
            elif kind == "stop":
                break
    except EOFError:  # the parent is gone: nothing more may reach the target
        sink.error = errors.ErrSyncerUnitPanic("the syncer is gone")
        executor.close(timeout=0)
        return 1
    executor.close(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(child_main())
