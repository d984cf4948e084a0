"""A deterministic in-process fake dm-master (gRPC ``pb.Master``) for CLI, REPL and TUI tests.

Every RPC of ``dmmaster.proto`` is served. By default an RPC answers an empty response with
``result: true`` (when the response has that field); tests set what they need::

    fake.set("QueryStatus", resp)                      # a fixed response
    fake.set("OperateTask", lambda req, ctx: resp)     # computed from the request
    fake.set("StartTask", [resp1, resp2])              # successive calls (the last one repeats)
    fake.set("Encrypt", FakeMaster.error(grpc.StatusCode.UNIMPLEMENTED, "not supported yet"))

and read what was sent: ``fake.requests`` (``[(method, request), ...]``), ``fake.calls(method)``,
``fake.last(method)``. ``WatchStatus`` streams the ``QueryStatus`` response once, then every
response given to :meth:`FakeMaster.push_status`, until the client cancels.

The ``fake_master`` fixture serves a fresh fake on a free loopback port (``fake_master.addr``).
Import it into a ``conftest.py`` (``from fake_master import fake_master``).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.protobuf import message_factory

from dmshell.proto import dmmaster_pb2

SERVICE = "pb.Master"


@dataclass(frozen=True)
class RpcFailure:
    """A canned gRPC error: the RPC aborts with ``code`` and ``details``."""

    code: grpc.StatusCode
    details: str


class FakeMaster:
    """Canned, settable answers for every Master RPC; records every request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, Any]] = []
        self._answers: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._watchers: list[queue.Queue[Any]] = []
        self._server: grpc.Server | None = None
        self._stopped = threading.Event()
        self.port = 0
        service = dmmaster_pb2.DESCRIPTOR.services_by_name["Master"]
        self.methods = {m.name: m for m in service.methods}

    # -- test API --------------------------------------------------------------------------

    @staticmethod
    def error(code: grpc.StatusCode, details: str = "") -> RpcFailure:
        return RpcFailure(code, details)

    def set(self, method: str, answer: Any) -> None:
        """Answer ``method`` with a message, ``callable(request, context)``, list or :class:`RpcFailure`."""
        if method not in self.methods:
            raise KeyError(f"Master has no RPC {method!r}")
        with self._lock:
            self._answers[method] = list(answer) if isinstance(answer, list | tuple) else answer

    def calls(self, method: str) -> list[Any]:
        with self._lock:
            return [req for name, req in self.requests if name == method]

    def last(self, method: str) -> Any:
        calls = self.calls(method)
        if not calls:
            raise AssertionError(f"{method} was not called")
        return calls[-1]

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._answers.clear()

    def push_status(self, response: Any) -> None:
        """Send ``response`` to every open ``WatchStatus`` stream."""
        with self._lock:
            watchers = list(self._watchers)
        for q in watchers:
            q.put(response)

    def response_class(self, method: str) -> type:
        return message_factory.GetMessageClass(self.methods[method].output_type)

    def default_response(self, method: str) -> Any:
        resp = self.response_class(method)()
        if "result" in resp.DESCRIPTOR.fields_by_name:
            resp.result = True
        return resp

    # -- serving ---------------------------------------------------------------------------

    def _answer(self, method: str, request: Any, context: grpc.ServicerContext) -> Any:
        with self._lock:
            self.requests.append((method, request))
            answer = self._answers.get(method)
            if isinstance(answer, list):
                answer = answer.pop(0) if len(answer) > 1 else (answer[0] if answer else None)
        if callable(answer) and not isinstance(answer, RpcFailure):
            answer = answer(request, context)
        if isinstance(answer, RpcFailure):
            context.abort(answer.code, answer.details)
        return self.default_response(method) if answer is None else answer

    def _unary(self, method: str) -> Callable[[Any, grpc.ServicerContext], Any]:
        return lambda request, context: self._answer(method, request, context)

    def _watch(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        with self._lock:
            self.requests.append(("WatchStatus", request))
            custom = self._answers.get("WatchStatus")
        if custom is not None:
            items = custom(request, context) if callable(custom) else custom
            yield from items
            return
        q: queue.Queue[Any] = queue.Queue()
        with self._lock:
            self._watchers.append(q)
        try:
            qs = dmmaster_pb2.QueryStatusListRequest(name=request.name, sources=request.sources)
            yield self._answer("QueryStatus", qs, context)
            while context.is_active() and not self._stopped.is_set():
                try:
                    yield q.get(timeout=0.05)
                except queue.Empty:
                    continue
        finally:
            with self._lock:
                self._watchers.remove(q)

    def _handlers(self) -> grpc.GenericRpcHandler:
        handlers = {}
        for name, m in self.methods.items():
            req_cls = message_factory.GetMessageClass(m.input_type)
            resp_cls = message_factory.GetMessageClass(m.output_type)
            kwargs = {
                "request_deserializer": req_cls.FromString,
                "response_serializer": resp_cls.SerializeToString,
            }
            if m.server_streaming:
                handlers[name] = grpc.unary_stream_rpc_method_handler(self._watch, **kwargs)
            else:
                handlers[name] = grpc.unary_unary_rpc_method_handler(self._unary(name), **kwargs)
        return grpc.method_handlers_generic_handler(SERVICE, handlers)

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``port`` (default: a free one) of ``host``; returns ``host:port``.
        ``start(port=fake.port)`` after :meth:`stop` brings the same master back (reconnect tests)."""
        self._stopped.clear()
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        server.add_generic_rpc_handlers((self._handlers(),))
        self.port = server.add_insecure_port(f"{host}:{port}")
        server.start()
        self._server = server
        self.host = host
        return self.addr

    @property
    def addr(self) -> str:
        return f"{self.host}:{self.port}"

    def stop(self) -> None:
        self._stopped.set()
        if self._server is not None:
            self._server.stop(grace=None).wait()
            self._server = None


@pytest.fixture
def fake_master() -> Iterator[FakeMaster]:
    """A fresh fake master serving on a free loopback port."""
    fake = FakeMaster()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
