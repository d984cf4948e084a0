"""Child process of ``bench.sync``: runs one :class:`dmshell.engine.sync.syncer.SyncUnit` (an
``incremental`` task) in its own process, so its RSS and CPU are measured alone.

Reads a JSON job on stdin; prints JSON lines on stdout:
``{"event": "started"}``, ``{"event": "mark", "index": i, "t": seconds, "rows": n}`` when every
change up to mark ``i`` (a binlog position) is committed on the target, ``{"event": "done", ...}``.

With ``"relay": true`` the source's relay first pulls the binlog into local files
(``{"event": "relay", "t": seconds}``) and the unit reads them (``binlogType: local``).

"Committed up to a mark" is measured like the replica's ``Exec_Master_Log_Pos``: when the reader
passes the mark, the number of changes dispatched so far is noted; the mark is reached once every
one of them is committed (nothing older is in flight).
"""

from __future__ import annotations

import gc
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

from dmshell.engine.binlog.location import Location
from dmshell.engine.config.database import DBConfig
from dmshell.engine.config.source import SourceConfig
from dmshell.engine.config.subtask import SubTaskConfig
from dmshell.engine.config.task import Meta
from dmshell.engine.config.units import LoaderConfig, MydumperConfig, SyncerConfig
from dmshell.engine.filters.rule_types import BAList
from dmshell.engine.relay.relay import Relay
from dmshell.engine.sync import syncer as sync
from dmshell.engine.sync.location import LocationRecorder
from dmshell.engine.unit import UnitContext
from dmshell.proto import dmworker_pb2 as pb


def emit(**fields) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


#: seconds in the garbage collector, and collections per generation
gc_time = [0.0, 0, 0, 0]
_gc_start = [0.0]


def _on_gc(phase: str, info: dict) -> None:
    if phase == "start":
        _gc_start[0] = time.perf_counter()
    else:
        gc_time[0] += time.perf_counter() - _gc_start[0]
        gc_time[1 + info["generation"]] += 1


def main() -> int:
    job = json.load(sys.stdin)
    gc.callbacks.append(_on_gc)
    marks = [Location(f, p) for f, p in job["marks"]]
    start = job["start"]
    cfg = SubTaskConfig(
        name="bench",
        task_mode="incremental",
        source_id="bench-source",
        meta_schema="dm_meta",
        target=DBConfig(**job["target"]),
        meta=Meta(binlog_name=start[0], binlog_pos=start[1]),
        block_allow_list=BAList(do_dbs=[job["schema"]]),
        routes=[],
        mydumper=MydumperConfig(),
        loader=LoaderConfig(),
        syncer=SyncerConfig(**job["syncer"]),
    )
    source = SourceConfig(source_id="bench-source", from_db=DBConfig(**job["upstream"]))
    with tempfile.TemporaryDirectory(prefix="dmshell-bench-sync-") as work_dir:
        ctx = UnitContext(cfg=cfg, source=source, work_dir=Path(work_dir), worker_name="bench")
        if not job.get("relay"):
            return replay(ctx, marks)
        # relay mode: the source's relay pulls the whole range first (timed: the relay's own
        # throughput), then stays running while the unit replays from the relay files
        relay = Relay(source, Path(work_dir) / "relay", lambda: Location(start[0], 4))
        t0 = time.monotonic()
        relay.start()
        end = marks[-1]
        while relay.active is None or Location(relay.active[1], relay.published) < end:
            if relay.stage != pb.Running:
                emit(event="error", message=f"relay stopped: {relay.status()}")
                return 1
            time.sleep(0.01)
        emit(event="relay", t=time.monotonic() - t0)
        ctx.relay = relay
        try:
            return replay(ctx, marks)
        finally:
            relay.stop()


def replay(ctx: UnitContext, marks: list[Location]) -> int:
    """Run the sync unit until every mark is applied (see the module docstring)."""
    # note, for every mark, how many changes were dispatched when the reader passed it
    passed: dict[int, int] = {}
    unit = sync.SyncUnit(ctx)
    stats = unit._stats  # the run's applier is published there
    original_commit = LocationRecorder.commit

    def commit(self: LocationRecorder, end_pos: int, txn: bool = True) -> Location:
        point = original_commit(self, end_pos, txn)
        i = len(passed)
        if i < len(marks):
            mark = marks[i]  # binlog file names of one server sort like their indexes
            if self.file > mark.file or (self.file == mark.file and end_pos >= mark.pos):
                applier = stats.applier
                passed[i] = applier.dispatched if applier is not None else 0
        return point

    LocationRecorder.commit = commit  # type: ignore[method-assign]
    stop = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            unit.process(stop)
        except BaseException as exc:
            failure.append(exc)

    emit(event="started", cpu=time.process_time())
    t0 = time.monotonic()
    thread = threading.Thread(target=run, name="sync-unit")
    thread.start()
    reached = 0
    while reached < len(marks):
        if failure:
            emit(event="error", message=str(failure[0]))
            return 1
        applier = stats.applier
        if reached in passed and applier is not None and applier.committed_through() >= passed[reached]:
            emit(
                event="mark",
                index=reached,
                t=time.monotonic() - t0,
                rows=passed[reached],
                cpu=time.process_time(),
            )
            reached += 1
            continue
        time.sleep(0.005)
    total = time.monotonic() - t0
    stop.set()
    thread.join(60)
    st = unit.status()
    emit(event="done", t=total, rows=st.totalRows, error=str(failure[0]) if failure else "", gc=gc_time)
    unit.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
