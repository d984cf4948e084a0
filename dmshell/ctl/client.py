"""The connection from dmctl (and the REPL and the TUI) to a dm-master.

Like DM's dmctl, :class:`MasterClient` dials the comma-separated addresses in order (``http://`` /
``https://`` prefixes stripped) and keeps the first one that answers within 3 s; when none does it
raises DM's ``ErrCtlGRPCCreateConn`` (``can't connect to <addrs>``). A call that fails with
``UNAVAILABLE`` re-dials and is retried once; ``RESOURCE_EXHAUSTED`` "message larger than max" is
retried with a larger receive limit. gRPC errors become :class:`CtlError` with Go's text
(``rpc error: code = ... desc = ...``); ``UNIMPLEMENTED`` becomes a "not supported yet" error.

``grpc`` and the generated stubs are imported on first use, so commands that fail before talking
to the master (usage errors) start fast.
"""

from __future__ import annotations

import re
import socket
import threading
from typing import Any

from dmshell.ctl.errors import CtlError, UnreachableError
from dmshell.ctl.settings import CtlConfig, split_host_port, unwrap_scheme

DIAL_TIMEOUT = 3.0
_TOO_LARGE = r"received message larger than max \((\d+) vs\. (\d+)\)"

#: Go's names of gRPC status codes (``codes.Code.String()``)
_GO_CODE_NAMES = {
    "OK": "OK",
    "CANCELLED": "Canceled",
    "UNKNOWN": "Unknown",
    "INVALID_ARGUMENT": "InvalidArgument",
    "DEADLINE_EXCEEDED": "DeadlineExceeded",
    "NOT_FOUND": "NotFound",
    "ALREADY_EXISTS": "AlreadyExists",
    "PERMISSION_DENIED": "PermissionDenied",
    "RESOURCE_EXHAUSTED": "ResourceExhausted",
    "FAILED_PRECONDITION": "FailedPrecondition",
    "ABORTED": "Aborted",
    "OUT_OF_RANGE": "OutOfRange",
    "UNIMPLEMENTED": "Unimplemented",
    "INTERNAL": "Internal",
    "UNAVAILABLE": "Unavailable",
    "DATA_LOSS": "DataLoss",
    "UNAUTHENTICATED": "Unauthenticated",
}


def _dial_target(endpoint: str) -> tuple[str, str, int]:
    """``(grpc target, host, port)`` for one address as the user wrote it."""
    host, port = split_host_port(unwrap_scheme(endpoint))
    host = host or "127.0.0.1"  # Go dials ":8261" on the local host
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return target, host, int(port)


class MasterClient:
    """A connection to the first reachable master of ``addrs`` (comma-separated ``host:port``)."""

    def __init__(
        self,
        addrs: str,
        timeout: float = 600.0,
        *,
        config: CtlConfig | None = None,
        dial_timeout: float = DIAL_TIMEOUT,
    ) -> None:
        self.addrs = addrs
        self.timeout = timeout
        self.config = config or CtlConfig(master_addr=addrs, rpc_timeout=timeout)
        self.dial_timeout = dial_timeout
        self.address = ""  # the endpoint in use
        self._channel: Any = None
        self._stub: Any = None
        self._recv_limit: int | None = None
        self._lock = threading.RLock()

    # -- connection ------------------------------------------------------------------------

    @property
    def stub(self) -> Any:
        """The ``dmmaster_pb2_grpc.MasterStub`` (connects on first use)."""
        with self._lock:
            if self._stub is None:
                self.connect()
            return self._stub

    def connect(self) -> None:
        """Dial the addresses in order; raise :class:`UnreachableError` when none answers."""
        import grpc

        from dmshell.proto import dmmaster_pb2_grpc

        with self._lock:
            self.close()
            endpoints = self.addrs.split(",")
            creds = self._credentials()
            for endpoint in endpoints:
                try:
                    target, host, port = _dial_target(endpoint)
                except CtlError:
                    continue
                if not self._port_open(host, port):
                    continue
                options = []
                if self._recv_limit:
                    options.append(("grpc.max_receive_message_length", self._recv_limit))
                channel = (
                    grpc.secure_channel(target, creds, options=options)
                    if creds
                    else grpc.insecure_channel(target, options=options)
                )
                try:
                    grpc.channel_ready_future(channel).result(timeout=self.dial_timeout)
                except grpc.FutureTimeoutError:
                    channel.close()
                    continue
                self._channel = channel
                self._stub = dmmaster_pb2_grpc.MasterStub(channel)
                self.address = endpoint
                return
            from dmshell.engine.errors import ErrCtlGRPCCreateConn

            err = ErrCtlGRPCCreateConn(
                f"can't connect to {','.join(endpoints)}", cause="context deadline exceeded"
            )
            raise UnreachableError(str(err))

    def _port_open(self, host: str, port: int) -> bool:
        # A refused TCP connect fails at once; skipping it saves the 3 s gRPC dial wait.
        # an ASCII host as bytes: a str makes getaddrinfo load the idna codec (~2 ms of start-up)
        target: str | bytes = host.encode() if host.isascii() else host
        try:
            with socket.create_connection((target, port), timeout=self.dial_timeout):  # type: ignore[arg-type]
                return True
        except OSError:
            return False

    def _credentials(self) -> Any:
        cfg = self.config
        if not (cfg.ssl_ca or cfg.ssl_cert or cfg.ssl_key):
            return None
        import grpc

        def read(path: str) -> bytes | None:
            if not path:
                return None
            try:
                with open(path, "rb") as fh:
                    return fh.read()
            except OSError as exc:
                from dmshell.engine.errors import ErrCtlInvalidTLSCfg

                raise CtlError(str(ErrCtlInvalidTLSCfg(cause=f"open {path}: {exc.strerror}"))) from None

        return grpc.ssl_channel_credentials(read(cfg.ssl_ca), read(cfg.ssl_key), read(cfg.ssl_cert))

    def close(self) -> None:
        """Close the channel (a later call reconnects)."""
        with self._lock:
            if self._channel is not None:
                self._channel.close()
            self._channel = self._stub = None

    # -- calls -----------------------------------------------------------------------------

    def call(self, method: str, request: Any, timeout: float | None = None) -> Any:
        """Call ``Master.<method>(request)``; gRPC failures raise :class:`CtlError` (Go's text)."""
        import grpc

        deadline = self.timeout if timeout is None else timeout
        try:
            return getattr(self.stub, method)(request, timeout=deadline)
        except grpc.RpcError as exc:
            code = exc.code()
            if code == grpc.StatusCode.UNAVAILABLE:
                pass
            elif code == grpc.StatusCode.RESOURCE_EXHAUSTED and (
                m := re.search(_TOO_LARGE, exc.details() or "")
            ):
                self._recv_limit = int(m.group(1))
            else:
                raise _rpc_error(method, exc) from None
        self.connect()
        try:
            return getattr(self.stub, method)(request, timeout=deadline)
        except grpc.RpcError as exc:
            raise _rpc_error(method, exc) from None

    def stream(self, method: str, request: Any) -> Any:
        """A server-streaming call (``WatchStatus``); iterate the result, ``.cancel()`` to stop."""
        return getattr(self.stub, method)(request)


def _rpc_error(method: str, exc: Any) -> CtlError:
    code = exc.code()
    details = exc.details() or ""
    if code.name == "UNIMPLEMENTED":
        if details.startswith("[code=") or "not supported yet" in details:
            return CtlError(details)
        return CtlError(
            f"{method} is not supported yet by this dm-master "
            f"(rpc error: code = Unimplemented desc = {details})"
        )
    return CtlError(f"rpc error: code = {_GO_CODE_NAMES.get(code.name, code.name)} desc = {details}")
