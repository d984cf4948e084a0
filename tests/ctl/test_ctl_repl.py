"""The interactive REPL, driven through prompt-toolkit's pipe input."""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_master import FakeMaster
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from dmshell.client.master import MasterClient
from dmshell.ctl import registry
from dmshell.ctl.errors import EXIT_OK, EXIT_UNREACHABLE
from dmshell.ctl.repl import DmctlCompleter, MasterValues, highlight_line, redact, run_repl
from dmshell.proto import dmmaster_pb2 as mpb
from dmshell.proto import dmworker_pb2 as pb


@pytest.fixture
def cluster(fake_master: FakeMaster) -> FakeMaster:
    """A master with one task on two sources, two workers and one DDL lock."""
    subtask = pb.SubTaskStatus(name="test", stage=pb.Running, unit=pb.Sync)
    fake_master.set(
        "QueryStatus",
        mpb.QueryStatusListResponse(
            result=True,
            sources=[
                pb.QueryStatusResponse(
                    result=True, sourceStatus=pb.SourceStatus(source=s), subTaskStatus=[subtask]
                )
                for s in ("mysql-replica-01", "mysql-replica-02")
            ],
        ),
    )
    fake_master.set(
        "ListMember",
        mpb.ListMemberResponse(
            result=True,
            members=[
                mpb.Members(
                    worker=mpb.ListWorkerMember(
                        workers=[
                            mpb.WorkerInfo(name="worker1", stage="bound", source="mysql-replica-01"),
                            mpb.WorkerInfo(name="worker2", stage="free"),
                        ]
                    )
                )
            ],
        ),
    )
    fake_master.set(
        "ShowDDLLocks",
        mpb.ShowDDLLocksResponse(
            result=True, locks=[mpb.DDLLock(ID="test-`shard_db`.`t`", task="test", mode="pessimistic")]
        ),
    )
    return fake_master


def repl(fake: FakeMaster, keys: str, history: Path, **kwargs: object) -> tuple[int, str]:
    """Type ``keys`` into a REPL connected to ``fake``; Ctrl-D at the end leaves it."""
    out = io.StringIO()
    with create_pipe_input() as inp:
        inp.send_text(keys + "\x04")
        rc = run_repl(
            master_addr=fake.addr,
            input=inp,
            output=DummyOutput(),
            stdout=out,
            history_file=history,
            fetch_values=False,
            **kwargs,
        )
    return rc, out.getvalue()


def completions(text: str, values: MasterValues | None = None) -> list[str]:
    doc = Document(text, len(text))
    return [c.text for c in DmctlCompleter(values).get_completions(doc, CompleteEvent())]


@pytest.fixture
def values(cluster: FakeMaster) -> Iterator[MasterValues]:
    client = MasterClient(cluster.addr, 10)
    v = MasterValues(lambda method, req: client.call(method, req))
    v.refresh()
    yield v
    client.close()


def test_complete_commands_subcommands_flags() -> None:
    assert completions("que") == ["query-status"]
    assert completions("stop") == ["stop-task", "stop-relay"]
    assert "get-config" not in completions("get")  # hidden commands are not offered
    assert completions("binlog s") == ["skip"]
    assert completions("binlog-schema ") == ["update", "delete", "list"]
    assert completions("query-status --m") == ["--more"]
    assert completions("binlog skip test --bin") == ["--binlog-pos"]
    assert completions("operate-source ") == ["create", "update", "stop", "show"]
    assert completions("unlock-ddl-lock x --action ") == ["skip", "exec"]
    assert completions("unlock-ddl-lock x --action=e") == ["--action=exec"]
    assert completions("help bin") == ["binlog", "binlog-schema"]
    assert completions("help binlog sk") == ["skip"]


def test_complete_names_from_the_master(values: MasterValues) -> None:
    assert completions("query-status ", values) == ["test"]
    assert completions("stop-task -s mysql-replica-0", values) == ["mysql-replica-01", "mysql-replica-02"]
    assert completions("transfer-source mysql-replica-01 w", values) == ["worker1", "worker2"]
    assert completions("shard-ddl-lock unlock ", values) == ["test-`shard_db`.`t`"]
    assert completions("operate-source create --worker wor", values) == ["worker1", "worker2"]


def test_complete_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "task.yaml").write_text("name: t\n")
    (tmp_path / "conf").mkdir()
    monkeypatch.chdir(tmp_path)
    assert completions("start-task ") == ["conf/", "task.yaml"]
    assert completions("start-task ta") == ["task.yaml"]


def test_registry_complete_api_for_other_front_ends() -> None:
    got = registry.complete(["binlog", ""])
    assert [c.text for c in got] == ["skip", "replace", "revert", "inject", "list"]
    assert got[0].meta.startswith("skip the current error event")
    assert (
        registry.confirmation(["stop-task", "test"]) == "Stop task test? Its subtasks stop and are removed."
    )
    assert registry.confirmation(["binlog", "skip", "test", "-b", "mysql-bin.000001:4"]).startswith(
        "Skip the binlog event at mysql-bin.000001:4 in task test?"
    )
    assert registry.confirmation(["operate-source", "show"]) is None
    assert registry.confirmation(["query-status"]) is None


def test_history_file_is_private_and_redacted(fake_master: FakeMaster, tmp_path: Path) -> None:
    history = tmp_path / "state" / "dmshell" / "dmctl_history"
    rc, out = repl(
        fake_master,
        "encrypt s3cret-pw\r"
        "binlog inject test \"CREATE USER u IDENTIFIED BY 'pw1'\" --yes\r"
        "list-member\r",
        history,
    )
    assert rc == EXIT_OK
    assert stat.S_IMODE(os.stat(history).st_mode) == 0o600
    text = history.read_text()
    assert "s3cret-pw" not in text and "pw1" not in text
    assert "+encrypt ******\n" in text and "IDENTIFIED BY ******" in text and "+list-member\n" in text
    assert fake_master.last("Encrypt").plaintext == "s3cret-pw"  # only the history is redacted


def test_existing_history_gets_mode_0600_and_ctrl_r_searches_it(
    fake_master: FakeMaster, tmp_path: Path
) -> None:
    history = tmp_path / "h"
    history.write_text("\n# 2024\n+list-member --leader\n\n# 2024\n+query-status\n")
    os.chmod(history, 0o644)
    repl(fake_master, "\x12list\r\r", history)
    assert stat.S_IMODE(os.stat(history).st_mode) == 0o600
    assert fake_master.last("ListMember").leader is True


def test_default_history_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from dmshell.ctl.repl import history_path

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert history_path() == tmp_path / "dmshell" / "dmctl_history"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("encrypt 'abc!@#123'", "encrypt ******"),
        ("decrypt fCxfQ9XKCezSzuCD0Wf5dUD+LsKegSg=", "decrypt ******"),
        ("operate-source create --password hunter2 x", "operate-source create --password ****** x"),
        ("x --db-password=hunter2", "x --db-password=******"),
        ("binlog inject t \"SET PASSWORD FOR u = 'x1'\"", 'binlog inject t "SET PASSWORD FOR u = ******"'),
        (
            "binlog inject t \"ALTER USER u IDENTIFIED WITH mysql_native_password BY 'x2'\"",
            'binlog inject t "ALTER USER u IDENTIFIED WITH mysql_native_password BY ******"',
        ),
        ("x mysql://root:topsecret@127.0.0.1:3306/db", "x mysql://root:******@127.0.0.1:3306/db"),
        ("x password: abc", "x password: ******"),
        ("query-status test", "query-status test"),
    ],
)
def test_redact(line: str, expected: str) -> None:
    assert redact(line) == expected


def test_confirmation_before_destructive_commands(fake_master: FakeMaster, tmp_path: Path) -> None:
    rc, out = repl(
        fake_master, "stop-task test\rn\rbinlog skip test\r\rshard-ddl-lock unlock L\rno\r", tmp_path / "h"
    )
    assert fake_master.requests == []
    assert out.count("Aborted.\n") == 3
    repl(fake_master, "stop-task test\ry\r", tmp_path / "h")
    assert pb.TaskOp.Name(fake_master.last("OperateTask").op) == "Delete"
    repl(
        fake_master,
        "binlog replace test 'alter table t add c int' --yes\roperate-source stop s1\ryes\r",
        tmp_path / "h",
    )
    assert list(fake_master.last("HandleError").sqls) == ["alter table t add c int"]
    assert list(fake_master.last("OperateSource").sourceID) == ["s1"]
    n = len(fake_master.requests)
    repl(fake_master, "stop-task test\r", tmp_path / "h", confirm=False)
    assert len(fake_master.requests) == n + 1


def test_help_errors_and_exit(fake_master: FakeMaster, tmp_path: Path) -> None:
    rc, out = repl(fake_master, "help start-task\rfoo\rbinlog skip\rexit\rlist-member\r", tmp_path / "h")
    assert rc == EXIT_OK
    assert out.startswith(
        "Starts a task as defined in the configuration file\n\nUsage:\n"
        "  dmctl start-task [-s source ...] [--remove-meta] <config-file> [flags]\n"
    )
    assert 'fail to run: [foo]\nError: unknown command "foo" for "dmctl"\n' in out
    assert "Usage:\n  dmctl binlog skip <task-name> [flags]" in out
    assert fake_master.requests == []  # `exit` stopped before list-member


def test_unreachable_master(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = io.StringIO()
    with create_pipe_input() as inp:
        rc = run_repl(
            master_addr=f"127.0.0.1:{port}",
            input=inp,
            output=DummyOutput(),
            stdout=out,
            history_file=tmp_path / "h",
        )
    assert rc == EXIT_UNREACHABLE
    assert out.getvalue().startswith(
        f"Error: [code=48001:class=dmctl:scope=internal:level=high], Message: can't "
        f"connect to 127.0.0.1:{port}"
    )


def test_highlighting_marks_commands_flags_and_sql() -> None:
    frags = highlight_line('binlog replace test -s s1 "alter table t add column c int"')
    styled = {text: style for style, text in frags}
    assert styled["binlog"] == styled["replace"] == "class:command"
    assert (
        styled["-s"] == "class:flag"
        and styled["test"] == "class:argument"
        and styled["s1"] == "class:flag-value"
    )
    assert any("keyword" in style and text.lower() == "alter" for style, text in frags)
    assert "".join(text for _, text in frags) == 'binlog replace test -s s1 "alter table t add column c int"'
    assert highlight_line("nosuch x")[0] == ("class:unknown", "nosuch")


def test_dmctl_on_a_terminal_starts_the_repl(fake_master: FakeMaster, tmp_path: Path) -> None:
    import pty
    import select
    import subprocess
    import sys
    import time

    master_fd, slave_fd = pty.openpty()
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "XDG_STATE_HOME": str(tmp_path),
        "TERM": "xterm",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "dmshell.ctl.main", f"--master-addr={fake_master.addr}"],
        stdin=slave_fd,
        stdout=slave_fd,
        stderr=slave_fd,
        env=env,
        close_fds=True,
    )
    os.close(slave_fd)
    seen = b""

    def read_until(token: bytes) -> bool:
        nonlocal seen
        deadline = time.monotonic() + 30
        while token not in seen and time.monotonic() < deadline:
            if select.select([master_fd], [], [], 0.1)[0]:
                try:
                    data = os.read(master_fd, 4096)
                except OSError:
                    break
                seen += data
                if b"\x1b[6n" in data:  # answer prompt-toolkit's cursor position request
                    os.write(master_fd, b"\x1b[1;1R")
        return token in seen

    try:
        assert read_until("» ".encode())
        os.write(master_fd, b"list-member\r")
        assert read_until(b'"members"')
        os.write(master_fd, b"exit\r")
        assert proc.wait(timeout=30) == EXIT_OK
    finally:
        proc.kill()
        os.close(master_fd)
    history = (tmp_path / "dmshell" / "dmctl_history").read_text()
    assert "+list-member\n" in history


class _FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_long_output_is_paged_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from dmshell.ctl import repl as repl_module

    paged = tmp_path / "paged"
    monkeypatch.setenv("PAGER", f"cat > {paged}")
    monkeypatch.setattr(
        repl_module.shutil, "get_terminal_size", lambda fallback=(80, 24): os.terminal_size((80, 10))
    )
    tty = _FakeTTY()
    monkeypatch.setattr(repl_module.sys, "stdout", tty)
    long_text = "".join(f"line {i}\n" for i in range(30))
    repl_module._page(long_text, tty)
    assert paged.read_text() == long_text and tty.getvalue() == ""
    repl_module._page("short\n", tty)
    assert tty.getvalue() == "short\n"
    plain = io.StringIO()
    repl_module._page(long_text, plain)
    assert plain.getvalue() == long_text


def test_output_format_is_completed_and_help_comes_last() -> None:
    flags = completions("query-status --")
    assert flags[-1] == "--help" and "--output" in flags
    assert completions("query-status --output ") == ["json", "table", "plain"]
    assert completions("query-status --output=t") == ["--output=table"]


def test_sticky_output_multiline_and_coloured_json(cluster: FakeMaster, tmp_path: Path) -> None:
    rc, out = repl(
        cluster,
        "query-status \\\r  test\r"  # one command over two lines
        "list-member --output table\r"
        "query-status test\r",  # still a table
        tmp_path / "h",
        colour=True,
    )
    assert rc == EXIT_OK
    first, rest = out.split("(output format table from now on", 1)
    assert cluster.calls("QueryStatus")[0].name == "test"
    assert "\x1b[" in first and '"result"' in first  # DM's JSON, in colour
    assert '"result"' not in rest and "mysql-replica-01" in rest  # tables from then on


def test_sql_highlighting_stops_at_the_next_flag() -> None:
    frags = highlight_line("binlog inject test alter table t add c int -s s1 --binlog-pos x:1")
    styled = {text: style for style, text in frags}
    assert styled["-s"] == "class:flag" and styled["s1"] == "class:flag-value"
    assert styled["--binlog-pos"] == "class:flag"
    assert any("keyword" in style and text.lower() == "alter" for style, text in frags)
