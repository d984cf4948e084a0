"""Small helpers shared by the master, the scheduler and the worker."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NoReturn

import grpc

from dmshell.client.channel import MAX_MESSAGE
from dmshell.engine import errors

log = logging.getLogger(__name__)

#: gRPC message size limit for master ↔ worker and client calls (task YAML, big status lists)
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


#: ``--log-level`` values (DM's ``-L``) → logging levels
LOG_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "fatal": logging.CRITICAL,
}


def add_log_arguments(parser: argparse.ArgumentParser) -> None:
    """``-L/--log-level`` and ``--log-file``, as on DM's master and worker."""
    parser.add_argument(
        "-L",
        "--log-level",
        type=str.lower,
        choices=list(LOG_LEVELS),
        default="info",
        help="log level: debug, info, warn, error, fatal (default: info)",
    )
    parser.add_argument("--log-file", default="", help="write the log to this file (default: stderr)")


def setup_logging(level: str, log_file: str, tag: str) -> None:
    """Log at ``level`` to ``log_file`` (appended, directory created) or stderr; lines tagged ``[tag]``."""
    handler: logging.Handler
    if log_file:
        path = Path(log_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s [{tag}] %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(LOG_LEVELS[level])


class RPCLogger(grpc.ServerInterceptor):
    """Logs every incoming RPC at debug level."""

    def intercept_service(self, continuation: Callable[[Any], Any], handler_call_details: Any) -> Any:
        log.debug("rpc %s", handler_call_details.method)
        return continuation(handler_call_details)
