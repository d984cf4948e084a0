"""``dmshell daemon``: run the master and its embedded workers; ``status``, ``stop``, ``--detach``.

The daemon holds an exclusive lock on ``<data-dir>/daemon.lock`` (one daemon per data directory) and
writes ``<data-dir>/dmshell.pid`` (JSON: pid, master address, data dir, start time). SIGTERM/SIGINT
shut it down cleanly: workers get SIGTERM and pause their subtasks at checkpoints; the expected
stages in the store stay as the user set them, so the next start resumes the Running tasks.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import grpc

from dmshell import __version__
from dmshell.client import defaults
from dmshell.client.channel import TLSFiles, credentials
from dmshell.daemon import auth
from dmshell.daemon.common import (
    DEFAULT_LOG_BACKUPS,
    DEFAULT_LOG_MAX_MB,
    SERVER_OPTIONS,
    RPCLogger,
    add_log_arguments,
    dial_host,
    harden_process,
    log_argv,
    private_dir,
    setup_logging,
    split_addr,
)
from dmshell.proto import dmmaster_pb2, dmmaster_pb2_grpc

log = logging.getLogger(__name__)

PIDFILE = "dmshell.pid"
SECRET_KEY_FILE = "secret.key"
#: the master's gRPC threads: every RPC holds one; WatchStatus streams at most
#: ``master.MAX_WATCHERS`` of them, so status and task calls always find one free
GRPC_THREADS = 64
REGISTER_METHOD = "/pb.Master/RegisterWorker"
#: what the master accepts in one request: configurations (at most ``master.MAX_CONFIG_BYTES`` each)
#: and names; a larger message is refused by gRPC before it is read into memory
MAX_REQUEST = 8 * 1024 * 1024
MASTER_SERVER_OPTIONS = [
    (k, MAX_REQUEST if k == "grpc.max_receive_message_length" else v) for k, v in SERVER_OPTIONS
]
LOCKFILE = "daemon.lock"
EXIT_NOT_RUNNING = 3  # LSB: "program is not running"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dmshell daemon",
        description="Run the dmshell daemon: the master (gRPC on --master-addr) and its embedded workers.",
        epilog="`dmshell daemon status` / `dmshell daemon stop` report on / stop a running daemon.",
    )
    parser.add_argument(
        "action",
        nargs="?",
        choices=["status", "stop"],
        help="report on or stop the daemon of --data-dir (default: run a daemon)",
    )
    parser.add_argument(
        "--master-addr",
        default=None,
        help=f"HOST:PORT to serve on (default: $DM_MASTER_ADDR or {defaults.DEFAULT_MASTER_ADDR})",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="state, logs and dump files " f"(default: $DMSHELL_DATA_DIR or {defaults.default_data_dir()})",
    )
    parser.add_argument(
        "--workers",
        default="auto",
        help="embedded workers: `auto` (one per source, the default) " "or a number to keep running",
    )
    parser.add_argument(
        "--detach",
        action="store_true",
        help="run in the background; prints the daemon's pid once the master answers",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds `stop` waits for the daemon to exit (default 90), "
        "`--detach` for it to answer (default 60)",
    )
    parser.add_argument(
        "--secret-key-path",
        default="",
        help="AES-256 key (64 hex characters) for encrypted passwords; created 0600 when missing "
        f"(default: <data-dir>/{SECRET_KEY_FILE}). Ciphertexts made with DM's built-in key stay readable",
    )
    auth.add_security_arguments(parser)
    add_log_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """``dmshell daemon [status|stop] ...``."""
    args = build_parser().parse_args(argv)
    data_dir = Path(args.data_dir or defaults.data_dir()).resolve()
    try:
        sec = auth.security_from_args(args)
    except ValueError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    if args.action == "status":
        return status(data_dir, args.master_addr, sec.tls)
    if args.action == "stop":
        return stop(data_dir, args.master_addr, args.timeout or 90.0, sec.tls)
    master_addr = args.master_addr or os.environ.get(defaults.MASTER_ADDR_ENV) or defaults.DEFAULT_MASTER_ADDR
    try:
        host, _ = split_addr(master_addr)
        policy: str | int = "auto" if args.workers == "auto" else int(args.workers)
        if isinstance(policy, int) and policy < 0:
            raise ValueError(f"--workers must be `auto` or a number ≥ 0, not {args.workers}")
    except ValueError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    if refusal := auth.check_listen_address(host, sec, args.insecure, "master"):
        print(f"Error: {refusal}", file=sys.stderr)
        return 2
    log_file = str(Path(args.log_file).resolve()) if args.log_file else ""
    logs = LogSettings(args.log_level, log_file, args.log_max_size, args.log_max_backups)
    key_path = str(Path(args.secret_key_path).resolve()) if args.secret_key_path else ""
    if args.detach:
        passthrough = [*sec.argv(), *(["--insecure"] if args.insecure else [])]
        if key_path:
            passthrough += ["--secret-key-path", key_path]
        return detach(data_dir, master_addr, args.workers, args.timeout or 60.0, logs, passthrough, sec.tls)
    return run(data_dir, master_addr, policy, logs, sec, key_path)


@dataclass(frozen=True, slots=True)
class LogSettings:
    """``--log-level``, ``--log-file`` (absolute or ""), ``--log-max-size``, ``--log-max-backups``."""

    level: str = "info"
    file: str = ""
    max_mb: int = DEFAULT_LOG_MAX_MB
    backups: int = DEFAULT_LOG_BACKUPS

    def argv(self) -> list[str]:
        return log_argv(self.level, self.file, self.max_mb, self.backups) if self.file else [
            "--log-level", self.level]  # fmt: skip


# ------------------------------------------------------------------------------------------
# run in the foreground
# ------------------------------------------------------------------------------------------
def run(
    data_dir: Path,
    master_addr: str,
    policy: str | int,
    logs: LogSettings | None = None,
    sec: auth.Security | None = None,
    key_path: str = "",
) -> int:
    """Serve until SIGTERM/SIGINT."""
    # imported here, not at the top: `dmshell daemon status/stop` need none of this
    from dmshell.daemon.master import MasterServicer
    from dmshell.daemon.scheduler import Scheduler
    from dmshell.daemon.store import SQLiteStore
    from dmshell.daemon.workerhost import WorkerHost
    from dmshell.engine.config import encrypt
    from dmshell.engine.errors import DMError

    logs = logs or LogSettings()
    harden_process()
    setup_logging(logs.level, logs.file, "daemon", logs.max_mb, logs.backups)
    private_dir(data_dir)
    lock_fd = os.open(data_dir / LOCKFILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        info = read_pidfile(data_dir)
        pid = f" (pid {info['pid']})" if info else ""
        print(f"Error: a dmshell daemon{pid} is already running with data dir {data_dir}", file=sys.stderr)
        return 1

    stop_event = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        stop_event.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    host, _ = split_addr(master_addr)
    key_path = key_path or str(data_dir / SECRET_KEY_FILE)
    try:
        encrypt.init_cipher(encrypt.load_or_create_key(key_path))
        token = auth.load_or_create_secret(data_dir / auth.SECRET_FILE)
    except (DMError, OSError, ValueError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        os.close(lock_fd)
        return 1
    sec = dataclasses.replace(sec or auth.Security(), token=token)
    store = SQLiteStore(data_dir / "master.db")
    scheduler = Scheduler(store, sec)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=GRPC_THREADS, thread_name_prefix="master-grpc"),
        interceptors=[RPCLogger(), auth.Guard(sec, lambda method: method == REGISTER_METHOD)],
        options=MASTER_SERVER_OPTIONS,
    )
    try:
        port = auth.add_port(server, master_addr, sec)
    except RuntimeError as exc:
        print(f"Error: cannot listen on {master_addr}: {exc}", file=sys.stderr)
        store.close()
        return 1
    advertised = f"{dial_host(host)}:{port}"
    # embedded workers log at the daemon's level, next to its log file (default <data-dir>/log)
    log_dir = Path(logs.file).parent if logs.file else data_dir / "log"
    host_ = (
        None
        if policy == 0
        else WorkerHost(
            scheduler,
            advertised,
            data_dir,
            policy,
            logs.level,
            log_dir,
            worker_args=[
                *sec.argv(),
                "--secret-key-path",
                key_path,
                "--log-max-size",
                str(logs.max_mb),
                "--log-max-backups",
                str(logs.backups),
            ],
        )
    )
    master = MasterServicer(
        store,
        scheduler,
        master_addr=advertised,
        data_dir=str(data_dir),
        binding_wait=host_.can_provide if host_ else None,
        security=sec,
    )
    dmmaster_pb2_grpc.add_MasterServicer_to_server(master, server)
    server.start()
    scheduler.start()
    if host_:
        host_.start()
    write_pidfile(
        data_dir,
        {
            "pid": os.getpid(),
            "master_addr": advertised,
            "data_dir": str(data_dir),
            "start_time": int(time.time()),
            "host": socket.gethostname(),
        },
    )
    log.info(
        "dmshell daemon %s ready: master at %s, data dir %s, workers %s (pid %d)",
        __version__,
        advertised,
        data_dir,
        policy,
        os.getpid(),
    )
    try:
        while not stop_event.wait(1.0):
            pass
    finally:
        log.info("stopping: workers first (they pause their subtasks at checkpoints)")
        scheduler.stop()
        if host_:
            host_.stop()
        server.stop(grace=2).wait(5)
        master.close()
        store.close()
        with contextlib.suppress(FileNotFoundError):
            (data_dir / PIDFILE).unlink()
        os.close(lock_fd)
        log.info("dmshell daemon stopped")
    return 0


def write_pidfile(data_dir: Path, info: dict) -> None:
    tmp = data_dir / (PIDFILE + ".tmp")
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), "w") as fh:
        fh.write(json.dumps(info) + "\n")  # readable: `dmshell daemon status` of another user
    os.replace(tmp, data_dir / PIDFILE)


def read_pidfile(data_dir: Path) -> dict | None:
    try:
        info = json.loads((data_dir / PIDFILE).read_text())
        return info if isinstance(info, dict) and isinstance(info.get("pid"), int) else None
    except (OSError, ValueError):
        return None


def daemon_alive(data_dir: Path) -> bool:
    """True when some process holds the data dir's daemon lock."""
    try:
        fd = os.open(data_dir / LOCKFILE, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def cluster_info(
    addr: str, timeout: float = 3.0, tls: TLSFiles | None = None, data_dir: Path | None = None
) -> dmmaster_pb2.ClusterInfo:
    """``GetClusterInfo``; with the cluster secret of ``data_dir`` when readable (so the daemon's own
    user is recognised whatever ``--cert-allowed-cn`` says)."""
    token = ""
    if data_dir is not None:
        with contextlib.suppress(OSError, ValueError):
            token = auth.read_secret(data_dir / auth.SECRET_FILE)
    creds = credentials(tls or TLSFiles())
    channel = grpc.secure_channel(addr, creds) if creds else grpc.insecure_channel(addr)
    with channel:
        return dmmaster_pb2_grpc.MasterStub(channel).GetClusterInfo(
            dmmaster_pb2.Empty(), timeout=timeout, metadata=[(auth.TOKEN_KEY, token)] if token else None
        )


# ------------------------------------------------------------------------------------------
# status / stop / detach
# ------------------------------------------------------------------------------------------
def _locate(data_dir: Path, master_addr: str | None) -> tuple[dict | None, str]:
    """(pidfile info of a live daemon or None, master address to ask)."""
    info = read_pidfile(data_dir) if daemon_alive(data_dir) else None
    addr = master_addr or (info or {}).get("master_addr") or ""
    return info, addr


def status(data_dir: Path, master_addr: str | None, tls: TLSFiles | None = None) -> int:
    info, addr = _locate(data_dir, master_addr)
    if not addr:
        print(f"dmshell daemon is not running (data dir {data_dir})")
        return EXIT_NOT_RUNNING
    try:
        ci = cluster_info(addr, tls=tls, data_dir=data_dir)
    except grpc.RpcError as exc:
        if info:
            print(
                f"dmshell daemon is running (pid {info['pid']}, data dir {data_dir}) but its master at "
                f"{addr} does not answer: {exc.code().name}"
            )
            return 1
        print(f"dmshell daemon is not running (nothing answers at {addr})")
        return EXIT_NOT_RUNNING
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ci.startTime))
    print(f"dmshell daemon is running (pid {ci.pid})")
    print(f"  master:   {ci.masterAddr}")
    print(f"  data dir: {ci.dataDir}")
    print(f"  workers:  {ci.workersUp} up / {ci.workersTotal} registered")
    print(f"  version:  {ci.version}")
    print(f"  started:  {started}")
    return 0


def _is_daemon_process(pid: int) -> bool:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return _pid_alive(pid)
    return b"dmshell" in b" ".join(cmd) and b"daemon" in cmd


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def stop(data_dir: Path, master_addr: str | None, timeout: float, tls: TLSFiles | None = None) -> int:
    info, addr = _locate(data_dir, master_addr)
    pid = info["pid"] if info else None
    if pid is None and master_addr:
        with contextlib.suppress(grpc.RpcError):
            pid = int(cluster_info(master_addr, tls=tls, data_dir=data_dir).pid)
    if pid is None or not _pid_alive(pid) or not _is_daemon_process(pid):
        print(f"dmshell daemon is not running (data dir {data_dir})")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid) or (info and not daemon_alive(data_dir)):
            print(f"dmshell daemon stopped (pid {pid})")
            return 0
        time.sleep(0.1)
    print(f"Error: dmshell daemon (pid {pid}) did not stop within {timeout:.0f}s", file=sys.stderr)
    return 1


def detach(
    data_dir: Path,
    master_addr: str,
    workers: str,
    timeout: float,
    logs: LogSettings | None = None,
    passthrough: list[str] | None = None,
    tls: TLSFiles | None = None,
) -> int:
    """Re-exec ourselves in a new session with output to ``--log-file`` (default
    ``<data-dir>/log/daemon.log``); print its pid."""
    if daemon_alive(data_dir):
        info = read_pidfile(data_dir) or {}
        print(
            f"Error: a dmshell daemon (pid {info.get('pid', '?')}) is already running with data dir "
            f"{data_dir}",
            file=sys.stderr,
        )
        return 1
    log_path = Path(logs.file) if logs and logs.file else data_dir / "log" / "daemon.log"
    # the daemon logs to the file itself, so it rotates; what escapes logging is appended to it too
    logs = dataclasses.replace(logs or LogSettings(), file=str(log_path))
    harden_process()
    private_dir(data_dir)
    log_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "dmshell",
        "daemon",
        "--master-addr",
        master_addr,
        "--data-dir",
        str(data_dir),
        "--workers",
        workers,
        *logs.argv(),
        *(passthrough or []),
    ]
    with open(os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as out:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True, close_fds=True
        )
    host, port = split_addr(master_addr)
    addr = f"{dial_host(host)}:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace").splitlines()[-15:]
            print(
                f"Error: the daemon exited with code {proc.returncode}; last lines of {log_path}:",
                file=sys.stderr,
            )
            print("\n".join(tail), file=sys.stderr)
            return 1
        with contextlib.suppress(grpc.RpcError):
            if cluster_info(addr, timeout=1, tls=tls, data_dir=data_dir).pid == proc.pid:
                print(proc.pid)
                print(
                    f"dmshell daemon started (pid {proc.pid}): master at {addr}, data dir {data_dir}, "
                    f"log {log_path}",
                    file=sys.stderr,
                )
                return 0
        time.sleep(0.1)
    print(
        f"Error: the daemon (pid {proc.pid}) did not answer at {addr} within {timeout:.0f}s; "
        f"see {log_path}",
        file=sys.stderr,
    )
    return 1
