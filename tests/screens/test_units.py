"""Pure parts of the TUI: lag history, graphs, GTID highlighting, ETA, masking, the dmctl bridge,
the config file and the task filter."""

from __future__ import annotations

import argparse

import pytest

from dmshell.proto import dmworker_pb2 as pb
from dmshell.screens.dashboard import task_filter
from dmshell.tui import app as app_module
from dmshell.tui.config import ConfigError, TuiConfig, load_config
from dmshell.tui.dmctl import CommandResult, LineError, complete_line, mutates, split_line
from dmshell.tui.history import History, window_label
from dmshell.tui.model import SourceFacts, build_snapshot, mask_secrets, source_facts, subtask_view
from dmshell.tui.widgets.format import Palette, graph_lines, gtid_text, text_sparkline, upstream_origin

from .canned import SOURCE_CONFIGS, canned_status


# -- history and graphs ------------------------------------------------------------------------
def test_history_keeps_the_window_per_task_and_subtask_and_forgets_removed_tasks():
    hist = History(window=3)
    for t, lag in enumerate((5, 9, 12, 25)):
        hist.record(build_snapshot(canned_status(shop_lag=lag)), float(t))
    assert hist.task_lag("shop-merge").values == (9.0, 12.0, 25.0)  # max over the sources, last 3 s
    assert hist.subtask_lag("shop-merge", "mysql-01").values == (3.0, 3.0, 3.0)
    assert hist.subtask_rate("shop-merge", "mysql-02", "Sync").values == (36.0, 36.0, 36.0)
    assert hist.subtask_rate("archive", "mysql-01", "Load").values == (1_100_000.0,) * 3  # bytes/s
    assert hist.task_lag("billing").values == ()  # paused: no live lag to record
    resp = canned_status()
    del resp.sources[1].subTaskStatus[2]  # billing is gone
    hist.record(build_snapshot(resp), 4.0)
    assert not hist.subtask_lag("billing", "mysql-02") and hist.version == 5


def test_the_whole_window_is_compressed_into_the_width_and_labelled():
    hist = History()  # 5 minutes
    for t in range(300):
        hist.record(build_snapshot(canned_status(shop_lag=30 if t < 150 else 0)), 1000.0 + t)
    line = text_sparkline(hist.subtask_lag("shop-merge", "mysql-02"), 10, floor=10)
    assert line == "█████▁▁▁▁▁"  # 30 s a column: the first half of the 5 minutes lagged
    assert window_label(hist.window) == "5m" and window_label(90) == "90s"


def test_lag_and_rows_per_second_stay_aligned_across_a_pause():
    """A paused syncer has no lag (a gap) but applies 0 rows/s: both series keep one point per
    sample, so the gap and the zeros sit in the same columns; no sample at all is a gap in both."""
    hist = History(window=12)
    paused = canned_status(shop_lag=0, shop_rps=0)
    paused.sources[1].subTaskStatus[0].stage = pb.Paused
    for t in range(4):
        hist.record(build_snapshot(canned_status(shop_lag=5, shop_rps=8)), float(t))
    for t in range(4, 8):
        hist.record(build_snapshot(paused), float(t))
    for t in range(10, 12):  # t = 8, 9: the TUI heard nothing
        hist.record(build_snapshot(canned_status(shop_lag=5, shop_rps=8)), float(t))
    lag = hist.subtask_lag("shop-merge", "mysql-02").columns(12)
    rate = hist.subtask_rate("shop-merge", "mysql-02", "Sync").columns(12)
    assert lag == [5, 5, 5, 5, None, None, None, None, None, None, 5, 5]
    assert rate == [8, 8, 8, 8, 0, 0, 0, 0, None, None, 8, 8]
    assert text_sparkline(rate, 12, floor=10) == "▆▆▆▆▁▁▁▁  ▆▆"
    assert text_sparkline(lag, 12, floor=10) == "▄▄▄▄      ▄▄"


def test_graph_lines_scale_from_zero_with_a_floor_and_zero_differs_from_small():
    assert graph_lines([0, 5, 10], 5, floor=10) == ["  ▁▄█"]
    assert text_sparkline([1, 1, 1], 3, floor=10) == "▂▂▂"  # small but not zero
    assert text_sparkline([0, 0, 0], 3, floor=10) == "▁▁▁"
    assert text_sparkline([1, 1, 1], 3) == "███"  # without a floor it fills the cell
    assert graph_lines([0, 12, 24], 3, height=3, floor=24) == ["  █", " ▄█", "▁██"]
    assert graph_lines([], 4) == ["    "]
    assert text_sparkline([2, None, 0], 3, floor=10) == "▂ ▁"


def test_gtid_highlights_the_upstream_origin():
    pal = Palette()
    assert upstream_origin("0-1-5,1-101-3377") == "1-101"
    uuid = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
    assert upstream_origin(f"aaaaaaaa-71ca-11e1-9e33-c80aa9429562:1-3,{uuid}:1-5:7-23") == uuid
    text = gtid_text("0-1-5,1-101-3377", pal)
    assert text.plain == "0-1-5,1-101-3377"
    styled = {text.plain[s.start : s.end]: str(s.style) for s in text.spans}
    assert styled["1-101"] == f"bold underline {pal.accent}" and styled["0-1-5"] == pal.muted


def test_eta_from_the_workers_rate():
    resp = canned_status()
    load = resp.sources[0].subTaskStatus[1]
    view = subtask_view("mysql-01", "w", load)
    assert (view.bytes_per_sec, view.eta) == (1_100_000, 5)  # 5.5 MB left at 1.1 MB/s
    dump = subtask_view("mysql-02", "w", resp.sources[1].subTaskStatus[1])
    assert dump.eta == 17  # 200k rows left x 200 bytes/row = 40 MB at 2.4 MB/s
    load.load.bps = 0
    assert subtask_view("mysql-01", "w", load).eta is None


# -- configs and masking -----------------------------------------------------------------------
def test_mask_secrets_hides_every_password_value():
    text = "from:\n  password: hunter2\n  user: dm\nsecurity-password: 'x'\nempty-password: ''\n"
    masked = mask_secrets(text)
    assert "hunter2" not in masked and "'x'" not in masked
    assert masked == (
        "from:\n  password: '******'\n  user: dm\nsecurity-password: '******'\n" "empty-password: ''\n"
    )


def test_source_facts_and_unbound_sources():
    facts = {sid: source_facts(text) for sid, text in SOURCE_CONFIGS.items()}
    assert facts["mysql-01"] == SourceFacts(True, False, "mariadb", "10.0.0.11:3306")
    assert source_facts(": not yaml [") == SourceFacts()
    facts["mysql-09"] = SourceFacts(enable_gtid=False)
    snap = build_snapshot(canned_status(), {}, facts)
    by_id = {s.source: s for s in snap.sources}
    assert (by_id["mysql-01"].gtid, by_id["mysql-02"].gtid, by_id["mysql-02"].relay_text) == (
        "on",
        "off",
        "Running",
    )
    assert (by_id["mysql-09"].worker, by_id["mysql-09"].msg) == ("", "not bound to a live worker")


# -- the dmctl bridge --------------------------------------------------------------------------
def test_split_line_accepts_pasted_dmctl_lines_and_rejects_bad_quoting():
    assert split_line("query-status 'my task'") == ["query-status", "my task"]
    assert split_line("dmctl --master-addr=1.2.3.4:8261 pause-task t") == ["pause-task", "t"]
    assert split_line("dmctl --master-addr 1.2.3.4:8261 -s s1 pause-task t") == [
        "-s",
        "s1",
        "pause-task",
        "t",
    ]
    with pytest.raises(LineError, match="No closing quotation"):
        split_line('binlog replace t "ALTER TABLE')


@pytest.mark.parametrize(
    "line,changes",
    [
        ("query-status", False),
        ("list-member", False),
        ("config source s1", False),
        ("binlog list t", False),
        ("operate-source show", False),
        ("validation status t", False),
        ("help pause-task", False),
        ("shard-ddl-lock", False),
        ("check-task t.yaml", False),
        ("pause-task t", True),
        ("stop-task t", True),
        ("start-task t.yaml", True),
        ("operate-source create s.yaml", True),
        ("binlog skip t", True),
        ("shard-ddl-lock unlock l", True),
        ("config import", True),
        ("transfer-source s w", True),
    ],
)
def test_mutates_follows_the_registry(line, changes):
    assert mutates(split_line(line)) is changes


def test_command_result_summary():
    ok = CommandResult("q", 0, '{\n    "result": true,\n    "msg": "",\n    "sources": []\n}\n')
    assert (ok.summary, ok.json["result"]) == ("result: true", True)
    failed = CommandResult(
        "p",
        1,
        '{"result": false, "msg": "", "sources": [{"result": false, "msg": "boom", ' '"source": "s1"}]}',
    )
    assert failed.summary == "s1: boom"
    usage = CommandResult("x", 2, 'fail to run: [x]\nError: unknown command "x" for "dmctl"\n')
    assert usage.summary == 'unknown command "x" for "dmctl"' and usage.json is None


def test_complete_line_replaces_only_the_current_word():
    comp = complete_line("query-status sh", lambda kind: ["shop-merge", "billing"] if kind == "task" else [])
    assert [c.text for c in comp.candidates] == ["shop-merge"]
    assert comp.apply("shop-merge") == "query-status shop-merge "
    assert complete_line("operate-source s").apply("show") == "operate-source show "
    assert complete_line("query-status --m").apply("--more") == "query-status --more "
    assert complete_line('query-status "unclosed').candidates == ()


# -- the config file and the settings ------------------------------------------------------------
def test_config_file(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('master-addr = "10.0.0.5:8261"\ntheme = "light"\nread-only = true\n')
    assert load_config(path) == TuiConfig(path, "10.0.0.5:8261", "light", True, None)
    assert load_config(tmp_path / "missing.toml") == TuiConfig()
    for text, error in (
        ("colour = 'red'\n", "unknown key 'colour'"),
        ("read-only = 'yes'\n", "must be a boolean"),
        ("theme = 'pink'\n", "theme must be one of dark, light, high-contrast"),
        ("theme = \n", "Invalid value"),
    ):
        path.write_text(text)
        with pytest.raises(ConfigError, match=error):
            load_config(path)
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "missing.toml", required=True)


def test_xdg_location_and_precedence(tmp_path, monkeypatch):
    monkeypatch.delenv("DMSHELL_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "dmshell").mkdir()
    (tmp_path / "dmshell" / "config.toml").write_text(
        'master-addr = "cfg:1"\ntheme = "light"\nread-only = true\n' "mouse = false\n"
    )
    cfg = load_config()
    parse = app_module.build_parser().parse_args
    s = app_module.resolve_settings(parse([]), cfg, {})
    assert (s.master_addr, s.theme, s.read_only, s.mouse) == ("cfg:1", "light", True, False)
    s = app_module.resolve_settings(
        parse([]), cfg, {"DM_MASTER_ADDR": "env:2", "DMSHELL_THEME": "high-contrast"}
    )
    assert (s.master_addr, s.theme) == ("env:2", "high-contrast")
    s = app_module.resolve_settings(
        parse(["--master-addr", "flag:3", "--theme", "dark", "--read-write"]),
        cfg,
        {"DM_MASTER_ADDR": "env:2"},
    )
    assert (s.master_addr, s.theme, s.read_only) == ("flag:3", "dark", False)
    s = app_module.resolve_settings(
        argparse.Namespace(master_addr=None, theme=None, read_only=None, mouse=None), TuiConfig(), {}
    )
    assert (s.master_addr, s.theme, s.read_only, s.mouse) == ("127.0.0.1:8261", "dark", False, True)


def test_main_reports_a_bad_config_file(tmp_path, capsys, monkeypatch):
    bad = tmp_path / "bad.toml"
    bad.write_text("read-only = 1\n")
    monkeypatch.setattr(app_module, "probe_master", lambda addrs: pytest.fail("must not connect"))
    assert app_module.main(["--config", str(bad)]) == app_module.EXIT_USAGE
    assert capsys.readouterr().err == f"dmshell: config: {bad}: read-only must be a boolean\n"


# -- the / filter ------------------------------------------------------------------------------
def test_task_filter():
    tasks = build_snapshot(canned_status(), {"shop-merge": "all", "archive": "full"}).tasks
    names = lambda pattern: [t.name for t in tasks if task_filter(pattern)(t)]  # noqa: E731
    assert names("") == ["archive", "billing", "shop-merge"]
    assert names("SHOP") == ["shop-merge"]
    assert names("!shop") == ["archive", "billing"]
    assert names("^(a|b)") == ["archive", "billing"]
    assert names("full") == ["archive"]  # the mode is searched too
    assert names("[") == []  # not a regex: a plain substring


# -- sync truth and timeline -------------------------------------------------------------------
def _shop02(resp=None):
    snap = build_snapshot(resp or canned_status())
    return next(st for st in snap.task("shop-merge").subtasks if st.source == "mysql-02")


def test_state_line_says_why_a_syncer_is_not_moving():
    from dataclasses import replace

    from dmshell.tui.widgets.subtask_panel import stall_reason

    st = _shop02()
    assert st.behind_bytes == 9120 - 4410 and st.behind_txns is None  # no GTID on mysql-02
    read = replace(st, read_binlog="(mysql-bin.000007, 9120)")
    assert stall_reason(read, None) == "caught up"
    assert stall_reason(st, None) == "catching up, 4.6KiB of binlog waiting"
    queued = replace(read, queue_depths=(5, 7), queue_capacity=1024, rows_per_sec=0)
    assert stall_reason(queued, None) == "waiting on target (12 changes queued)"
    assert (
        stall_reason(replace(st, unresolved_lock="shop-`s`.`t`"), None) == "blocked by DDL lock shop-`s`.`t`"
    )
    paused = replace(st, stage="Paused", master_gtid="0-1-100", read_gtid="0-1-69")
    assert stall_reason(paused, 80) == "paused 1m20s, 31 transactions waiting"


def test_progress_is_not_syncing_for_a_paused_or_failed_task():
    resp = canned_status()
    snap = build_snapshot(resp)
    assert snap.task("billing").progress == "failed"
    resp.sources[1].subTaskStatus[2].ClearField("result")
    assert build_snapshot(resp).task("billing").progress == "paused"
    assert snap.task("shop-merge").progress == "syncing"


def test_timeline_records_stage_changes_errors_and_how_long_a_task_is_paused():
    from dmshell.tui.timeline import Timeline

    tl = Timeline()
    running = canned_status()
    running.sources[1].subTaskStatus[2].stage = pb.Running
    running.sources[1].subTaskStatus[2].ClearField("result")
    tl.observe(build_snapshot(running), 100.0)
    assert tl.since("billing", "mysql-02") is None  # already running when first seen
    tl.observe(build_snapshot(canned_status()), 130.0)  # paused on a duplicate key
    assert tl.since("billing", "mysql-02") == 130.0
    texts = [e.text for e in tl.events("billing")]
    assert texts[1] == "Running → Paused in Sync" and texts[2].startswith("[code=10006")
    # the daemon's history puts an earlier change before what this TUI saw
    late = Timeline()
    late.observe(build_snapshot(canned_status()), 130.0)
    late.replay([(90.0, build_snapshot(running)), (120.0, build_snapshot(canned_status()))])
    assert late.since("billing", "mysql-02") == 120.0
    assert [e.text for e in late.events("billing")][1] == "Running → Paused in Sync"


def test_notification_summary_gives_the_reason_not_please_check_output():
    usage = (
        "Usage:\n  dmctl get-config <task | master | worker | source> <name> [flags]\n\n"
        "Flags:\n  -h, --help\n"
        "fail to run: [get-config source]\nError: please check output to see error\n"
    )
    assert CommandResult("get-config source", 1, usage).summary == (
        "wrong arguments — usage: dmctl get-config <task | master | worker | source> <name> [flags]"
    )
    own = (
        "must give one source-name when task-name is specified\n"
        "fail to run: [x]\nError: please check output to see error\n"
    )
    assert CommandResult("x", 1, own).summary == "must give one source-name when task-name is specified"
    typo = (
        'fail to run: [query-stats]\nError: unknown command "query-stats" for "dmctl"\n\n'
        "Did you mean this?\n\tquery-status\n\n"
    )
    assert CommandResult("query-stats", 1, typo).summary.endswith("— did you mean query-status?")


def test_a_silent_workers_subtasks_stay_marked_stale_and_graph_as_gaps():
    from dmshell.tui.model import carry_over

    before = canned_status()
    now = canned_status()
    hung = now.sources[1]
    del hung.subTaskStatus[:]
    hung.result, hung.msg = False, "rpc error: code = DeadlineExceeded desc = context deadline exceeded"
    snap = build_snapshot(carry_over(before, now))
    shop = snap.task("shop-merge")
    stale = [st.stale for st in shop.subtasks]
    assert stale == ["", "worker worker-2 not answering: its last known status"]
    assert shop.lag == 3  # mysql-02's stale 25 s does not count
    assert [s.source for s in snap.silent_workers()] == ["mysql-02"]
    hist = History(window=10)
    hist.record(snap, 1.0)
    assert hist.subtask_lag("shop-merge", "mysql-02").columns(2) == [None, None]
