"""Source ↔ worker bindings and the desired state of every worker (DM's ``master/scheduler``).

Each registered worker has a :class:`WorkerAgent` whose thread pushes ``Worker.ApplyState`` — the
whole desired state of that worker, read fresh from the store — whenever something changes and
every second as a heartbeat. A failing push marks the worker ``offline``; a successful one brings
it back. Worker stages as DM prints them in ``list-member``: ``offline``, ``free``, ``bound``.

A source is bound to one worker (DM's model) and stays bound across restarts of that worker, so its
subtasks resume on the same machine, next to their local dump files.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import grpc

from dmshell.daemon.auth import Security, peer_channel
from dmshell.daemon.common import GRPC_OPTIONS
from dmshell.daemon.store import Store, StoreConflict
from dmshell.engine import errors
from dmshell.proto import dmworker_pb2 as pb
from dmshell.proto import dmworker_pb2_grpc

log = logging.getLogger(__name__)

HEARTBEAT = 1.0
PUSH_TIMEOUT = 3.0

STAGE_OFFLINE, STAGE_FREE, STAGE_BOUND = "offline", "free", "bound"

_CHANNEL_OPTIONS = [
    *GRPC_OPTIONS,
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    name: str
    addr: str
    stage: str
    source: str


class WorkerAgent:
    """The master's handle on one worker: its address, liveness and push thread."""

    def __init__(self, scheduler: Scheduler, name: str, address: str) -> None:
        self.scheduler = scheduler
        self.name = name
        self._lock = threading.Lock()
        self._address = address
        self._channel = peer_channel(address, scheduler.security, _CHANNEL_OPTIONS)
        self._stub = dmworker_pb2_grpc.WorkerStub(self._channel)
        self.online = False
        self._kick = threading.Event()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"push-{name}", daemon=True)

    @property
    def address(self) -> str:
        with self._lock:
            return self._address

    @property
    def stub(self) -> dmworker_pb2_grpc.WorkerStub:
        with self._lock:
            return self._stub

    def reconnect(self, address: str) -> None:
        """A (re-)registration: a fresh channel, possibly to a new address."""
        with self._lock:
            old = self._channel
            self._address = address
            self._channel = peer_channel(address, self.scheduler.security, _CHANNEL_OPTIONS)
            self._stub = dmworker_pb2_grpc.WorkerStub(self._channel)
        old.close()
        self.kick()

    def start(self) -> None:
        self._thread.start()

    def kick(self) -> None:
        self._kick.set()

    def close(self) -> None:
        self._closed.set()
        self._kick.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(PUSH_TIMEOUT + 1)
        with self._lock:
            self._channel.close()

    def ping(self, timeout: float = 1.0) -> bool:
        """Does the worker answer at its current address?"""
        try:
            self.stub.QueryStatus(pb.QueryStatusRequest(), timeout=timeout)
            return True
        except grpc.RpcError:
            return False

    def push(self) -> bool:
        """Send the desired state now; update liveness. True when the worker accepted it."""
        state = self.scheduler.desired_state(self.name)
        try:
            self.stub.ApplyState(state, timeout=PUSH_TIMEOUT)
            ok = True
        except grpc.RpcError as exc:
            ok = False
            if self.online:
                log.warning("worker %s at %s is offline: %s", self.name, self.address, exc.code().name)
        except ValueError:  # the channel was closed by reconnect(); the next push uses the new one
            ok = False
        was = self.online
        self.online = ok
        if ok and not was:
            log.info("worker %s at %s is online", self.name, self.address)
            self.scheduler.worker_online(self.name)
        return ok

    def _loop(self) -> None:
        while not self._closed.is_set():
            self._kick.wait(HEARTBEAT)
            self._kick.clear()
            if self._closed.is_set():
                return
            try:
                self.push()
            except Exception:
                log.exception("push to worker %s", self.name)


class Scheduler:
    """Workers, bindings and desired state; the master's single source of truth is the store."""

    def __init__(self, store: Store, security: Security | None = None) -> None:
        self.store = store
        #: how the master reaches its workers (TLS, cluster secret)
        self.security = security or Security()
        self._lock = threading.RLock()
        self._agents: dict[str, WorkerAgent] = {}
        self._listeners: list[Callable[[], None]] = []
        self._started = False

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        with self._lock:
            for name, address in self.store.workers().items():
                self._agents[name] = WorkerAgent(self, name, address)
            agents = list(self._agents.values())
            self._started = True
        for agent in agents:
            agent.start()
            agent.kick()

    def stop(self) -> None:
        with self._lock:
            agents = list(self._agents.values())
            self._started = False
        for agent in agents:
            agent.close()

    def add_listener(self, callback: Callable[[], None]) -> None:
        """Called (without locks held) when sources, bindings or workers change."""
        self._listeners.append(callback)

    def _notify(self) -> None:
        for cb in self._listeners:
            try:
                cb()
            except Exception:
                log.exception("scheduler listener")

    # -- workers ---------------------------------------------------------------------------
    def register_worker(self, name: str, address: str, identity: str = "") -> str:
        """DM's ``AddWorker`` (+ immediate online). Returns an error message, "" on success.

        The same name may come back at a new address (an embedded worker listens on a free port)
        as long as nothing answers at the old one any more, and only with the identity it first
        registered with (``auth.peer_identity``): nobody else takes a worker's name, and with it its
        source and the target's password, while the real worker restarts.
        """
        with self._lock:
            if not self._started:
                return str(errors.ErrSchedulerNotStarted())
            agent = self._agents.get(name)
        known = self.store.worker_identity(name)
        if known and known != identity:
            log.warning("refused worker %s at %s: registered as %s, now %s", name, address, known, identity)
            return f"{errors.ErrSchedulerWorkerExist(name)}; it registered with another identity ({known})"
        if agent is not None and agent.address != address and agent.ping():
            return str(errors.ErrSchedulerWorkerExist(name))
        with self._lock:
            self.store.put_worker(name, address, identity)
            agent = self._agents.get(name)
            if agent is None:
                agent = self._agents[name] = WorkerAgent(self, name, address)
                agent.start()
                fresh = True
            else:
                fresh = False
        if not fresh:
            agent.reconnect(address)
        log.info("register worker %s at %s", name, address)
        # push right away so the worker is online (and bindable) when this call returns
        agent.push()
        self.try_bind()
        self._notify()
        return ""

    def remove_worker(self, name: str) -> str:
        """DM's ``offline-member --worker``: only for a worker that is offline."""
        with self._lock:
            agent = self._agents.get(name)
            if agent is None:
                return str(errors.ErrSchedulerWorkerNotExist(name))
            if agent.online:
                return str(errors.ErrSchedulerWorkerOnline(name))
            del self._agents[name]
            self.store.remove_worker(name)
        agent.close()
        self._notify()
        return ""

    def forget_worker(self, name: str) -> None:
        """Drop a worker the daemon itself stopped for good (a surplus embedded worker)."""
        with self._lock:
            if name in self.store.bindings().values():
                return
            agent = self._agents.pop(name, None)
            self.store.remove_worker(name)
        if agent is not None:
            agent.close()
        self._notify()

    def worker_online(self, name: str) -> None:
        """An agent's push succeeded after a failure: bind waiting sources to it if it is free."""
        self.try_bind()

    def agent(self, name: str) -> WorkerAgent | None:
        with self._lock:
            return self._agents.get(name)

    def agents(self) -> list[WorkerAgent]:
        with self._lock:
            return [self._agents[n] for n in sorted(self._agents)]

    def workers_info(self) -> list[WorkerInfo]:
        """``list-member --worker`` rows, sorted by name."""
        bound = {w: s for s, w in self.store.bindings().items()}
        out = []
        for agent in self.agents():
            source = bound.get(agent.name, "")
            stage = STAGE_OFFLINE if not agent.online else STAGE_BOUND if source else STAGE_FREE
            out.append(WorkerInfo(agent.name, agent.address, stage, source))
        return out

    def counts(self) -> tuple[int, int]:
        """(workers online, workers known)."""
        agents = self.agents()
        return sum(a.online for a in agents), len(agents)

    # -- bindings --------------------------------------------------------------------------
    def agent_for_source(self, source: str) -> WorkerAgent | None:
        """The worker bound to ``source`` (online or not)."""
        worker = self.store.bindings().get(source)
        return self.agent(worker) if worker else None

    def free_workers(self) -> list[str]:
        """Online workers without a source, by name."""
        bound = set(self.store.bindings().values())
        return [a.name for a in self.agents() if a.online and a.name not in bound]

    def bind(self, source: str, worker: str) -> str:
        """Bind ``source`` to a named free worker (``operate-source create -w``). Error text or ""."""
        with self._lock:
            agent = self._agents.get(worker)
            if agent is None:
                return str(errors.ErrSchedulerWorkerNotExist(worker))
            if worker not in self.free_workers():
                return str(errors.ErrSchedulerWorkerNotFree(worker))
            try:
                self.store.bind(source, worker)
            except StoreConflict:
                return str(errors.ErrSchedulerWorkerNotFree(worker))
        log.info("bind source %s to worker %s", source, worker)
        agent.kick()
        self._notify()
        return ""

    def try_bind(self) -> list[tuple[str, str]]:
        """Bind every unbound source to a free online worker (DM: on source add / worker online)."""
        made = []
        with self._lock:
            bindings = self.store.bindings()
            unbound = [s for s in self.store.sources() if s not in bindings]
            free = self.free_workers()
            for source, worker in zip(unbound, free, strict=False):
                try:
                    self.store.bind(source, worker)
                except StoreConflict:
                    continue
                made.append((source, worker))
        for source, worker in made:
            log.info("bind source %s to worker %s", source, worker)
            self.kick(worker)
        if made:
            self._notify()
        return made

    def unbound_sources(self) -> list[str]:
        bindings = self.store.bindings()
        return [s for s in self.store.sources() if s not in bindings]

    def unbind(self, source: str) -> str:
        """Forget the binding (the source is being removed); the worker becomes free."""
        worker = self.store.bindings().get(source, "")
        self.store.unbind(source)
        if worker:
            self.kick(worker)
        self._notify()
        return worker

    # -- desired state ---------------------------------------------------------------------
    def desired_state(self, worker: str) -> pb.WorkerState:
        """Everything ``worker`` should be doing: its source and that source's subtasks."""
        source = next((s for s, w in self.store.bindings().items() if w == worker), "")
        state = pb.WorkerState(source=source)
        if not source:
            return state
        state.sourceConfig = self.store.get_source(source) or ""
        relay = self.store.relay(source)
        if relay is not None and (not relay.workers or worker in relay.workers):
            state.relay.CopyFrom(
                pb.RelaySpec(enabled=True, expectStage=relay.expect_stage, stageRevision=relay.stage_revision)
            )
        ops: dict[str, list[pb.BinlogOperation]] = {}
        for o in self.store.binlog_ops(source=source):
            ops.setdefault(o.task, []).append(
                pb.BinlogOperation(op=cast("pb.ErrorOp", o.op), binlogPos=o.binlog_pos, sqls=o.sqls)
            )
        for r in self.store.subtasks(source=source):
            state.subtasks.append(
                pb.SubTaskSpec(
                    name=r.task,
                    task=r.task_yaml,
                    expectStage=r.expect_stage,
                    startId=r.start_id,
                    removeMeta=r.remove_meta,
                    stageRevision=r.stage_revision,
                    metaBinlogName=r.meta_binlog_name,
                    metaBinlogPos=r.meta_binlog_pos,
                    metaBinlogGTID=r.meta_binlog_gtid,
                    startTime=r.start_time,
                    binlogOps=ops.get(r.task, ()),
                )
            )
        return state

    def kick(self, worker: str | None = None) -> None:
        """Push now (to one worker, or to all)."""
        for agent in self.agents():
            if worker is None or agent.name == worker:
                agent.kick()

    def kick_sources(self, sources: list[str]) -> None:
        bindings = self.store.bindings()
        for source in sources:
            if source in bindings:
                self.kick(bindings[source])

    def sources_changed(self) -> None:
        """A source was added or removed: rebind and tell the listeners (the worker host)."""
        self.try_bind()
        self._notify()
