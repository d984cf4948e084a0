"""The TUI's view model and cell formatting (pure functions)."""

from __future__ import annotations

import pytest

from dmshell.proto import dmmaster_pb2 as m
from dmshell.tui.model import (
    ErrorView,
    SubtaskView,
    binlog_gap,
    build_snapshot,
    pipeline_units,
    task_status,
)
from dmshell.tui.widgets.format import Palette, human_seconds, lag_text, progress_bar

from .canned import canned_status


def _st(stage: str, unit: str = "Sync", errors: int = 0, source: str = "s1") -> SubtaskView:
    errs = tuple(ErrorView(1, "c", "s", "l", "m", "", "") for _ in range(errors))
    return SubtaskView(task="t", source=source, worker="w", stage=stage, unit=unit, errors=errs)


@pytest.mark.parametrize(
    "stages,expected",
    [
        ([("Running", 0), ("Running", 0)], "Running"),
        ([("Running", 0), ("Paused", 0)], "Paused"),
        ([("Paused", 0), ("Running", 0)], "Paused"),
        ([("Running", 0), ("Paused", 1)], "Error - Some error occurred in subtask"),
        ([("Paused", 1), ("Paused", 0)], "Error - Some error occurred in subtask"),
        ([("Finished", 0), ("Finished", 0)], "Finished"),
        ([("Finished", 0), ("Running", 0)], "Running"),
        ([("New", 0), ("New", 0)], "New"),
    ],
)
def test_task_status_follows_dmctl(stages, expected):
    subtasks = [_st(stage, errors=n, source=f"s{i}") for i, (stage, n) in enumerate(stages)]
    assert task_status(subtasks, {}) == expected


def test_task_status_relay_paused_under_running_sync_is_an_error():
    assert task_status([_st("Running", "Sync")], {"s1": "Paused"}) == "Error - Relay status is Paused"
    assert task_status([_st("Running", "Load")], {"s1": "Paused"}) == "Running"


def test_build_snapshot_groups_by_task_and_source():
    snap = build_snapshot(canned_status(), {"shop-merge": "all"})
    assert [t.name for t in snap.tasks] == ["archive", "billing", "shop-merge"]
    shop = snap.task("shop-merge")
    assert (shop.mode, shop.status, shop.unit) == ("all", "Running", "Sync")
    assert (shop.lag, shop.rows_per_sec) == (25, 154)
    assert shop.sources == ("mysql-01", "mysql-02")
    archive = snap.task("archive")
    assert (archive.unit, archive.progress, archive.lag) == ("Dump+", "37.5%", None)
    billing = snap.task("billing")
    assert billing.status == "Error - Some error occurred in subtask"
    assert (billing.error_count, billing.lag) == (1, None)
    assert [(s.source, s.worker, s.tasks, s.error_count) for s in snap.sources] == [
        ("mysql-01", "worker-1", ("shop-merge", "archive"), 0),
        ("mysql-02", "worker-2", ("shop-merge", "archive", "billing"), 1),
    ]
    assert snap.sources[0].master_binlog == "(mysql-bin.000003, 48211)"
    assert snap == build_snapshot(canned_status(), {"shop-merge": "all"})  # comparable: no spurious redraws


def test_failed_source_answer_is_shown_as_a_message():
    resp = m.QueryStatusListResponse(result=True)
    src = resp.sources.add(result=False, msg="can't find task=t from dm-worker for source=s1")
    src.sourceStatus.source, src.sourceStatus.worker = "s1", "source not bound"
    src.subTaskStatus.add(name="t")
    snap = build_snapshot(resp)
    (sub,) = snap.task("t").subtasks
    assert sub.msg.startswith("can't find task=t")
    assert snap.sources[0].error_count == 1


def test_pipeline_units_by_mode():
    assert pipeline_units("all", "Load") == [("Dump", "done"), ("Load", "current"), ("Sync", "todo")]
    assert pipeline_units("full", "Dump") == [("Dump", "current"), ("Load", "todo")]
    assert pipeline_units("incremental", "Sync") == [("Sync", "current")]


def test_lag_words_and_durations():
    pal = Palette()
    assert [str(lag_text(s, pal)) for s in (0, 9, 10, 19, 20, 3725)] == [
        "0s ok",
        "9s ok",
        "10s slow",
        "19s slow",
        "20s BEHIND",
        "1h02m BEHIND",
    ]
    assert str(lag_text(None, pal)) == "—"
    assert [human_seconds(s) for s in (59, 60, 3599, 86400 + 7200)] == ["59s", "1m00s", "59m59s", "1d02h"]
    assert progress_bar(0.5, width=10) == "█████░░░░░  50.0%"


def test_relay_distance_behind_the_upstream_and_ahead_of_each_subtask():
    snap = build_snapshot(canned_status())
    relay_source = next(s for s in snap.sources if s.relay)
    assert relay_source.relay_behind == "0 B"  # relayBinlog == masterBinlog
    assert next(s for s in snap.sources if not s.relay).relay_behind == ""
    view = SubtaskView(
        task="t", source="s", worker="w", stage="Running", unit="Sync",
        syncer_binlog="(mysql-bin.000007, 1000)", relay_binlog="(mysql-bin.000007, 9120)",
    )  # fmt: skip
    assert view.relay_ahead == "8 KB"
    assert binlog_gap("(mysql-bin.000005, 4)", "(mysql-bin.000007, 9120)") == "2 files"
    assert binlog_gap("(mysql-bin.000007, 4)", "(mysql-bin.000007, 5)") == "1 B"
    assert binlog_gap("", "(mysql-bin.000007, 5)") == ""
