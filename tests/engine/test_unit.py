"""UnitContext: the once-per-run start time of ``start-task --start-time``."""

from __future__ import annotations

from pathlib import Path

from dmshell.engine.config.database import DBConfig
from dmshell.engine.config.source import SourceConfig
from dmshell.engine.unit import UnitContext


def make_ctx(work_dir: Path) -> UnitContext:
    return UnitContext(
        cfg=None,
        source=SourceConfig(source_id="s1", from_db=DBConfig()),  # type: ignore[arg-type]
        work_dir=work_dir,
        worker_name="worker1",
    )


def test_start_time_is_used_until_applied_then_never_again_for_that_run(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    ctx.use_start_time("2021-10-21 00:01:00", "run-1")
    assert ctx.start_time == "2021-10-21 00:01:00"

    ctx.start_time_applied()
    assert ctx.start_time == ""

    restarted = make_ctx(tmp_path)  # a worker restart builds a new context for the same run
    restarted.use_start_time("2021-10-21 00:01:00", "run-1")
    assert restarted.start_time == ""

    next_run = make_ctx(tmp_path)  # a new start-task (new startId) honours its start time again
    next_run.use_start_time("2021-10-22 00:00:00", "run-2")
    assert next_run.start_time == "2021-10-22 00:00:00"
