"""Small helpers shared by the master, the scheduler and the worker."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NoReturn

import grpc

from dmshell.engine import errors

#: gRPC message size limit for master ↔ worker and client calls (task YAML, big status lists)
MAX_MESSAGE = 64 * 1024 * 1024
GRPC_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE),
    ("grpc.max_receive_message_length", MAX_MESSAGE),
]
#: servers: a second daemon on the same address must fail to bind, not share the port
SERVER_OPTIONS = [*GRPC_OPTIONS, ("grpc.so_reuseport", 0)]


def not_supported(method: str, command: str = "") -> str:
    """The DM-style text of an RPC dmshell does not implement yet (sent with UNIMPLEMENTED)."""
    what = f"`{command}`" if command else method
    return str(errors.ErrMasterSQLOpNotSupport(method, workaround=f"dmshell does not support {what} yet."))


class Unsupported:
    """Declares an RPC dmshell does not implement yet, in a servicer's class body:
    ``UpdateTask = Unsupported("update-task")`` answers ``UNIMPLEMENTED`` with DM's "not supported"
    text, naming the dmctl command users know the RPC by (the RPC's name when there is none)."""

    def __init__(self, command: str = "") -> None:
        self.command = command
        self.method = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.method = name

    def __get__(
        self, obj: object, owner: type | None = None
    ) -> Callable[[Any, grpc.ServicerContext], NoReturn]:
        text = not_supported(self.method, self.command)

        def handler(request: Any, context: grpc.ServicerContext) -> NoReturn:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, text)
            raise AssertionError("unreachable: abort raises")

        return handler


def go_list(items: Iterable[object]) -> str:
    """Go's ``%v`` of a ``[]string``: ``[a b c]``."""
    return "[" + " ".join(str(i) for i in items) + "]"


def split_addr(addr: str) -> tuple[str, int]:
    """``HOST:PORT`` → (host, port); raises ValueError (DM's host:port error text)."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(str(errors.ErrMasterHostPortNotValid(addr)))
    return host.strip("[]"), int(port)


def dial_host(host: str) -> str:
    """The host to connect to for a listen host (wildcards → loopback)."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
