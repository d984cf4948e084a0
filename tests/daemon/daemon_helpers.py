"""Test helpers: a real daemon (subprocess, own process group) on a free port, and polling."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import grpc

from dmshell.client.channel import TLSFiles, credentials
from dmshell.proto import dmmaster_pb2 as mpb
from dmshell.proto import dmmaster_pb2_grpc
from dmshell.proto import dmworker_pb2 as pb
from dmshell.sandbox import MariaDBServer, free_port


def wait_for(
    predicate: Callable[[], object], timeout: float = 30, what: str = "condition", step: float = 0.1
):
    """Poll until ``predicate()`` is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except grpc.RpcError as exc:  # e.g. the master restarting
            last_exc = exc
        time.sleep(step)
    raise AssertionError(
        f"timed out after {timeout}s waiting for {what}" + (f" ({last_exc})" if last_exc else "")
    )


def source_yaml(source_id: str, server: MariaDBServer, *, port: int | None = None, gtid: bool = False) -> str:
    return server.source_yaml(source_id, enable_gtid=gtid, port=port)


def dmshell(*args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dmshell", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


class Daemon:
    """``dmshell daemon`` in the foreground of a child process (its own session/process group)."""

    def __init__(
        self,
        data_dir: Path,
        workers: str = "auto",
        addr: str = "",
        extra_args: Sequence[str] = (),
        tls: TLSFiles | None = None,
    ) -> None:
        #: the client certificate the test talks to a TLS master with
        self.tls = tls
        self.data_dir = data_dir
        self.worker_policy = workers
        self.extra_args = list(extra_args)
        self.addr = addr or f"127.0.0.1:{free_port()}"
        self.proc: subprocess.Popen | None = None
        self._channel: grpc.Channel | None = None
        self.stub: dmmaster_pb2_grpc.MasterStub | None = None

    def start(self) -> Daemon:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.data_dir / "foreground.log", "ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "dmshell",
                    "daemon",
                    "--master-addr",
                    self.addr,
                    "--data-dir",
                    str(self.data_dir),
                    "--workers",
                    self.worker_policy,
                    *self.extra_args,
                ],
                stdout=out,
                stderr=out,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.connect()
        wait_for(
            lambda: self.stub.GetClusterInfo(mpb.Empty(), timeout=1).pid == self.proc.pid,
            30,
            "the master to answer",
        )
        return self

    def connect(self) -> None:
        if self._channel is not None:
            self._channel.close()
        creds = credentials(self.tls) if self.tls else None
        self._channel = grpc.secure_channel(self.addr, creds) if creds else grpc.insecure_channel(self.addr)
        self.stub = dmmaster_pb2_grpc.MasterStub(self._channel)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log(self) -> str:
        parts = []
        for path in [self.data_dir / "foreground.log", *sorted((self.data_dir / "log").glob("*.log"))]:
            with contextlib.suppress(OSError):
                parts.append(f"==> {path.name}\n" + path.read_text(errors="replace")[-4000:])
        return "\n".join(parts)

    def kill(self) -> None:
        """kill -9 the whole process group (daemon and embedded workers)."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        self.kill()

    # -- helpers ---------------------------------------------------------------------------
    def workers(self) -> dict[str, mpb.WorkerInfo]:
        resp = self.stub.ListMember(mpb.ListMemberRequest(worker=True), timeout=5)
        return {w.name: w for m in resp.members if m.HasField("worker") for w in m.worker.workers}

    def subtask(self, task: str, source: str) -> pb.SubTaskStatus | None:
        resp = self.stub.QueryStatus(mpb.QueryStatusListRequest(name=task, sources=[source]), timeout=15)
        for src in resp.sources:
            for st in src.subTaskStatus:
                if st.name == task and st.WhichOneof("status") != "msg":
                    return st
        return None

    def wait_subtask(
        self,
        task: str,
        source: str,
        predicate: Callable[[pb.SubTaskStatus], bool],
        timeout: float = 30,
        what: str = "",
    ) -> pb.SubTaskStatus:
        def check():
            st = self.subtask(task, source)
            return st if st is not None and predicate(st) else None

        try:
            return wait_for(check, timeout, what or f"subtask {task} on {source}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; last status: {self.subtask(task, source)}\n{self.log()}") from None


def worker_pids(daemon_pid: int) -> dict[str, int]:
    """Embedded worker name → pid (children of the daemon)."""
    out = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[1]) != daemon_pid:
                continue
            argv = (proc / "cmdline").read_bytes().decode().split("\0")
        except (OSError, ValueError, IndexError):
            continue
        if "worker" in argv and "--name" in argv:
            out[argv[argv.index("--name") + 1]] = int(proc.name)
    return out
