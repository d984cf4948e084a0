"""Optimistic shard merging (issue 10) against the real MariaDB fixture: two sources (two sync units
sharing one keeper, as the master would be), two shard tables each, merged into one table. An added
column runs downstream at once and rows of every shard keep applying; a dropped column stays
downstream until every shard dropped it; a column added with different types is a conflict."""

from __future__ import annotations

import pytest

from dmshell.engine import errors
from dmshell.engine.filters.rule_types import RouteRule
from dmshell.engine.shard.optimism import LocalOptimisticClient, OptimisticKeeper
from dmshell.engine.shard.optimist import OptimisticCoordinator
from dmshell.engine.sync.syncer import SyncUnit

from .sync_helpers import Running, columns, fresh_db, make_ctx, rows, wait_until

SOURCES = ["mysql-01", "mysql-02"]
SHARDS = {"mysql-01": (1, 2), "mysql-02": (3, 4)}


@pytest.fixture
def db(mariadb, dbname):
    return fresh_db(mariadb, dbname)


def servers(mariadb):
    return {"mysql-01": mariadb.up1, "mysql-02": mariadb.up2}


def start(mariadb, db, tmp_path, keeper, strict: bool = False) -> dict[str, Running]:
    merge = RouteRule(schema_pattern=db, table_pattern="shard_*", target_schema=db, target_table="merged")
    mariadb.target.execute(f"CREATE DATABASE {db}", f"CREATE TABLE {db}.merged (id INT PRIMARY KEY, v INT)")
    runs = {}
    for sid, server in servers(mariadb).items():
        server.execute(
            f"CREATE DATABASE {db}",
            *(f"CREATE TABLE {db}.shard_{i} (id INT PRIMARY KEY, v INT)" for i in SHARDS[sid]),
        )
        ctx = make_ctx(tmp_path, server, mariadb.target, db, routes=[merge], source_id=sid, task="topt")
        ctx.cfg.shard_mode = "optimistic"
        client = LocalOptimisticClient("topt", sid, keeper, SOURCES)
        runs[sid] = Running(
            ctx, unit=SyncUnit(ctx, coordinator=OptimisticCoordinator("topt", sid, client, strict))
        )
    # tables are tracked from their first event: let the units see every shard before it changes
    for sid, shards in SHARDS.items():
        for i in shards:
            on(mariadb, db, sid, i, "INSERT INTO {t} VALUES ({i}000, 0)")
    want = sorted((f"{i}000", "0") for shards in SHARDS.values() for i in shards)
    wait_until(lambda: rows(mariadb.target, f"SELECT * FROM {db}.merged") == want, "the first rows")
    return runs


def union(mariadb, db, cols: str) -> list[tuple]:
    out = []
    for sid, server in servers(mariadb).items():
        for i in SHARDS[sid]:
            out += rows(server, f"SELECT {cols} FROM {db}.shard_{i}")
    return sorted(out)


def on(mariadb, db, sid, i, *sql):
    servers(mariadb)[sid].execute(*(s.format(t=f"{db}.shard_{i}", i=i) for s in sql))


def test_add_at_once_drop_when_every_shard_dropped(mariadb, db, tmp_path):
    dst = mariadb.target
    keeper = OptimisticKeeper()
    runs = start(mariadb, db, tmp_path, keeper)
    try:
        on(mariadb, db, "mysql-01", 1, "INSERT INTO {t} VALUES (1, 1)")
        on(mariadb, db, "mysql-01", 1, "ALTER TABLE {t} ADD COLUMN c INT")
        on(mariadb, db, "mysql-01", 1, "INSERT INTO {t} VALUES (11, 11, 11)")
        on(mariadb, db, "mysql-02", 3, "INSERT INTO {t} VALUES (3, 3)")  # still without c
        wait_until(lambda: columns(dst, f"{db}.merged") == ["id", "v", "c"], "c added at once")
        want = [("1", "1", None), ("11", "11", "11"), ("3", "3", None)]
        wait_until(
            lambda: rows(dst, f"SELECT * FROM {db}.merged WHERE id < 1000") == want,
            "both shapes apply",
            running=runs["mysql-02"],
        )
        for sid, shards in SHARDS.items():  # every other shard adds it too: skipped downstream
            for i in shards:
                if i != 1:
                    on(
                        mariadb,
                        db,
                        sid,
                        i,
                        "ALTER TABLE {t} ADD COLUMN c INT",
                        "INSERT INTO {t} VALUES ({i}0, {i}, {i})",
                    )
        wait_until(
            lambda: rows(dst, f"SELECT id, v, c FROM {db}.merged") == union(mariadb, db, "id, v, c"), "union"
        )
        # drop c shard by shard: the target keeps it until the last shard dropped it
        for sid, i in (("mysql-01", 1), ("mysql-02", 3), ("mysql-01", 2)):
            on(mariadb, db, sid, i, "ALTER TABLE {t} DROP COLUMN c", "INSERT INTO {t} VALUES ({i}5, {i})")
            wait_until(
                lambda: rows(dst, f"SELECT id, v FROM {db}.merged") == union(mariadb, db, "id, v"),
                "rows without c apply",
                running=runs[sid],
            )
            assert columns(dst, f"{db}.merged") == ["id", "v", "c"], "another shard still has c"
        on(mariadb, db, "mysql-02", 4, "ALTER TABLE {t} DROP COLUMN c", "INSERT INTO {t} VALUES (45, 4)")
        wait_until(lambda: columns(dst, f"{db}.merged") == ["id", "v"], "c dropped by the last shard")
        wait_until(lambda: rows(dst, f"SELECT * FROM {db}.merged") == union(mariadb, db, "*"), "the union")
        # an index added on one shard runs at once; the others' same index is skipped
        on(mariadb, db, "mysql-02", 4, "ALTER TABLE {t} ADD UNIQUE KEY uv (id, v)")
        on(
            mariadb,
            db,
            "mysql-01",
            1,
            "ALTER TABLE {t} ADD UNIQUE KEY uv (id, v)",
            "INSERT INTO {t} VALUES (99, 9)",
        )
        wait_until(
            lambda: rows(dst, f"SELECT * FROM {db}.merged") == union(mariadb, db, "*"), "after the index"
        )
        assert dst.query(f"SHOW INDEX FROM {db}.merged WHERE Key_name = 'uv'")
    finally:
        for run in runs.values():
            run.stop()


def test_a_column_added_with_different_types_is_a_conflict(mariadb, db, tmp_path):
    runs = start(mariadb, db, tmp_path, OptimisticKeeper())
    try:
        on(mariadb, db, "mysql-01", 1, "ALTER TABLE {t} ADD COLUMN c INT")
        wait_until(lambda: columns(mariadb.target, f"{db}.merged") == ["id", "v", "c"], "c added")
        on(mariadb, db, "mysql-02", 3, "ALTER TABLE {t} ADD COLUMN c VARCHAR(10)")
        run = runs.pop("mysql-02")
        err = run.wait_error(close=False)
        status = run.unit.status()
        run.unit.close()
    finally:
        for r in runs.values():
            r.stop()
    assert isinstance(err, errors.DMError) and err.code == 36062
    conflict = (
        f"column `c` added as `varchar(10)` on mysql-02 `{db}`.`shard_3`, but it is `int` on the other shards"
    )
    assert err.message.endswith(
        f"fail to handle shard ddl ['ALTER TABLE {db}.shard_3 ADD COLUMN c VARCHAR(10)'] in optimistic mode, "
        f"because schema conflict detected, conflict error: {conflict}"
    )
    assert (status.blockDDLOwner, status.conflictMsg) == (f"mysql-02-`{db}`.`shard_3`", conflict)
    assert columns(mariadb.target, f"{db}.merged") == ["id", "v", "c"]


def test_strict_mode_refuses_a_drop_other_shards_still_have(mariadb, db, tmp_path):
    runs = start(mariadb, db, tmp_path, OptimisticKeeper(), strict=True)
    try:
        on(mariadb, db, "mysql-01", 2, "ALTER TABLE {t} DROP COLUMN v")
        err = runs.pop("mysql-01").wait_error()
    finally:
        for r in runs.values():
            r.stop()
    assert isinstance(err, errors.DMError) and err.code == 36062
    assert (
        "column `v` dropped on mysql-01 `" in err.message and "(strict-optimistic-shard-mode)" in err.message
    )
