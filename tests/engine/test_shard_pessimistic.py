"""Pessimistic shard merging (issue 10) against the real MariaDB fixture: two sources (two sync
units sharing one lock keeper, as the master would be), two shard tables each, merged into one
target table. The same DDL sequence with DML between, shard by shard: a DDL holds its shard until
every shard of every source reached it, the lock owner executes it once, and the target ends equal
to the union with the new columns and indexes. A different DDL on another shard is refused."""

from __future__ import annotations

import pytest

from dmshell.engine import errors
from dmshell.engine.filters.rule_types import RouteRule
from dmshell.engine.shard.client import LocalClient
from dmshell.engine.shard.lock import Keeper
from dmshell.engine.shard.pessimist import PessimisticCoordinator
from dmshell.engine.sync.syncer import SyncUnit

from .sync_helpers import Running, columns, fresh_db, make_ctx, rows, wait_until

SOURCES = ["mysql-01", "mysql-02"]


@pytest.fixture
def db(mariadb, dbname):
    return fresh_db(mariadb, dbname)


def start(mariadb, db, tmp_path, keeper: Keeper) -> dict[str, Running]:
    merge = RouteRule(schema_pattern=db, table_pattern="shard_*", target_schema=db, target_table="merged")
    runs = {}
    for sid, server, shards in (("mysql-01", mariadb.up1, (1, 2)), ("mysql-02", mariadb.up2, (3, 4))):
        server.execute(
            f"CREATE DATABASE {db}",
            *(f"CREATE TABLE {db}.shard_{i} (id INT PRIMARY KEY, v INT)" for i in shards),
        )
        ctx = make_ctx(tmp_path, server, mariadb.target, db, routes=[merge], source_id=sid, task="tshard")
        ctx.cfg.shard_mode = "pessimistic"
        coordinator = PessimisticCoordinator("tshard", sid, LocalClient("tshard", sid, keeper, SOURCES))
        runs[sid] = Running(ctx, unit=SyncUnit(ctx, coordinator=coordinator))
    mariadb.target.execute(
        f"CREATE DATABASE IF NOT EXISTS {db}",
        f"CREATE TABLE IF NOT EXISTS {db}.merged (id INT PRIMARY KEY, v INT)",
    )
    return runs


def union(mariadb, db, cols: str = "*") -> list[tuple]:
    out = []
    for server, shards in ((mariadb.up1, (1, 2)), (mariadb.up2, (3, 4))):
        for i in shards:
            out += rows(server, f"SELECT {cols} FROM {db}.shard_{i}")
    return sorted(out)


def group(run: Running):
    st = run.unit.status()
    return [(g.target, list(g.DDLs), list(g.synced), list(g.unsynced)) for g in st.unresolvedGroups]


def test_same_ddls_shard_by_shard_merge_into_the_union(mariadb, db, tmp_path):
    up1, up2, dst = mariadb.up1, mariadb.up2, mariadb.target
    keeper = Keeper()
    runs = start(mariadb, db, tmp_path, keeper)
    try:
        up1.execute(f"INSERT INTO {db}.shard_1 VALUES (1, 1)", f"INSERT INTO {db}.shard_2 VALUES (2, 2)")
        up2.execute(f"INSERT INTO {db}.shard_3 VALUES (3, 3)", f"INSERT INTO {db}.shard_4 VALUES (4, 4)")
        wait_until(
            lambda: rows(dst, f"SELECT * FROM {db}.merged") == union(mariadb, db),
            "DML",
            running=runs["mysql-01"],
        )
        add = "ALTER TABLE {db}.shard_{i} ADD COLUMN c INT"
        # shard 1 goes first: its later rows are held, shard 2 goes on
        up1.execute(add.format(db=db, i=1), f"INSERT INTO {db}.shard_1 VALUES (11, 11, 11)")
        up1.execute(
            f"INSERT INTO {db}.shard_2 VALUES (12, 12)", f"UPDATE {db}.shard_1 SET c = 1 WHERE id = 1"
        )
        wait_until(lambda: ("12", "12") in rows(dst, f"SELECT * FROM {db}.merged"), "shard 2 goes on")
        alter_target = f"ALTER TABLE `{db}`.`merged` ADD COLUMN c INT"
        assert group(runs["mysql-01"]) == [
            (f"`{db}`.`merged`", [alter_target], [f"`{db}`.`shard_1`"], [f"`{db}`.`shard_2`"])
        ]
        meta = dst.query(
            "SELECT source_id, target_table_id, source_table_id, active_index, is_global, "
            f"JSON_EXTRACT(data, '$[0].ddls') FROM {db}_meta.tshard_syncer_sharding_meta "
            "ORDER BY is_global DESC"
        )
        ddls = f'["{alter_target}"]'
        assert [r[:5] for r in meta] == [
            ("mysql-01", f"`{db}`.`merged`", "", 0, 1),
            ("mysql-01", f"`{db}`.`merged`", f"`{db}`.`shard_1`", 0, 0),
        ]
        assert [r[5] for r in meta] == [ddls, ddls]
        assert columns(dst, f"{db}.merged") == ["id", "v"]
        assert ("11", "11") not in rows(dst, f"SELECT id, v FROM {db}.merged"), "held"
        # shard 2 reaches it: source 1 waits on the master's lock; source 2 has not
        up1.execute(add.format(db=db, i=2), f"INSERT INTO {db}.shard_2 VALUES (13, 13, 13)")
        wait_until(lambda: keeper.snapshot(), "the lock")
        (lock,) = keeper.snapshot()
        assert (lock.id, lock.owner, lock.ddls) == (f"tshard-`{db}`.`merged`", "mysql-01", [alter_target])
        assert (lock.synced, lock.unsynced) == (["mysql-01"], ["mysql-02"])
        wait_until(lambda: runs["mysql-01"].unit.unresolved_lock_id == lock.id, "waiting on the lock")
        assert list(runs["mysql-01"].unit.status().blockingDDLs) == [alter_target]
        up2.execute(f"INSERT INTO {db}.shard_3 VALUES (21, 21)", add.format(db=db, i=3))
        up2.execute(
            f"INSERT INTO {db}.shard_3 VALUES (22, 22, 22)", f"INSERT INTO {db}.shard_4 VALUES (23, 23)"
        )
        up2.execute(add.format(db=db, i=4), f"INSERT INTO {db}.shard_4 VALUES (24, 24, 24)")
        wait_until(
            lambda: rows(dst, f"SELECT * FROM {db}.merged") == union(mariadb, db),
            "the union after the first DDL",
            running=runs["mysql-02"],
        )
        assert columns(dst, f"{db}.merged") == ["id", "v", "c"]
        wait_until(lambda: not keeper.snapshot(), "the lock gone")
        assert dst.query(f"SELECT * FROM {db}_meta.tshard_syncer_sharding_meta") == [], "resolved: no rows"
        # a second DDL in another order of the shards, with DML between
        index = "ALTER TABLE {db}.shard_{i} ADD INDEX ic (c)"
        up2.execute(index.format(db=db, i=4), f"UPDATE {db}.shard_4 SET c = 5")
        up1.execute(index.format(db=db, i=2), f"DELETE FROM {db}.shard_2 WHERE id = 2")
        up1.execute(index.format(db=db, i=1), f"INSERT INTO {db}.shard_1 VALUES (31, 31, 31)")
        up2.execute(f"UPDATE {db}.shard_3 SET v = 0", index.format(db=db, i=3))
        wait_until(
            lambda: rows(dst, f"SELECT * FROM {db}.merged") == union(mariadb, db) and not keeper.snapshot(),
            "the union after the second DDL",
            running=runs["mysql-01"],
        )
        assert dst.query(f"SHOW INDEX FROM {db}.merged WHERE Key_name = 'ic'")
        for run in runs.values():
            assert not group(run) and run.unit.unresolved_lock_id == ""
    finally:
        for run in runs.values():
            run.stop()


def test_a_different_ddl_on_another_shard_is_refused(mariadb, db, tmp_path):
    up1 = mariadb.up1
    runs = start(mariadb, db, tmp_path, Keeper())
    try:
        up1.execute(f"ALTER TABLE {db}.shard_1 ADD COLUMN c INT")
        up1.execute(f"ALTER TABLE {db}.shard_2 ADD COLUMN d INT")
        err = runs.pop("mysql-01").wait_error()
    finally:
        for run in runs.values():
            run.stop()
    assert isinstance(err, errors.DMError) and err.code == 36008
    assert "detect inconsistent DDL sequence from source [first-location: position: (" in err.message
    assert f"source: `{db}`.`shard_2`], right DDL sequence should be [" in err.message
    assert "ADD COLUMN c INT" in err.message.split("right DDL sequence")[1]
    assert err.workaround == "Please use `show-ddl-locks` command for more details."


def test_merged_rows_are_identified_by_the_target_tables_keys(mariadb, db, tmp_path):
    """DM 5.3+: colliding auto-increment IDs, primary key dropped downstream and a unique key over
    (sid, id) added: UPDATE and DELETE on one shard touch only that shard's row."""
    up1, dst = mariadb.up1, mariadb.target
    merge = RouteRule(schema_pattern=db, table_pattern="shard_*", target_schema=db, target_table="merged")
    up1.execute(
        f"CREATE DATABASE {db}",
        *(f"CREATE TABLE {db}.shard_{i} (id INT PRIMARY KEY, sid INT NOT NULL, v INT)" for i in (1, 2)),
    )
    dst.execute(
        f"CREATE DATABASE {db}",
        f"CREATE TABLE {db}.merged (id INT NOT NULL, sid INT NOT NULL, v INT, UNIQUE KEY uk (sid, id))",
    )
    running = Running(make_ctx(tmp_path, up1, dst, db, routes=[merge]))
    try:
        up1.execute(
            f"INSERT INTO {db}.shard_1 VALUES (1, 1, 10), (2, 1, 20)",
            f"INSERT INTO {db}.shard_2 VALUES (1, 2, 10), (2, 2, 20)",
            f"UPDATE {db}.shard_1 SET v = 11 WHERE id = 1",
            f"DELETE FROM {db}.shard_2 WHERE id = 2",
            f"UPDATE {db}.shard_2 SET id = 3 WHERE id = 1",
        )
        expected = sorted(rows(up1, f"SELECT * FROM {db}.shard_1") + rows(up1, f"SELECT * FROM {db}.shard_2"))
        assert expected == [("1", "1", "11"), ("2", "1", "20"), ("3", "2", "10")]
        wait_until(lambda: rows(dst, f"SELECT * FROM {db}.merged") == expected, "the union", running=running)
    finally:
        running.stop()


def test_a_dropped_shard_leaves_its_group_but_not_while_a_ddl_is_pending(mariadb, db, tmp_path):
    """One source, three shards: shard_3 dropped (ignored downstream) leaves the group, so the
    next DDL needs only shards 1 and 2; dropping shard_2 while that DDL is pending is refused."""
    up1, dst = mariadb.up1, mariadb.target
    merge = RouteRule(schema_pattern=db, table_pattern="shard_*", target_schema=db, target_table="merged")
    up1.execute(
        f"CREATE DATABASE {db}",
        *(f"CREATE TABLE {db}.shard_{i} (id INT PRIMARY KEY, v INT)" for i in (1, 2, 3)),
    )
    dst.execute(f"CREATE DATABASE {db}", f"CREATE TABLE {db}.merged (id INT PRIMARY KEY, v INT)")
    ctx = make_ctx(tmp_path, up1, dst, db, routes=[merge])
    ctx.cfg.shard_mode = "pessimistic"
    running = Running(ctx)
    up1.execute(
        f"INSERT INTO {db}.shard_3 VALUES (3, 3)",
        f"DROP TABLE {db}.shard_3",
        f"ALTER TABLE {db}.shard_1 ADD COLUMN c INT",
        f"INSERT INTO {db}.shard_1 VALUES (1, 1, 1)",
        f"ALTER TABLE {db}.shard_2 ADD COLUMN c INT",
        f"INSERT INTO {db}.shard_2 VALUES (2, 2, 2)",
    )
    want = [("1", "1", "1"), ("2", "2", "2"), ("3", "3", None)]
    wait_until(lambda: rows(dst, f"SELECT * FROM {db}.merged") == want, "the DDL resolved", running=running)
    up1.execute(f"ALTER TABLE {db}.shard_1 ADD COLUMN d INT", f"DROP TABLE {db}.shard_2")
    err = running.wait_error()
    assert isinstance(err, errors.DMError) and err.code == 36006
    assert err.message.endswith(
        f"in sequence sharding try drop sources ['`{db}`.`shard_2`'] not supported, activeDDL: "
        f"['ALTER TABLE `{db}`.`merged` ADD COLUMN d INT'], sharding sequence: "
        f"[['ALTER TABLE `{db}`.`merged` ADD COLUMN d INT']]"
    )
