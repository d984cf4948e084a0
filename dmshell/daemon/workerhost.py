"""Embedded workers: the daemon spawns worker processes and restarts the ones that die.

Workers are started with ``subprocess`` (fork + exec of ``python -m dmshell worker``, never a bare
fork: gRPC is fork-unsafe). They stay in the daemon's process group; they leave on their own when
the daemon disappears (``--parent-pid``). Each logs at the daemon's ``--log-level`` to
``<name>.log`` in the daemon's log directory (``<data-dir>/log``, or that of its ``--log-file``).

Policies: ``auto`` runs one worker per source that needs one (named ``worker1``, ``worker2``, …,
surplus free workers are stopped after a grace period); ``N`` keeps exactly ``worker1..N``.
A worker that exits is restarted with backoff (0.5 s doubling to 30 s, reset after a minute up).
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from dmshell.daemon.scheduler import Scheduler

log = logging.getLogger(__name__)

BACKOFF_MIN, BACKOFF_MAX, STABLE_AFTER = 0.5, 30.0, 60.0
#: an auto-mode worker that has been free (and unneeded) this long is stopped
SURPLUS_GRACE = 10.0
_NAME = re.compile(r"^worker(\d+)$")


@dataclass(slots=True)
class _Proc:
    name: str
    popen: subprocess.Popen | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float = 0.0
    surplus_since: float = 0.0
    stopping: bool = False
    log_file: Path = field(default_factory=Path)


class WorkerHost:
    """Keeps the embedded worker processes matching the policy."""

    def __init__(
        self,
        scheduler: Scheduler,
        master_addr: str,
        data_dir: Path,
        policy: str | int = "auto",
        log_level: str = "info",
        log_dir: Path | None = None,
        worker_args: list[str] | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.store = scheduler.store
        self.master_addr = master_addr
        self.data_dir = Path(data_dir)
        self.log_dir = log_dir or self.data_dir / "log"
        self.log_level = log_level
        self.policy = policy
        #: more flags for every worker: TLS, secret key, log rotation
        self.worker_args = worker_args or []
        self._lock = threading.Lock()
        self._procs: dict[str, _Proc] = {}
        self._kick = threading.Event()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="workerhost", daemon=True)
        scheduler.add_listener(self.kick)

    def start(self) -> None:
        self.log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._thread.start()
        self.kick()

    def kick(self) -> None:
        self._kick.set()

    def can_provide(self) -> bool:
        """Whether an embedded worker may still come up for a waiting source (``operate-source create``)."""
        if self._closing.is_set():
            return False
        if self.policy == "auto":
            return True
        online = {a.name for a in self.scheduler.agents() if a.online}
        return any(name not in online for name in self.desired_names())

    def pids(self) -> dict[str, int]:
        with self._lock:
            return {n: p.popen.pid for n, p in self._procs.items() if p.popen and p.popen.poll() is None}

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM every worker (they pause their subtasks at checkpoints), wait, then SIGKILL."""
        self._closing.set()
        self._kick.set()
        if self._thread.is_alive():
            self._thread.join(5)
        with self._lock:
            running = [(p.name, p.popen) for p in self._procs.values() if p.popen and p.popen.poll() is None]
        for _, popen in running:
            _signal(popen, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for name, popen in running:
            try:
                popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker %s did not stop in %.0fs; killing it", name, timeout)
                _signal(popen, signal.SIGKILL)
                popen.wait()

    # -- the loop --------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._closing.is_set():
            self._kick.wait(0.5)
            self._kick.clear()
            if self._closing.is_set():
                return
            try:
                self._reconcile()
            except Exception:
                log.exception("worker host")

    def desired_names(self) -> list[str]:
        """The embedded workers that should run now."""
        if isinstance(self.policy, int):
            return [f"worker{i}" for i in range(1, self.policy + 1)]
        bindings = self.store.bindings()
        embedded = set(self.store.embedded())
        bound = {w for w in bindings.values() if w in embedded}
        unbound = len(self.scheduler.unbound_sources())
        with self._lock:
            running = [n for n, p in self._procs.items() if not p.stopping]
        free_embedded = [n for n in running if n not in bound]
        online_free_remote = [n for n in self.scheduler.free_workers() if n not in embedded]
        want = set(bound)
        spare_needed = max(0, unbound - len(online_free_remote))
        # keep the free embedded ones we already have (lowest names first), then add new names
        for name in sorted(free_embedded, key=_order)[:spare_needed]:
            want.add(name)
        missing = spare_needed - min(spare_needed, len(free_embedded))
        taken = set(self.store.workers()) | embedded | set(running)
        i = 1
        while missing > 0:
            name = f"worker{i}"
            if name not in taken:
                want.add(name)
                taken.add(name)
                missing -= 1
            i += 1
        return sorted(want, key=_order)

    def _reconcile(self) -> None:
        now = time.monotonic()
        want = set(self.desired_names())
        with self._lock:
            procs = dict(self._procs)
        # reap exits, schedule restarts
        for p in procs.values():
            if p.popen is not None and p.popen.poll() is not None:
                code = p.popen.returncode
                up = now - p.started_at
                p.popen = None
                if p.stopping:
                    with self._lock:
                        self._procs.pop(p.name, None)
                    self.scheduler.forget_worker(p.name)
                    log.info("worker %s stopped (exit %s)", p.name, code)
                    continue
                p.failures = 0 if up >= STABLE_AFTER else p.failures + 1
                delay = min(BACKOFF_MAX, BACKOFF_MIN * 2 ** max(0, p.failures - 1))
                p.restart_at = now + delay
                log.warning(
                    "worker %s exited with %s after %.1fs; restarting in %.1fs (log: %s)",
                    p.name,
                    code,
                    up,
                    delay,
                    p.log_file,
                )
        # surplus (auto mode): stop free workers nobody needs, after a grace period
        for name, p in procs.items():
            if name in want or p.stopping:
                p.surplus_since = 0.0
                continue
            if not p.surplus_since:
                p.surplus_since = now
            elif now - p.surplus_since >= SURPLUS_GRACE:
                log.info("worker %s is not needed any more; stopping it", name)
                p.stopping = True
                if p.popen is not None:
                    _signal(p.popen, signal.SIGTERM)
                else:
                    with self._lock:
                        self._procs.pop(name, None)
                    self.scheduler.forget_worker(name)
                self.store.remove_embedded(name)
        # start what is missing or due for a restart
        for name in sorted(want, key=_order):
            if self._closing.is_set():
                return
            with self._lock:
                proc = self._procs.setdefault(name, _Proc(name))
            if proc.popen is None and not proc.stopping and now >= proc.restart_at:
                self._spawn(proc)

    def _spawn(self, p: _Proc) -> None:
        self.store.add_embedded(p.name)
        p.log_file = self.log_dir / f"{p.name}.log"
        cmd = [
            sys.executable,
            "-m",
            "dmshell",
            "worker",
            "--name",
            p.name,
            "--join",
            self.master_addr,
            "--worker-addr",
            "127.0.0.1:0",
            "--data-dir",
            str(self.data_dir),
            "--parent-pid",
            str(os.getpid()),
            "--log-level",
            self.log_level,
            "--log-file",
            str(p.log_file),
            *self.worker_args,
        ]
        # the worker logs to the file itself (rotated); what escapes logging (a crash) lands there too
        with open(os.open(p.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as out:
            p.popen = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out, close_fds=True)
        p.started_at = time.monotonic()
        log.info("started worker %s (pid %d)", p.name, p.popen.pid)


def _order(name: str) -> tuple[int, str]:
    m = _NAME.match(name)
    return (int(m.group(1)), name) if m else (1 << 30, name)


def _signal(popen: subprocess.Popen, sig: int) -> None:
    try:
        popen.send_signal(sig)
    except ProcessLookupError:
        pass
