"""Configuration that is accepted but not implemented yet stops the unit the moment it would matter,
against the real MariaDB fixture: ``online-ddl: true`` (DM's default) at the first gh-ost / pt-osc
shadow or trash table. DML keeps working until then, and the checkpoint stays before the stopping
event (a resume stops there again)."""

from __future__ import annotations

import pytest

from dmshell.engine import errors
from dmshell.engine.filters.rule_types import BAList

from .sync_helpers import (
    Running,
    checkpoint_rows,
    columns,
    converge,
    fresh_db,
    global_checkpoint,
    make_ctx,
    master,
    meta_at,
    rows,
    wait_until,
)


@pytest.fixture
def db(mariadb, dbname):
    return fresh_db(mariadb, dbname)


def test_gh_ost_shadow_table_stops_the_unit_and_online_ddl_false_replicates_it(mariadb, db, tmp_path):
    src, dst = mariadb.up1, mariadb.target
    ctx = make_ctx(tmp_path, src, dst, db)
    assert ctx.cfg.online_ddl, "DM's default"
    running = Running(ctx)
    src.execute(
        f"CREATE DATABASE {db}",
        f"CREATE TABLE {db}.t (id INT PRIMARY KEY, v INT)",
        f"INSERT INTO {db}.t VALUES (1, 1), (2, 2)",
    )
    converge(src, dst, [(f"{db}.t", f"{db}.t")], running)
    before = master(src)
    wait_until(lambda: global_checkpoint(dst, db).same_position(before), "checkpoint", running=running)
    # gh-ost's first steps: the changelog and the shadow table
    src.execute(
        f"CREATE TABLE {db}._t_ghc (id BIGINT PRIMARY KEY, hint VARCHAR(64))",
        f"CREATE TABLE {db}._t_gho LIKE {db}.t",
    )
    err = running.wait_error()
    assert isinstance(err, errors.DMError) and err.code == 36046 and not err.resumable
    assert err.message.endswith(f"online ddls on ghost table `{db}`.`_t_ghc`")
    assert err.message.startswith("startLocation: [position: (mysql-bin.")
    assert f"origin SQL: [CREATE TABLE {db}._t_ghc" in err.message
    assert "online-ddl: false" in err.workaround and "shadow-table-rules" in err.workaround
    assert "_t_ghc" not in [r[0] for r in dst.query(f"SHOW TABLES FROM {db}")], "nothing replicated wrongly"
    assert global_checkpoint(dst, db).same_position(before), "a resume stops at the same place"
    assert [r[1] for r in checkpoint_rows(dst, db) if not r[9]] == ["t"]

    # the documented way out: replicate the tool's tables as ordinary tables
    ctx.cfg.online_ddl = False
    running = Running(ctx)
    try:
        src.execute(
            f"ALTER TABLE {db}._t_gho ADD COLUMN w INT",
            f"INSERT INTO {db}._t_gho (id, v) SELECT id, v FROM {db}.t",
            f"RENAME TABLE {db}.t TO {db}._t_del, {db}._t_gho TO {db}.t",
            f"INSERT INTO {db}.t VALUES (3, 3, 3)",
        )
        converge(src, dst, [(f"{db}.t", f"{db}.t"), (f"{db}._t_del", f"{db}._t_del")], running)
    finally:
        running.stop()
    assert columns(dst, f"{db}.t") == ["id", "v", "w"]


def test_rows_on_a_trash_table_stop_the_unit_unless_the_ba_list_ignores_it(mariadb, db, tmp_path):
    src, dst = mariadb.up2, mariadb.target
    src.execute(
        f"CREATE DATABASE {db}",
        f"CREATE TABLE {db}.t (id INT PRIMARY KEY)",
        f"CREATE TABLE {db}._t_old (id INT PRIMARY KEY)",  # pt-osc's trash table, before the start
    )
    dst.execute(f"CREATE DATABASE {db}", f"CREATE TABLE {db}.t (id INT PRIMARY KEY)")
    start = master(src)
    ignoring = BAList(do_dbs=[db], ignore_tables=[(db, "_t_old")])
    running = Running(make_ctx(tmp_path, src, dst, db, meta=meta_at(start), ba=ignoring, task="ignoring"))
    try:
        src.execute(f"INSERT INTO {db}.t VALUES (1)", f"INSERT INTO {db}._t_old VALUES (1)")
        converge(src, dst, [(f"{db}.t", f"{db}.t")], running)
        wait_until(
            lambda: global_checkpoint(dst, db, "ignoring") >= master(src), "checkpoint", running=running
        )
    finally:
        running.stop()

    # the same range again, not ignoring it (safe mode: the replayed row is there already)
    running = Running(make_ctx(tmp_path, src, dst, db, meta=meta_at(start), task="guarded", safe_mode=True))
    err = running.wait_error()
    assert isinstance(err, errors.DMError) and err.code == 36046
    assert err.message.endswith(f"online ddls on ghost table `{db}`.`_t_old`")
    assert "origin SQL" not in err.message and "endLocation: [position: (mysql-bin." in err.message
    assert rows(dst, f"SELECT * FROM {db}.t") == [("1",)], "the rows before it were applied"
    assert "_t_old" not in [r[0] for r in dst.query(f"SHOW TABLES FROM {db}")]
