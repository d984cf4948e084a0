"""Full migration benchmark: a `full` task of dmshell against mydumper + myloader, same data, same run,
on servers with default settings and on servers tuned for bulk loads.

For each server setting (``--servers``; default both):

* ``stock`` — MariaDB's defaults as a DBA's server has them (128 MiB buffer pool, 96 MiB redo log,
  ``innodb_flush_log_at_trx_commit = 1``, 16 MiB ``max_allowed_packet``);
* ``tuned`` — 1 GiB buffer pool, 256 MiB redo log, 64 MiB ``max_allowed_packet``.

it starts a private source and target, generates N rows of sysbench-shaped tables (``id INT
AUTO_INCREMENT PRIMARY KEY, k INT, c CHAR(120), pad CHAR(60)``, index on ``k``; default 1,000,000
rows over 4 tables), then runs, alternately and ``--repeat`` times:

* dmshell — a real daemon (``python -m dmshell daemon``), the source created with OperateSource and a
  ``task-mode: full`` task started with StartTask; timed from StartTask until query-status says
  Finished (polled every 50 ms);
* ``mydumper -t T`` then ``myloader -t T`` (Debian's package; installed with apt-get when missing),
  timed from the start of mydumper to the end of myloader.

Both use T threads (``mydumper.threads`` = ``loaders.pool-size`` = T) and the same servers; each run
starts with an empty target and is checked (row counts and CHECKSUM TABLE). For every run it records
the wall time, the CPU seconds of the tool's processes (dmshell: its daemon tree, whatever it spawns)
and of the two servers, the peak RSS of the tool's processes and the peak size of the dump directory
(sampled every 50 ms). It prints every run and, per server setting, the medians with their spread
(min-max), the ratio dmshell / (mydumper + myloader) of the medians — the goal is ≤ 0.8 — and the
machine's load average (other work on the machine shows as spread).

Run: ``make bench-full`` or ``python -m bench.full [--rows N] [--tables 4] [--threads 4] [--repeat 3]
[--servers stock,tuned]``.
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from bench._proc import children, tree_rss_bytes
from dmshell.proto import dmmaster_pb2 as mpb
from dmshell.proto import dmmaster_pb2_grpc
from dmshell.proto import dmworker_pb2 as pb
from dmshell.sandbox import MariaDBServer, Sandbox, ServerSpec, free_port

MB = 1024 * 1024
REPO = Path(__file__).resolve().parents[1]
DB = "sbtest"
SOURCE_ID = "bench-source"
#: server settings: MariaDB's defaults (the sandbox's own defaults are set back to them), and tuned
SERVER_SETTINGS = {
    "stock": {
        "innodb-buffer-pool-size": "128M",
        "innodb-log-file-size": "96M",
        "innodb-flush-log-at-trx-commit": "1",
        "max-allowed-packet": "16M",
        "max-connections": "151",
    },
    "tuned": {
        "innodb-buffer-pool-size": "1G",
        "innodb-log-file-size": "256M",
        "max-allowed-packet": "64M",
    },
}
DIGITS = "LPAD(FLOOR(RAND() * 99999999999), 11, '0')"
_TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    tool: str
    seconds: float
    cpu: float = 0.0  # the tool's processes
    server_cpu: float = 0.0  # source + target
    peak_rss: int = 0
    dump_peak: int = 0
    parts: dict[str, float] = field(default_factory=dict)


# -- measurements ----------------------------------------------------------------------------------
def process_cpu(pid: int, reaped: bool = True) -> float:
    """CPU seconds of a process (with ``reaped``, also of the children it has waited for)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if reaped:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / _TICK


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process tree: the living processes and the children they reaped."""
    return sum(process_cpu(p) for p in [pid, *children(pid)])


def dir_bytes(root: Path, suffixes: tuple[str, ...]) -> int:
    total = 0
    for dirpath, _, names in os.walk(root):
        for name in names:
            if name.endswith(suffixes):
                try:
                    total += os.stat(os.path.join(dirpath, name)).st_size
                except OSError:
                    pass
    return total


class Sampler:
    """Samples the peak RSS of a process tree and the peak size of a dump directory every 50 ms."""

    def __init__(self, pid: Callable[[], int | None], dump_root: Path, suffixes: tuple[str, ...]) -> None:
        self.pid, self.dump_root, self.suffixes = pid, dump_root, suffixes
        self.peak_rss = self.dump_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(0.05):
            pid = self.pid()
            if pid is not None:
                self.peak_rss = max(self.peak_rss, tree_rss_bytes(pid))
            self.dump_peak = max(self.dump_peak, dir_bytes(self.dump_root, self.suffixes))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


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


class Servers:
    """The source and target of one server setting, and their CPU counters."""

    def __init__(self, sandbox: Sandbox, setting: str) -> None:
        options = SERVER_SETTINGS[setting]
        self.setting = setting
        self.source, self.target = sandbox.start(
            [
                ServerSpec(f"source-{setting}", server_id=401, gtid_domain_id=4, extra_options=dict(options)),
                ServerSpec(f"target-{setting}", server_id=402, log_bin=False, extra_options=dict(options)),
            ]
        )

    def cpu(self) -> float:
        return sum(process_cpu(s.process.pid, reaped=False) for s in (self.source, self.target) if s.process)

    def stop(self) -> None:
        for server in (self.source, self.target):
            server.stop()


# -- dmshell -------------------------------------------------------------------------------------
class DaemonRunner:
    def __init__(self, root: Path, servers: Servers, threads: int) -> None:
        self.root, self.servers, self.threads = root, servers, threads
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
        source = servers.source
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
        t = self.servers.target
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
        units: dict[int, float] = {}
        sampler = Sampler(lambda: self.proc.pid, self.root / "data", (".csv",))
        cpu0, server0 = tree_cpu(self.proc.pid), self.servers.cpu()
        t0 = time.perf_counter()
        resp = self.stub.StartTask(mpb.StartTaskRequest(task=self.task_yaml(name)), timeout=120)
        if not resp.result:
            raise RuntimeError(f"start-task failed: {resp}")
        try:
            while True:
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
            cpu, server_cpu = tree_cpu(self.proc.pid) - cpu0, self.servers.cpu() - server0
        finally:
            sampler.stop()
        self.stub.OperateTask(mpb.OperateTaskRequest(op=pb.Delete, name=name), timeout=60)
        parts = {}
        if pb.Load in units:  # the dump is done; the last chunks are being loaded
            parts = {"dump (loading meanwhile)": units[pb.Load], "load after": elapsed - units[pb.Load]}
        return Run("dmshell", elapsed, cpu, server_cpu, sampler.peak_rss, sampler.dump_peak, parts)

    def close(self) -> None:
        self.channel.close()
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)


# -- mydumper + myloader -------------------------------------------------------------------------
def run_mydumper(tools: tuple[str, str], root: Path, servers: Servers, threads: int) -> Run:
    mydumper, myloader = tools
    source, target = servers.source, servers.target
    out = root / "mydumper-out"
    shutil.rmtree(out, ignore_errors=True)
    current: list[int | None] = [None]
    sampler = Sampler(lambda: current[0], out, (".sql", ".gz", ".dat"))
    server0 = servers.cpu()

    def timed(cmd: list[str]) -> float:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        current[0] = proc.pid
        _, stderr = proc.communicate()
        current[0] = None
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd[0]} failed: {stderr.decode(errors='replace')[-2000:]}")
        return time.perf_counter() - t0

    before = os.times()  # the CPU of the tools: they are this process's children, waited for
    try:
        auth = ["-u", source.user, "-p", source.password]
        common = [*auth, "-t", str(threads)]
        dump = timed([mydumper, "-h", source.host, "-P", str(source.port), *common, "-B", DB, "-o", str(out)])
        load = timed([myloader, "-h", target.host, "-P", str(target.port), *common, "-d", str(out), "-o"])
    finally:
        sampler.stop()
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return Run(
        "mydumper+myloader",
        dump + load,
        cpu,
        servers.cpu() - server0,
        sampler.peak_rss,
        sampler.dump_peak,
        {"mydumper": dump, "myloader": load},
    )


# -- report --------------------------------------------------------------------------------------
def spread(values: list[float], fmt: str = "{:.2f}") -> str:
    med = statistics.median(values)
    return f"{fmt.format(med)} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def report(setting: str, runs: list[Run]) -> float:
    ours = [r for r in runs if r.tool == "dmshell"]
    theirs = [r for r in runs if r.tool != "dmshell"]
    print(f"== {setting} servers: median (min-max) of {len(ours)} runs each", flush=True)
    for label, rs in (("dmshell (task-mode full)", ours), ("mydumper + myloader", theirs)):
        print(
            f"  {label:<25} {spread([r.seconds for r in rs])} s; CPU: tool {spread([r.cpu for r in rs])} s, "
            f"servers {spread([r.server_cpu for r in rs])} s; peak RSS "
            f"{max(r.peak_rss for r in rs) / MB:.0f} MB; "
            f"dump dir peak {max(r.dump_peak for r in rs) / MB:.0f} MB"
        )
    ratio = statistics.median(r.seconds for r in ours) / statistics.median(r.seconds for r in theirs)
    ratios = [a.seconds / b.seconds for a, b in zip(ours, theirs, strict=False)]
    print(
        f"  ratio dmshell / (mydumper + myloader) = {ratio:.2f} (run by run {min(ratios):.2f}-"
        f"{max(ratios):.2f}; goal <= 0.8: {'OK' if ratio <= 0.8 else 'SLOWER'}); peak RSS goal < 300 MB: "
        f"{'OK' if max(r.peak_rss for r in ours) < 300 * MB else 'OVER'}",
        flush=True,
    )
    return ratio


# -- main ----------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.full", description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows in total (default 1,000,000)")
    ap.add_argument("--tables", type=int, default=4, help="sysbench tables (default 4)")
    ap.add_argument("--threads", type=int, default=4, help="threads for both tools (default 4)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each tool, alternating (default 3)")
    ap.add_argument(
        "--servers", default="stock,tuned", help="server settings to run: stock, tuned or both (default)"
    )
    args = ap.parse_args(argv)
    settings = [s.strip() for s in args.servers.split(",") if s.strip()]
    if not settings or any(s not in SERVER_SETTINGS for s in settings):
        ap.error(f"--servers: choose among {', '.join(SERVER_SETTINGS)}")

    tools = find_mydumper()
    root = Path(tempfile.mkdtemp(prefix="dmshell-bench-full-"))
    print(
        f"bench.full: {args.rows:,} rows over {args.tables} tables, {args.threads} threads, "
        f"{args.repeat} runs of each tool per server setting ({', '.join(settings)}); {os.cpu_count()} CPUs; "
        f"load average {os.getloadavg()[0]:.2f}; work dir {root}",
        flush=True,
    )
    sandbox = Sandbox(root / "mariadb")
    try:
        for setting in settings:
            servers = Servers(sandbox, setting)
            t0 = time.perf_counter()
            generate(servers.source, args.rows, args.tables)
            expected = checksums(servers.source, args.tables)
            print(f"-- {setting} servers: generated in {time.perf_counter() - t0:.1f} s", flush=True)
            runner = DaemonRunner(root / setting, servers, args.threads)
            runs: list[Run] = []
            try:
                for i in range(args.repeat):
                    order = ("dmshell", "mydumper") if i % 2 == 0 else ("mydumper", "dmshell")
                    for tool in order:
                        reset_target(servers.target)
                        time.sleep(2)  # let the target settle (purge of the dropped tables)
                        load_avg = os.getloadavg()[0]
                        if tool == "dmshell":
                            run = runner.run()
                        else:
                            run = run_mydumper(tools, root, servers, args.threads)
                        if checksums(servers.target, args.tables) != expected:
                            raise RuntimeError(
                                f"{run.tool}: the target differs from the source after run {i + 1}"
                            )
                        runs.append(run)
                        parts = ", ".join(f"{k} {v:.2f} s" for k, v in run.parts.items())
                        print(
                            f"  run {i + 1}: {run.tool:<18} {run.seconds:6.2f} s ({parts}); CPU tool "
                            f"{run.cpu:.2f} s, servers {run.server_cpu:.2f} s; peak RSS "
                            f"{run.peak_rss / MB:.0f} MB; dump dir peak {run.dump_peak / MB:.0f} MB; "
                            f"load average {load_avg:.2f}",
                            flush=True,
                        )
            finally:
                runner.close()
                servers.stop()
            report(setting, runs)
    finally:
        sandbox.close()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
