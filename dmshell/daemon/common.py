"""Small helpers shared by the master, the scheduler and the worker."""

from __future__ import annotations

import argparse
import io
import logging
import logging.handlers
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NoReturn, cast

import grpc

from dmshell.client.channel import MAX_MESSAGE
from dmshell.engine import errors
from dmshell.engine.config.secrets import mask_text

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
    parser.add_argument(
        "--log-max-size",
        type=int,
        default=DEFAULT_LOG_MAX_MB,
        metavar="MB",
        help=f"with --log-file: rotate the log at this size (default {DEFAULT_LOG_MAX_MB}; 0: never)",
    )
    parser.add_argument(
        "--log-max-backups",
        type=int,
        default=DEFAULT_LOG_BACKUPS,
        metavar="N",
        help=f"with --log-file: rotated logs to keep (default {DEFAULT_LOG_BACKUPS})",
    )


#: log rotation defaults (DM's ``log.max-size`` is 300 MB; it keeps every backup, dmshell 10)
DEFAULT_LOG_MAX_MB, DEFAULT_LOG_BACKUPS = 300, 10


def log_argv(level: str, log_file: str, max_mb: int, backups: int) -> list[str]:
    """The logging flags that make another process (a worker) log the same way to ``log_file``."""
    return [
        "--log-level", level, "--log-file", log_file,
        "--log-max-size", str(max_mb), "--log-max-backups", str(backups),
    ]  # fmt: skip


class _PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Rotating log files created 0600, whatever the umask (the log names sources and tasks)."""

    def _open(self) -> io.TextIOWrapper:  # logging's hook
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return cast(io.TextIOWrapper, open(fd, self.mode, encoding=self.encoding, errors=self.errors))


class MaskSecrets(logging.Filter):
    """Masks secret configuration values (``engine/config/secrets.py``) in every log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        masked = mask_text(text)
        if masked != text:
            record.msg, record.args = masked, None
        return True


def setup_logging(
    level: str,
    log_file: str,
    tag: str,
    max_mb: int = DEFAULT_LOG_MAX_MB,
    backups: int = DEFAULT_LOG_BACKUPS,
) -> None:
    """Log at ``level`` to ``log_file`` (appended, directory created, rotated at ``max_mb`` keeping
    ``backups`` old files; files 0600) or stderr; lines tagged ``[tag]``, secrets masked."""
    handler: logging.Handler
    if log_file:
        path = Path(log_file)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handler = _PrivateRotatingFileHandler(
            path, maxBytes=max(0, max_mb) * 1024 * 1024, backupCount=max(0, backups), encoding="utf-8"
        )
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s [{tag}] %(name)s: %(message)s"))
    handler.addFilter(MaskSecrets())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(LOG_LEVELS[level])


def harden_process() -> None:
    """umask 077: everything the daemon and its workers create (dump files, logs, state) is private."""
    os.umask(0o077)


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and make it 0700, whoever created it before."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


class RPCLogger(grpc.ServerInterceptor):
    """Logs every incoming RPC at debug level."""

    def intercept_service(self, continuation: Callable[[Any], Any], handler_call_details: Any) -> Any:
        log.debug("rpc %s", handler_call_details.method)
        return continuation(handler_call_details)
