"""The sync unit's parts and their rules, without a server: location bookkeeping, safe mode's exit
rule, checkpoint flushing, start-location resolution, DDL handling (routing, filters, safe mode,
coordination, annotations) and the two guards (online DDL, shard mode).

Only what talks to a server is replaced: the DDL connection (a recorder that can fail like
MariaDB), the checkpoint table (a list of flushes) and the upstream (:class:`FakeUpstream`)."""

from __future__ import annotations

from pathlib import Path

import pymysql
import pytest

from dmshell.engine import errors
from dmshell.engine.binlog.location import Location
from dmshell.engine.config.database import DBConfig
from dmshell.engine.config.source import SourceConfig
from dmshell.engine.config.subtask import SubTaskConfig
from dmshell.engine.config.task import Meta
from dmshell.engine.config.units import LoaderConfig, MydumperConfig, SyncerConfig
from dmshell.engine.filters.expression import ExpressionFilters
from dmshell.engine.filters.rule_types import BAList, EventFilterRule, RouteRule
from dmshell.engine.filters.rules import BAListFilter, EventFilter, TableRouter
from dmshell.engine.schema.tracker import SchemaTracker, table_from_create
from dmshell.engine.shard import coordinator_for
from dmshell.engine.shard.optimist import OptimisticCoordinator
from dmshell.engine.shard.pessimist import PessimisticCoordinator
from dmshell.engine.sync.coordinator import DDLJob, DirectCoordinator, Verdict
from dmshell.engine.sync.ddl import DDLHandler, needs_split
from dmshell.engine.sync.dml import DELETE, INSERT, UPDATE
from dmshell.engine.sync.flusher import Flusher
from dmshell.engine.sync.location import LocationRecorder
from dmshell.engine.sync.safe_mode import SafeMode
from dmshell.engine.sync.start import StartResolver
from dmshell.engine.sync.status import SyncStats
from dmshell.engine.sync.table_plan import HOLD, RowFilters
from dmshell.engine.sync.table_source import TableSource
from dmshell.engine.unit import UnitContext

F = "mysql-bin.000001"


def no_query(sql: str, args: list) -> None:
    raise AssertionError("no expression is evaluated on the target here")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- location recorder -------------------------------------------------------------------------------
def recorder(gtid: str = "0-1-4", skip: str | None = None) -> LocationRecorder:
    from dmshell.engine.binlog.gtid import parse_gtid_set

    skip_set = parse_gtid_set(skip, "mariadb") if skip is not None else None
    return LocationRecorder(Location(F, 100, gtid), "mariadb", SyncStats(), skip_set)


def test_transaction_moves_the_global_point_and_the_gtid_set():
    loc = recorder()
    assert loc.stats.position == Location(F, 100, "0-1-4") and loc.flushed_point is None and loc.moved()
    loc.begin("0-1-5")
    assert loc.in_txn and not loc.skip_txn and loc.pending_gtid == "0-1-5"
    assert loc.start_location(150) == Location(F, 150, "0-1-4"), "the set before the transaction"
    assert loc.end_location(180) == Location(F, 180, "0-1-5"), "the set including it"
    loc.pos = 200
    point = loc.commit(200)
    assert point == loc.global_point == loc.stats.position == Location(F, 200, "0-1-5")
    assert not loc.in_txn and loc.pending_gtid == "" and loc.gtid_text == "0-1-5"
    loc.flushed_point = point
    assert not loc.moved()
    assert loc.commit(200, txn=False) is point, "the same point is not rebuilt"


def test_statement_outside_a_transaction_keeps_the_gtid_set():
    loc = recorder()
    loc.commit(300, txn=False)
    assert loc.global_point == Location(F, 300, "0-1-4")


def test_transactions_the_skip_set_holds_are_skipped():
    loc = recorder(skip="0-1-7")
    loc.begin("0-1-6")
    assert loc.skip_txn
    loc.commit(200)
    assert not loc.skip_txn and loc.gtid_text == "0-1-6"
    loc.begin("0-1-8")
    assert not loc.skip_txn
    assert not recorder().skip_txn


def test_rotate_is_a_global_point_only_outside_a_transaction():
    loc = recorder()
    loc.rotate("mysql-bin.000002", 4)
    assert loc.global_point == Location("mysql-bin.000002", 4, "0-1-4")
    loc.begin("0-1-5")
    loc.rotate("mysql-bin.000003", 4)
    assert (loc.file, loc.pos) == ("mysql-bin.000003", 4)
    assert loc.global_point == Location("mysql-bin.000002", 4, "0-1-4")


def test_annotation_is_dms():
    loc = recorder()
    loc.begin("0-1-5")
    err = loc.annotate(errors.ErrSyncerUnitParseDDL("boom"), loc.start_location(150), 190, "ALTER x")
    assert err.message == (
        f"startLocation: [position: ({F}, 150), gtid-set: 0-1-4], "
        f"endLocation: [position: ({F}, 190), gtid-set: 0-1-5], origin SQL: [ALTER x]: parse DDL: boom"
    )
    origin = loc.origin(150, 190)
    assert str(origin) == (
        f"startLocation: [position: ({F}, 150), gtid-set: 0-1-4], "
        f"endLocation: [position: ({F}, 190), gtid-set: 0-1-5]"
    )


def test_table_points_default_to_the_global_point():
    loc = recorder()
    loc.table_points[("db", "a")] = Location(F, 50)
    assert loc.table_point(("db", "a")) == Location(F, 50)
    assert loc.table_point(("db", "b")) == loc.global_point


# -- safe mode -----------------------------------------------------------------------------------------
def test_auto_safe_mode_needs_the_master_position_and_the_duration():
    clock = Clock()
    safe = SafeMode(False, 60, clock)
    assert not safe.on
    safe.start(None, master=Location(F, 500), start=Location(F, 100), needed=True)
    assert safe.on and safe.persisted_exit == Location(F, 500)
    assert not safe.maybe_leave(Location(F, 600)), "past the master position, duration not over"
    clock.now += 60
    assert not safe.maybe_leave(Location(F, 499)), "duration over, not past the master position"
    assert safe.on
    assert safe.maybe_leave(Location(F, 500))
    assert not safe.on and safe.persisted_exit is None and safe.exit_point is None
    assert not safe.maybe_leave(Location(F, 900))


def test_a_further_saved_exit_point_is_kept():
    safe = SafeMode(False, 1, Clock())
    safe.start(Location("mysql-bin.000002", 40), master=Location(F, 500), start=Location(F, 100))
    assert safe.exit_point == Location("mysql-bin.000002", 40)
    safe = SafeMode(False, 1, Clock())
    safe.start(Location(F, 300), master=Location(F, 500), start=Location(F, 100))
    assert safe.exit_point == Location(F, 500)
    safe = SafeMode(False, 1, Clock())
    safe.start(None, master=Location(F, 500), start=Location(F, 100))
    assert not safe.on, "no automatic safe mode after a restart (issue 12): only a saved exit point"


def test_without_duration_a_pending_exit_point_fails_the_start():
    safe = SafeMode(False, 0, Clock())
    with pytest.raises(errors.DMError) as info:
        safe.start(Location(F, 300), master=Location(F, 500), start=Location(F, 100))
    assert info.value.code == 36071
    safe.start(Location(F, 100), master=Location(F, 500), start=Location(F, 100))
    assert not safe.on and safe.persisted_exit is None


def test_user_safe_mode_stays_on():
    clock = Clock()
    safe = SafeMode(True, 1, clock)
    assert safe.on
    safe.start(None, master=Location(F, 500), start=Location(F, 100), needed=True)
    clock.now += 5
    assert safe.maybe_leave(Location(F, 500)) and safe.on, "the automatic part ends, the user's stays"
    assert safe.persisted_exit is None


# -- checkpoint flushing -------------------------------------------------------------------------------
class Checkpoint:
    def __init__(self, log: list) -> None:
        self.log = log

    def flush(self, location, exit_safe=None, tables=(), removed=()) -> None:
        self.log.append(
            ("flush", location, exit_safe, sorted(tables, key=lambda t: t.table), sorted(removed))
        )


def flusher_parts(interval: float = 30, duration: float = 0):
    clock, log = Clock(), list[tuple]()
    loc = recorder()
    safe = SafeMode(False, duration, clock)
    tracker = SchemaTracker()
    flusher = Flusher(Checkpoint(log), loc, safe, tracker, loc.stats, interval, clock)
    flusher.drain = lambda: log.append(("drain",))
    return flusher, loc, safe, tracker, clock, log


def test_flush_drains_first_and_writes_point_exit_and_tables():
    flusher, loc, safe, tracker, clock, log = flusher_parts(duration=10)
    safe.start(None, master=Location(F, 900), start=loc.global_point, needed=True)
    tracker.put(table_from_create("CREATE TABLE a (id INT PRIMARY KEY)", "db"))  # loaded lazily
    tracker.take_changes()
    tracker.put(table_from_create("CREATE TABLE b (id INT PRIMARY KEY)", "db"))
    loc.table_points[("db", "a")] = Location(F, 40)
    flusher.tables_changed([("db", "a")], [("db", "gone"), ("db", "b")])
    loc.commit(200, txn=False)
    flusher.flush()
    assert log[0] == ("drain",)
    _, point, exit_safe, tables, removed = log[1]
    assert point == Location(F, 200, "0-1-4") and exit_safe == Location(F, 900)
    assert [(t.table, t.location) for t in tables] == [("a", Location(F, 40)), ("b", point)]
    assert removed == [("db", "gone")], "a table the tracker holds again is not deleted"
    assert loc.flushed_point == point and loc.stats.flushed == point and flusher.due == clock.now + 30
    flusher.flush(drain=False)
    assert log[2][0] == "flush" and log[2][3] == [] and log[2][4] == [], "changes are written once"


def test_interval_flush_only_when_something_changed():
    flusher, loc, _safe, _tracker, clock, log = flusher_parts(interval=5)
    flusher.flush(drain=False)
    log.clear()
    clock.now += 5
    flusher.on_due()
    assert log == [] and flusher.due == clock.now + 5
    loc.commit(300, txn=False)
    clock.now += 5
    flusher.on_due()
    assert [e[0] for e in log] == ["drain", "flush"]


def test_heartbeat_flushes_a_moved_point_at_once_and_ddl_makes_a_flush_due():
    flusher, loc, _safe, _tracker, clock, log = flusher_parts(interval=30)
    flusher.flush(drain=False)
    log.clear()
    flusher.on_heartbeat()
    assert log == []
    loc.commit(300, txn=False)
    flusher.on_heartbeat()
    assert [e[0] for e in log] == ["drain", "flush"] and log[1][1].pos == 300
    flusher.after_ddl()
    assert flusher.due <= clock.now


def test_flush_ends_the_automatic_safe_mode_and_persists_that():
    flusher, loc, safe, _tracker, clock, log = flusher_parts(duration=1)
    safe.start(None, master=Location(F, 150), start=loc.global_point, needed=True)
    loc.commit(200, txn=False)
    clock.now += 2
    flusher.flush()
    assert not safe.on and log[-1][2] is None and flusher.flushed_exit is None


# -- start location --------------------------------------------------------------------------------------
class FakeUpstream:
    def __init__(self, files=None, gtid_at=None, resolve=None, master=None, by_time=None) -> None:
        self._files = files or {F: 10_000}
        self._gtid_at = gtid_at or {}
        self._resolve = resolve or {}
        self._master = master or Location(F, 999)
        self._by_time = by_time
        self.asked: list[str] = []

    def master(self) -> Location:
        self.asked.append("master")
        return self._master

    def gtid_at(self, file: str, pos: int) -> str:
        self.asked.append(f"gtid_at {pos}")
        if (file, pos) not in self._gtid_at:
            raise errors.ErrDBExecuteFailed("BINLOG_GTID_POS")
        return self._gtid_at[(file, pos)]

    def files(self) -> dict[str, int]:
        return self._files

    def resolve_gtid(self, gtid: str) -> Location:
        self.asked.append(f"resolve {gtid}")
        return self._resolve[gtid]

    def location_of_time(self, text: str) -> Location:
        self.asked.append(f"time {text}")
        assert self._by_time is not None
        return self._by_time


def resolver(up, *, gtid=False, mode="incremental", meta=None, loaded=None, flavor="mariadb"):
    return StartResolver(
        up, flavor, enable_gtid=gtid, task_mode=mode, meta=meta, load_finished=lambda: loaded
    )


def test_start_time_wins_over_the_checkpoint():
    up = FakeUpstream(by_time=Location(F, 700, "0-1-9"))
    point = resolver(up).resolve(Location(F, 100, "0-1-4"), "2024-01-01 00:00:00")
    assert point.location == Location(F, 700, "0-1-9") and point.by_time and point.skip_set is None


def test_checkpoint_without_gtid_mode_is_taken_as_is():
    up = FakeUpstream()
    point = resolver(up).resolve(Location("gone.000001", 100, "0-1-4"))
    assert point.location == Location("gone.000001", 100, "0-1-4") and not point.by_time
    assert up.asked == [] and point.skip_set is None


def test_gtid_mode_checkpoint_is_checked_against_the_upstream():
    held = FakeUpstream(gtid_at={(F, 100): "0-1-4"})
    point = resolver(held, gtid=True).resolve(Location(F, 100, "0-1-4"))
    assert point.location == Location(F, 100, "0-1-4") and str(point.skip_set) == "0-1-4"
    moved = FakeUpstream(gtid_at={(F, 100): "0-1-3"}, resolve={"0-1-4": Location(F, 4000, "0-1-4")})
    point = resolver(moved, gtid=True).resolve(Location(F, 100, "0-1-4"))
    assert point.location == Location(F, 4000, "0-1-4") and str(point.skip_set) == "0-1-4"
    purged = FakeUpstream(
        files={"mysql-bin.000009": 4}, resolve={"0-1-4": Location("mysql-bin.000009", 4, "0-1-4")}
    )
    point = resolver(purged, gtid=True).resolve(Location(F, 100, "0-1-4"))
    assert point.location.file == "mysql-bin.000009" and purged.asked == ["resolve 0-1-4"]


def test_fresh_task_all_starts_where_the_load_finished():
    up = FakeUpstream()
    point = resolver(up, mode="all", loaded=Location(F, 321, "0-1-2"), meta=Meta(binlog_name=F)).resolve(None)
    assert point.location == Location(F, 321, "0-1-2") and up.asked == []
    point = resolver(up, mode="all", loaded=None, meta=None).resolve(None)
    assert point.location.pos == 999 and up.asked[0] == "master"


def test_fresh_task_meta_gtid_name_or_master():
    up = FakeUpstream(resolve={"0-1-5": Location(F, 2000, "0-1-5")})
    point = resolver(up, meta=Meta(binlog_gtid="0-1-5")).resolve(None)
    assert point.location == Location(F, 2000, "0-1-5") and str(point.skip_set) == "0-1-5"
    point = resolver(up, meta=Meta(binlog_name=F, binlog_pos=0, binlog_gtid="0-1-5")).resolve(None)
    assert point.location == Location(F, 4, "0-1-5"), "binlog-name wins without enable-gtid"
    point = resolver(up, gtid=True, meta=Meta(binlog_name=F, binlog_pos=0, binlog_gtid="0-1-5")).resolve(None)
    assert point.location == Location(F, 2000, "0-1-5"), "enable-gtid: the GTID set wins"
    up = FakeUpstream(master=Location(F, 77), gtid_at={(F, 77): "0-1-1"})
    point = resolver(up).resolve(None)
    assert point.location == Location(F, 77, "0-1-1"), "MariaDB: the position's GTID set is filled in"


def test_a_failing_gtid_fill_starts_with_an_empty_set():
    up = FakeUpstream(master=Location(F, 77))
    point = resolver(up, gtid=True).resolve(None)
    assert point.location == Location(F, 77, "") and point.skip_set is None
    assert resolver(up, flavor="mysql").resolve(None).location == Location(F, 77), "MySQL: nothing to fill"


# -- DDL handling -----------------------------------------------------------------------------------------
class DDLConn:
    """The DDL connection: records statements; ``fail``: errno to raise for statements containing a text."""

    def __init__(self, log: list, fail: dict[str, int] | None = None) -> None:
        self.log = log
        self.fail = fail or {}

    def cursor(self):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def execute(self, sql: str) -> None:
        for text, errno in self.fail.items():
            if text in sql:
                raise pymysql.err.OperationalError(errno, f"failed: {text}")
        self.log.append(("execute", sql))


class Recording(DirectCoordinator):
    def __init__(self, log: list, verdict: Verdict = Verdict.EXECUTE) -> None:
        self.log = log
        self.verdict = verdict
        self.jobs: list[DDLJob] = []

    def coordinate(self, job: DDLJob) -> Verdict:
        self.jobs.append(job)
        self.log.append(("coordinate",))
        return self.verdict


def handler(
    *,
    routes=(),
    filters=(),
    ba=None,
    safe_user=False,
    split=False,
    fail=None,
    coordinator=None,
):
    flusher, loc, safe, tracker, _clock, log = flusher_parts()
    safe.user = safe.on = safe_user
    tracker.put(table_from_create("CREATE TABLE t (id INT PRIMARY KEY, a INT, b INT)", "db"), changed=False)
    router = TableRouter(list(routes))
    event_filter = EventFilter(list(filters))
    balist = BAListFilter(ba or BAList(do_dbs=["db"]))
    coordinator = coordinator or Recording(log)
    h = DDLHandler(
        balist=balist,
        router=router,
        event_filter=event_filter,
        tracker=tracker,
        tables=TableSource(tracker, loc, None, None, router.route, Path("/nonexistent")),
        row_filters=RowFilters(router, event_filter, ExpressionFilters([], False, no_query), "s1"),
        loc=loc,
        safe=safe,
        flusher=flusher,
        stats=loc.stats,
        conn=DDLConn(log, fail),
        split=split,
        coordinator=coordinator,
    )
    return h, log


def run(h: DDLHandler, sql: str, end: int = 190) -> None:
    h.on_statement(sql, "db", 0, h.loc.start_location(150), end)


def executed(log: list) -> list[str]:
    return [e[1] for e in log if e[0] == "execute"]


def test_ddl_is_routed_and_split_after_a_flush_and_the_coordinator():
    route = RouteRule(schema_pattern="db", table_pattern="t", target_schema="tdb", target_table="tt")
    coordinator_log: list = []
    h, log = handler(routes=[route], split=True, coordinator=Recording(coordinator_log))
    coordinator = h.coordinator
    assert isinstance(coordinator, Recording)
    coordinator.log = log
    run(h, "ALTER TABLE t ADD COLUMN c INT, DROP COLUMN a")
    assert [e[0] for e in log] == ["drain", "flush", "coordinate", "execute", "execute"]
    assert executed(log) == [
        "ALTER TABLE `tdb`.`tt` ADD COLUMN c INT",
        "ALTER TABLE `tdb`.`tt` DROP COLUMN a",
    ]
    (job,) = coordinator.jobs
    assert [(n.schema, n.table, target) for n, target in job.targets] == [("db", "t", ("tdb", "tt"))]
    assert job.statements == executed(log) and job.start.pos == 150 and job.end.pos == 190
    info = h.tracker.get("db", "t")
    assert info is not None and [c.name for c in info.columns] == ["id", "b", "c"]
    assert h.loc.table_points[("db", "t")].pos == 190 and h.flusher.due == 0.0
    assert h.flusher.changed == {("db", "t")}


def test_ddl_of_filtered_tables_and_filtered_clauses():
    ignore_drop = EventFilterRule(
        schema_pattern="db", table_pattern="t", events=["drop column"], action="Ignore"
    )
    h, log = handler(filters=[ignore_drop], ba=BAList(do_dbs=["db"], ignore_tables=[("db", "skip*")]))
    run(h, "CREATE TABLE skip1 (id INT)")
    assert log == [] and h.tracker.get("db", "skip1") is None, "BA list: nothing at all"
    run(h, "ALTER TABLE t DROP COLUMN a")
    assert executed(log) == [] and "coordinate" not in [e[0] for e in log], "filtered: no coordination"
    info = h.tracker.get("db", "t")
    assert info is not None and [c.name for c in info.columns] == ["id", "b"], "the tracker still follows"
    run(h, "ALTER TABLE t DROP COLUMN b, ADD COLUMN z INT")
    assert executed(log) == ["ALTER TABLE `db`.`t` ADD COLUMN z INT"]


def test_coordinator_skip_keeps_the_ddl_from_the_target_only():
    h, log = handler()
    assert isinstance(h.coordinator, Recording)
    h.coordinator.verdict = Verdict.SKIP
    run(h, "ALTER TABLE t ADD COLUMN c INT")
    assert executed(log) == [] and ("coordinate",) in log
    info = h.tracker.get("db", "t")
    assert info is not None and info.index_of("c") >= 0


def test_already_applied_ddl_is_ignored_in_safe_mode_only():
    h, log = handler(safe_user=True, fail={"ADD COLUMN": 1060})
    run(h, "ALTER TABLE t ADD COLUMN c INT")
    assert executed(log) == []
    h, log = handler(safe_user=True, fail={"ADD COLUMN": 1064})
    with pytest.raises(errors.DMError) as info:
        run(h, "ALTER TABLE t ADD COLUMN c INT")
    assert info.value.code == 36061, "not an 'already applied' error"
    h, log = handler(safe_user=False, fail={"ADD COLUMN": 1060})
    with pytest.raises(errors.DMError) as info:
        run(h, "ALTER TABLE t ADD COLUMN c INT")
    err = info.value
    assert err.code == 36061 and err.entry.scope == errors.Scope.DOWNSTREAM
    assert err.message.startswith(
        f"startLocation: [position: ({F}, 150), gtid-set: 0-1-4], endLocation: [position: ({F}, 190), "
        "gtid-set: 0-1-4], origin SQL: [ALTER TABLE t ADD COLUMN c INT]: fail to handle ddl job for "
        "ALTER TABLE `db`.`t` ADD COLUMN c INT"
    )
    h, log = handler(safe_user=True, fail={"ADD COLUMN": 2013})
    with pytest.raises(errors.DMError) as info:
        run(h, "ALTER TABLE t ADD COLUMN c INT")
    assert info.value.resumable, "a lost connection: resumed, the DDL runs again"


def test_unparsable_ddl_and_dml_statements():
    h, _log = handler()
    with pytest.raises(errors.DMError) as info:
        run(h, "ALTER TABLE t ADD COLUMN (")
    assert info.value.code == 36067 and "origin SQL: [ALTER TABLE t ADD COLUMN (]" in info.value.message
    with pytest.raises(errors.DMError) as info:
        run(h, "INSERT INTO t VALUES (1, 2, 3)")
    assert info.value.code == 36014
    run(h, "FLUSH TABLES")  # neither DDL nor DML: nothing to do


def test_needs_split():
    assert needs_split("8.0.11-TiDB-v6.1.7") and not needs_split("8.0.11-TiDB-v7.5.0")
    assert not needs_split("10.11.6-MariaDB-0+deb12u1")


# -- guards -----------------------------------------------------------------------------------------------


def cfg(**extra) -> SubTaskConfig:
    return SubTaskConfig(
        name="t",
        task_mode="incremental",
        source_id="s1",
        meta_schema="dm_meta",
        target=DBConfig(),
        meta=None,
        block_allow_list=None,
        routes=[],
        mydumper=MydumperConfig(),
        loader=LoaderConfig(),
        syncer=SyncerConfig(),
        **extra,
    )


def test_coordinator_for_the_configuration(tmp_path):
    def of(**extra):
        ctx = UnitContext(
            cfg=cfg(**extra), source=SourceConfig(source_id="s1"), work_dir=tmp_path, worker_name="w"
        )
        return coordinator_for(ctx)

    assert type(of()) is DirectCoordinator
    assert type(of(shard_mode="optimistic")) is OptimisticCoordinator
    assert type(of(shard_mode="pessimistic")) is PessimisticCoordinator
    assert type(of(is_sharding=True)) is PessimisticCoordinator, "legacy is-sharding: pessimistic"


def test_row_plans_of_held_tables():
    class Holding(DirectCoordinator):
        def holds(self, schema: str, table: str) -> bool:
            return table == "held"

    router, event_filter = TableRouter([]), EventFilter([])
    filters = RowFilters(
        router, event_filter, ExpressionFilters([], False, no_query), "s1", coordinator=Holding()
    )
    info = table_from_create("CREATE TABLE x (id INT PRIMARY KEY)", "db")
    assert filters.plan("db", "held", info).verdict == {INSERT: HOLD, UPDATE: HOLD, DELETE: HOLD}
    assert set(filters.plan("db", "free", info).verdict.values()) == {"Do"}
