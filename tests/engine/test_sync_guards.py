"""Configuration that is accepted but not implemented yet stops the unit the moment it would matter,
against the real MariaDB fixture: ``shard-mode`` at the first DDL on a table a route merges. DML
keeps working until then, and the checkpoint stays before the stopping event (a resume stops there
again). (Online DDL, once guarded here too, is implemented: ``test_sync_onlineddl.py``.)"""

from __future__ import annotations

import pytest

from dmshell.engine import errors
from dmshell.engine.filters.rule_types import RouteRule

from .sync_helpers import (
    Running,
    columns,
    converge,
    fresh_db,
    make_ctx,
    rows,
    wait_until,
)


@pytest.fixture
def db(mariadb, dbname):
    return fresh_db(mariadb, dbname)


@pytest.mark.parametrize("mode", ["pessimistic", "optimistic"])
def test_shard_mode_stops_at_the_first_ddl_on_a_merged_table(mariadb, db, tmp_path, mode):
    src, dst = mariadb.up1, mariadb.target
    merge = RouteRule(schema_pattern=db, table_pattern="shard_*", target_schema=db, target_table="merged")
    ctx = make_ctx(tmp_path, src, dst, db, routes=[merge])
    ctx.cfg.shard_mode = mode
    running = Running(ctx)
    src.execute(
        f"CREATE DATABASE {db}",
        f"CREATE TABLE {db}.shard_1 (id INT PRIMARY KEY, v INT)",
        f"CREATE TABLE {db}.shard_2 (id INT PRIMARY KEY, v INT)",  # the merged table exists: no-op
        f"CREATE TABLE {db}.plain (id INT PRIMARY KEY)",
        f"INSERT INTO {db}.shard_1 VALUES (1, 1)",
        f"INSERT INTO {db}.shard_2 VALUES (2, 2)",
        f"UPDATE {db}.shard_1 SET v = 10",
        f"ALTER TABLE {db}.plain ADD COLUMN c INT",  # not merged: executed
        f"INSERT INTO {db}.plain VALUES (1, 1)",
    )
    converge(src, dst, [(f"{db}.plain", f"{db}.plain")], running)
    wait_until(
        lambda: rows(dst, f"SELECT * FROM {db}.merged") == [("1", "10"), ("2", "2")],
        "DML on the merged table",
        running=running,
    )
    alter = f"ALTER TABLE {db}.shard_2 ADD COLUMN c INT"
    src.execute(alter, f"INSERT INTO {db}.shard_2 VALUES (3, 3, 3)")
    err = running.wait_error()
    assert isinstance(err, errors.DMError) and err.code == 36068 and not err.resumable
    assert err.message.endswith(
        f"origin SQL: [{alter}]: `ALTER TABLE` statement not supported in {mode} mode"
    )
    assert f"`shard-mode: {mode}`" in err.workaround and f"`{db}`.`merged`" in err.workaround
    assert columns(dst, f"{db}.merged") == ["id", "v"], "the DDL never reached the merged table"
    assert rows(dst, f"SELECT * FROM {db}.merged") == [("1", "10"), ("2", "2")]
