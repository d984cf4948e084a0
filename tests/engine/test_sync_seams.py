"""The sync unit's hooks for the next features, against the real MariaDB fixture: operations on
events at binlog locations (skip / replace / inject), the shard DDL coordinator's verdicts and
held rows, and the transaction boundaries the applier is told about."""

from __future__ import annotations

from typing import Any

import pytest

from dmshell.engine.binlog.gtid import parse_gtid_set
from dmshell.engine.binlog.location import Location, binlog_gtid_pos
from dmshell.engine.binlog.reader import BinlogEvent
from dmshell.engine.sync.apply import Applier
from dmshell.engine.sync.coordinator import DDLJob, DirectCoordinator, Verdict
from dmshell.engine.sync.operator import Action, Operation
from dmshell.engine.sync.syncer import SyncUnit

from .sync_helpers import Running, columns, converge, fresh_db, make_ctx, master, meta_at, rows, wait_until


@pytest.fixture
def db(mariadb, dbname):
    return fresh_db(mariadb, dbname)


class ByStatement:
    """Operations chosen by a query event's text or a rows event's table; records where they were
    asked for."""

    def __init__(self, by_sql: dict[str, Operation], by_table: dict[str, Operation]) -> None:
        self.by_sql = by_sql
        self.by_table = by_table
        self.asked: dict[str, Location] = {}

    def operation(self, start: Location, event: BinlogEvent) -> Operation | None:
        ev: Any = event  # a query or a rows event
        query = getattr(ev, "query", None)
        if query is not None:
            key, op = query, self.by_sql.get(query)
        else:
            key = ev.map.table  # a rows event's table map
            op = self.by_table.get(key)
        if op is not None:
            self.asked[key] = start
        return op


def binlog_events(server, start: Location) -> list[tuple[str, int, str, int, str]]:
    """(file, position, type, end position, info) of every event from ``start`` on."""
    out = []
    for name, _size in server.query("SHOW BINARY LOGS"):
        if Location(name, 4) < Location(start.file, 4):
            continue  # older files (some may be purged by other tests)
        sql = f"SHOW BINLOG EVENTS IN '{name}'" + (f" FROM {start.pos}" if name == start.file else "")
        for _log, pos, kind, _sid, end, info in server.query(sql):
            out.append((name, int(pos), str(kind), int(end), str(info)))
    return out


def query_start(server, start: Location, sql: str) -> Location:
    """Where the query event holding ``sql`` begins."""
    for name, pos, kind, _end, info in binlog_events(server, start):
        if kind == "Query" and info.endswith(sql):
            return Location(name, pos)
    raise AssertionError(f"{sql} not in the binlog")


def test_skip_replace_and_inject_at_binlog_locations(mariadb, db, tmp_path):
    src, dst = mariadb.up2, mariadb.target
    index = f"CREATE INDEX ik ON {db}.keep (v)"
    add = f"ALTER TABLE {db}.t ADD COLUMN c INT"
    operator = ByStatement(
        {
            index: Operation(Action.SKIP),
            add: Operation(Action.REPLACE, (f"ALTER TABLE {db}.t ADD COLUMN c INT DEFAULT 5",)),
        },
        {
            "t": Operation(
                Action.INJECT, (f"CREATE TABLE {db}.injected (id INT)", "CREATE TABLE side (x INT)")
            )
        },
    )
    start = master(src)
    ctx = make_ctx(tmp_path, src, dst, db, meta=meta_at(start))
    running = Running(ctx, unit=SyncUnit(ctx, operator=operator))
    try:
        src.execute(
            f"CREATE DATABASE {db}",
            f"CREATE TABLE {db}.keep (id INT PRIMARY KEY, v INT)",
            f"CREATE TABLE {db}.t (id INT PRIMARY KEY)",
            index,
            add,
            f"INSERT INTO {db}.t (id) VALUES (1)",  # its rows event gets the injection
        )
        converge(src, dst, [(f"{db}.t", f"{db}.t")], running)
    finally:
        running.stop()
    tables = [r[0] for r in dst.query(f"SHOW TABLES FROM {db}")]
    assert sorted(tables) == ["injected", "keep", "side", "t"], "injected CREATEs (default db: the table's)"
    assert dst.query(f"SHOW INDEX FROM {db}.keep WHERE Key_name = 'ik'") == [], "skipped"
    assert columns(dst, f"{db}.t") == ["id", "c"]
    assert dst.query(
        "SELECT COLUMN_DEFAULT FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = 't' AND COLUMN_NAME = 'c'",
        (db,),
    ) == [("5",)], "the replacement ran instead of the original"
    assert rows(dst, f"SELECT * FROM {db}.t") == [("1", None)], "the row of the injected-into event"
    for sql in (index, add):
        asked = operator.asked[sql]
        assert asked.same_position(query_start(src, start, sql)), "asked with the event's start location"


class Deciding(DirectCoordinator):
    """Skips DDL on ``skip`` tables, holds the rows of ``held``; records the jobs."""

    def __init__(self) -> None:
        self.jobs: list[DDLJob] = []
        self.held: list = []

    def hold(self, schema: str, table: str, replay) -> None:
        self.held.append((schema, table, replay))

    def coordinate(self, job: DDLJob) -> Verdict:
        self.jobs.append(job)
        return Verdict.SKIP if any(n.table == "skip" for n, _t in job.targets) else Verdict.EXECUTE

    def holds(self, schema: str, table: str) -> bool:
        return table == "held"


def test_coordinator_verdicts_and_held_rows(mariadb, db, tmp_path):
    src, dst = mariadb.up1, mariadb.target
    coordinator = Deciding()
    ctx = make_ctx(tmp_path, src, dst, db)
    running = Running(ctx, unit=SyncUnit(ctx, coordinator=coordinator))
    try:
        src.execute(
            f"CREATE DATABASE {db}",
            f"CREATE TABLE {db}.held (id INT PRIMARY KEY)",
            f"CREATE TABLE {db}.skip (id INT PRIMARY KEY)",
            f"CREATE TABLE {db}.free (id INT PRIMARY KEY)",
            f"INSERT INTO {db}.held VALUES (1)",
            f"INSERT INTO {db}.free VALUES (1)",
        )
        converge(src, dst, [(f"{db}.free", f"{db}.free")], running)
        end = master(src)
        wait_until(lambda: running.unit.status().syncerBinlog == end.position_str(), "read", running=running)
    finally:
        running.stop()
    assert [r[0] for r in dst.query(f"SHOW TABLES FROM {db}")] == ["free", "held"], "CREATE skip: skipped"
    assert rows(dst, f"SELECT * FROM {db}.held") == [], "held rows are not applied"
    assert [(s, t) for s, t, _r in coordinator.held] == [(db, "held")], "handed to the coordinator"
    kinds = [(j.ddl.kind, [n.table for n, _t in j.targets]) for j in coordinator.jobs]
    assert kinds == [
        ("create database", [""]),
        ("create table", ["held"]),
        ("create table", ["skip"]),
        ("create table", ["free"]),
    ]
    job = coordinator.jobs[1]
    assert job.statements == [f"CREATE TABLE IF NOT EXISTS `{db}`.`held` (id INT PRIMARY KEY)"]
    assert job.start < job.end


def transaction_ends(server, start: Location) -> list[Location]:
    """Where each transaction (or DDL) after ``start`` ends, from SHOW BINLOG EVENTS."""
    return [
        Location(name, end)
        for name, _pos, kind, end, info in binlog_events(server, start)
        if kind == "Xid" or (kind == "Query" and not info.startswith("BEGIN"))
    ]


def test_the_applier_is_told_every_transaction_boundary(mariadb, db, tmp_path, monkeypatch):
    """Also across a rotation, and not for the events outside transactions (e.g. the binlog
    checkpoint MariaDB writes into the new file whenever the old one's transactions are durable)."""
    src, dst = mariadb.up1, mariadb.target
    calls: list[tuple[str, Location | None]] = []
    begin, commit = Applier.txn_begin, Applier.txn_commit

    def txn_begin(self: Applier) -> None:
        calls.append(("begin", None))
        begin(self)

    def txn_commit(self: Applier, end: Location) -> None:
        calls.append(("commit", end))
        commit(self, end)

    monkeypatch.setattr(Applier, "txn_begin", txn_begin)
    monkeypatch.setattr(Applier, "txn_commit", txn_commit)
    start = master(src)
    running = Running(make_ctx(tmp_path, src, dst, db, meta=meta_at(start)))
    try:
        src.execute(
            f"CREATE DATABASE {db}",
            f"CREATE TABLE {db}.t (id INT PRIMARY KEY)",
            f"INSERT INTO {db}.t VALUES (1), (2)",
            "FLUSH BINARY LOGS",
            "BEGIN",
            f"INSERT INTO {db}.t VALUES (3)",
            f"UPDATE {db}.t SET id = 4 WHERE id = 1",
            "COMMIT",
            f"DELETE FROM {db}.t WHERE id = 2",
        )
        expected = transaction_ends(src, start)
        converge(src, dst, [(f"{db}.t", f"{db}.t")], running)
        wait_until(lambda: len(calls) >= 10, "every transaction", running=running)
    finally:
        running.stop()
    assert [k for k, _e in calls] == ["begin", "commit"] * 5, "create db, create table, insert, txn, delete"
    ends = [e for k, e in calls if k == "commit"]
    assert [(e.file, e.pos) for e in ends if e is not None] == [(e.file, e.pos) for e in expected]
    with src.connect() as conn:
        for end in ends:
            assert end is not None
            there = binlog_gtid_pos(conn, end.file, end.pos)
            assert parse_gtid_set(end.gtid, "mariadb") == parse_gtid_set(there, "mariadb"), end
