"""Row changes → SQL (normal and safe mode), value normalisation, causality keys; and safe-mode SQL
applied twice on the real target leaves the same rows as applied once."""

from __future__ import annotations

from dmshell.engine.dml import DELETE, INSERT, UPDATE, RowChange, causality_keys, gen_sql, normalize
from dmshell.engine.schema_tracker import table_from_create
from dmshell.engine.sync_apply import Causality

PK = table_from_create("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(5), g INT AS (id) VIRTUAL)", "db")
NOKEY = table_from_create("CREATE TABLE n (a INT, b VARCHAR(5))", "db")
UK = table_from_create("CREATE TABLE u (x INT, k VARCHAR(5) NOT NULL, n INT, UNIQUE KEY uk (k), "
                       "UNIQUE KEY un (n))", "db")
TARGET = ("tdb", "tt")


def change(table, op, before=None, after=None) -> RowChange:
    return RowChange(op, table, TARGET, before, after)


def test_normal_mode_sql():
    assert gen_sql(change(PK, INSERT, after=[1, "a", 1]), False) == [
        ("INSERT INTO `tdb`.`tt` (`id`,`v`) VALUES (%s,%s)", [1, "a"])]
    assert gen_sql(change(PK, UPDATE, [1, "a", 1], [2, "b", 2]), False) == [
        ("UPDATE `tdb`.`tt` SET `id`=%s,`v`=%s WHERE `id`=%s LIMIT 1", [2, "b", 1])]
    assert gen_sql(change(PK, DELETE, before=[2, "b", 2]), False) == [
        ("DELETE FROM `tdb`.`tt` WHERE `id`=%s LIMIT 1", [2])]
    assert gen_sql(change(NOKEY, DELETE, before=[None, "x"]), False) == [
        ("DELETE FROM `tdb`.`tt` WHERE `a` IS NULL AND `b`=%s LIMIT 1", ["x"])]
    (sql, _), = gen_sql(change(UK, UPDATE, [1, "k", None], [2, "k", None]), False)
    assert sql.endswith("WHERE `k`=%s LIMIT 1")


def test_safe_mode_sql():
    assert gen_sql(change(PK, INSERT, after=[1, "a", 1]), True) == [
        ("REPLACE INTO `tdb`.`tt` (`id`,`v`) VALUES (%s,%s)", [1, "a"])]
    assert gen_sql(change(PK, UPDATE, [1, "a", 1], [1, "b", 1]), True) == [
        ("REPLACE INTO `tdb`.`tt` (`id`,`v`) VALUES (%s,%s)", [1, "b"])]
    assert gen_sql(change(PK, UPDATE, [1, "a", 1], [2, "a", 2]), True) == [
        ("DELETE FROM `tdb`.`tt` WHERE `id`=%s LIMIT 1", [1]),
        ("REPLACE INTO `tdb`.`tt` (`id`,`v`) VALUES (%s,%s)", [2, "a"])]
    assert gen_sql(change(NOKEY, INSERT, after=[1, "a"]), True) == [
        ("DELETE FROM `tdb`.`tt` WHERE `a`=%s AND `b`=%s LIMIT 1", [1, "a"]),
        ("INSERT INTO `tdb`.`tt` (`a`,`b`) VALUES (%s,%s)", [1, "a"])]
    assert [s for s, _ in gen_sql(change(NOKEY, UPDATE, [1, "a"], [1, "b"]), True)] == [
        "DELETE FROM `tdb`.`tt` WHERE `a`=%s AND `b`=%s LIMIT 1",
        "DELETE FROM `tdb`.`tt` WHERE `a`=%s AND `b`=%s LIMIT 1",
        "INSERT INTO `tdb`.`tt` (`a`,`b`) VALUES (%s,%s)"]


def test_values_are_normalised_for_their_column_types():
    t = table_from_create("CREATE TABLE t (b BIT(5), s SET('x','y','z'), u INT UNSIGNED, "
                          "big BIGINT UNSIGNED, j JSON, i INT)", "db")
    values = ["10101", {"z", "x"}, -1, -2, {"a": [1, "é"]}, -3]
    assert normalize(t, values) == [21, "x,z", 4294967295, 18446744073709551614, '{"a": [1, "é"]}', -3]


def test_causality_keys():
    k = causality_keys(change(PK, UPDATE, [1, "a", 1], [1, "b", 1]))
    assert k == ["`tdb`.`tt`|PRIMARY|1"]
    moved = causality_keys(change(PK, UPDATE, [1, "a", 1], [2, "a", 2]))
    assert moved == ["`tdb`.`tt`|PRIMARY|1", "`tdb`.`tt`|PRIMARY|2"]
    assert causality_keys(change(UK, INSERT, after=[1, "AbC", None])) == ["`tdb`.`tt`|uk|abc"], \
        "case-insensitive, and a NULL unique key is no key"
    both = causality_keys(change(UK, INSERT, after=[1, "k", 7]))
    assert both == ["`tdb`.`tt`|uk|k", "`tdb`.`tt`|un|7"]
    assert causality_keys(change(NOKEY, DELETE, before=[1, b"\x00\xff"])) == ["`tdb`.`tt`||1|00ff"]


def test_causality_detects_conflicts():
    c = Causality(4)
    q1 = c.assign(["a"])
    assert c.assign(["a", "b"]) == q1 and c.assign(["b"]) == q1
    other = next(k for k in (f"k{i}" for i in range(100)) if c.assign([k]) != q1)
    assert c.assign(["a", other]) is None, "keys held by two queues: conflict"
    c.reset()
    assert c.assign(["a", other]) is not None


def test_safe_mode_replays_are_idempotent_on_the_target(mariadb, dbname):
    dst = mariadb.target
    dst.execute(f"DROP DATABASE IF EXISTS {dbname}", f"CREATE DATABASE {dbname}",
                f"CREATE TABLE {dbname}.t (id INT PRIMARY KEY, v VARCHAR(5))",
                f"CREATE TABLE {dbname}.n (a INT, b VARCHAR(5))")
    pk = table_from_create("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(5))", dbname)
    nk = table_from_create("CREATE TABLE n (a INT, b VARCHAR(5))", dbname)
    t, n = (dbname, "t"), (dbname, "n")
    changes = [
        RowChange(INSERT, pk, t, None, [1, "a"]), RowChange(INSERT, pk, t, None, [2, "b"]),
        RowChange(UPDATE, pk, t, [1, "a"], [3, "c"]), RowChange(DELETE, pk, t, [2, "b"], None),
        RowChange(INSERT, nk, n, None, [1, "x"]), RowChange(INSERT, nk, n, None, [2, "y"]),
        RowChange(UPDATE, nk, n, [1, "x"], [1, "z"]), RowChange(DELETE, nk, n, [2, "y"], None),
    ]
    conn = dst.connect()
    try:
        for _ in range(2):  # a crash right before the checkpoint: everything is replayed once more
            with conn.cursor() as cur:
                for ch in changes:
                    for sql, args in gen_sql(ch, True):
                        cur.execute(sql, args)
            assert dst.query(f"SELECT * FROM {dbname}.t ORDER BY id") == [(3, "c")]
            assert dst.query(f"SELECT * FROM {dbname}.n ORDER BY a") == [(1, "z")]
    finally:
        conn.close()
