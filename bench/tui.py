"""TUI budgets: start-up to first paint with 100 tasks, and memory.

Serves an in-process fake master (100 tasks on 4 sources, all replicating, lags changing every
second over ``WatchStatus``), runs ``python -m dmshell --master-addr ...`` in a pseudo-terminal
(120x40) and prints, per run and as the median of the runs:

* time from process start to the first frame that shows the task list (``Tasks (100)`` on the
  terminal), budget 1 s, and the CPU time the process used until then (less sensitive to a busy
  machine);
* RSS of the TUI process after 5 s of live updates (and its peak, VmHWM), budget 150 MB;
* time from ``q`` to the process exit.

Run: ``python -m bench.tui [--runs N]``. Figures, not a pass/fail test.
"""

from __future__ import annotations

import argparse
import os
import select
import statistics
import subprocess
import sys
import threading
import time
from concurrent import futures

import grpc
from google.protobuf import message_factory

from bench._proc import cpu_seconds, peak_rss_bytes, rss_bytes
from dmshell.proto import dmmaster_pb2 as mpb
from dmshell.proto import dmworker_pb2 as pb

MB = 1024 * 1024
TASKS = 100
SOURCES = 4
MARKER = f"Tasks ({TASKS})".encode()


def status(tick: int) -> mpb.QueryStatusListResponse:
    """100 tasks, each on every source, in Sync with lags that move with ``tick``."""
    resp = mpb.QueryStatusListResponse(result=True)
    for s in range(SOURCES):
        src = resp.sources.add(result=True)
        src.sourceStatus.source, src.sourceStatus.worker = f"mysql-{s:02d}", f"worker-{s}"
        for t in range(TASKS):
            st = src.subTaskStatus.add(name=f"task-{t:03d}", stage=pb.Running, unit=pb.Sync)
            sync = st.sync
            sync.masterBinlog, sync.syncerBinlog = "(mysql-bin.000003, 48211)", "(mysql-bin.000003, 47950)"
            sync.secondsBehindMaster = (t * 7 + s * 3 + tick) % 30
            sync.recentRps, sync.totalRows = 100 + (t + tick) % 50, 1000 * t
    return resp


class FakeMaster:
    """The RPCs the TUI uses; everything else answers UNIMPLEMENTED."""

    def __init__(self) -> None:
        self.stopped = threading.Event()
        self.task_configs = {f"task-{t:03d}": f"name: task-{t:03d}\ntask-mode: all\n" for t in range(TASKS)}
        self.source_configs = {
            f"mysql-{s:02d}": f"source-id: mysql-{s:02d}\nenable-gtid: true\nfrom:\n"
            "  host: 10.0.0.1\n  port: 3306\n  user: dm\n  password: '******'\n"
            for s in range(SOURCES)
        }

    def handler(self, name: str, request, context):
        if name == "QueryStatus":
            return status(0)
        if name == "GetClusterInfo":
            return mpb.ClusterInfo(
                masterAddr="127.0.0.1:8261", dataDir="/bench", workersUp=SOURCES, workersTotal=SOURCES
            )
        if name == "ListTaskConfigs":
            return mpb.ListTaskConfigsResponse(result=True, taskConfigs=self.task_configs)
        if name == "ListSourceConfigs":
            return mpb.ListSourceConfigsResponse(result=True, sourceConfigs=self.source_configs)
        context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{name} not supported by the bench master")
        return None

    def watch(self, request, context):
        tick = 0
        while context.is_active() and not self.stopped.is_set():
            yield status(tick)
            tick += 1
            self.stopped.wait(max(request.intervalMs, 100) / 1000)

    def serve(self) -> tuple[grpc.Server, str]:
        service = mpb.DESCRIPTOR.services_by_name["Master"]
        handlers = {}
        for m in service.methods:
            kwargs = {
                "request_deserializer": message_factory.GetMessageClass(m.input_type).FromString,
                "response_serializer": message_factory.GetMessageClass(m.output_type).SerializeToString,
            }
            if m.server_streaming:
                handlers[m.name] = grpc.unary_stream_rpc_method_handler(self.watch, **kwargs)
            else:
                handlers[m.name] = grpc.unary_unary_rpc_method_handler(
                    lambda req, ctx, name=m.name: self.handler(name, req, ctx), **kwargs
                )
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("pb.Master", handlers),))
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        return server, f"127.0.0.1:{port}"


def one_run(addr: str, env: dict[str, str]) -> dict[str, float]:
    import fcntl
    import struct
    import termios

    master_fd, slave_fd = os.openpty()
    fcntl.ioctl(slave_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dmshell", "--master-addr", addr],
        stdin=slave_fd,
        stdout=slave_fd,
        stderr=slave_fd,
        env=env,
        start_new_session=True,
    )
    os.close(slave_fd)
    seen = bytearray()
    first_paint = None
    result: dict[str, float] = {}
    try:
        deadline = t0 + 30
        settle_until = None
        while time.perf_counter() < deadline:
            ready, _, _ = select.select([master_fd], [], [], 0.05)
            if ready:
                try:
                    data = os.read(master_fd, 65536)
                except OSError:
                    break
                seen.extend(data)
                if first_paint is None and MARKER in seen:
                    first_paint = time.perf_counter() - t0
                    result["first_paint_cpu"] = cpu_seconds(proc.pid)
                    settle_until = time.perf_counter() + 5.0  # live updates before measuring memory
            if settle_until is not None and time.perf_counter() >= settle_until:
                break
        if first_paint is None:
            raise RuntimeError(
                "the TUI never showed the task list; output tail:\n" + seen[-2000:].decode(errors="replace")
            )
        result["first_paint"] = first_paint
        result["rss"] = rss_bytes(proc.pid)
        result["peak_rss"] = peak_rss_bytes(proc.pid)
        t_quit = time.perf_counter()
        os.write(master_fd, b"q")
        while proc.poll() is None and time.perf_counter() - t_quit < 10:
            ready, _, _ = select.select([master_fd], [], [], 0.05)
            if ready:
                try:
                    os.read(master_fd, 65536)
                except OSError:
                    pass
        result["quit"] = time.perf_counter() - t_quit
        result["exit_code"] = float(proc.wait(5))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master_fd)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tui", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "DM_MASTER_ADDR")}
    env |= {"TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40", "DMSHELL_CONFIG": os.devnull}
    fake = FakeMaster()
    server, addr = fake.serve()
    try:
        one_run(addr, env)  # warm-up: compiled bytecode, page cache
        runs = [one_run(addr, env) for _ in range(args.runs)]
    finally:
        fake.stopped.set()
        server.stop(grace=None)
    print(
        f"== dmshell TUI, {TASKS} tasks x {SOURCES} sources, 120x40 pty, "
        f"{args.runs} runs (after a warm-up)"
    )
    for i, r in enumerate(runs, 1):
        print(
            f"  run {i}: first paint {r['first_paint'] * 1000:6.0f} ms "
            f"(CPU {r['first_paint_cpu'] * 1000:4.0f} ms)   RSS {r['rss'] / MB:6.1f} MB "
            f"(peak {r['peak_rss'] / MB:6.1f} MB)   quit {r['quit'] * 1000:5.0f} ms   "
            f"exit {r['exit_code']:.0f}"
        )
    paint = statistics.median(r["first_paint"] for r in runs)
    paint_cpu = statistics.median(r["first_paint_cpu"] for r in runs)
    rss = statistics.median(r["rss"] for r in runs)
    peak = max(r["peak_rss"] for r in runs)
    print(
        f"  start-up to first paint: median {paint * 1000:.0f} ms, CPU {paint_cpu * 1000:.0f} ms "
        f"(budget 1000 ms): {'OK' if paint < 1.0 else 'OVER'}"
    )
    load1, _, _ = os.getloadavg()
    print(
        f"  load average during the runs: {load1:.1f} on {os.cpu_count()} CPUs "
        "(wall times on a busy machine are not the TUI's)"
    )
    print(
        f"  memory: median RSS {rss / MB:.1f} MB, peak {peak / MB:.1f} MB (budget 150 MB): "
        f"{'OK' if peak < 150 * MB else 'OVER'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
