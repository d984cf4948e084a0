"""The connection to a dm-master that dmctl, its REPL and the TUI share.

Like DM's dmctl, :class:`MasterClient` dials the comma-separated addresses in order (``http://`` /
``https://`` prefixes stripped) and keeps the first one that answers within 3 s; when none does it
raises DM's ``ErrCtlGRPCCreateConn`` (``can't connect to <addrs>``). A call that fails with
``UNAVAILABLE`` re-dials and is retried once; ``RESOURCE_EXHAUSTED`` "message larger than max" (a
master that sends more than :data:`~dmshell.client.channel.MAX_MESSAGE`) is retried with a receive
limit that fits. Failures raise :class:`~dmshell.client.errors.RpcFailed` with Go's text.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

from dmshell.client.channel import (
    MAX_MESSAGE,
    TLSFiles,
    credentials,
    default_tls,
    dial_target,
    endpoints,
    open_channel,
)
from dmshell.client.errors import ClientError, UnreachableError, code_and_details, rpc_failure

if TYPE_CHECKING:
    import grpc

    from dmshell.proto.dmmaster_pb2_grpc import MasterStub

#: DM's dmctl dial timeout per address
DIAL_TIMEOUT = 3.0
#: dmctl's default ``--rpc-timeout`` (10m)
RPC_TIMEOUT = 600.0
_TOO_LARGE = re.compile(r"received message larger than max \((\d+) vs\. (\d+)\)", re.IGNORECASE)


class StreamCall(Protocol):
    """A server-streaming call: iterate the answers, ``cancel()`` to stop."""

    def __iter__(self) -> Iterator[Any]: ...

    def cancel(self) -> bool: ...


class MasterClient:
    """A connection to the first reachable master of ``addrs`` (comma-separated ``host:port``).

    Thread-safe: calls from several threads share the channel."""

    def __init__(
        self,
        addrs: str,
        timeout: float = RPC_TIMEOUT,
        *,
        tls: TLSFiles | None = None,
        dial_timeout: float = DIAL_TIMEOUT,
        max_receive: int = MAX_MESSAGE,
    ) -> None:
        self.addrs = addrs
        self.timeout = timeout
        self.tls = tls or default_tls()
        self.dial_timeout = dial_timeout
        #: the address in use, as given (empty until connected)
        self.address = ""
        self._channel: grpc.Channel | None = None
        self._stub: MasterStub | None = None
        #: the receive limit of the next channel (raised when an answer did not fit)
        self.max_receive = max_receive
        self._lock = threading.RLock()

    # -- connection ------------------------------------------------------------------------

    @property
    def stub(self) -> MasterStub:
        """The ``Master`` stub (connects on first use)."""
        with self._lock:
            if self._stub is None:
                self.connect()
            assert self._stub is not None
            return self._stub

    def connect(self) -> None:
        """Dial the addresses in order; raise :class:`UnreachableError` when none answers."""
        import grpc

        from dmshell.proto import dmmaster_pb2_grpc

        with self._lock:
            self.close()
            creds = credentials(self.tls)
            for endpoint in endpoints(self.addrs):
                try:
                    where = dial_target(endpoint)
                except ClientError:
                    continue
                if not self._port_open(where.host, where.port):
                    continue
                channel = open_channel(where.target, creds, self.max_receive)
                try:
                    grpc.channel_ready_future(channel).result(timeout=self.dial_timeout)
                except grpc.FutureTimeoutError:
                    channel.close()
                    continue
                self._channel = channel
                self._stub = dmmaster_pb2_grpc.MasterStub(channel)
                self.address = endpoint
                return
            from dmshell.engine.errors import ErrCtlGRPCCreateConn  # only on this error: start-up time

            err = ErrCtlGRPCCreateConn(f"can't connect to {self.addrs}", cause="context deadline exceeded")
            raise UnreachableError(str(err))

    def _port_open(self, host: str, port: int) -> bool:
        # A refused TCP connect fails at once; skipping it saves the 3 s gRPC dial wait.
        # an ASCII host as bytes: a str makes getaddrinfo load the idna codec (~2 ms of start-up)
        target = host.encode() if host.isascii() else host
        try:
            with socket.create_connection((target, port), timeout=self.dial_timeout):  # type: ignore[arg-type]
                return True
        except OSError:
            return False

    def close(self) -> None:
        """Close the channel (a later call reconnects)."""
        with self._lock:
            if self._channel is not None:
                self._channel.close()
            self._channel = self._stub = None

    # -- calls -----------------------------------------------------------------------------

    def call(self, method: str, request: Any, timeout: float | None = None) -> Any:
        """``Master.<method>(request)``; failures raise :class:`RpcFailed` (Go's text) or
        :class:`UnreachableError`."""
        import grpc

        deadline = self.timeout if timeout is None else timeout
        try:
            return getattr(self.stub, method)(request, timeout=deadline)
        except grpc.RpcError as exc:
            if not self._worth_retrying(exc):
                raise rpc_failure(method, exc) from None
        self.connect()
        try:
            return getattr(self.stub, method)(request, timeout=deadline)
        except grpc.RpcError as exc:
            raise rpc_failure(method, exc) from None

    def _worth_retrying(self, exc: grpc.RpcError) -> bool:
        code, details = code_and_details(exc)
        if code == "UNAVAILABLE":
            return True
        too_large = _TOO_LARGE.search(details)
        if code == "RESOURCE_EXHAUSTED" and too_large:
            self.max_receive = int(too_large.group(1))
            return True
        return False

    def stream(self, method: str, request: Any) -> StreamCall:
        """A server-streaming call (``WatchStatus``); gRPC errors surface while iterating."""
        call: StreamCall = getattr(self.stub, method)(request)
        return call
