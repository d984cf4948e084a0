"""``dmshell daemon``: run the master and its embedded workers; ``status``, ``stop``, ``--detach``.

The daemon holds an exclusive lock on ``<data-dir>/daemon.lock`` (one daemon per data directory) and
writes ``<data-dir>/dmshell.pid`` (JSON: pid, master address, data dir, start time). SIGTERM/SIGINT
shut it down cleanly: workers get SIGTERM and pause their subtasks at checkpoints; the expected
stages in the store stay as the user set them, so the next start resumes the Running tasks.
"""

from __future__ import annotations

import argparse
import contextlib
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
from pathlib import Path
from types import FrameType

import grpc

from dmshell import __version__
from dmshell.client import defaults
from dmshell.daemon.common import (
    SERVER_OPTIONS,
    RPCLogger,
    add_log_arguments,
    dial_host,
    setup_logging,
    split_addr,
)
from dmshell.proto import dmmaster_pb2, dmmaster_pb2_grpc

log = logging.getLogger(__name__)

PIDFILE = "dmshell.pid"
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
    add_log_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """``dmshell daemon [status|stop] ...``."""
    args = build_parser().parse_args(argv)
    data_dir = Path(args.data_dir or defaults.data_dir()).resolve()
    if args.action == "status":
        return status(data_dir, args.master_addr)
    if args.action == "stop":
        return stop(data_dir, args.master_addr, args.timeout or 90.0)
    master_addr = args.master_addr or os.environ.get(defaults.MASTER_ADDR_ENV) or defaults.DEFAULT_MASTER_ADDR
    try:
        split_addr(master_addr)
        policy: str | int = "auto" if args.workers == "auto" else int(args.workers)
        if isinstance(policy, int) and policy < 0:
            raise ValueError(f"--workers must be `auto` or a number ≥ 0, not {args.workers}")
    except ValueError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    log_file = str(Path(args.log_file).resolve()) if args.log_file else ""
    if args.detach:
        return detach(data_dir, master_addr, args.workers, args.timeout or 60.0, args.log_level, log_file)
    return run(data_dir, master_addr, policy, args.log_level, log_file)


# ------------------------------------------------------------------------------------------
# run in the foreground
# ------------------------------------------------------------------------------------------
def run(
    data_dir: Path, master_addr: str, policy: str | int, log_level: str = "info", log_file: str = ""
) -> int:
    """Serve until SIGTERM/SIGINT."""
    # imported here, not at the top: `dmshell daemon status/stop` need none of this
    from dmshell.daemon.master import MasterServicer
    from dmshell.daemon.scheduler import Scheduler
    from dmshell.daemon.store import SQLiteStore
    from dmshell.daemon.workerhost import WorkerHost

    setup_logging(log_level, log_file, "daemon")
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock_fd = os.open(data_dir / LOCKFILE, os.O_RDWR | os.O_CREAT, 0o644)
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
    store = SQLiteStore(data_dir / "master.db")
    scheduler = Scheduler(store)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix="master-grpc"),
        interceptors=[RPCLogger()],
        options=SERVER_OPTIONS,
    )
    try:
        port = server.add_insecure_port(master_addr)
    except RuntimeError as exc:
        print(f"Error: cannot listen on {master_addr}: {exc}", file=sys.stderr)
        store.close()
        return 1
    advertised = f"{dial_host(host)}:{port}"
    # embedded workers log at the daemon's level, next to its log file (default <data-dir>/log)
    log_dir = Path(log_file).parent if log_file else data_dir / "log"
    host_ = None if policy == 0 else WorkerHost(scheduler, advertised, data_dir, policy, log_level, log_dir)
    master = MasterServicer(
        store,
        scheduler,
        master_addr=advertised,
        data_dir=str(data_dir),
        binding_wait=host_.can_provide if host_ else None,
        log_dir=log_dir,
    )
    dmmaster_pb2_grpc.add_MasterServicer_to_server(master, server)
    server.start()
    scheduler.start()
    master.start_history()
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
    tmp.write_text(json.dumps(info) + "\n")
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


def cluster_info(addr: str, timeout: float = 3.0) -> dmmaster_pb2.ClusterInfo:
    with grpc.insecure_channel(addr) as channel:
        return dmmaster_pb2_grpc.MasterStub(channel).GetClusterInfo(dmmaster_pb2.Empty(), timeout=timeout)


# ------------------------------------------------------------------------------------------
# status / stop / detach
# ------------------------------------------------------------------------------------------
def _locate(data_dir: Path, master_addr: str | None) -> tuple[dict | None, str]:
    """(pidfile info of a live daemon or None, master address to ask)."""
    info = read_pidfile(data_dir) if daemon_alive(data_dir) else None
    addr = master_addr or (info or {}).get("master_addr") or ""
    return info, addr


def status(data_dir: Path, master_addr: str | None) -> int:
    info, addr = _locate(data_dir, master_addr)
    if not addr:
        print(f"dmshell daemon is not running (data dir {data_dir})")
        return EXIT_NOT_RUNNING
    try:
        ci = cluster_info(addr)
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


def stop(data_dir: Path, master_addr: str | None, timeout: float) -> int:
    info, addr = _locate(data_dir, master_addr)
    pid = info["pid"] if info else None
    if pid is None and master_addr:
        with contextlib.suppress(grpc.RpcError):
            pid = int(cluster_info(master_addr).pid)
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
    log_level: str = "info",
    log_file: str = "",
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
    log_path = Path(log_file) if log_file else data_dir / "log" / "daemon.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
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
        "--log-level",
        log_level,
    ]
    if log_file:
        cmd += ["--log-file", log_file]
    with open(log_path, "ab") as out:
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
            if cluster_info(addr, timeout=1).pid == proc.pid:
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
