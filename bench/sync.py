"""Incremental replication throughput: dmshell's sync unit against MariaDB's own replica.

One run:

1. sandbox servers: an upstream (binlog ROW/FULL), and per repetition a target for dmshell and two
   replicas (no binlog); ``sysbench prepare`` on the upstream, copied to the others (checked with
   ``CHECKSUM TABLE``);
2. the binlog is recorded on the upstream from the position after ``prepare``: ``oltp_insert``
   (one row per transaction), then ``oltp_write_only`` (2 updates, a delete, an insert per txn),
   then ``oltp_update_non_index`` (one update per transaction);
3. the same binlog range is replayed, one applier at a time (2 cores: no overlap), each after the
   servers went quiet, ``--repeat`` times (the machine may be shared: the fastest run counts):
   dmshell's ``SyncUnit`` (an ``incremental`` task, in a child process: ``bench/_sync_child.py``;
   syncer settings: the task's defaults — ``worker-count: 16``, ``batch: 100``, ``queue-size: 1024``,
   ``multiple-rows: true`` (dmshell's default); ``--safe-mode``, ``--single-rows``, ``--compact``
   change them),
   the replica with ``CHANGE MASTER TO ...; START SLAVE`` single-threaded, and again with
   ``slave_parallel_threads`` (``slave_parallel_mode=optimistic``);
4. each applier is timed from its start until the end of each workload's range is applied
   (dmshell: every change up to it committed; replica: ``Exec_Master_Log_Pos``); the tables are
   compared with ``CHECKSUM TABLE`` afterwards.

Prints rows/s and events/s per workload, the ratios, the CPU time each process used during the
replay, and dmshell's peak RSS (the sync unit and its DML process, sampled from /proc).
``--relay`` adds dmshell reading through its relay log: the relay pulls the range first (its time
is printed), then the sync unit replays from the relay files while the relay keeps running.
Run: ``make bench-sync`` or ``python -m bench.sync [--help]``. Figures, not a pass/fail test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bench._proc import cpu_seconds, rss_bytes, tree_cpu_seconds, tree_rss_bytes
from dmshell.engine.binlog.location import Location, master_status
from dmshell.sandbox import MariaDBServer, Sandbox, ServerSpec

MB = 1024 * 1024
SCHEMA = "sbtest"
WORKLOADS = ("oltp_insert", "oltp_write_only", "oltp_update_non_index")
#: row changes per transaction of each workload
ROWS_PER_TXN = {"oltp_insert": 1, "oltp_write_only": 4, "oltp_update_non_index": 1}
_INNODB = {"innodb-buffer-pool-size": "512M", "innodb-log-file-size": "256M"}


@dataclass
class Result:
    name: str
    marks: list[float] = field(default_factory=list)  # seconds from start until each range end
    rows: list[int] = field(default_factory=list)  # changes up to each range end (dmshell)
    peak_rss: int = 0
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per process during the replay
    note: str = ""


def find_sysbench() -> str:
    path = shutil.which("sysbench")
    if path:
        return path
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("sysbench not found: apt-get install -y sysbench ...", flush=True)
        subprocess.run(
            ["apt-get", "install", "-y", "sysbench"],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        path = shutil.which("sysbench")
        if path:
            return path
    sys.exit(
        "bench.sync needs sysbench: install it with `apt-get install -y sysbench` (Debian/Ubuntu) "
        "and run again"
    )


def sysbench(
    binary: str, server: MariaDBServer, workload: str, command: str, args: argparse.Namespace, **extra
) -> str:
    cmd = [
        binary,
        workload,
        f"--mysql-host={server.host}",
        f"--mysql-port={server.port}",
        f"--mysql-user={server.user}",
        f"--mysql-password={server.password}",
        f"--mysql-db={SCHEMA}",
        "--db-driver=mysql",
        f"--tables={args.tables}",
        f"--table-size={args.table_size}",
        "--rand-seed=1",
    ]
    cmd += [f"--{k.replace('_', '-')}={v}" for k, v in extra.items()]
    cmd.append(command)
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"sysbench {workload} {command} failed:\n{out.stdout}\n{out.stderr}")
    return out.stdout


def copy_tables(src: MariaDBServer, dst: MariaDBServer, tables: int) -> None:
    """Copy the prepared sysbench tables (structure and rows) from ``src`` to ``dst``."""
    dst.execute(f"CREATE DATABASE {SCHEMA}")
    with src.connect(SCHEMA) as a, dst.connect(SCHEMA) as b, a.cursor() as ca, b.cursor() as cb:
        for i in range(1, tables + 1):
            ca.execute(f"SHOW CREATE TABLE sbtest{i}")
            cb.execute(ca.fetchone()[1])
            ca.execute(f"SELECT id, k, c, pad FROM sbtest{i}")
            while chunk := ca.fetchmany(5000):
                cb.executemany(f"INSERT INTO sbtest{i} (id, k, c, pad) VALUES (%s, %s, %s, %s)", chunk)


def checksums(server: MariaDBServer, tables: int) -> list[tuple]:
    names = ",".join(f"{SCHEMA}.sbtest{i}" for i in range(1, tables + 1))
    return [tuple(r) for r in server.query(f"CHECKSUM TABLE {names}")]


def gtid_count(server: MariaDBServer) -> int:
    """Transactions logged so far in the upstream's domain 0 (the sequence number)."""
    pos = server.query("SELECT @@gtid_binlog_pos")[0][0] or ""
    for part in pos.split(","):
        d, _s, n = part.split("-")
        if d == "0":
            return int(n)
    return 0


class RssSampler(threading.Thread):
    """Peak RSS of a process tree, sampled every 50 ms."""

    def __init__(self, pid: int, tree: bool = False) -> None:
        super().__init__(daemon=True)
        self.pid, self.tree, self.peak = pid, tree, 0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(0.05):
            self.peak = max(self.peak, tree_rss_bytes(self.pid) if self.tree else rss_bytes(self.pid))


def run_dmshell(
    up: MariaDBServer,
    target: MariaDBServer,
    start: Location,
    marks: list[Location],
    args: argparse.Namespace,
    relay: bool = False,
) -> Result:
    # the task's defaults unless an option says otherwise
    syncer: dict = {"worker_count": args.workers, "batch": args.batch, "queue_size": args.queue_size}
    if args.safe_mode:
        syncer["safe_mode"] = True
    if args.single_rows:
        syncer["multiple_rows"] = False
    if args.compact:
        syncer["compact"] = True
    job = {
        "upstream": {"host": up.host, "port": up.port, "user": up.user, "password": up.password},
        "target": {
            "host": target.host,
            "port": target.port,
            "user": target.user,
            "password": target.password,
        },
        "start": [start.file, start.pos],
        "marks": [[m.file, m.pos] for m in marks],
        "schema": SCHEMA,
        "syncer": syncer,
        "relay": relay,
    }
    cmd = [sys.executable, "-m", "bench._sync_child"]
    if args.profile:
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        cmd = [
            spy,
            "record",
            "--nonblocking",
            "--rate",
            "200",
            "--format",
            args.profile_format,
            *(["--gil"] if args.profile_gil else []),
            *(["--idle", "--threads"] if args.profile_idle else []),
            "-o",
            args.profile,
            "--",
            *cmd,
        ]
    child = subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    child.stdin.write(json.dumps(job))
    child.stdin.close()
    sampler = RssSampler(child.pid, tree=True)  # the sync unit and its DML process
    result = Result("dmshell-relay" if relay else "dmshell")
    servers = {"upstream": up.process.pid, "target": target.process.pid}
    cpu0: dict[str, float] = {}
    for line in child.stdout:
        if not line.startswith("{"):  # py-spy's own messages
            continue
        msg = json.loads(line)
        if msg["event"] == "relay":
            result.note = f"the relay pulled the binlog range in {msg['t']:.2f}s"
            print(f"  dmshell: {result.note}", flush=True)
        elif msg["event"] == "started":
            sampler.start()
            cpu0 = {name: cpu_seconds(pid) for name, pid in servers.items()}
            cpu0["dmshell"] = tree_cpu_seconds(child.pid)
            cpu0["sync process"] = cpu_seconds(child.pid)
        elif msg["event"] == "mark":
            if msg["index"] == len(marks) - 1:
                result.cpu = {name: cpu_seconds(pid) - cpu0[name] for name, pid in servers.items()}
                result.cpu["dmshell"] = tree_cpu_seconds(child.pid) - cpu0["dmshell"]
                if not args.profile:  # (with py-spy, the child is py-spy)
                    result.cpu["of which the sync process"] = cpu_seconds(child.pid) - cpu0["sync process"]
            result.marks.append(msg["t"])
            result.rows.append(msg["rows"])
            print(
                f"  dmshell: range {msg['index'] + 1} applied after {msg['t']:.2f}s " f"({msg['rows']} rows)",
                flush=True,
            )
        elif msg["event"] == "error":
            raise RuntimeError(f"dmshell sync failed: {msg['message']}")
        elif msg["event"] == "done":
            result.note = msg.get("error", "") or result.note
            gc_s, *gens = msg.get("gc", [0, 0, 0, 0])
            print(
                f"  dmshell: garbage collection {gc_s:.2f}s ({gens[0]}/{gens[1]}/{gens[2]} collections "
                "of generation 0/1/2)",
                flush=True,
            )
    child.wait()
    sampler.halt.set()
    result.peak_rss = sampler.peak
    if child.returncode != 0 or len(result.marks) != len(marks):
        raise RuntimeError(f"dmshell child exited with {child.returncode}")
    return result


def run_replica(
    name: str,
    up: MariaDBServer,
    replica: MariaDBServer,
    start: Location,
    marks: list[Location],
    parallel: int,
) -> Result:
    replica.execute(
        "STOP SLAVE",
        "RESET SLAVE ALL",
        f"SET GLOBAL slave_parallel_threads = {parallel}",
        f"SET GLOBAL slave_parallel_mode = '{'optimistic' if parallel else 'conservative'}'",
        f"CHANGE MASTER TO MASTER_HOST='{up.host}', MASTER_PORT={up.port}, MASTER_USER='{up.user}', "
        f"MASTER_PASSWORD='{up.password}', MASTER_LOG_FILE='{start.file}', MASTER_LOG_POS={start.pos}, "
        "MASTER_USE_GTID=no",
    )
    conn = replica.connect()
    result = Result(name)
    servers = {"upstream": up.process.pid, name: replica.process.pid}
    try:
        with conn.cursor() as cur:
            cpu0 = {n: cpu_seconds(pid) for n, pid in servers.items()}
            t0 = time.monotonic()
            cur.execute("START SLAVE")
            i = 0
            while i < len(marks):
                cur.execute("SHOW SLAVE STATUS")
                row = cur.fetchone()
                cols = [d[0] for d in cur.description]
                st = dict(zip(cols, row, strict=True))
                if st["Last_SQL_Error"] or st["Last_IO_Error"]:
                    raise RuntimeError(f"{name}: {st['Last_SQL_Error'] or st['Last_IO_Error']}")
                done = Location(st["Relay_Master_Log_File"], int(st["Exec_Master_Log_Pos"]))
                if done >= marks[i]:
                    result.marks.append(time.monotonic() - t0)
                    if i == len(marks) - 1:
                        result.cpu = {n: cpu_seconds(pid) - cpu0[n] for n, pid in servers.items()}
                    print(f"  {name}: range {i + 1} applied after {result.marks[-1]:.2f}s", flush=True)
                    i += 1
                    continue
                time.sleep(0.01)
            cur.execute("STOP SLAVE")
    finally:
        conn.close()
    return result


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>10,.0f}" if seconds > 0 else f"{'-':>10}"


def report(ranges: list[tuple[str, int, int]], results: list[Result]) -> None:
    """``ranges``: (workload, rows, transactions) per range."""
    print()
    print("== incremental replication throughput (rows/s; same binlog, one applier at a time)")
    head = f"  {'workload':<18}{'rows':>10}{'txns':>10}"
    for r in results:
        head += f"{r.name:>16}"
    print(head + "   ratios (dmshell / replica)")
    spans = [(name, rows, txns, i) for i, (name, rows, txns) in enumerate(ranges)]
    spans.append(("total", sum(r[1] for r in ranges), sum(r[2] for r in ranges), None))
    for name, rows, txns, i in spans:
        line = f"  {name:<18}{rows:>10,}{txns:>10,}"
        secs = []
        for r in results:
            s = r.marks[-1] if i is None else r.marks[i] - (r.marks[i - 1] if i else 0.0)
            secs.append(s)
            line += f"{rate(rows, s):>16}"
        ratios = "  ".join(
            f"{secs[j] / secs[0]:.2f}x vs {results[j].name}" for j in range(1, len(results)) if secs[0] > 0
        )
        print(line + "   " + ratios)
    print("  events/s (binlog transactions applied):")
    for r in results:
        txns = sum(x[2] for x in ranges)
        print(f"    {r.name:<16}{rate(txns, r.marks[-1])} txn/s over {r.marks[-1]:.2f}s")
    print("  CPU seconds used during the replay (2 cores):")
    for r in results:
        print(
            f"    {r.name:<16}"
            + "  ".join(f"{n} {s:.1f}s" for n, s in r.cpu.items())
            + f"  (wall {r.marks[-1]:.1f}s)"
        )
    total_rows = sum(x[1] for x in ranges)
    if total_rows:
        print("  CPU seconds per 100k rows (all processes / the applier's own, without the servers'):")
        for r in results:
            every = sum(v for k, v in r.cpu.items() if not k.startswith("of which"))
            own = r.cpu.get("dmshell", 0.0)
            print(f"    {r.name:<16}{every * 100_000 / total_rows:.2f}s / {own * 100_000 / total_rows:.2f}s")
    for r in results:
        if r.note:
            print(f"  {r.name}: {r.note}")
    for r in results:
        if r.peak_rss:
            verdict = "OK" if r.peak_rss < 300 * MB else "OVER"
            print(f"  {r.name} peak RSS {r.peak_rss / MB:.1f} MB (budget 300 MB): {verdict}")


def settle(servers: list[MariaDBServer], limit: float = 90.0) -> None:
    """Wait until the servers' background work (page flushing, purge) is done: less than 5% of
    a core in each of 4 half seconds in a row, so one applier's aftermath doesn't slow the next
    one down."""
    deadline = time.monotonic() + limit
    quiet = 0
    while time.monotonic() < deadline and quiet < 4:
        before = sum(cpu_seconds(s.process.pid) for s in servers)
        time.sleep(0.5)
        quiet = quiet + 1 if sum(cpu_seconds(s.process.pid) for s in servers) - before < 0.025 else 0


def best(runs: list[Result]) -> Result:
    """The fastest of the repeated runs of one applier (the machine may be shared)."""
    return min(runs, key=lambda r: r.marks[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.sync", description=__doc__.split("\n\n")[0])
    p.add_argument("--tables", type=int, default=4)
    p.add_argument("--table-size", type=int, default=50_000)
    p.add_argument("--insert-events", type=int, default=300_000, help="oltp_insert transactions")
    p.add_argument("--write-events", type=int, default=60_000, help="oltp_write_only transactions")
    p.add_argument("--update-events", type=int, default=100_000, help="oltp_update_non_index transactions")
    p.add_argument("--threads", type=int, default=4, help="sysbench threads while recording")
    p.add_argument("--repeat", type=int, default=2, help="replays per applier (the best one counts)")
    p.add_argument("--workers", type=int, default=16, help="syncer worker-count")
    p.add_argument("--batch", type=int, default=100, help="syncer batch")
    p.add_argument("--queue-size", type=int, default=1024, help="syncer queue-size")
    p.add_argument("--safe-mode", action="store_true", help="replay in safe mode (REPLACE ...)")
    p.add_argument("--single-rows", action="store_true", help="syncer multiple-rows: false")
    p.add_argument("--compact", action="store_true", help="syncer compact: true")
    p.add_argument("--parallel-threads", type=int, default=4, help="replica slave_parallel_threads")
    p.add_argument("--skip-replica", action="store_true", help="time dmshell only")
    p.add_argument(
        "--relay",
        action="store_true",
        help="also replay through the relay log (pulled first, then read as binlogType local)",
    )
    p.add_argument("--profile", default="", help="py-spy the sync child into this file")
    p.add_argument("--profile-format", default="speedscope", help="py-spy output format")
    p.add_argument("--profile-gil", action="store_true", help="py-spy: only the thread holding the GIL")
    p.add_argument("--profile-idle", action="store_true", help="py-spy: idle threads too, per thread")
    p.add_argument("--keep", action="store_true", help="keep the sandbox directory")
    args = p.parse_args(argv)
    repeat = max(1, 1 if args.profile else args.repeat)

    binary = find_sysbench()
    root = Path(tempfile.mkdtemp(prefix="dmshell-bench-sync-"))

    def spec(name: str, server_id: int, log_bin: bool = False) -> ServerSpec:
        return ServerSpec(name, server_id=server_id, log_bin=log_bin, extra_options=dict(_INNODB))

    specs = [spec("upstream", 11, log_bin=True)]
    specs += [spec(f"target{i}", 20 + i) for i in range(repeat)]
    if args.relay:
        specs += [spec(f"relaytarget{i}", 80 + i) for i in range(repeat)]
    if not args.skip_replica:
        specs += [spec(f"replica{i}", 40 + i) for i in range(repeat)]
        specs += [spec(f"replicapar{i}", 60 + i) for i in range(repeat)]
    sandbox = Sandbox(root)
    try:
        servers = sandbox.start(specs)
        up = servers[0]
        targets = servers[1 : 1 + repeat]
        relay_targets = servers[1 + repeat : 1 + 2 * repeat] if args.relay else []
        rest = servers[1 + repeat + len(relay_targets) :]
        replicas = rest[:repeat]
        parallels = rest[repeat:]
        print(f"== sandbox in {root}: " + ", ".join(f"{s.name}:{s.port}" for s in servers), flush=True)
        t = time.monotonic()
        up.execute(f"CREATE DATABASE {SCHEMA}")
        sysbench(binary, up, "oltp_insert", "prepare", args, threads=args.tables)
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda dst: copy_tables(up, dst, args.tables), servers[1:]))
        sums = {s.name: checksums(s, args.tables) for s in servers}
        if len({repr(v) for v in sums.values()}) != 1:
            raise RuntimeError(f"the prepared tables differ: {sums}")
        print(
            f"== prepared {args.tables} x {args.table_size:,} rows on each server "
            f"({time.monotonic() - t:.1f}s)",
            flush=True,
        )

        with up.connect() as conn:
            start = master_status(conn)
        marks, ranges = [], []
        counts = (args.insert_events, args.write_events, args.update_events)
        for workload, events in zip(WORKLOADS, counts, strict=True):
            if events <= 0:
                continue
            n0 = gtid_count(up)
            t = time.monotonic()
            sysbench(
                binary,
                up,
                workload,
                "run",
                args,
                threads=args.threads,
                events=events,
                time=0,
                report_interval=0,
            )
            with up.connect() as conn:
                marks.append(master_status(conn))
            txns = gtid_count(up) - n0
            rows = ROWS_PER_TXN[workload] * txns
            ranges.append((workload, rows, txns))
            print(
                f"== recorded {workload}: {txns:,} transactions, ~{rows:,} rows "
                f"({time.monotonic() - t:.1f}s), binlog up to {marks[-1].position_str()}",
                flush=True,
            )
        expected = checksums(up, args.tables)

        runs: dict[str, list[Result]] = {}
        for i in range(repeat):
            settle(servers)
            print(f"== replaying through dmshell (run {i + 1} of {repeat})", flush=True)
            res = run_dmshell(up, targets[i], start, marks, args)
            runs.setdefault("dmshell", []).append(res)
            if i == 0:
                # exact row counts: the changes dmshell dispatched up to each range end
                ranges = [
                    (w, n - (res.rows[k - 1] if k else 0), txns)
                    for k, ((w, _rows, txns), n) in enumerate(zip(ranges, res.rows, strict=True))
                ]
            if checksums(targets[i], args.tables) != expected:
                print("  !! dmshell's target differs from the upstream (CHECKSUM TABLE)")
            if args.relay:
                settle(servers)
                print(f"== replaying through dmshell's relay log (run {i + 1} of {repeat})", flush=True)
                runs.setdefault("dmshell-relay", []).append(
                    run_dmshell(up, relay_targets[i], start, marks, args, True)
                )
                if checksums(relay_targets[i], args.tables) != expected:
                    print("  !! dmshell's target (relay) differs from the upstream (CHECKSUM TABLE)")
            if args.skip_replica:
                continue
            for replica, threads in ((replicas[i], 0), (parallels[i], args.parallel_threads)):
                name = "replica" if not threads else f"replica-par{threads}"
                settle(servers)
                print(f"== replaying through the MariaDB {name} (run {i + 1} of {repeat})", flush=True)
                runs.setdefault(name, []).append(run_replica(name, up, replica, start, marks, threads))
                if checksums(replica, args.tables) != expected:
                    print(f"  !! the {name} differs from the upstream (CHECKSUM TABLE)")
        if repeat > 1:
            print(
                "  all runs (seconds to the end of the binlog): "
                + "; ".join(
                    f"{name} " + ", ".join(f"{r.marks[-1]:.2f}" for r in rs) for name, rs in runs.items()
                )
            )
        report(ranges, [best(rs) for rs in runs.values()])
    finally:
        sandbox.close()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
