"""Control-plane budgets: idle daemon memory and dmctl latency.

Starts a daemon with two embedded workers (each bound to a private MariaDB source), lets it idle,
and prints:

* RSS of the daemon process tree (master + workers), budget 150 MB in total;
* wall time of `dmctl list-member` / `dmctl query-status` as a user runs them (new process each
  time: interpreter start, imports, connect, RPC, print), budget 200 ms — the installed `dmctl`
  console script when there is one, with compiled bytecode cached as an installed package has it
  (``PYTHONDONTWRITEBYTECODE`` would otherwise make every run compile dmshell's modules again);
* the in-process gRPC round trip of QueryStatus, for reference.

Run: ``make bench`` or ``python -m bench.budget``. Figures, not a pass/fail test.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc

from bench._proc import children, cmdline, rss_bytes, tree_rss_bytes
from dmshell.proto import dmmaster_pb2 as mpb
from dmshell.proto import dmmaster_pb2_grpc
from dmshell.sandbox import UPSTREAM1, UPSTREAM2, Sandbox, free_port

MB = 1024 * 1024


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise TimeoutError(what)


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="dmshell-bench-"))
    addr = f"127.0.0.1:{free_port()}"
    console = Path(sys.executable).parent / "dmctl"
    program = [str(console)] if console.exists() else [sys.executable, "-m", "dmshell.ctl.main"]
    dmctl = [*program, "--master-addr", addr]
    # bytecode cached outside the checkout, as `pip install` leaves it for an installed package
    run_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    run_env["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
    with Sandbox(root / "mariadb") as sandbox:
        up1, up2 = sandbox.start([UPSTREAM1, UPSTREAM2])
        daemon = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dmshell",
                "daemon",
                "--master-addr",
                addr,
                "--data-dir",
                str(root / "data"),
                "--workers",
                "2",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            channel = grpc.insecure_channel(addr)
            stub = dmmaster_pb2_grpc.MasterStub(channel)
            grpc.channel_ready_future(channel).result(timeout=30)
            for i, server in enumerate((up1, up2), start=1):
                (root / f"source{i}.yaml").write_text(server.source_yaml(f"mysql-replica-0{i}"))
                subprocess.run(
                    [*dmctl, "operate-source", "create", str(root / f"source{i}.yaml")],
                    check=True,
                    capture_output=True,
                )

            def two_bound() -> bool:
                resp = stub.ListMember(mpb.ListMemberRequest(worker=True))
                workers = [w for m in resp.members if m.HasField("worker") for w in m.worker.workers]
                return sum(w.stage == "bound" for w in workers) == 2

            wait_for(two_bound, 60, "two workers bound")
            time.sleep(5)  # idle
            procs = [daemon.pid, *children(daemon.pid)]
            total = tree_rss_bytes(daemon.pid)
            print("== idle daemon memory (RSS)")
            for pid in procs:
                print(f"  {rss_bytes(pid) / MB:7.1f} MB  pid {pid:<7} {cmdline(pid)[:90]}")
            print(
                f"  total {total / MB:.1f} MB over {len(procs)} processes (budget 150 MB): "
                f"{'OK' if total <= 150 * MB else 'OVER'}"
            )

            print("== dmctl latency (new process per command, as a user runs it)")
            runs = {
                "list-member": [*dmctl, "list-member"],
                "query-status": [*dmctl, "query-status"],
                "pass": [sys.executable, "-c", "pass"],
            }
            times: dict[str, list[float]] = {name: [] for name in runs}
            for argv in runs.values():  # warm up (bytecode cache, page cache)
                subprocess.run(argv, check=False, capture_output=True, env=run_env)
            for _ in range(10):  # interleaved, so that a burst of load hits every command alike
                for name, argv in runs.items():
                    t0 = time.perf_counter()
                    subprocess.run(argv, check=False, capture_output=True, env=run_env)
                    times[name].append(time.perf_counter() - t0)
            for name in ("list-member", "query-status"):
                med = statistics.median(times[name])
                print(
                    f"  dmctl {name:<14} median {med * 1000:6.1f} ms  "
                    f"min {min(times[name]) * 1000:6.1f} ms  max {max(times[name]) * 1000:6.1f} ms  "
                    f"(budget 200 ms): {'OK' if med <= 0.2 else 'OVER'}"
                )
            print(
                f"  python -c pass  median {statistics.median(times['pass']) * 1000:6.1f} ms "
                "(interpreter start, for scale)"
            )

            rtts = []
            for _ in range(50):
                t0 = time.perf_counter()
                stub.QueryStatus(mpb.QueryStatusListRequest())
                rtts.append(time.perf_counter() - t0)
            print(f"  QueryStatus gRPC round trip median {statistics.median(rtts) * 1000:.2f} ms")
        finally:
            os.killpg(daemon.pid, 15)
            daemon.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
