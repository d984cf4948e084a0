"""The schema tracker: structures from real SHOW CREATE TABLE output, DDL replay, persistence."""

from __future__ import annotations

import pytest

from dmshell.engine import errors
from dmshell.engine.ddl.statement import TableName, parse_ddl
from dmshell.engine.schema.tracker import SchemaTracker, TableInfo, load_table_infos, table_from_create


def test_table_from_real_show_create_table(mariadb, dbname):
    up = mariadb.up1
    up.execute(
        f"DROP DATABASE IF EXISTS {dbname}",
        f"CREATE DATABASE {dbname}",
        f"CREATE TABLE {dbname}.t (id BIGINT UNSIGNED AUTO_INCREMENT, "
        "name VARCHAR(20) CHARSET latin1, "
        "e ENUM('a','b') NOT NULL, doc JSON, g INT AS (u + 1) PERSISTENT, u INT NOT NULL, n INT, "
        "PRIMARY KEY (id), UNIQUE KEY un (n), UNIQUE KEY uu (u), KEY (name)) DEFAULT CHARSET utf8mb4",
    )
    sql = up.query(f"SHOW CREATE TABLE {dbname}.t")[0][1]
    info = table_from_create(sql, dbname)
    assert (info.schema, info.name, info.charset) == (dbname, "t", "utf8mb4")
    assert [c.name for c in info.columns] == ["id", "name", "e", "doc", "g", "u", "n"]
    col = {c.name: c for c in info.columns}
    assert col["id"].unsigned and col["id"].data_type == "bigint" and not col["id"].nullable
    assert info.column_charset(col["name"]) == "latin1" and info.column_charset(col["e"]) == "utf8mb4"
    assert col["e"].elements == ["a", "b"] and col["g"].generated
    assert info.primary_key == ["id"] and sorted(info.unique_keys) == [("un", ["n"]), ("uu", ["u"])]
    assert info.identity_indexes() == [0]
    with pytest.raises(errors.DMError) as exc:
        table_from_create("CREATE VIEW v AS SELECT 1", dbname)
    assert exc.value.code == 44009


def test_identity_prefers_pk_then_not_null_unique_key():
    def info(sql: str) -> TableInfo:
        return table_from_create(sql, "db")

    two = info("CREATE TABLE t (a INT, b INT NOT NULL, UNIQUE KEY (a), UNIQUE KEY (b))")
    assert two.identity_indexes() == [1]
    assert info("CREATE TABLE t (a INT, b INT, UNIQUE KEY (a))").identity_indexes() is None
    assert info("CREATE TABLE t (a INT, b INT, PRIMARY KEY (b, a))").identity_indexes() == [1, 0]
    inline = info("CREATE TABLE t (a INT PRIMARY KEY, b INT UNIQUE)")
    assert inline.key_indexes() == [("PRIMARY", [0]), ("b", [1])]


def replay(tracker: SchemaTracker, *statements: str, allowed=lambda n: n.schema == "db") -> None:
    for sql in statements:
        tracker.apply(parse_ddl(sql, "db"), allowed, lambda s, t: None)


def test_replaying_ddl():
    tr = SchemaTracker()
    replay(tr, "CREATE TABLE t (id INT PRIMARY KEY, a INT, b VARCHAR(5), c INT, UNIQUE KEY ub (b))")
    first = tr.get("db", "t")
    replay(tr, "ALTER TABLE t ADD COLUMN z INT FIRST, ADD y INT AFTER a, DROP COLUMN c, ADD COLUMN a INT")
    assert [c.name for c in tr.get("db", "t").columns] == ["z", "id", "a", "y", "b"]
    assert [c.name for c in first.columns] == ["id", "a", "b", "c"], "copy-on-write"
    replay(
        tr,
        "ALTER TABLE t CHANGE b bb VARCHAR(9) NOT NULL, MODIFY a BIGINT UNSIGNED AFTER bb, "
        "RENAME COLUMN y TO yy, DROP COLUMN missing",
    )
    t = tr.get("db", "t")
    assert [c.name for c in t.columns] == ["z", "id", "yy", "bb", "a"]
    assert t.unique_keys == [("ub", ["bb"])] and t.columns[4].unsigned and not t.columns[3].nullable
    assert t.identity_indexes() == [1]
    replay(tr, "ALTER TABLE t DROP PRIMARY KEY, ADD UNIQUE INDEX uz (z)", "DROP INDEX ub ON t")
    t = tr.get("db", "t")
    assert t.primary_key == [] and t.unique_keys == [("uz", ["z"])] and t.identity_indexes() is None
    replay(tr, "CREATE UNIQUE INDEX uid ON t (id)", "ALTER TABLE t MODIFY id INT NOT NULL")
    assert tr.get("db", "t").identity_indexes() == [1]
    replay(tr, "CREATE TABLE t2 LIKE t", "RENAME TABLE t TO t3", "ALTER TABLE t2 RENAME TO other.t2")
    assert tr.get("db", "t") is None and tr.get("db", "t3") is not None
    assert tr.get("db", "t2") is None and tr.get("other", "t2") is None, "renamed out of the task"
    replay(tr, "CREATE TABLE IF NOT EXISTS t3 (x INT)")
    assert tr.get("db", "t3").columns[0].name == "z", "IF NOT EXISTS keeps the existing table"
    replay(tr, "CREATE TABLE other.x (a INT)")
    assert tr.get("other", "x") is None, "tables outside the task are not tracked"
    changed, removed = tr.take_changes()
    assert {(i.schema, i.name) for i in changed} == {("db", "t3")}
    assert set(removed) == {("db", "t"), ("db", "t2")}
    replay(tr, "DROP DATABASE db")
    assert tr.tables() == []


def test_alter_of_an_unknown_table_uses_the_loader():
    tr = SchemaTracker()
    loaded = table_from_create("CREATE TABLE t (a INT, b INT)", "db")
    tr.apply(
        parse_ddl("ALTER TABLE t ADD COLUMN c INT, ADD COLUMN b INT", "db"),
        lambda n: True,
        lambda s, t: loaded if (s, t) == ("db", "t") else None,
    )
    assert [c.name for c in tr.get("db", "t").columns] == ["a", "b", "c"]
    tr.apply(parse_ddl("ALTER TABLE nowhere ADD COLUMN c INT", "db"), lambda n: True, lambda s, t: None)
    assert tr.get("db", "nowhere") is None


def test_json_round_trip_and_bad_json():
    info = table_from_create(
        "CREATE TABLE t (a INT UNSIGNED NOT NULL, e SET('x','y'), PRIMARY KEY (a), "
        "UNIQUE KEY u (e)) DEFAULT CHARSET=latin1",
        "db",
    )
    back = TableInfo.from_json(info.to_json())
    assert back.columns == info.columns and back.primary_key == ["a"] and back.unique_keys == [("u", ["e"])]
    assert back.charset == "latin1" and "CREATE TABLE `t`" in back.create_sql()
    (again,) = load_table_infos([("db", "t", info.to_json().encode())])
    assert again.columns == info.columns
    with pytest.raises(errors.DMError) as exc:
        load_table_infos([("db", "t", "{not json")])
    assert exc.value.code == 44001 and "`db`.`t`" in exc.value.message
    assert TableName("db", "t").start == -1
