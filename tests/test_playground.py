"""Smoke test of `dmshell playground --no-tui`: the cluster comes up, the shard-merge task reaches
Sync, and SIGTERM removes every process and directory it created."""

from __future__ import annotations

import contextlib
import fcntl
import os
import queue
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

import grpc
import pymysql
import pytest

from dmshell.proto import dmmaster_pb2, dmmaster_pb2_grpc
from dmshell.proto import dmworker_pb2 as pb
from dmshell.sandbox import ROOT_PASSWORD


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in out:
                out.add(child)
                todo.append(child)
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(OSError):
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                if text in cmdline and _alive(int(entry.name)):
                    found.append(cmdline)
    return found


def _read_lines(stream, lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put("")  # EOF marker


def _wait_for_line(lines: queue.Queue[str], pattern: str, seen: list[str], timeout: float) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(line)
        if m := re.search(pattern, line):
            return m
    raise AssertionError(f"no line matching {pattern!r}; output so far:\n" + "\n".join(seen))


def _units(addr: str) -> dict[str, str]:
    with grpc.insecure_channel(addr) as channel:
        resp = dmmaster_pb2_grpc.MasterStub(channel).QueryStatus(
            dmmaster_pb2.QueryStatusListRequest(name="shop-merge"), timeout=5
        )
    return {
        src.sourceStatus.source: pb.UnitType.Name(st.unit)
        for src in resp.sources
        for st in src.subTaskStatus
        if st.name == "shop-merge"
    }


@pytest.mark.mariadb  # the playground starts its own servers and daemon
def test_playground_reaches_sync_and_cleans_up_on_sigterm():
    proc = subprocess.Popen(
        [sys.executable, "-m", "dmshell", "playground", "--no-tui"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True).start()
    seen: list[str] = []
    root = None
    try:
        root = Path(_wait_for_line(lines, r"playground dir: (\S+)", seen, 30).group(1))
        target_port = int(_wait_for_line(lines, r"target\s+127\.0\.0\.1:(\d+)", seen, 60).group(1))
        addr = _wait_for_line(lines, r"export DM_MASTER_ADDR=(\S+)", seen, 120).group(1)
        assert root.is_dir()

        deadline = time.monotonic() + 120
        units: dict[str, str] = {}
        while time.monotonic() < deadline:
            units = _units(addr)
            if units == {"mysql-01": "Sync", "mysql-02": "Sync"}:
                break
            time.sleep(0.5)
        assert units == {"mysql-01": "Sync", "mysql-02": "Sync"}

        # Both shards were merged into one target table (1000 sample orders each, disjoint ids).
        conn = pymysql.connect(host="127.0.0.1", port=target_port, user="root", password=ROOT_PASSWORD)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT COUNT(*), SUM(id < 1000001), SUM(id >= 1000001) FROM shop.orders")
                total, shard1, shard2 = cur.fetchone()
        finally:
            conn.close()
        assert total >= 2000 and shard1 >= 1000 and shard2 >= 1000

        children = _descendants(proc.pid)
        assert len(children) >= 4  # three mariadbd and the daemon (plus its workers)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=90) == 0
        _wait_for_line(lines, r"SIGTERM: stopping", seen, 5)
        _wait_for_line(lines, r"cleaning up: ", seen, 5)
        assert re.match(r"\s+done \(", lines.get(timeout=5))
        assert [pid for pid in children if _alive(pid)] == []
        assert not root.exists()
        assert _processes_mentioning(str(root)) == []
        assert _processes_mentioning(addr) == []
    finally:
        if proc.poll() is None:  # the test failed half way: let the playground clean up after itself
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if root is not None and root.exists():
            for entry in Path("/proc").iterdir():
                with contextlib.suppress(OSError, ValueError):
                    if entry.name.isdigit() and str(root) in (entry / "cmdline").read_text(errors="replace"):
                        os.kill(int(entry.name), signal.SIGKILL)
            shutil.rmtree(root, ignore_errors=True)


@pytest.mark.mariadb  # the playground starts its own servers and daemon
@pytest.mark.parametrize("how", ["q", "SIGHUP"])
def test_playground_tui_exit_cleans_up(how):
    """With a terminal the playground opens the TUI; quitting it (``q``) asks before removing
    everything (``y``), losing the terminal (SIGHUP) removes everything without asking."""
    master_fd, slave_fd = os.openpty()
    fcntl.ioctl(slave_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"} | {"TERM": "xterm-256color"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dmshell", "playground"],
        stdin=slave_fd,
        stdout=slave_fd,
        stderr=slave_fd,
        start_new_session=True,
        env=env,
    )
    os.close(slave_fd)
    screen = bytearray()

    def drain() -> None:
        while True:
            try:
                data = os.read(master_fd, 65536)
            except OSError:
                return
            if not data:
                return
            screen.extend(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    root = None
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and b"Tasks (1)" not in screen:
            time.sleep(0.2)
        text = screen.decode(errors="replace")
        assert "Tasks (1)" in text, text[-3000:]
        root = Path(re.search(r"playground dir: (\S+)", text).group(1))
        children = _descendants(proc.pid)
        assert root.is_dir() and len(children) >= 4
        if how == "q":
            os.write(master_fd, b"q")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and b"Remove the playground" not in screen:
                time.sleep(0.1)
            assert b"Remove the playground" in screen
            assert root.is_dir() and all(_alive(pid) for pid in children)  # nothing removed yet
            os.write(master_fd, b"y\n")
        else:
            proc.send_signal(signal.SIGHUP)
        assert proc.wait(timeout=90) == 0
        reader.join(5)
        assert re.search(r"cleaning up: .*\n\s+done \(", screen.decode(errors="replace"))
        assert [pid for pid in children if _alive(pid)] == []
        assert not root.exists()
        assert _processes_mentioning(str(root)) == []
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        os.close(master_fd)
        if root is not None and root.exists():
            shutil.rmtree(root, ignore_errors=True)


def test_playground_says_how_to_install_mariadb_when_missing(monkeypatch, capsys):
    from dmshell import playground, sandbox

    def missing() -> str:
        raise FileNotFoundError("mariadbd not found")

    monkeypatch.setattr(sandbox, "mariadbd_path", missing)
    before = set(Path(tempfile.gettempdir()).glob("dmshell-playground-*"))
    assert playground.main(["--no-tui"]) == 1
    out = capsys.readouterr().out
    assert "scripts/ensure-mariadb" in out and "apt-get install mariadb-server" in out
    assert set(Path(tempfile.gettempdir()).glob("dmshell-playground-*")) == before  # nothing was started


def test_playground_task_config_merges_both_shards():
    from dmshell.engine.config.load import load_task_config
    from dmshell.engine.filters.rules import TableRouter
    from dmshell.playground import TASK_NAME, task_yaml
    from dmshell.sandbox import TARGET, MariaDBServer

    target = MariaDBServer(spec=TARGET, base_dir=Path("/nonexistent"), port=3306)
    cfg = load_task_config(task_yaml(target))
    assert (cfg.name, cfg.task_mode, cfg.source_ids) == (TASK_NAME, "all", ["mysql-01", "mysql-02"])
    for source in cfg.source_ids:
        router = TableRouter(cfg.subtask(source).routes)
        assert router.route("shop", "orders_01") == ("shop", "orders")
        assert router.route("shop", "orders_02") == ("shop", "orders")
        assert router.route("shop", "customers") == ("shop", "customers")


def _answers(*replies: str):
    it = iter(replies)

    def ask(_question: str) -> str:
        reply = next(it)
        if reply == "EOF":
            raise EOFError
        return reply

    return ask


@pytest.mark.parametrize(
    ("codes", "replies", "runs", "keep"),
    [
        ([0], ["y"], 1, False),  # q, then yes: removed
        ([0, 0], ["", "yes"], 2, False),  # the default reopens the TUI
        ([1, 0], ["n", "y"], 2, False),  # a crash: the cluster survives, reopened
        ([0], ["k"], 1, True),  # keep running without the TUI
        ([0], ["EOF"], 1, False),  # nobody to ask: removed
        ([129], [], 1, False),  # SIGHUP / lost terminal: removed without asking
    ],
)
def test_playground_survives_its_tui(codes, replies, runs, keep):
    from dmshell.playground import tui_until_done

    it = iter(codes)
    ran, said = [], []

    def run() -> int:
        ran.append(1)
        return next(it)

    assert tui_until_done(run, said.append, _answers(*replies)) is keep
    assert len(ran) == runs
    assert any("crashed" in line for line in said) == (1 in codes)


def test_provoke_ddl_error_makes_the_target_reject_a_ddl_the_upstream_ran(mariadb, dbname):
    from dmshell.playground import provoke_ddl_error

    for server in (mariadb.up1, mariadb.target):
        server.execute(
            f"DROP DATABASE IF EXISTS {dbname}",
            f"CREATE DATABASE {dbname}",
            f"CREATE TABLE {dbname}.customers (id INT PRIMARY KEY, name VARCHAR(64), email VARCHAR(128))",
            f"INSERT INTO {dbname}.customers VALUES (1, 'a', 'a@x'), (2, 'b', 'b@x')",
        )
    ddl = provoke_ddl_error(mariadb.up1, mariadb.target, dbname)
    assert "uk_email" in {r[2] for r in mariadb.up1.query(f"SHOW INDEX FROM {dbname}.customers")}
    with pytest.raises(pymysql.MySQLError) as failed:
        mariadb.target.execute(ddl)
    assert failed.value.args[0] == 1062  # Duplicate entry: not an "already applied" error


def test_playground_prints_how_to_run_a_shard_ddl_on_one_shard():
    """The newcomer's way to see a lock: the DDL on one shard, then the other (same table routed)."""
    from dmshell.engine.ddl.statement import parse_ddl
    from dmshell.playground import TASK_NAME, Playground
    from dmshell.sandbox import TARGET, UPSTREAM1, UPSTREAM2, MariaDBServer

    pg = Playground(out=lambda _line: None)
    try:
        pg.master_addr = "127.0.0.1:8261"
        pg.servers = {
            name: MariaDBServer(spec=spec, base_dir=Path("/nonexistent"), port=port)
            for name, spec, port in (
                ("upstream1", UPSTREAM1, 3307),
                ("upstream2", UPSTREAM2, 3308),
                ("target", TARGET, 3309),
            )
        }
        hints = pg.shard_ddl_hints()
    finally:
        pg.close()
    assert hints[1].startswith(
        f"    mariadb -h127.0.0.1 -P3307 -uroot -p{ROOT_PASSWORD} -e 'ALTER TABLE shop.orders_01"
    )
    assert "-P3308" in hints[2] and "shop.orders_02" in hints[2]
    ddls = [parse_ddl(h.split("-e '")[1].rstrip("'"), "") for h in hints[1:3]]
    assert [(d.kind, d.table.table) for d in ddls] == [
        ("alter table", "orders_01"),
        ("alter table", "orders_02"),
    ]
    assert hints[3] == f"    dmctl --master-addr=127.0.0.1:8261 shard-ddl-lock {TASK_NAME}"
