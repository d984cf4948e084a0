"""The TUI's link to the master: a status stream in a background thread, plus one-shot calls.

Both go through the client layer (:mod:`dmshell.client`): the same dialing, message limits,
keepalive and error text as dmctl.

:class:`StatusStream` keeps a ``Master.WatchStatus`` server stream open and hands every
``QueryStatusListResponse`` to a callback; when the stream breaks it reports the disconnection
and reconnects with exponential backoff. It also refreshes ``GetClusterInfo`` (at most every
``cluster_every`` seconds, piggy-backing on the stream's ticks), the task configs (for the
task mode, whenever an unknown task name shows up) and the source configs (GTID/relay flags, shown
masked, whenever an unknown source shows up or :meth:`StatusStream.refresh_configs` asks).
Nothing here imports Textual: the callbacks
are plain functions, so the app decides how to marshal them onto its event loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import cast

import grpc

from dmshell.client.errors import UnreachableError, status_text
from dmshell.client.master import MasterClient, StreamCall
from dmshell.proto import dmmaster_pb2
from dmshell.proto import dmworker_pb2 as pb
from dmshell.proto.dmmaster_pb2_grpc import MasterStub

#: Seconds to wait before reconnect attempt n (the last value repeats).
BACKOFF = (0.5, 1.0, 2.0, 4.0, 8.0)


@dataclass(frozen=True, slots=True)
class StreamState:
    """Connection state of the status stream."""

    connected: bool
    #: Why the stream is down (Go's gRPC status text, or "no answer"), empty while connected.
    error: str = ""
    #: Seconds until the next reconnect attempt (0 while connected).
    retry_in: float = 0.0


def probe_master(addrs: str, timeout: float = 2.0) -> tuple[str | None, str]:
    """Find the first master in ``addrs`` that answers. Returns ``(addr, "")`` or ``(None, why)``."""
    client = MasterClient(addrs, dial_timeout=timeout)
    try:
        client.connect()
    except UnreachableError:
        return None, f"nothing answers at {addrs}"
    finally:
        client.close()
    return client.address, ""


def parse_task_modes(configs: dict[str, str]) -> dict[str, str]:
    """Task name → ``task-mode`` from task config YAML texts (unparsable configs are skipped)."""
    import yaml  # only when configs arrive: keeps start-up fast

    modes: dict[str, str] = {}
    for name, text in configs.items():
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError:
            continue
        if isinstance(doc, dict) and isinstance(doc.get("task-mode"), str):
            modes[name] = doc["task-mode"]
    return modes


class MasterOps:
    """One-shot calls the TUI makes (operate a task or a source) through a shared client.

    Failures raise :class:`~dmshell.client.errors.ClientError` (Go's text, as dmctl prints it).
    ``op`` is an ``int`` (what ``TaskOp.Value()`` returns); the request stubs want the enum type,
    hence the casts."""

    def __init__(self, client: MasterClient, timeout: float = 10.0) -> None:
        self.client = client
        self.timeout = timeout

    def operate_source(
        self, op: int, configs: Iterable[str] = (), source_ids: Iterable[str] = ()
    ) -> dmmaster_pb2.OperateSourceResponse:
        """``OperateSource`` (``op`` a ``SourceOp``; it checks the source's database: it gets a minute)."""
        req = dmmaster_pb2.OperateSourceRequest(
            op=cast("dmmaster_pb2.SourceOp", op), config=list(configs), sourceID=list(source_ids)
        )
        resp: dmmaster_pb2.OperateSourceResponse = self.client.call(
            "OperateSource", req, timeout=max(self.timeout, 60.0)
        )
        return resp

    def operate_task(
        self, op: int, name: str, sources: Iterable[str] = ()
    ) -> dmmaster_pb2.OperateTaskResponse:
        """``OperateTask`` (``op`` a ``TaskOp``)."""
        req = dmmaster_pb2.OperateTaskRequest(op=cast("pb.TaskOp", op), name=name, sources=list(sources))
        resp: dmmaster_pb2.OperateTaskResponse = self.client.call("OperateTask", req, timeout=self.timeout)
        return resp

    def query_status(self, name: str = "") -> dmmaster_pb2.QueryStatusListResponse:
        """``QueryStatus`` of one task (all when ``name`` is empty)."""
        req = dmmaster_pb2.QueryStatusListRequest(name=name)
        resp: dmmaster_pb2.QueryStatusListResponse = self.client.call(
            "QueryStatus", req, timeout=self.timeout
        )
        return resp


class StatusStream:
    """Keeps ``WatchStatus`` open in a daemon thread; reports through callbacks (called in that thread)."""

    def __init__(
        self,
        addr: str,
        *,
        on_status: Callable[[dmmaster_pb2.QueryStatusListResponse], object],
        on_state: Callable[[StreamState], object],
        on_cluster: Callable[[dmmaster_pb2.ClusterInfo], object] = lambda _info: None,
        on_modes: Callable[[dict[str, str]], object] = lambda _modes: None,
        on_sources: Callable[[dict[str, str]], object] = lambda _configs: None,
        interval_ms: int = 1000,
        cluster_every: float = 5.0,
        backoff: tuple[float, ...] = BACKOFF,
        connect_timeout: float = 3.0,
    ) -> None:
        self.addr = addr
        self._on_status = on_status
        self._on_state = on_state
        self._on_cluster = on_cluster
        self._on_modes = on_modes
        self._on_sources = on_sources
        self.interval_ms = interval_ms
        self.cluster_every = cluster_every
        self.backoff = backoff
        self.connect_timeout = connect_timeout
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._call: StreamCall | None = None
        self._thread: threading.Thread | None = None
        self._known_tasks: set[str] = set()
        self._known_sources: set[str] = set()
        self._refresh = threading.Event()

    def refresh_configs(self) -> None:
        """Fetch the task and source configs again with the next status (after a change)."""
        self._refresh.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="dmshell-status-stream", daemon=True)
        self._thread.start()

    def stop(self, join_timeout: float = 2.0) -> None:
        """Cancel the stream and end the thread (idempotent)."""
        self._stop.set()
        with self._lock:
            call = self._call
        if call is not None:
            call.cancel()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(join_timeout)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    # -- thread ------------------------------------------------------------------------------
    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            received, error = self._session()
            if self._stop.is_set():
                return
            if received:  # the session delivered data: start the backoff from scratch
                attempt = 0
            delay = self.backoff[min(attempt, len(self.backoff) - 1)]
            attempt += 1
            self._on_state(StreamState(connected=False, error=error, retry_in=delay))
            self._stop.wait(delay)

    def _session(self) -> tuple[bool, str]:
        """One connection. Returns (whether any status arrived, why the session ended)."""
        received = False
        # A client per session: a fresh dial, and no retries hidden inside a call — the backoff
        # loop above decides when to try again.
        client = MasterClient(self.addr, dial_timeout=self.connect_timeout)
        try:
            stub = client.stub
            self._known_tasks = set()
            self._known_sources = set()
            call = client.stream("WatchStatus", dmmaster_pb2.WatchStatusRequest(intervalMs=self.interval_ms))
            with self._lock:
                self._call = call
            if self._stop.is_set():
                call.cancel()
                return received, "stopped"
            last_cluster = float("-inf")
            for resp in call:
                if not received:
                    received = True
                    self._on_state(StreamState(connected=True))
                # The status first (first paint), then what it needs filled in: task modes, source
                # configs, cluster info.
                self._on_status(resp)
                if self._refresh.is_set():
                    self._refresh.clear()
                    self._known_tasks, self._known_sources = set(), set()
                self._refresh_modes(stub, resp)
                self._refresh_sources(stub, resp)
                if time.monotonic() - last_cluster >= self.cluster_every:
                    self._refresh_cluster(stub)
                    last_cluster = time.monotonic()
            return received, "the master closed the status stream"
        except UnreachableError:
            return received, "no answer"
        except grpc.RpcError as exc:
            return received, status_text(exc)
        finally:
            with self._lock:
                self._call = None
            client.close()

    def _refresh_cluster(self, stub: MasterStub) -> None:
        try:
            info = stub.GetClusterInfo(dmmaster_pb2.Empty(), timeout=self.connect_timeout)
        except grpc.RpcError as exc:
            if exc.code() is grpc.StatusCode.UNAVAILABLE:
                raise
            return  # an older master without cluster info: the bar shows what it knows
        self._on_cluster(info)

    def _refresh_modes(self, stub: MasterStub, resp: dmmaster_pb2.QueryStatusListResponse) -> None:
        names = {st.name for src in resp.sources for st in src.subTaskStatus if st.name}
        if names <= self._known_tasks:
            return
        self._known_tasks |= names
        try:
            configs = stub.ListTaskConfigs(dmmaster_pb2.Empty(), timeout=self.connect_timeout)
        except grpc.RpcError as exc:
            if exc.code() is grpc.StatusCode.UNAVAILABLE:
                raise
            return
        self._on_modes(parse_task_modes(dict(configs.taskConfigs)))

    def _refresh_sources(self, stub: MasterStub, resp: dmmaster_pb2.QueryStatusListResponse) -> None:
        ids = {src.sourceStatus.source for src in resp.sources if src.sourceStatus.source}
        if self._known_sources and ids <= self._known_sources:
            return
        self._known_sources |= ids | {""}  # never empty once fetched: sources without workers exist too
        try:
            configs = stub.ListSourceConfigs(dmmaster_pb2.Empty(), timeout=self.connect_timeout)
        except grpc.RpcError as exc:
            if exc.code() is grpc.StatusCode.UNAVAILABLE:
                raise
            return
        if configs.result:
            self._known_sources |= set(configs.sourceConfigs)
            self._on_sources(dict(configs.sourceConfigs))
