"""Full migration benchmark: a `full` task of dmshell against mydumper + myloader, same data, same run.

Generates N rows of sysbench-shaped tables (``id INT AUTO_INCREMENT PRIMARY KEY, k INT, c CHAR(120),
pad CHAR(60)``, index on ``k``; default 1,000,000 rows over 4 tables) on a private MariaDB source,
then, alternately and ``--repeat`` times:

* dmshell — a real daemon (``python -m dmshell daemon``), the source created with OperateSource and a
  ``task-mode: full`` task started with StartTask; timed from StartTask until query-status says
  Finished. Peak RSS of the daemon's process tree (master + worker) is sampled from /proc.
* ``mydumper -t T`` then ``myloader -t T`` (Debian's package; installed with apt-get when missing),
  timed from the start of mydumper to the end of myloader.

Both use T threads (``mydumper.threads`` = ``loaders.pool-size`` = T) and the same servers; each run
starts with an empty target and is checked (row counts and CHECKSUM TABLE). Prints every run, the
medians, the ratio dmshell / (mydumper + myloader) — the goal is ≤ 1.0 — and the peak RSS (goal
< 300 MB). Figures, not a pass/fail test.

Run: ``make bench-full`` or ``python -m bench.full [--rows N] [--tables 4] [--threads 4] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from bench._proc import tree_rss_bytes
from dmshell.proto import dmmaster_pb2 as mpb
from dmshell.proto import dmmaster_pb2_grpc
from dmshell.proto import dmworker_pb2 as pb
from dmshell.sandbox import MariaDBServer, Sandbox, ServerSpec, free_port

MB = 1024 * 1024
REPO = Path(__file__).resolve().parents[1]
DB = "sbtest"
SOURCE_ID = "bench-source"
#: the same server settings for both tools: enough buffer pool for the data, redo log room
SERVER_OPTIONS = {
    "innodb-buffer-pool-size": "1G",
    "innodb-log-file-size": "256M",
    "max-allowed-packet": "64M",
}
DIGITS = "LPAD(FLOOR(RAND() * 99999999999), 11, '0')"


@dataclass
class Run:
    tool: str
    seconds: float
    peak_rss: int = 0
    parts: dict[str, float] = field(default_factory=dict)


# -- setup ---------------------------------------------------------------------------------------
def find_mydumper() -> tuple[str, str]:
    """Paths of mydumper and myloader; installs Debian's package when they are missing."""
    mydumper, myloader = shutil.which("mydumper"), shutil.which("myloader")
    if mydumper and myloader:
        return mydumper, myloader
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print(
            "mydumper/myloader not found: installing Debian's package (apt-get install -y mydumper)...",
            flush=True,
        )
        subprocess.run(
            ["apt-get", "install", "-y", "mydumper"],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        mydumper, myloader = shutil.which("mydumper"), shutil.which("myloader")
        if mydumper and myloader:
            return mydumper, myloader
    sys.exit(
        "bench.full: mydumper and myloader are needed for the comparison. Install them "
        "(Debian/Ubuntu: `sudo apt-get install -y mydumper`) and run again."
    )


def generate(source: MariaDBServer, rows: int, tables: int) -> None:
    per_table = rows // tables
    c = "CONCAT_WS('-', " + ", ".join([DIGITS] * 10) + ")"
    pad = "CONCAT_WS('-', " + ", ".join([DIGITS] * 5) + ")"
    source.execute(f"DROP DATABASE IF EXISTS {DB}", f"CREATE DATABASE {DB}")

    def one(i: int) -> None:
        source.execute(
            f"CREATE TABLE {DB}.sbtest{i} (id INT NOT NULL AUTO_INCREMENT, k INT NOT NULL DEFAULT 0, "
            "c CHAR(120) NOT NULL DEFAULT '', pad CHAR(60) NOT NULL DEFAULT '', PRIMARY KEY (id), "
            "KEY k_1 (k)) ENGINE=InnoDB",
            f"INSERT INTO {DB}.sbtest{i} (k, c, pad) SELECT FLOOR(RAND() * {per_table}), {c}, {pad} "
            f"FROM {DB}.seq_1_to_{per_table}",
        )

    threads = [threading.Thread(target=one, args=(i,)) for i in range(1, tables + 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def checksums(server: MariaDBServer, tables: int) -> list[tuple]:
    names = ", ".join(f"{DB}.sbtest{i}" for i in range(1, tables + 1))
    counts = [server.query(f"SELECT COUNT(*) FROM {DB}.sbtest{i}")[0][0] for i in range(1, tables + 1)]
    return [*counts, *(row[1] for row in server.query(f"CHECKSUM TABLE {names}"))]


def reset_target(target: MariaDBServer) -> None:
    target.execute(f"DROP DATABASE IF EXISTS {DB}", "DROP DATABASE IF EXISTS dm_meta")


# -- dmshell -------------------------------------------------------------------------------------
class DaemonRunner:
    def __init__(self, root: Path, source: MariaDBServer, target: MariaDBServer, threads: int) -> None:
        self.root, self.source, self.target, self.threads = root, source, target, threads
        self.addr = f"127.0.0.1:{free_port()}"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dmshell",
                "daemon",
                "--master-addr",
                self.addr,
                "--data-dir",
                str(root / "data"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            cwd=REPO,
        )
        self.channel = grpc.insecure_channel(self.addr)
        self.stub = dmmaster_pb2_grpc.MasterStub(self.channel)
        grpc.channel_ready_future(self.channel).result(timeout=60)
        source_yaml = (
            f"source-id: {SOURCE_ID}\nenable-gtid: true\nfrom:\n  host: {source.host}\n"
            f"  port: {source.port}\n  user: {source.user}\n  password: {source.password}\n"
        )
        resp = self.stub.OperateSource(
            mpb.OperateSourceRequest(op=mpb.StartSource, config=[source_yaml]), timeout=60
        )
        if not resp.result:
            raise RuntimeError(f"operate-source failed: {resp}")
        self.runs = 0

    def task_yaml(self, name: str) -> str:
        t = self.target
        return f"""\
name: {name}
task-mode: full
target-database:
{t.connection_yaml()}block-allow-list:
  bench:
    do-dbs: ["{DB}"]
mydumpers:
  bench:
    threads: {self.threads}
loaders:
  bench:
    pool-size: {self.threads}
mysql-instances:
  - source-id: {SOURCE_ID}
    block-allow-list: bench
    mydumper-config-name: bench
    loader-config-name: bench
"""

    def run(self) -> Run:
        self.runs += 1
        name = f"full{self.runs}"
        peak = tree_rss_bytes(self.proc.pid)
        units: dict[int, float] = {}
        t0 = time.perf_counter()
        resp = self.stub.StartTask(mpb.StartTaskRequest(task=self.task_yaml(name)), timeout=120)
        if not resp.result:
            raise RuntimeError(f"start-task failed: {resp}")
        while True:
            peak = max(peak, tree_rss_bytes(self.proc.pid))
            status = self.stub.QueryStatus(mpb.QueryStatusListRequest(name=name), timeout=30)
            st = next((s for src in status.sources for s in src.subTaskStatus if s.name == name), None)
            if st is not None:
                units.setdefault(st.unit, time.perf_counter() - t0)
                if st.stage == pb.Finished:
                    break
                if st.stage == pb.Paused:
                    raise RuntimeError(f"the task paused: {st}")
            time.sleep(0.05)
        elapsed = time.perf_counter() - t0
        self.stub.OperateTask(mpb.OperateTaskRequest(op=pb.Delete, name=name), timeout=60)
        parts = {}
        if pb.Load in units:
            parts = {"until load": units[pb.Load], "load": elapsed - units[pb.Load]}
        return Run("dmshell", elapsed, peak, parts)

    def close(self) -> None:
        self.channel.close()
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)


# -- mydumper + myloader -------------------------------------------------------------------------
def run_mydumper(
    tools: tuple[str, str], root: Path, source: MariaDBServer, target: MariaDBServer, threads: int
) -> Run:
    mydumper, myloader = tools
    out = root / "mydumper-out"
    shutil.rmtree(out, ignore_errors=True)
    peak = 0

    def timed(cmd: list[str]) -> float:
        nonlocal peak
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        while proc.poll() is None:
            peak = max(peak, tree_rss_bytes(proc.pid))
            time.sleep(0.05)
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd[0]} failed: {proc.stderr.read().decode(errors='replace')[-2000:]}")
        return time.perf_counter() - t0

    auth = ["-u", source.user, "-p", source.password]
    dump = timed(
        [
            mydumper,
            "-h",
            source.host,
            "-P",
            str(source.port),
            *auth,
            "-B",
            DB,
            "-t",
            str(threads),
            "-o",
            str(out),
        ]
    )
    load = timed(
        [
            myloader,
            "-h",
            target.host,
            "-P",
            str(target.port),
            "-u",
            target.user,
            "-p",
            target.password,
            "-d",
            str(out),
            "-t",
            str(threads),
            "-o",
        ]
    )
    return Run("mydumper+myloader", dump + load, peak, {"mydumper": dump, "myloader": load})


# -- main ----------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.full", description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows in total (default 1,000,000)")
    ap.add_argument("--tables", type=int, default=4, help="sysbench tables (default 4)")
    ap.add_argument("--threads", type=int, default=4, help="threads for both tools (default 4)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each tool, alternating (default 3)")
    args = ap.parse_args(argv)

    tools = find_mydumper()
    root = Path(tempfile.mkdtemp(prefix="dmshell-bench-full-"))
    print(
        f"bench.full: {args.rows:,} rows over {args.tables} tables, {args.threads} threads, "
        f"{args.repeat} runs of each tool; {os.cpu_count()} CPUs; work dir {root}",
        flush=True,
    )
    runner = None
    sandbox = Sandbox(root / "mariadb")
    try:
        source, target = sandbox.start(
            [
                ServerSpec("source", server_id=401, gtid_domain_id=4, extra_options=dict(SERVER_OPTIONS)),
                ServerSpec("target", server_id=402, log_bin=False, extra_options=dict(SERVER_OPTIONS)),
            ]
        )
        t0 = time.perf_counter()
        generate(source, args.rows, args.tables)
        expected = checksums(source, args.tables)
        print(f"  generated in {time.perf_counter() - t0:.1f} s", flush=True)
        runner = DaemonRunner(root, source, target, args.threads)
        runs: list[Run] = []
        for i in range(args.repeat):
            order = ("dmshell", "mydumper") if i % 2 == 0 else ("mydumper", "dmshell")
            for tool in order:
                reset_target(target)
                time.sleep(2)  # let the target settle (purge of the dropped tables)
                if tool == "dmshell":
                    run = runner.run()
                else:
                    run = run_mydumper(tools, root, source, target, args.threads)
                if checksums(target, args.tables) != expected:
                    raise RuntimeError(f"{run.tool}: the target differs from the source after run {i + 1}")
                runs.append(run)
                parts = ", ".join(f"{k} {v:.2f} s" for k, v in run.parts.items())
                print(
                    f"  run {i + 1}: {run.tool:<18} {run.seconds:6.2f} s  ({parts}; "
                    f"peak RSS {run.peak_rss / MB:.0f} MB)",
                    flush=True,
                )
        ours = [r for r in runs if r.tool == "dmshell"]
        theirs = [r for r in runs if r.tool != "dmshell"]
        ours_med = statistics.median(r.seconds for r in ours)
        theirs_med = statistics.median(r.seconds for r in theirs)
        peak = max(r.peak_rss for r in ours)
        print("== full migration (median of the runs; other load on the machine shows as spread)")
        print(
            f"  dmshell (daemon, task-mode full) {ours_med:6.2f} s   peak RSS of the daemon tree "
            f"{peak / MB:.0f} MB (goal < 300 MB: {'OK' if peak < 300 * MB else 'OVER'})"
        )
        print(
            f"  mydumper + myloader              {theirs_med:6.2f} s   "
            f"(mydumper {statistics.median(r.parts['mydumper'] for r in theirs):.2f} s + myloader "
            f"{statistics.median(r.parts['myloader'] for r in theirs):.2f} s; peak RSS "
            f"{max(r.peak_rss for r in theirs) / MB:.0f} MB)"
        )
        ratio = ours_med / theirs_med
        best = min(r.seconds for r in ours) / min(r.seconds for r in theirs)
        print(
            f"  ratio dmshell / (mydumper + myloader) = {ratio:.2f} (goal <= 1.0: "
            f"{'OK' if ratio <= 1.0 else 'SLOWER'}); best run against best run: {best:.2f} "
            f"({min(r.seconds for r in ours):.2f} s vs {min(r.seconds for r in theirs):.2f} s)"
        )
    finally:
        if runner is not None:
            runner.close()
        sandbox.close()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
