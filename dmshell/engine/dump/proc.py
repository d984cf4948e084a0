"""Dump worker processes: one snapshot connection each, so that several interpreters share the work.

Cutting rows out of the result packets costs the dump about half a microsecond of Python per row;
under one interpreter's GIL that caps a dump at one core however many connections it has. A worker
process is exec'd (``python -m dmshell.engine.dump.proc``, never forked: gRPC is fork-unsafe) and
serves one session of the snapshot over its stdin/stdout (its argument: the parent's pid), one JSON
document per line:

* ``{"op": "open", "db": {...}}`` — open the dump session (the password travels on the pipe);
* ``{"op": "begin"}`` / ``{"op": "position"}`` / ``{"op": "rollback"}`` — the snapshot steps of
  :mod:`dmshell.engine.dump.snapshot`;
* ``{"op": "chunk", ...}`` (a :class:`ChunkRequest`) — write one chunk: answers ``{"p": [rows,
  bytes]}`` per block written, then ``{"files": [...]}``.

Every answer is ``{"ok": ...}`` or ``{"error": {...}}`` (a DM error: code, message, raw cause,
workaround). The worker dies with its parent (``PR_SET_PDEATHSIG``) and exits at the end of its
stdin. Stopping a chunk means killing the worker: its snapshot is not needed any more.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import json
import logging
import os
import select
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pymysql

from dmshell.engine import db, errors
from dmshell.engine.config.database import DBConfig
from dmshell.engine.dump import chunks
from dmshell.engine.dump import files as dumpfiles
from dmshell.engine.dump.snapshot import ChunkRequest, LocalSession, Session, open_dump_session

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
#: seconds between checks of the stop flag while a worker writes a chunk
_POLL = 0.2


class RemoteSession:
    """A snapshot session served by a dump worker process."""

    def __init__(self) -> None:
        # started by the calling thread, which must outlive the session: the worker's death signal
        # is tied to the thread that started it
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dmshell.engine.dump.proc", str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        self._buf = b""

    @property
    def pid(self) -> int:
        return self.proc.pid

    def begin(self) -> None:
        self._call({"op": "begin"})

    def position(self) -> tuple[str, int]:
        answer = self._call({"op": "position"})
        return answer["file"], int(answer["pos"])

    def rollback(self) -> None:
        self._call({"op": "rollback"})

    def dump_chunk(
        self, req: ChunkRequest, should_stop: Callable[[], bool], on_block: Callable[[int, int], None]
    ) -> list[dumpfiles.ChunkMeta]:
        self._send({"op": "chunk", **dataclasses.asdict(req)})
        while True:
            answer = self._receive(should_stop)
            if "p" in answer:
                on_block(*answer["p"])
                continue
            return [dumpfiles.ChunkMeta(name, rows, size, req.where) for name, rows, size in answer["files"]]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                if pipe is not None:
                    pipe.close()

    # -- the pipe ------------------------------------------------------------------------------
    def _call(self, message: dict[str, Any]) -> dict[str, Any]:
        self._send(message)
        return self._receive(lambda: False)

    def _send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(message).encode() + b"\n")
            self.proc.stdin.flush()
        except OSError as exc:
            raise self._gone() from exc

    def _receive(self, should_stop: Callable[[], bool]) -> dict[str, Any]:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            if should_stop():
                self.close()  # the worker may be in the middle of a query: its snapshot is dropped
                raise chunks.Stopped
            ready, _, _ = select.select([fd], [], [], _POLL)
            if not ready:
                continue
            data = os.read(fd, 1 << 16)
            if not data:
                raise self._gone()
            self._buf += data
        line, self._buf = self._buf.split(b"\n", 1)
        answer = json.loads(line)
        if "error" in answer:
            raise _error_from(answer["error"])
        return answer

    def _gone(self) -> errors.DMError:
        code = self.proc.poll()
        return errors.ErrDumpUnitRuntime(
            "dump worker process",
            cause=f"the worker process {self.proc.pid} exited unexpectedly (exit status {code})",
        )


def open_sessions(cfg: DBConfig, n: int) -> list[Session]:
    """``n`` worker processes, each with its dump session open (they start up in parallel)."""
    sessions = [RemoteSession() for _ in range(n)]
    try:
        request = {"op": "open", "db": dataclasses.asdict(cfg)}
        for session in sessions:
            session._send(request)
        for session in sessions:
            session._receive(lambda: False)
    except BaseException:
        for session in sessions:
            session.close()
        raise
    return list(sessions)


def _error_to(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, pymysql.err.MySQLError):
        exc = db.classify(exc, "dump session")
    elif not isinstance(exc, errors.DMError):
        exc = errors.ErrDumpUnitRuntime("dump worker process", cause=exc)
    return {"code": exc.code, "message": exc.message, "cause": exc.raw_cause, "workaround": exc.workaround}


def _error_from(doc: dict[str, Any]) -> errors.DMError:
    entry = errors.CATALOG.get(int(doc.get("code", 0)), errors.ErrDumpUnitRuntime)
    return errors.DMError(entry, doc.get("message", ""), doc.get("cause") or None, doc.get("workaround"))


# -- the worker process ----------------------------------------------------------------------------
class _Worker:
    def __init__(self, out) -> None:
        self.out = out
        self.session: LocalSession | None = None

    def reply(self, message: dict[str, Any]) -> None:
        self.out.write(json.dumps(message).encode() + b"\n")
        self.out.flush()

    def handle(self, message: dict[str, Any]) -> None:
        op = message.pop("op")
        if op == "open":
            self.session = LocalSession(open_dump_session(DBConfig(**message["db"])))
            self.reply({"ok": True})
            return
        session = self.session
        assert session is not None
        if op == "begin":
            session.begin()
            self.reply({"ok": True})
        elif op == "position":
            file, pos = session.position()
            self.reply({"ok": True, "file": file, "pos": pos})
        elif op == "rollback":
            session.rollback()
            self.reply({"ok": True})
        elif op == "chunk":
            req = ChunkRequest(**message)
            files = session.dump_chunk(req, lambda: False, lambda rows, size: self.reply({"p": [rows, size]}))
            self.reply({"ok": True, "files": [[f.file, f.rows, f.bytes] for f in files]})
        else:
            raise ValueError(f"unknown operation {op!r}")


def main() -> int:
    with contextlib.suppress(OSError, AttributeError):  # Linux: die with the parent
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if len(sys.argv) > 1 and os.getppid() != int(sys.argv[1]):  # the parent died before we could ask
        return 1
    worker = _Worker(sys.stdout.buffer)
    for line in sys.stdin.buffer:
        try:
            worker.handle(json.loads(line))
        except Exception as exc:
            worker.reply({"error": _error_to(exc)})
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    sys.exit(main())
