"""The online-DDL handling on its own: table kinds from the rules, the record table on a real
target (DM's shape, surviving a restart), and pt-osc's and gh-ost's statement sequences turned into
one DDL on the real table."""

from __future__ import annotations

import json

import pytest

from dmshell.engine import errors
from dmshell.engine.config.load import load_task_config
from dmshell.engine.db import connect
from dmshell.engine.ddl.statement import parse_ddl
from dmshell.engine.onlineddl import OnlineDDL, Rules, Storage, TableKind


def sub(extra: str = ""):
    task = load_task_config(
        "name: oddl\ntask-mode: incremental\n"
        "target-database:\n  host: 127.0.0.1\n  port: 3306\n  user: root\n"
        f"{extra}mysql-instances:\n  - source-id: s1\n    meta:\n      binlog-name: mysql-bin.000001\n"
    )
    return task.subtask("s1")


def test_default_rules_know_gh_ost_and_pt_osc_tables():
    rules = Rules.of(sub())
    kinds = {
        t: rules.kind(t) for t in ("t", "_t_gho", "_t_new", "_t_ghc", "_t_del", "_t_old", "t_gho", "_t_")
    }
    assert kinds == {
        "t": TableKind.REAL,
        "_t_gho": TableKind.GHOST,
        "_t_new": TableKind.GHOST,
        "_t_ghc": TableKind.TRASH,
        "_t_del": TableKind.TRASH,
        "_t_old": TableKind.TRASH,
        "t_gho": TableKind.REAL,
        "_t_": TableKind.REAL,
    }
    assert rules.real_name("_my_table_gho") == "my_table" and rules.real_name("t") == "t"
    # the legacy scheme turns online DDL on with the same default rules
    legacy = sub("online-ddl-scheme: pt\n")
    assert legacy.online_ddl and Rules.of(legacy).kind("_t_new") == TableKind.GHOST
    custom = Rules.of(
        sub("shadow-table-rules: ['^tmp_(.+)_shadow$']\ntrash-table-rules: ['^tmp_(.+)_bin$']\n")
    )
    assert custom.kind("tmp_t_shadow") == TableKind.GHOST and custom.kind("_t_gho") == TableKind.REAL
    assert custom.real_name("tmp_orders_bin") == "orders"


@pytest.fixture
def storage(mariadb, dbname):
    target = mariadb.target
    target.execute(f"DROP DATABASE IF EXISTS {dbname}")
    made: list[Storage] = []

    def make(source: str = "s1") -> Storage:
        s = Storage(lambda: connect(target.dbconfig()), dbname, "oddl", source)
        s.prepare()
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()
    target.execute(f"DROP DATABASE IF EXISTS {dbname}")


def test_records_survive_a_restart_in_dms_table(mariadb, dbname, storage):
    s = storage()
    s.save("db", "_t_gho", "t", "ALTER TABLE `db`.`_t_gho` ADD c INT")
    s.save("db", "_t_gho", "t", "ALTER TABLE `db`.`_t_gho` ADD c INT")  # a replayed event
    s.save("db", "_t_gho", "t", "ALTER TABLE `db`.`_t_gho` ADD INDEX (c)")
    storage("s2").save("db", "_t_gho", "t", "ALTER TABLE `db`.`_t_gho` DROP c")
    rows = mariadb.target.query(
        f"SELECT id, ghost_schema, ghost_table, ddls FROM {dbname}.oddl_onlineddl ORDER BY id"
    )
    assert [(r[0], r[1], r[2]) for r in rows] == [("s1", "db", "_t_gho"), ("s2", "db", "_t_gho")]
    assert json.loads(rows[0][3]) == {
        "schema": "db",
        "table": "t",
        "ddls": ["ALTER TABLE `db`.`_t_gho` ADD c INT", "ALTER TABLE `db`.`_t_gho` ADD INDEX (c)"],
    }
    again = storage()  # a restarted sync unit of s1 sees its record, not s2's
    info = again.get("db", "_t_gho")
    assert info is not None and len(info.ddls) == 2 and list(again.records) == [("db", "_t_gho")]
    again.delete("db", "_t_gho")
    assert storage().get("db", "_t_gho") is None
    mariadb.target.execute(f"UPDATE {dbname}.oddl_onlineddl SET ddls = 'nonsense'")
    with pytest.raises(errors.DMError) as info_err:
        storage("s2")
    assert info_err.value.code == 36039


def run(plugin: OnlineDDL, *statements: str, schema: str = "db") -> list[str]:
    out = []
    for sql in statements:
        outcome = plugin.apply(parse_ddl(sql, schema))
        if outcome is None:
            out.append(sql)
            continue
        out += outcome.statements
        plugin.finish(outcome)
    return out


def test_pt_osc_sequence_gives_one_alter_on_the_real_table(storage):
    plugin = OnlineDDL(Rules.of(sub()), storage())
    got = run(
        plugin,
        "CREATE TABLE `db`.`_t_new` (`id` int NOT NULL, PRIMARY KEY (`id`))",
        "ALTER TABLE `db`.`_t_new` ADD COLUMN c INT, ADD INDEX ic (c)",
        "RENAME TABLE `db`.`t` TO `db`.`_t_old`, `db`.`_t_new` TO `db`.`t`",
        "DROP TABLE IF EXISTS `db`.`_t_old`",
        "ALTER TABLE t ADD d INT",  # later DDL on the real table: as usual
    )
    assert got == ["ALTER TABLE `db`.`t` ADD COLUMN c INT, ADD INDEX ic (c)", "ALTER TABLE t ADD d INT"]
    assert plugin.storage.records == {}
    assert plugin.skips_rows("_t_new") and plugin.skips_rows("_t_old") and not plugin.skips_rows("t")


def test_gh_ost_sequence_and_unqualified_names(storage):
    plugin = OnlineDDL(Rules.of(sub()), storage())
    got = run(
        plugin,
        "CREATE TABLE _t_ghc (id bigint auto_increment, hint varchar(64), primary key(id))",
        "CREATE TABLE _t_gho LIKE t",
        "ALTER TABLE _t_gho ADD COLUMN c INT",
        "ALTER TABLE _t_gho ADD KEY ic (c)",
        "CREATE TABLE _t_del (id int, primary key(id))",
        "DROP TABLE IF EXISTS _t_del",
        "RENAME TABLE t TO _t_del, _t_gho TO t",
        "DROP TABLE IF EXISTS _t_ghc",
        "DROP TABLE IF EXISTS _t_del, other",
        schema="db",
    )
    assert got == [
        "ALTER TABLE `db`.`t` ADD COLUMN c INT",
        "ALTER TABLE `db`.`t` ADD KEY ic (c)",
        "DROP TABLE IF EXISTS `db`.`other`",
    ]


def test_renames_dm_refuses_and_a_cut_over_without_a_record(storage):
    plugin = OnlineDDL(Rules.of(sub()), storage())
    with pytest.raises(errors.DMError) as info:
        run(plugin, "RENAME TABLE db.t TO db._t_gho")
    assert info.value.code == 36044
    with pytest.raises(errors.DMError) as info:
        run(plugin, "RENAME TABLE db._t_gho TO db._x_new")
    assert info.value.code == 36045
    with pytest.raises(errors.DMError) as info:
        run(plugin, "RENAME TABLE db._t_gho TO db.t")
    assert info.value.code == 36046 and "`db`.`_t_gho`" in str(info.value)
    # real pairs of a mixed RENAME are kept; a ghost moved to the trash forgets its record
    run(plugin, "ALTER TABLE db._u_gho ADD x INT")
    assert run(plugin, "RENAME TABLE db.a TO db.b, db._u_gho TO db._u_del") == [
        "RENAME TABLE `db`.`a` TO `db`.`b`"
    ]
    assert plugin.storage.records == {}
