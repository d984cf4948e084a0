"""``dmshell playground``: a throw-away cluster with sample data, a shard-merge task and a write load.

Steps (each printed with its timing): start three private MariaDB servers (two upstreams, one
target), create sharded sample data (``shop.orders_01`` on upstream1 and ``shop.orders_02`` on
upstream2 with disjoint ids, plus ``shop.customers`` and ``shop.products``), start a daemon, create
both sources and the ``shop-merge`` task (``orders_*`` → ``shop.orders``, task-mode all) through the
Master API, start a light write load on both upstreams, then open the TUI (or, with ``--no-tui``,
print how to connect and wait). Everything is removed on exit: TUI quit, Ctrl-C, SIGTERM, SIGHUP.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType

import grpc
import pymysql

from dmshell import sandbox
from dmshell.client.master import MasterClient
from dmshell.proto import dmmaster_pb2, dmmaster_pb2_grpc
from dmshell.sandbox import ROOT_PASSWORD, TARGET, UPSTREAM1, UPSTREAM2, MariaDBServer, Sandbox

TASK_NAME = "shop-merge"
SOURCES = (("mysql-01", True), ("mysql-02", False))  # (source-id, enable-gtid)
SAMPLE_ORDERS = 1000
#: orders_02 ids start here so the two shards never collide in shop.orders.
SHARD2_ID_BASE = 1_000_001


class Interrupted(Exception):
    """A stop signal (SIGINT/SIGTERM/SIGHUP) arrived."""


class SetupError(Exception):
    """A playground step failed; the message says what to do."""


class Steps:
    """Prints ``[  1.2s] doing X ... done (0.3s)`` lines."""

    def __init__(self, out: Callable[[str], None]) -> None:
        self.out = out
        self.t0 = time.monotonic()

    def say(self, text: str) -> None:
        self.out(f"[{time.monotonic() - self.t0:6.1f}s] {text}")

    @contextlib.contextmanager
    def step(self, text: str) -> Iterator[None]:
        start = time.monotonic()
        self.say(f"{text} ...")
        try:
            yield
        except BaseException:
            self.out(f"{'':9} failed after {time.monotonic() - start:.1f}s")
            raise
        self.out(f"{'':9} done ({time.monotonic() - start:.1f}s)")


def source_yaml(source_id: str, server: MariaDBServer, enable_gtid: bool) -> str:
    return server.source_yaml(source_id, enable_gtid=enable_gtid) + "flavor: mariadb\n"


def task_yaml(target: MariaDBServer) -> str:
    instances = "".join(
        f"  - source-id: {sid}\n" "    block-allow-list: shop-only\n" "    route-rules: [orders-merge]\n"
        for sid, _ in SOURCES
    )
    return (
        f"name: {TASK_NAME}\n"
        "task-mode: all\n"
        "shard-mode: pessimistic\n"
        "meta-schema: dm_meta\n"
        # the shards' auto-increment ids are disjoint by construction (SHARD2_ID_BASE), which the
        # precheck cannot know: it would refuse the merge of two auto-increment keys otherwise
        "ignore-checking-items: [auto_increment_ID]\n"
        "target-database:\n"
        f"{target.connection_yaml()}"
        "block-allow-list:\n"
        "  shop-only:\n"
        "    do-dbs: [shop]\n"
        "routes:\n"
        "  orders-merge:\n"
        "    schema-pattern: shop\n"
        "    table-pattern: orders_*\n"
        "    target-schema: shop\n"
        "    target-table: orders\n"
        "mysql-instances:\n" + instances
    )


ORDERS_DDL = (
    "CREATE TABLE shop.{table} (id BIGINT PRIMARY KEY AUTO_INCREMENT, customer_id INT NOT NULL, "
    "amount DECIMAL(10,2) NOT NULL, status VARCHAR(16) NOT NULL, "
    "updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP"
    ") AUTO_INCREMENT={base}"
)
STATUSES = ("new", "paid", "shipped", "delivered")


def load_sample_data(up1: MariaDBServer, up2: MariaDBServer, rows: int = SAMPLE_ORDERS) -> None:
    """Shards ``shop.orders_01``/``_02`` (disjoint ids) and one plain table on each upstream."""
    rnd = random.Random(42)
    for server, table, base, extra in (
        (up1, "orders_01", 1, "customers"),
        (up2, "orders_02", SHARD2_ID_BASE, "products"),
    ):
        server.execute("CREATE DATABASE shop", ORDERS_DDL.format(table=table, base=base))
        if extra == "customers":
            server.execute(
                "CREATE TABLE shop.customers (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL, "
                "email VARCHAR(128) NOT NULL)"
            )
            extra_rows: list[tuple[int, str, str | float]] = [
                (i, f"customer {i}", f"c{i}@example.com") for i in range(1, 201)
            ]
            extra_sql = "INSERT INTO shop.customers VALUES (%s, %s, %s)"
        else:
            server.execute(
                "CREATE TABLE shop.products (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL, "
                "price DECIMAL(10,2) NOT NULL)"
            )
            extra_rows = [(i, f"product {i}", rnd.randint(100, 99999) / 100) for i in range(1, 101)]
            extra_sql = "INSERT INTO shop.products VALUES (%s, %s, %s)"
        conn = server.connect()
        try:
            with conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO shop.{table} (customer_id, amount, status) VALUES (%s, %s, %s)",
                    [
                        (rnd.randint(1, 200), rnd.randint(100, 50000) / 100, rnd.choice(STATUSES))
                        for _ in range(rows)
                    ],
                )
                cur.executemany(extra_sql, extra_rows)
        finally:
            conn.close()


class WriteLoad:
    """A few inserts/updates per second on each upstream's orders shard, until :meth:`stop`."""

    def __init__(self, targets: Sequence[tuple[MariaDBServer, str]], per_second: float = 3.0) -> None:
        self.targets = targets
        self.interval = 1.0 / per_second
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.writes = 0

    def start(self) -> None:
        for server, table in self.targets:
            t = threading.Thread(
                target=self._loop, args=(server, table), name=f"playground-writer-{table}", daemon=True
            )
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(5)

    def _loop(self, server: MariaDBServer, table: str) -> None:
        rnd = random.Random()
        conn: pymysql.connections.Connection | None = None
        while not self._stop.wait(self.interval):
            try:
                if conn is None:
                    conn = server.connect(database="shop", connect_timeout=2, read_timeout=5, write_timeout=5)
                with conn.cursor() as cur:
                    if rnd.random() < 0.5:
                        values = (rnd.randint(1, 200), rnd.randint(100, 50000) / 100)
                        cur.execute(
                            f"INSERT INTO {table} (customer_id, amount, status) " "VALUES (%s, %s, 'new')",
                            values,
                        )
                    else:
                        cur.execute(
                            f"UPDATE {table} SET status = %s, amount = amount + 1 "
                            f"WHERE id = (SELECT id FROM (SELECT id FROM {table} "
                            "ORDER BY id DESC LIMIT 1 OFFSET %s) AS pick)",
                            (rnd.choice(STATUSES), rnd.randint(0, 50)),
                        )
                self.writes += 1
            except pymysql.err.Error:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.close()
                conn = None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()


def _daemon_command(master_addr: str, data_dir: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "dmshell",
        "daemon",
        "--master-addr",
        master_addr,
        "--data-dir",
        str(data_dir),
    ]


def _master_stub(addr: str) -> tuple[dmmaster_pb2_grpc.MasterStub, Callable[[], None]]:
    """A Master stub (the client layer's connection) and a function that closes it."""
    client = MasterClient(addr, timeout=30)
    return client.stub, client.close


def _check_response(what: str, resp: object) -> None:
    if getattr(resp, "result", False):
        return
    details = [getattr(resp, "msg", ""), getattr(resp, "checkResult", "")]
    details += [f"{s.source}: {s.msg}" for s in getattr(resp, "sources", []) if not s.result and s.msg]
    raise SetupError(f"{what} failed: " + "; ".join(d for d in details if d))


class Playground:
    """The cluster's pieces; :meth:`close` removes all of them (safe to call more than once)."""

    def __init__(self, out: Callable[[str], None] = print) -> None:
        self.steps = Steps(out)
        self.out = out
        self.root = Path(tempfile.mkdtemp(prefix="dmshell-playground-"))
        self.sandbox: Sandbox | None = None
        self.servers: dict[str, MariaDBServer] = {}
        self.daemon: subprocess.Popen | None = None
        self.master_addr = ""
        self.load: WriteLoad | None = None
        self._closed = False

    @property
    def daemon_log(self) -> Path:
        return self.root / "daemon.log"

    def setup(self, *, write_rate: float = 3.0) -> None:
        st = self.steps
        st.say(f"playground dir: {self.root}")
        with st.step("starting 3 MariaDB servers (upstream1, upstream2, target)"):
            self.sandbox = Sandbox(self.root / "mariadb")
            up1, up2, target = self.sandbox.start([UPSTREAM1, UPSTREAM2, TARGET])
            self.servers = {"upstream1": up1, "upstream2": up2, "target": target}
        for name, server in self.servers.items():
            self.out(f"{'':9} {name:<9} 127.0.0.1:{server.port}  (root / {ROOT_PASSWORD})")
        with st.step(
            f"loading sample data: shop.orders_01 + shop.customers on upstream1, "
            f"shop.orders_02 + shop.products on upstream2 ({SAMPLE_ORDERS} orders each)"
        ):
            load_sample_data(up1, up2)
        self.master_addr = f"127.0.0.1:{sandbox.free_port()}"
        cmd = _daemon_command(self.master_addr, self.root / "daemon")
        with st.step(
            f"starting the daemon: dmshell daemon --master-addr {self.master_addr} "
            f"--data-dir {self.root / 'daemon'}"
        ):
            self._start_daemon(cmd)
        self.out(f"{'':9} daemon log: {self.daemon_log}")
        stub, close = _master_stub(self.master_addr)
        try:
            names = ", ".join(sid for sid, _ in SOURCES)
            with st.step(f"creating sources {names} (operate-source create)"):
                for (sid, gtid), server in zip(SOURCES, (up1, up2), strict=True):
                    resp = stub.OperateSource(
                        dmmaster_pb2.OperateSourceRequest(
                            op=dmmaster_pb2.StartSource, config=[source_yaml(sid, server, gtid)]
                        ),
                        timeout=60,
                    )
                    _check_response(f"operate-source create {sid}", resp)
            with st.step(f"starting task {TASK_NAME} (task-mode all; shop.orders_* merged into shop.orders)"):
                resp = stub.StartTask(dmmaster_pb2.StartTaskRequest(task=task_yaml(target)), timeout=120)
                _check_response(f"start-task {TASK_NAME}", resp)
        except grpc.RpcError as exc:
            raise SetupError(f"the master did not answer: {exc.code().name}: {exc.details()}") from exc
        finally:
            close()
        self.load = WriteLoad([(up1, "orders_01"), (up2, "orders_02")], per_second=write_rate)
        self.load.start()
        st.say(f"write load running: ~{write_rate:g} writes/s on each upstream")

    def _start_daemon(self, cmd: list[str]) -> None:
        log = open(self.daemon_log, "ab")  # noqa: SIM115 - handed to the child
        try:
            # Own session: a Ctrl-C in the terminal reaches only us, and we stop the daemon in order.
            self.daemon = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        finally:
            log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.daemon.poll() is not None:
                raise SetupError(f"the daemon exited with code {self.daemon.returncode}:\n{self.log_tail()}")
            channel = grpc.insecure_channel(self.master_addr)
            try:
                grpc.channel_ready_future(channel).result(timeout=0.5)
                return
            except grpc.FutureTimeoutError:
                pass
            finally:
                channel.close()
        raise SetupError(f"the master did not answer at {self.master_addr} within 60s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.daemon_log.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return "(no daemon log)"
        return "\n".join("    " + line for line in text)

    def hints(self) -> list[str]:
        addr = self.master_addr
        return [
            f"export DM_MASTER_ADDR={addr}",
            f"    dmshell --master-addr {addr}                       # the TUI",
            f"    dmctl --master-addr={addr} query-status {TASK_NAME}",
            f"    dmctl --master-addr={addr} pause-task {TASK_NAME}",
            f"    mariadb -h127.0.0.1 -P{self.servers['target'].port} -uroot -p{ROOT_PASSWORD} "
            "-e 'SELECT COUNT(*) FROM shop.orders'",
            *self.shard_ddl_hints(),
        ]

    def shard_ddl_hints(self) -> list[str]:
        """How to see a shard DDL lock appear and resolve (the task is pessimistic)."""
        out = ["a shard DDL lock: the DDL on one shard (view 4 shows the lock), then on the other:"]
        for name, table in (("upstream1", "orders_01"), ("upstream2", "orders_02")):
            out.append(
                f"    mariadb -h127.0.0.1 -P{self.servers[name].port} -uroot -p{ROOT_PASSWORD} "
                f"-e 'ALTER TABLE shop.{table} ADD COLUMN gift_note VARCHAR(64) NULL'"
            )
        out.append(f"    dmctl --master-addr={self.master_addr} shard-ddl-lock {TASK_NAME}")
        return out

    def close(self) -> None:
        """Stop the write load, the daemon (and its workers) and MariaDB; remove the directory."""
        if self._closed:
            return
        self._closed = True
        st = self.steps
        with st.step("cleaning up: write load, daemon, MariaDB servers, temp dir"):
            if self.load is not None:
                self.load.stop()
            if self.daemon is not None:
                _stop_process_group(self.daemon)
            _kill_leftovers(str(self.root), self.master_addr)
            if self.sandbox is not None:
                self.sandbox.close()
            shutil.rmtree(self.root, ignore_errors=True)


def _stop_process_group(proc: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM the daemon, wait, then SIGKILL whatever is left of its process group (its workers)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _kill_leftovers(*needles: str) -> None:
    """SIGKILL dmshell processes whose command line names our directory or master (e.g. a worker that
    left the daemon's process group)."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "dmshell" in cmdline and any(n and n in cmdline for n in needles):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry.name), signal.SIGKILL)


def _raise_interrupted(signum: int, _frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def _install_stop_handlers() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_interrupted)


def _ignore_stop_signals() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)


#: the answer to "remove the playground?" → what happens
AFTER_TUI = {"y": "remove", "yes": "remove", "n": "reopen", "no": "reopen", "r": "reopen", "k": "keep"}


def tui_until_done(
    run: Callable[[], int], out: Callable[[str], None], ask: Callable[[str], str] = input
) -> bool:
    """Run the TUI until the user agrees to remove the playground. The playground survives its TUI:
    after ``q``/``ctrl+c`` or a crash the user is asked (the default reopens the TUI). Returns True
    to keep the playground running without a TUI; False to remove it (also when the terminal is
    gone or the question cannot be answered)."""
    from dmshell.tui.app import EXIT_TERMINAL_GONE

    while True:
        code = run()
        if code == EXIT_TERMINAL_GONE:
            return False
        if code:
            out("the TUI crashed (its traceback is above); the playground is still running.")
        question = (
            "Remove the playground (servers, daemon, data)? "
            "[y] remove and quit · [N] reopen the TUI · [k] keep it running without the TUI: "
        )
        try:
            answer = ask(question).strip().lower()
        except (EOFError, OSError, Interrupted, KeyboardInterrupt):
            return False
        what = AFTER_TUI.get(answer or "n")
        if what is None:
            out(f"not an answer: {answer!r}; reopening the TUI")
            what = "reopen"
        if what != "reopen":
            return what == "keep"


def provoke_ddl_error(upstream: MariaDBServer, target: MariaDBServer, schema: str = "shop") -> str:
    """A DDL that succeeds upstream and fails on the target, for walking through a resolution
    (TUI view 5): two customers get the same email on the target only, then the upstream adds a
    unique index on the email (the target says "Duplicate entry"). Returns the DDL."""
    ddl = f"ALTER TABLE {schema}.customers ADD UNIQUE INDEX uk_email (email)"
    target.execute(f"UPDATE {schema}.customers SET email = 'twice@example.com' WHERE id IN (1, 2)")
    upstream.execute(ddl)
    return ddl


def run_playground_tui(pg: Playground, theme: str, about: str = "") -> int:
    """The TUI with one more key, F9: :func:`provoke_ddl_error` on the playground's servers.
    Returns :func:`dmshell.tui.app.run_tui`'s exit code."""
    # (the TUI is imported only when it opens: the playground's set-up never loads Textual)
    from textual.binding import Binding

    from dmshell.tui.app import DMShellApp, run_tui

    class PlaygroundApp(DMShellApp):
        BINDINGS = [
            *DMShellApp.BINDINGS,
            Binding("f9", "provoke_ddl_error", "Provoke DDL error", tooltip="Make a DDL fail on the target"),
        ]

        def action_provoke_ddl_error(self) -> None:
            try:
                ddl = provoke_ddl_error(pg.servers["upstream1"], pg.servers["target"])
            except Exception as exc:  # e.g. already provoked: the index exists upstream
                self.notify(f"could not provoke: {exc}", severity="error")
                return
            self.notify(
                f"{ddl}\nThe task pauses in a moment: press 5 (Errors), then enter.", title="provoked"
            )

    return run_tui(pg.master_addr, theme=theme, about=about, app_class=PlaygroundApp)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dmshell playground",
        description="Start a throw-away local cluster (2 upstream MariaDB, 1 target, a daemon, a shard-merge "
        "task, a light write load) and open the TUI. Everything is removed on exit.",
    )
    parser.add_argument(
        "--no-tui",
        action="store_true",
        help="do not open the TUI: print how to connect and wait for Ctrl-C / SIGTERM",
    )
    parser.add_argument(
        "--theme", default="dark", choices=("dark", "light", "high-contrast"), help="TUI theme"
    )
    parser.add_argument("--write-rate", type=float, default=3.0, help="writes per second on each upstream")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(argv) if argv is not None else None)

    def out(line: str) -> None:
        print(line, flush=True)

    try:
        mariadbd = sandbox.mariadbd_path()
        sandbox.install_db_path()
    except FileNotFoundError:
        out(
            "dmshell playground needs MariaDB's server binaries (mariadbd, mariadb-install-db), which are "
            "not installed.\nInstall them with:  scripts/ensure-mariadb   (or: sudo apt-get install "
            "mariadb-server)\nOnly private throw-away servers are started; the system service stays off."
        )
        return 1

    use_tui = not args.no_tui and sys.stdin.isatty() and sys.stdout.isatty()
    if not args.no_tui and not use_tui:
        out("no terminal on stdin/stdout: running as --no-tui")
    pg = Playground(out)
    code = 0
    try:
        _install_stop_handlers()
        pg.steps.say(f"using {mariadbd}")
        pg.setup(write_rate=args.write_rate)
        out("")
        out(f"ready. master: {pg.master_addr}")
        for line in pg.hints():
            out(line)
        if use_tui:
            pg.steps.say(
                "opening the TUI (q quits, then asks before removing the playground; F9 provokes a DDL error)"
            )
            about = "\n".join([f"playground dir: {pg.root}", f"master: {pg.master_addr}", *pg.hints()])
            keep = tui_until_done(lambda: run_playground_tui(pg, args.theme, about), out)
            if keep:
                out(
                    "playground running without the TUI; Ctrl-C (or SIGTERM) stops it and removes everything."
                )
                out(f"reopen the TUI from another shell: dmshell --master-addr {pg.master_addr}")
                while True:
                    time.sleep(3600)
        else:
            out("playground running; Ctrl-C (or SIGTERM) stops it and removes everything.")
            while True:
                time.sleep(3600)
    except Interrupted as exc:
        out("")
        pg.steps.say(f"{exc}: stopping")
    except SetupError as exc:
        out(f"playground setup failed: {exc}")
        code = 1
    except Exception as exc:
        out(f"playground failed: {type(exc).__name__}: {exc}")
        if pg.daemon is not None:
            out(f"last lines of the daemon log:\n{pg.log_tail()}")
        code = 1
    finally:
        try:
            _ignore_stop_signals()  # a second Ctrl-C must not abandon half-removed servers
            pg.close()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(sig, signal.SIG_DFL if sig != signal.SIGINT else signal.default_int_handler)
    return code


if __name__ == "__main__":
    sys.exit(main())
