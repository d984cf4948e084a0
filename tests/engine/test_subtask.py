"""The subtask pipeline: unit order and resumption, stages, pause/resume/stop, errors, auto-resume.

The units here are test doubles of the pipeline's own interface (no database is involved: the
real units are tested on their own and end to end with the daemon).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pymysql
import pytest

from dmshell.engine import errors, subtask
from dmshell.engine.config.load import load_source_config, load_task_config
from dmshell.engine.subtask import AutoResume, SubTask, process_error
from dmshell.engine.unit import Unit, UnitContext
from dmshell.proto import dmworker_pb2 as pb

TASK = """\
name: t1
task-mode: {mode}
target-database:
  host: 127.0.0.1
  port: 3306
  user: root
  password: secret
mysql-instances:
  - source-id: s1
"""
SOURCE = "source-id: s1\nfrom:\n  host: 127.0.0.1\n  port: 3306\n  user: root\n  password: secret\n"


def make_ctx(tmp_path: Path, mode: str = "all") -> UnitContext:
    source = load_source_config(SOURCE)
    cfg = load_task_config(TASK.format(mode=mode)).subtask("s1", source)
    return UnitContext(cfg=cfg, source=source, work_dir=tmp_path / "t1.s1", worker_name="worker1")


class Step(Unit):
    """A unit whose behaviour is scripted: finish, block until stopped, or raise (once per entry)."""

    def __init__(
        self,
        ctx: UnitContext,
        unit_type: int,
        *,
        done: bool = False,
        script: list | None = None,
        journal: list | None = None,
    ) -> None:
        super().__init__(ctx)
        self.unit_type = unit_type
        self.done = done
        self.script = list(script or ["finish"])
        self.journal = journal if journal is not None else []
        self.entered = threading.Event()
        self.closed = 0
        self.runs = 0

    def completed(self) -> bool:
        return self.done

    def process(self, stop: threading.Event) -> None:
        self.runs += 1
        self.journal.append(pb.UnitType.Name(self.unit_type))
        action = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        self.entered.set()
        if isinstance(action, BaseException):
            raise action
        if action == "block":
            stop.wait()
            return
        self.done = True

    def status(self):
        if self.unit_type == pb.Sync:
            return pb.SyncStatus(totalEvents=self.runs, binlogType="remote")
        if self.unit_type == pb.Load:
            return pb.LoadStatus(progress="100.00 %")
        return pb.DumpStatus(totalTables=1)

    def close(self) -> None:
        self.closed += 1


def factory(*units: Step):
    return lambda ctx: list(units)


def wait_stage(st: SubTask, stage: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if st.stage == stage:
            return
        time.sleep(0.01)
    raise AssertionError(f"stage {pb.Stage.Name(st.stage)}, expected {pb.Stage.Name(stage)}")


def test_units_run_in_order_then_full_mode_is_finished(tmp_path):
    ctx = make_ctx(tmp_path, "full")
    journal: list[str] = []
    dump, load = Step(ctx, pb.Dump, journal=journal), Step(ctx, pb.Load, journal=journal)
    st = SubTask(ctx, factory(dump, load))
    assert st.stage == pb.New and st.status().unit == pb.InvalidUnit
    st.run()
    wait_stage(st, pb.Finished)
    assert journal == ["Dump", "Load"]
    status = st.status()
    assert status.name == "t1" and status.unit == pb.Load
    assert status.WhichOneof("status") == "load" and status.load.progress == "100.00 %"
    assert status.HasField("result") and not status.result.isCanceled and not status.result.errors
    assert (dump.closed, load.closed) == (1, 1)
    assert ctx.work_dir.is_dir()


@pytest.mark.parametrize(
    ("completed", "first"),
    [((True, False, False), "Load"), ((False, True, False), "Sync"), ((False, False, False), "Dump")],
)
def test_a_run_starts_after_the_last_completed_unit(tmp_path, completed, first):
    ctx = make_ctx(tmp_path)
    journal: list[str] = []
    units = [
        Step(ctx, t, done=d, script=["block"] if t == pb.Sync else ["finish"], journal=journal)
        for t, d in zip((pb.Dump, pb.Load, pb.Sync), completed, strict=True)
    ]
    st = SubTask(ctx, factory(*units))
    st.run()
    assert units[2].entered.wait(10)
    assert journal[0] == first and journal[-1] == "Sync"
    assert st.stage == pb.Running and st.status().unit == pb.Sync
    st.stop()


def test_pause_resume_stop(tmp_path):
    ctx = make_ctx(tmp_path, "incremental")
    sync = Step(ctx, pb.Sync, script=["block"])
    st = SubTask(ctx, factory(sync))
    st.run()
    assert sync.entered.wait(10)
    assert st.stage == pb.Running and not st.status().HasField("result")
    assert st.pause() is True
    status = st.status()
    assert status.stage == pb.Paused and status.result.isCanceled and not status.result.errors
    assert status.WhichOneof("status") == "sync" and status.sync.totalEvents == 1
    sync.entered.clear()
    assert st.resume() is True
    assert sync.entered.wait(10)
    assert st.stage == pb.Running and sync.runs == 2 and not st.status().HasField("result")
    st.stop()
    assert st.stage == pb.Stopped and sync.closed == 1
    assert st.resume() is False and st.stage == pb.Stopped


def test_run_with_an_expected_stage_other_than_running(tmp_path):
    ctx = make_ctx(tmp_path, "incremental")
    sync = Step(ctx, pb.Sync, script=["block"])
    st = SubTask(ctx, factory(sync))
    st.run(pb.Paused)
    assert st.stage == pb.Paused and sync.runs == 0
    assert st.resume()
    assert sync.entered.wait(10)
    st.stop()
    stopped = SubTask(ctx, factory(Step(ctx, pb.Sync)))
    stopped.run(pb.Stopped)
    assert stopped.stage == pb.Stopped and stopped.resume() is False


def test_an_error_pauses_the_subtask_with_dm_process_error(tmp_path):
    ctx = make_ctx(tmp_path, "incremental")
    cause = pymysql.err.ProgrammingError(1146, "Table 'db.t' doesn't exist")
    sync = Step(
        ctx, pb.Sync, script=[errors.ErrDBExecuteFailed("INSERT INTO t VALUES (1)", cause=cause), "block"]
    )
    st = SubTask(ctx, factory(sync))
    st.run()
    wait_stage(st, pb.Paused)
    result = st.status().result
    assert not result.isCanceled and len(result.errors) == 1
    e = result.errors[0]
    assert (e.ErrCode, e.ErrClass, e.ErrScope, e.ErrLevel) == (10006, "database", "not-set", "high")
    assert e.Message == "execute statement failed: INSERT INTO t VALUES (1)"
    assert e.RawCause == "Error 1146: Table 'db.t' doesn't exist"
    # not resumable: the task checker leaves it alone
    assert st.check_auto_resume(time.monotonic() + 3600) is False
    # resume-task clears the error and runs again
    assert st.resume() and sync.entered.wait(10)
    wait_stage(st, pb.Running)
    assert not st.status().HasField("result")
    st.stop()


def test_any_other_exception_becomes_err_not_set(tmp_path):
    ctx = make_ctx(tmp_path, "incremental")
    st = SubTask(ctx, factory(Step(ctx, pb.Sync, script=[KeyError("col")])))
    st.run()
    wait_stage(st, pb.Paused)
    e = st.status().result.errors[0]
    assert (e.ErrCode, e.ErrClass, e.ErrScope) == (50000, "not-set", "not-set")
    assert e.Message == "KeyError: 'col'"
    st.stop()


def test_resumable_errors_auto_resume_with_backoff(tmp_path):
    ctx = make_ctx(tmp_path, "incremental")
    gone = pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query")
    sync = Step(
        ctx, pb.Sync, script=[errors.ErrDBBadConn(cause=gone), errors.ErrDBBadConn(cause=gone), "block"]
    )
    st = SubTask(ctx, factory(sync), auto_resume=AutoResume(backoff_min=1.0, backoff_max=3.0, factor=2.0))
    st.run()
    wait_stage(st, pb.Paused)
    t0 = time.monotonic()
    assert st.check_auto_resume(t0) is False  # backoff (1 s) not elapsed since the pause
    assert st.check_auto_resume(t0 + 1.5) is True  # "dispatch auto resume task"
    wait_stage(st, pb.Paused)  # second failure
    t1 = time.monotonic()
    assert st.check_auto_resume(t1 + 1.5) is False  # backoff doubled to 2 s
    assert st.check_auto_resume(t1 + 2.5) is True
    sync.entered.clear()
    assert sync.entered.wait(10)
    wait_stage(st, pb.Running)
    assert sync.runs == 3
    st.stop()


def test_a_manual_pause_of_an_errored_subtask_stops_auto_resume(tmp_path):
    ctx = make_ctx(tmp_path, "incremental")
    st = SubTask(ctx, factory(Step(ctx, pb.Sync, script=[errors.ErrDBBadConn(cause="gone")])))
    st.run()
    wait_stage(st, pb.Paused)
    assert st.pause() is True
    result = st.status().result
    assert result.isCanceled and result.errors[0].ErrCode == 10002
    assert st.check_auto_resume(time.monotonic() + 3600) is False
    st.stop()


def test_a_unit_that_cannot_be_imported_pauses_with_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(subtask.MODE_UNITS, "incremental", [("dmshell.engine.no_such_unit", "SyncUnit")])
    ctx = make_ctx(tmp_path, "incremental")
    st = SubTask(ctx)  # the default factory imports the units lazily
    st.run()
    wait_stage(st, pb.Paused)
    e = st.status().result.errors[0]
    assert (e.ErrCode, e.ErrClass) == (40060, "dm-worker")
    assert e.Message == "subtask t1 has no dm units for mode incremental"
    assert "No module named 'dmshell.engine.no_such_unit'" in e.RawCause
    st.stop()
    assert st.stage == pb.Stopped


def test_mode_units_follow_dm():
    assert [c for _, c in subtask.MODE_UNITS["all"]] == ["FullCopyUnit", "SyncUnit"]
    assert [c for _, c in subtask.MODE_UNITS["full"]] == ["FullCopyUnit"]
    assert [c for _, c in subtask.MODE_UNITS["incremental"]] == ["SyncUnit"]


def test_process_error_keeps_a_dm_error_cause_verbatim():
    inner = errors.ErrDBBadConn(cause="dial tcp: refused")
    e = process_error(errors.ErrDBDriverError(cause=inner))
    assert e.ErrCode == 10001 and e.RawCause == str(inner)
    assert e.Workaround.startswith("Please check the database connection")


def test_a_subtask_started_paused_shows_its_current_unit(tmp_path):
    ctx = make_ctx(tmp_path)
    units = [Step(ctx, pb.Dump, done=True), Step(ctx, pb.Load), Step(ctx, pb.Sync, script=["block"])]
    st = SubTask(ctx, factory(*units))
    st.run(pb.Paused)
    wait_for_unit = time.monotonic() + 10
    while st.status().unit != pb.Load and time.monotonic() < wait_for_unit:
        time.sleep(0.01)
    status = st.status()
    assert (status.stage, status.unit, status.WhichOneof("status")) == (pb.Paused, pb.Load, "load")
    assert not status.HasField("result") and all(u.runs == 0 for u in units)
    st.stop()
    assert all(u.closed == 1 for u in units)


def checker_ctx(tmp_path: Path, checker: str) -> UnitContext:
    source = load_source_config(SOURCE + "checker:\n" + checker)
    cfg = load_task_config(TASK.format(mode="incremental")).subtask("s1", source)
    return UnitContext(cfg=cfg, source=source, work_dir=tmp_path / "t1.s1", worker_name="worker1")


def test_the_sources_checker_settings_drive_auto_resume(tmp_path):
    gone = errors.ErrDBBadConn(cause="gone")
    ctx = checker_ctx(tmp_path, "  check-enable: false\n")
    st = SubTask(ctx, factory(Step(ctx, pb.Sync, script=[gone, "block"])))
    st.run()
    wait_stage(st, pb.Paused)
    assert st.check_auto_resume(time.monotonic() + 3600) is False  # check-enable: false
    st.stop()
    ctx = checker_ctx(tmp_path, "  backoff-max: 2s\n  backoff-rollback: 1m\n")
    sync = Step(ctx, pb.Sync, script=[gone, gone, gone, "block"])
    st = SubTask(ctx, factory(sync), auto_resume=AutoResume(backoff_min=1.0, factor=4.0))
    assert (st.auto_resume.backoff_max, st.auto_resume.rollback) == (2.0, 60.0)
    st.run()
    for _ in range(2):  # backoff 1 s, then 4 s capped at backoff-max 2 s
        wait_stage(st, pb.Paused)
        t = time.monotonic()
        assert st.check_auto_resume(t + 2.5) is True
        sync.entered.clear()
        assert sync.entered.wait(10)
    wait_stage(st, pb.Paused)
    assert st.auto_resume.backoff_max == 2.0 and st.check_auto_resume(time.monotonic() + 2.5) is True
    st.stop()


@pytest.mark.parametrize(
    "cause",
    [
        "ERROR 1236 (HY000): Could not find first log file name in binary log index file",
        '(1236, "Error: connecting slave requested to start from GTID 0-1-9, which is not in the '
        "master's binlog\")",
    ],
)
def test_a_purged_upstream_binlog_is_not_resumed_and_says_what_to_do(tmp_path, cause):
    ctx = make_ctx(tmp_path, "incremental")
    err = errors.ErrSyncerGetEvent(cause, cause=cause)
    assert err.resumable  # an upstream read error is resumable, unless the binlog is gone
    st = SubTask(ctx, factory(Step(ctx, pb.Sync, script=[err])))
    st.run()
    wait_stage(st, pb.Paused)
    e = st.status().result.errors[0]
    assert e.ErrCode == 36069 and e.Workaround == errors.BINLOG_PURGED_WORKAROUND
    assert "start-task --remove-meta" in e.Workaround
    assert st.check_auto_resume(time.monotonic() + 3600) is False
    st.stop()
