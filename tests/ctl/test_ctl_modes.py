"""Process-level behaviour: master addresses, settings, exit statuses, piped stdin, start-up."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fake_master import FakeMaster

from dmshell.ctl.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE
from dmshell.ctl.main import run_command
from dmshell.proto import dmmaster_pb2 as mpb
from dmshell.proto import dmworker_pb2 as pb

Dmctl = Callable[..., Any]  # the `dmctl` fixture (tests/ctl/conftest.py)

ROOT = Path(__file__).resolve().parents[2]
UNREACHABLE = (
    "[code=48001:class=dmctl:scope=internal:level=high], Message: can't connect to {}, RawCause: "
    "context deadline exceeded, Workaround: Please check your network connection."
)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(*argv: str, stdin: str | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = run_command(list(argv), out=out, err=err, stdin=io.StringIO(stdin) if stdin is not None else None)
    return rc, out.getvalue(), err.getvalue()


def subprocess_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DM_MASTER_ADDR"}
    env["PYTHONPATH"] = str(ROOT)
    return env


@pytest.fixture(autouse=True)
def _no_env_addr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DM_MASTER_ADDR", raising=False)


def test_first_reachable_master_wins(fake_master: FakeMaster) -> None:
    dead = closed_port()
    rc, out, _ = run(f"--master-addr=127.0.0.1:{dead},{fake_master.addr}", "list-member")
    assert rc == EXIT_OK and '"result": true' in out
    rc, out, _ = run("list-member", "--master-addr", f"http://127.0.0.1:{dead},https://{fake_master.addr}")
    assert rc == EXIT_OK and '"result": true' in out


def test_unreachable_masters() -> None:
    a, b = closed_port(), closed_port()
    addrs = f"https://127.0.0.1:{a},127.0.0.2:{b}"
    rc, out, err = run(f"--master-addr={addrs}", "list-member")
    assert (rc, out) == (EXIT_UNREACHABLE, "")
    assert err == f"Error: {UNREACHABLE.format(addrs)}\n"
    # piped mode connects before reading stdin, like DM
    rc, out, err = run(f"--master-addr={addrs}", stdin="list-member\n")
    assert rc == EXIT_UNREACHABLE and err == f"Error: {UNREACHABLE.format(addrs)}\n"


def test_master_addr_from_env_and_errors(fake_master: FakeMaster, monkeypatch: pytest.MonkeyPatch) -> None:
    rc, _, err = run("list-member")
    assert rc == EXIT_USAGE
    assert err == (
        "Error: --master-addr not provided, this parameter is required when interacting with the "
        "dm-master, you can also use environment variable 'DM_MASTER_ADDR' to specify the value. "
        "Use `dmctl --help` to see more help messages\n"
    )
    rc, _, err = run("--master-addr=abc", "list-member")
    assert err == "Error: specify master addr abc: address abc: missing port in address\n"
    rc, _, err = run(f"--master-addr={fake_master.addr}", "--rpc-timeout=5x", "list-member")
    assert err == 'Error: time: unknown unit "x" in duration "5x"\n'
    rc, _, err = run(f"--master-addr={fake_master.addr}", "--rpc-timeout=0s", "list-member")
    assert err == "Error: invalid time duration: 0s\n"
    monkeypatch.setenv("DM_MASTER_ADDR", fake_master.addr)
    rc, out, _ = run("list-member")
    assert rc == EXIT_OK and '"members": [\n    ]' in out


def test_config_file_and_legacy_flags(fake_master: FakeMaster, tmp_path: Path) -> None:
    cfg = tmp_path / "dmctl.toml"
    cfg.write_text(f'master-addr = "{fake_master.addr}"\nrpc-timeout = "30s"\n')
    rc, out, _ = run("--config", str(cfg), "list-member")
    assert rc == EXIT_OK
    rc, _, err = run("--config", str(cfg), f"--master-addr=127.0.0.1:{closed_port()}", "list-member")
    assert rc == EXIT_UNREACHABLE  # the flag overrides the file
    rc, _, err = run("--config", str(tmp_path / "none.toml"), "list-member")
    assert err == (
        f"Error: the current command parameter: --config is invalid or used incorrectly: open "
        f"{tmp_path / 'none.toml'}: no such file or directory\n"
    )
    rc, out, _ = run(f"-master-addr={fake_master.addr}", "list-member")
    assert rc == EXIT_OK
    rc, out, _ = run("list-member", "-master-addr", fake_master.addr)
    assert rc == EXIT_OK


def test_version_and_legacy_encrypt() -> None:
    rc, out, err = run("-V")
    assert rc == EXIT_OK and err.startswith("Release Version: v") and "Git Commit Hash:" in err
    rc, out, _ = run("-decrypt", "MKxn0Qo3m3XOyjCnhEMtsUCm83EhGQDZ/T4=")
    assert (rc, out) == (EXIT_OK, "abc!@#123\n")
    rc, out, _ = run("--encrypt", "secret")
    _, back, _ = run("--decrypt", out.strip())
    assert back == "secret\n"


def test_output_formats(fake_master: FakeMaster) -> None:
    status = mpb.QueryStatusListResponse(
        result=True,
        sources=[
            pb.QueryStatusResponse(
                result=True,
                sourceStatus=pb.SourceStatus(source="s1", worker="w1"),
                subTaskStatus=[
                    pb.SubTaskStatus(
                        name="test",
                        stage=pb.Running,
                        unit=pb.Sync,
                        sync=pb.SyncStatus(
                            secondsBehindMaster=3, synced=False, syncerBinlog="(mysql-bin.000001, 4)"
                        ),
                    )
                ],
            )
        ],
    )
    fake_master.set("QueryStatus", status)
    rc, out, _ = run(f"--master-addr={fake_master.addr}", "query-status", "test", "--output", "table")
    assert rc == EXIT_OK
    assert out.splitlines()[1].split() == [
        "SOURCE",
        "WORKER",
        "TASK",
        "STAGE",
        "UNIT",
        "PROGRESS",
        "LAG",
        "ERROR",
    ]
    assert out.splitlines()[2].split() == [
        "s1",
        "w1",
        "test",
        "Running",
        "Sync",
        "(mysql-bin.000001,",
        "4)",
        "3s",
    ]
    rc, out, _ = run(f"--master-addr={fake_master.addr}", "query-status", "--output=plain")
    assert (
        out
        == "result: true\nmsg: \ntasks[0].taskName: test\ntasks[0].taskStatus: Running\ntasks[0].sources[0]: s1\n"  # noqa: E501
    )
    rc, _, err = run(f"--master-addr={fake_master.addr}", "query-status", "--output=xml")
    assert rc == EXIT_USAGE and "invalid --output 'xml'" in err


def test_piped_stdin_runs_each_line_like_dms_loop(dmctl: Dmctl, fake_master: FakeMaster) -> None:
    fake_master.set("OperateTask", mpb.OperateTaskResponse(op=pb.Pause, result=False, msg="no such task"))
    r = dmctl(stdin="query-status\n\nfoo bar\npause-task x\nstop-task\nexit\nlist-member\n")
    assert r.out.startswith('{\n    "result": true,\n    "msg": "",\n    "tasks": []\n}\n')
    assert (
        'fail to run: [foo bar]\nError: unknown command "foo" for "dmctl"\nRun \'dmctl --help\' for usage.\n'
        in r.out
    )
    assert (
        "Global Flags:\n  -s, --source strings   MySQL Source ID.\nfail to run: [stop-task]\n"
        "Error: please check output to see error\n" in r.out
    )
    assert [m for m, _ in fake_master.requests] == ["QueryStatus", "OperateTask"]  # nothing after `exit`
    assert r.rc == EXIT_USAGE  # the last failure


def test_piped_stdin_in_a_subprocess(fake_master: FakeMaster) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "dmshell.ctl.main", f"--master-addr={fake_master.addr}"],
        input="query-status\nencrypt 'a b'\n",
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=60,
    )
    assert proc.returncode == EXIT_OK, proc.stderr
    assert proc.stdout == '{\n    "result": true,\n    "msg": "",\n    "tasks": []\n}\n\n'
    assert fake_master.last("Encrypt").plaintext == "a b"


def test_command_mode_in_a_subprocess_exit_statuses(fake_master: FakeMaster) -> None:
    fake_master.set("OperateLeader", mpb.OperateLeaderResponse(result=False, msg="not leader"))
    base = [sys.executable, "-m", "dmshell.ctl.main", f"--master-addr={fake_master.addr}"]
    ok = subprocess.run(
        [*base, "operate-leader", "evict"], capture_output=True, text=True, env=subprocess_env()
    )
    assert ok.returncode == EXIT_FAILED and '"result": false' in ok.stdout
    usage = subprocess.run([*base, "start-task"], capture_output=True, text=True, env=subprocess_env())
    assert usage.returncode == EXIT_USAGE and usage.stdout.startswith("Usage:\n  dmctl start-task")
    assert usage.stderr == "Error: please check output to see error\n"


def test_interrupt_exits_130(fake_master: FakeMaster) -> None:
    started = threading.Event()

    def slow(req: object, ctx: object) -> mpb.QueryStatusListResponse:
        started.set()
        time.sleep(5)
        return mpb.QueryStatusListResponse(result=True)

    fake_master.set("QueryStatus", slow)
    proc = subprocess.Popen(
        [sys.executable, "-m", "dmshell.ctl.main", f"--master-addr={fake_master.addr}", "query-status"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
    )
    assert started.wait(30)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == EXIT_INTERRUPTED
    assert "Got signal [interrupt] to exit." in out


def test_dmctl_never_imports_textual_and_defers_grpc() -> None:
    code = (
        "import sys, dmshell.ctl.main, dmshell.ctl.registry as r; r.root('command'); r.root('loop'); "
        "from dmshell.ctl.main import run_command; import io; run_command(['start-task'], out=io.StringIO(), "
        "err=io.StringIO()); print(sorted(m for m in ('textual', 'grpc', 'rich') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=subprocess_env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
    repl = subprocess.run(
        [sys.executable, "-c", "import sys, dmshell.ctl.repl; print('textual' in sys.modules)"],
        capture_output=True,
        text=True,
        env=subprocess_env(),
    )
    assert repl.stdout.strip() == "False"


def test_answering_commands_import_only_what_they_need(fake_master: FakeMaster) -> None:
    """`list-member` / `query-status` load gRPC and the master's protos, nothing heavy besides."""
    heavy = (
        "textual", "rich", "prompt_toolkit", "pygments", "yaml", "pymysql", "pymysqlreplication",
        "sqlglot", "cryptography", "dmshell.engine.config.task", "dmshell.proto.dmworker_pb2_grpc",
        "google.protobuf.descriptor_pb2", "decimal", "importlib.metadata", "concurrent.futures.thread",
    )  # fmt: skip
    for command in ("list-member", "query-status"):
        code = (
            "import io, sys\nfrom dmshell.ctl.main import run_command\n"
            f"rc = run_command(['--master-addr={fake_master.addr}', '{command}'], out=io.StringIO())\n"
            f"print(rc, sorted(m for m in {heavy!r} if m in sys.modules), 'grpc' in sys.modules)\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=subprocess_env()
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.split(maxsplit=1) == ["0", "[] True\n"], (command, proc.stdout)
