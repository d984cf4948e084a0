"""DDL replication against the real MariaDB fixture: every DDL kind with routed names, DDL on
filtered tables, multi-clause ALTER split for targets that need it, and a second shard's CREATE TABLE
on an already merged target table."""

from __future__ import annotations

import logging

import pytest

from dmshell.engine.filters.rule_types import BAList, RouteRule
from dmshell.engine.sync import syncer as sync

from .sync_helpers import Running, converge, fresh_db, make_ctx, rows, synced, wait_until


@pytest.fixture
def db(mariadb, dbname):
    return fresh_db(mariadb, dbname)


def structure(server, schema: str, table: str) -> tuple:
    """Columns (name, type, nullability, default, collation), indexes and the comment of a table."""
    cols = server.query(
        "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, COLLATION_NAME "
        "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s "
        "ORDER BY ORDINAL_POSITION",
        (schema, table),
    )
    keys = server.query(
        "SELECT INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, NON_UNIQUE, SUB_PART "
        "FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s "
        "ORDER BY INDEX_NAME, SEQ_IN_INDEX",
        (schema, table),
    )
    comment = server.query(
        "SELECT TABLE_COMMENT, TABLE_COLLATION FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
        (schema, table),
    )
    return cols, keys, comment


def tables(server, schema: str) -> list[str]:
    return [
        r[0]
        for r in server.query(
            "SELECT TABLE_NAME FROM information_schema.TABLES " "WHERE TABLE_SCHEMA = %s ORDER BY TABLE_NAME",
            (schema,),
        )
    ]


def schemas(server, *names: str) -> list[str]:
    return [r[0] for r in server.query("SHOW DATABASES") if r[0] in names]


def test_every_ddl_kind_with_routed_names(mariadb, db, tmp_path):
    """up1 logs no column metadata, so every row is decoded with the structure the DDLs built."""
    src, dst = mariadb.up1, mariadb.target
    route = RouteRule(schema_pattern=db, target_schema=f"{db}_t")
    running = Running(make_ctx(tmp_path, src, dst, db, routes=[route], schemas=[db, f"{db}_x"]))
    try:
        src.execute(
            f"CREATE DATABASE {db}",
            f"CREATE TABLE {db}.a (id INT PRIMARY KEY, v VARCHAR(10))",
            f"INSERT INTO {db}.a VALUES (1, 'x'), (2, 'y')",
            f"CREATE TABLE {db}.b LIKE {db}.a",
            f"INSERT INTO {db}.b VALUES (1, 'b')",
            f"ALTER TABLE {db}.a ADD COLUMN c INT DEFAULT 7 AFTER id, ADD d TEXT",
            f"INSERT INTO {db}.a (id, v, d) VALUES (3, 'z', 'dd')",
            f"ALTER TABLE {db}.a MODIFY v VARCHAR(30) NOT NULL, CHANGE d dd MEDIUMTEXT, "
            "ALTER COLUMN c SET DEFAULT 9",
            f"UPDATE {db}.a SET dd = 'u' WHERE id = 1",
            f"ALTER TABLE {db}.a DROP COLUMN c",
            f"ALTER TABLE {db}.a ADD UNIQUE KEY uv (v), ADD INDEX idd (dd(5))",
            f"CREATE INDEX iv2 ON {db}.a (v, id)",
            f"DROP INDEX iv2 ON {db}.a",
            f"ALTER TABLE {db}.a RENAME INDEX idd TO idd2",
            f"ALTER TABLE {db}.a COMMENT 'table a', ENGINE=InnoDB",
            f"ALTER TABLE {db}.a CONVERT TO CHARACTER SET latin1",
            f"INSERT INTO {db}.a (id, v, dd) VALUES (4, 'é', 'ü')",
            f"RENAME TABLE {db}.b TO {db}.b2",
            f"ALTER TABLE {db}.b2 RENAME TO {db}.b3",
            f"INSERT INTO {db}.b3 VALUES (2, 'c')",
            f"TRUNCATE TABLE {db}.b3",
            f"INSERT INTO {db}.b3 VALUES (3, 'd')",
            f"CREATE TABLE {db}.c (x INT)",
            f"INSERT INTO {db}.c VALUES (1)",
            f"DROP TABLE {db}.c",
            f"DROP TABLE IF EXISTS {db}.never_existed",
            f"CREATE DATABASE {db}_x",
            f"CREATE TABLE {db}_x.t (k INT PRIMARY KEY)",
            f"INSERT INTO {db}_x.t VALUES (1)",
            f"DROP DATABASE {db}_x",
            f"ALTER TABLE {db}.a DROP PRIMARY KEY, ADD PRIMARY KEY (id, v)",
            f"UPDATE {db}.a SET v = 'w' WHERE id = 2",
            f"DELETE FROM {db}.a WHERE id = 3",
        )
        converge(src, dst, [(f"{db}.a", f"{db}_t.a"), (f"{db}.b3", f"{db}_t.b3")], running)
        wait_until(lambda: synced(running.unit, src), "synced status", running=running)
    finally:
        running.stop()
    assert structure(dst, f"{db}_t", "a") == structure(src, db, "a")
    assert structure(dst, f"{db}_t", "b3") == structure(src, db, "b3")
    assert tables(dst, f"{db}_t") == ["a", "b3"]
    assert schemas(dst, db, f"{db}_x") == [], "names are routed; the dropped database is gone"
    assert rows(dst, f"SELECT id, v, dd FROM {db}_t.a") == [
        ("1", "x", "u"),
        ("2", "w", None),
        ("4", "é", "ü"),
    ]


def test_ddl_on_filtered_tables_is_ignored(mariadb, db, tmp_path):
    src, dst = mariadb.up2, mariadb.target
    ba = BAList(do_dbs=[db], ignore_tables=[(db, "skip*")])
    running = Running(make_ctx(tmp_path, src, dst, db, ba=ba))
    try:
        src.execute(
            f"CREATE DATABASE {db}",
            f"CREATE TABLE {db}.keep (id INT PRIMARY KEY)",
            f"CREATE TABLE {db}.skip1 (id INT PRIMARY KEY)",
            f"INSERT INTO {db}.keep VALUES (1)",
            f"INSERT INTO {db}.skip1 VALUES (1)",
            f"ALTER TABLE {db}.skip1 ADD COLUMN x INT",
            f"CREATE INDEX ix ON {db}.skip1 (x)",
            f"RENAME TABLE {db}.keep TO {db}.keep2, {db}.skip1 TO {db}.skip2",
            f"CREATE TABLE {db}.other (id INT PRIMARY KEY)",
            f"DROP TABLE {db}.other, {db}.skip2",
            f"CREATE DATABASE {db}_x",
            f"CREATE TABLE {db}_x.t (id INT)",
            f"INSERT INTO {db}_x.t VALUES (1)",
            f"INSERT INTO {db}.keep2 VALUES (2)",
        )
        converge(src, dst, [(f"{db}.keep2", f"{db}.keep2")], running)
        wait_until(lambda: synced(running.unit, src), "synced status", running=running)
    finally:
        running.stop()
    assert tables(dst, db) == ["keep2"], "DDL of ignored tables never reached the target"
    assert schemas(dst, f"{db}_x") == []


def test_multi_clause_alter_split_when_the_target_needs_it(mariadb, db, tmp_path, monkeypatch, caplog):
    """A TiDB target before v6.2 can't run multi-schema-change ALTERs: one statement per clause."""
    assert sync.needs_split("8.0.11-TiDB-v6.1.7") and not sync.needs_split("8.0.11-TiDB-v7.5.0")
    assert not sync.needs_split("10.11.6-MariaDB-0+deb12u1")
    monkeypatch.setattr(sync, "needs_split", lambda version: True)
    src, dst = mariadb.up1, mariadb.target
    src.execute(f"CREATE DATABASE {db}", f"CREATE TABLE {db}.t (id INT PRIMARY KEY, a INT, b INT)")
    dst.execute(f"CREATE DATABASE {db}", f"CREATE TABLE {db}.t (id INT PRIMARY KEY, a INT, b INT)")
    running = Running(make_ctx(tmp_path, src, dst, db))
    caplog.set_level(logging.INFO, logger="dmshell.engine.sync")
    try:
        src.execute(
            f"ALTER TABLE {db}.t ADD (c INT, d VARCHAR(5)), DROP COLUMN a, MODIFY b BIGINT NOT NULL, "
            f"ADD UNIQUE KEY ub (b), RENAME TO {db}.t2",
            f"INSERT INTO {db}.t2 VALUES (1, 5, 6, 'x')",
        )
        converge(src, dst, [(f"{db}.t2", f"{db}.t2")], running)
    finally:
        running.stop()
    executed = [r.getMessage() for r in caplog.records if r.getMessage().startswith("executed DDL: ")]
    assert executed == [
        f"executed DDL: ALTER TABLE `{db}`.`t` {clause}"
        for clause in (
            "ADD COLUMN c INT",
            "ADD COLUMN d VARCHAR(5)",
            "DROP COLUMN a",
            "MODIFY b BIGINT NOT NULL",
            "ADD UNIQUE KEY ub (b)",
            f"RENAME TO `{db}`.`t2`",
        )
    ]
    assert structure(dst, db, "t2") == structure(src, db, "t2")


def test_second_shard_create_table_on_the_merged_target(mariadb, db, tmp_path):
    """DM creates tables with IF NOT EXISTS: the second shard's CREATE TABLE finds the merged
    table already there and is no error."""
    src, dst = mariadb.up2, mariadb.target
    route = RouteRule(
        schema_pattern=db, table_pattern="shard_*", target_schema=f"{db}_t", target_table="merged"
    )
    schema_route = RouteRule(schema_pattern=db, target_schema=f"{db}_t")
    running = Running(make_ctx(tmp_path, src, dst, db, routes=[route, schema_route]))
    try:
        src.execute(
            f"CREATE DATABASE {db}",
            f"CREATE TABLE {db}.shard_1 (id INT PRIMARY KEY, v VARCHAR(10))",
            f"INSERT INTO {db}.shard_1 VALUES (1, 'a')",
            f"CREATE TABLE {db}.shard_2 (id INT PRIMARY KEY, v VARCHAR(10))",
            f"INSERT INTO {db}.shard_2 VALUES (2, 'b')",
        )
        wait_until(
            lambda: rows(dst, f"SELECT * FROM {db}_t.merged") == [("1", "a"), ("2", "b")]
            if tables(dst, f"{db}_t")
            else False,
            "merged rows",
            running=running,
        )
    finally:
        running.stop()
    assert tables(dst, f"{db}_t") == ["merged"]
