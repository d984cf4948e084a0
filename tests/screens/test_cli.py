"""`dmshell` (the TUI entry point) when there is no master to talk to."""

from __future__ import annotations

from dmshell.tui import app as app_module
from dmshell.tui.app import main
from dmshell.tui.client import probe_master


def test_probe_reports_nothing_answering():
    addr, why = probe_master("127.0.0.1:1", timeout=0.3)
    assert addr is None
    assert why == "nothing answers at 127.0.0.1:1"


def test_probe_picks_first_answering_address(master):
    addr, why = probe_master(f"127.0.0.1:1,{master.addr}", timeout=0.3)
    assert (addr, why) == (master.addr, "")


def test_main_says_how_to_start_a_daemon_when_nothing_answers(capsys, monkeypatch):
    monkeypatch.delenv("DM_MASTER_ADDR", raising=False)
    monkeypatch.setattr(app_module, "probe_master", lambda addrs: (None, f"nothing answers at {addrs}"))
    assert main(["--master-addr", "127.0.0.1:1"]) == app_module.EXIT_UNREACHABLE
    err = capsys.readouterr().err
    assert "no master answers at 127.0.0.1:1" in err
    assert "dmshell daemon --master-addr 127.0.0.1:1 --data-dir " in err


def test_main_uses_dm_master_addr(monkeypatch):
    seen = {}
    monkeypatch.setenv("DM_MASTER_ADDR", "10.0.0.7:8261")
    monkeypatch.setattr(app_module, "probe_master", lambda addrs: (None, seen.setdefault("addrs", addrs)))
    assert main([]) == app_module.EXIT_UNREACHABLE
    assert seen["addrs"] == "10.0.0.7:8261"


def test_help_lists_the_sub_commands(capsys):
    import pytest

    from dmshell.cli import main as cli_main

    with pytest.raises(SystemExit) as exit_:
        cli_main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for name in ("playground", "daemon", "worker", "repl"):
        assert f"dmshell {name} " in out
