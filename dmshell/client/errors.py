"""How a call to the master fails, as every front end reports it, and the exit statuses.

gRPC failures are rendered once, the way DM's Go code prints a ``status.Error``
(``rpc error: code = Unavailable desc = ...``): dmctl prints it, the TUI shows it, and the master
wraps it when a worker call fails.
"""

from __future__ import annotations

from typing import Any

#: Exit statuses of dmctl, ``dmshell repl`` and the TUI (documented in docs/dmctl.md): the master
#: answered ``"result": false`` or the command failed (1), usage error (2), no master answers (3).
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_INTERRUPTED = 130

#: Go's names of gRPC status codes (``codes.Code.String()``) that are not the CamelCase of Python's
_GO_NAMES = {"OK": "OK", "CANCELLED": "Canceled"}


class ClientError(Exception):
    """A call to the master failed; front ends print ``Error: <message>``."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UnreachableError(ClientError):
    """No master address answered (DM's ``ErrCtlGRPCCreateConn``)."""

    exit_code = EXIT_UNREACHABLE


class RpcFailed(ClientError):
    """The master (or the network) failed an RPC; ``code`` is the gRPC status name (``UNAVAILABLE``)."""

    def __init__(self, message: str, code: str, details: str) -> None:
        super().__init__(message)
        self.code = code
        self.details = details


def go_code_name(code_name: str) -> str:
    """Go's name of a gRPC status code from Python's (``DEADLINE_EXCEEDED`` → ``DeadlineExceeded``)."""
    return _GO_NAMES.get(code_name) or "".join(p.capitalize() for p in code_name.split("_"))


def code_and_details(exc: BaseException) -> tuple[str, str]:
    """(Python's name of the gRPC status code, details) of a failure; ``UNKNOWN`` without a code.

    A ``grpc.RpcError`` raised by a call is also a ``grpc.Call`` with ``code()`` and ``details()``;
    others (rare) have only their text."""
    code: Any = exc.code() if hasattr(exc, "code") else None
    details = exc.details() if hasattr(exc, "details") else str(exc)
    return (code.name if code is not None else "UNKNOWN"), details or ""


def status_text(exc: BaseException) -> str:
    """A gRPC failure as Go prints it: ``rpc error: code = Unavailable desc = <details>``."""
    name, details = code_and_details(exc)
    return f"rpc error: code = {go_code_name(name)} desc = {details}"


def rpc_failure(method: str, exc: BaseException) -> RpcFailed:
    """The error to raise for a failed ``Master.<method>`` call.

    ``UNIMPLEMENTED`` says which RPC this master lacks, unless the master's own text (dmshell's
    DM-style ``[code=...]`` "not supported yet" message) already does."""
    name, details = code_and_details(exc)
    text = status_text(exc)
    if name == "UNIMPLEMENTED" and not (details.startswith("[code=") or "not supported yet" in details):
        return RpcFailed(f"{method} is not supported yet by this dm-master ({text})", name, details)
    if name == "UNIMPLEMENTED":
        return RpcFailed(details, name, details)
    return RpcFailed(text, name, details)
