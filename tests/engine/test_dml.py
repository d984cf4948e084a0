"""Row changes → SQL (normal and safe mode, single and multiple rows), SQL literals, value
normalisation, causality keys; on the real target: safe-mode SQL applied twice leaves the same rows
as applied once, and multi-row batches (regrouped across a batch) leave the same rows as one
statement per change."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest

from dmshell.engine.schema.tracker import table_from_create
from dmshell.engine.sync.apply import Causality
from dmshell.engine.sync.dml import (
    DELETE,
    INSERT,
    UPDATE,
    RowChange,
    batch_statements,
    causality_keys,
    compact_changes,
    encode,
    literal,
    normalize,
    statements,
)

PK = table_from_create("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(5), g INT AS (id) VIRTUAL)", "db")
NOKEY = table_from_create("CREATE TABLE n (a INT, b VARCHAR(5))", "db")
UK = table_from_create(
    "CREATE TABLE u (x INT, k VARCHAR(5) NOT NULL, n INT, UNIQUE KEY uk (k), " "UNIQUE KEY un (n))", "db"
)
CPK = table_from_create("CREATE TABLE c (a INT, b VARCHAR(5), v INT, PRIMARY KEY (a, b))", "db")
TARGET = ("tdb", "tt")


def change(table, op, before=None, after=None, safe=False) -> RowChange:
    c = RowChange(op, table, TARGET, before, after, safe=safe)
    c.keys = causality_keys(c)
    return c


def test_normal_mode_sql():
    assert statements(change(PK, INSERT, after=[1, "a", 1])) == [
        "INSERT INTO `tdb`.`tt` (`id`,`v`) VALUES (1,'a')"
    ]
    assert statements(change(PK, UPDATE, [1, "a", 1], [2, "b", 2])) == [
        "UPDATE `tdb`.`tt` SET `id`=2,`v`='b' WHERE `id`=1 LIMIT 1"
    ]
    assert statements(change(PK, DELETE, before=[2, "b", 2])) == [
        "DELETE FROM `tdb`.`tt` WHERE `id`=2 LIMIT 1"
    ]
    assert statements(change(NOKEY, DELETE, before=[None, "x"])) == [
        "DELETE FROM `tdb`.`tt` WHERE `a` IS NULL AND `b`='x' LIMIT 1"
    ]
    (sql,) = statements(change(UK, UPDATE, [1, "k", None], [2, "k", None]))
    assert sql.endswith("WHERE `k`='k' LIMIT 1")


def test_safe_mode_sql():
    assert statements(change(PK, INSERT, after=[1, "a", 1]), True) == [
        "REPLACE INTO `tdb`.`tt` (`id`,`v`) VALUES (1,'a')"
    ]
    assert statements(change(PK, UPDATE, [1, "a", 1], [1, "b", 1], safe=True)) == [
        "REPLACE INTO `tdb`.`tt` (`id`,`v`) VALUES (1,'b')"
    ]
    assert statements(change(PK, UPDATE, [1, "a", 1], [2, "a", 2]), True) == [
        "DELETE FROM `tdb`.`tt` WHERE `id`=1 LIMIT 1",
        "REPLACE INTO `tdb`.`tt` (`id`,`v`) VALUES (2,'a')",
    ]
    assert statements(change(NOKEY, INSERT, after=[1, "a"]), True) == [
        "DELETE FROM `tdb`.`tt` WHERE `a`=1 AND `b`='a' LIMIT 1",
        "INSERT INTO `tdb`.`tt` (`a`,`b`) VALUES (1,'a')",
    ]
    assert [s.split(" WHERE")[0] for s in statements(change(NOKEY, UPDATE, [1, "a"], [1, "b"]), True)] == [
        "DELETE FROM `tdb`.`tt`",
        "DELETE FROM `tdb`.`tt`",
        "INSERT INTO `tdb`.`tt` (`a`,`b`) VALUES (1,'b')",
    ]


def test_literals():
    assert literal(None) == "NULL" and literal(True) == "1" and literal(-5) == "-5"
    assert literal('it\'s a \\ "q"\n\r\0\x1a') == "'it\\'s a \\\\ \\\"q\\\"\\n\\r\\0\\Z'"
    assert literal("héllo ☃") == "'héllo ☃'"
    raw = literal(b"\x00\xff'\\")
    assert raw.encode("utf-8", "surrogateescape") == b"_binary'\\0\xff\\'\\\\'"
    assert literal(0.1) == "0.1e0" and literal(1e300) == "1e+300"
    assert literal(Decimal("-12.3400")) == "-12.3400"
    assert literal(dt.datetime(2020, 1, 2, 3, 4, 5, 60)) == "'2020-01-02 03:04:05.000060'"
    assert literal(dt.date(2020, 1, 2)) == "'2020-01-02'"
    assert literal(-dt.timedelta(microseconds=500000)) == "'-00:00:00.500000'"
    assert literal(dt.timedelta(hours=838, minutes=59, seconds=59)) == "'838:59:59'"
    assert literal({"b", "a"}) == "'a,b'" and literal({"k": [1]}) == "'{\\\"k\\\": [1]}'"


def test_values_are_normalised_for_their_column_types():
    t = table_from_create(
        "CREATE TABLE t (b BIT(5), s SET('x','y','z'), u INT UNSIGNED, "
        "big BIGINT UNSIGNED, j JSON, i INT)",
        "db",
    )
    values = ["10101", {"z", "x"}, -1, -2, {"a": [1, "é"]}, -3]
    assert normalize(t, values) == [21, "x,z", 4294967295, 18446744073709551614, '{"a": [1, "é"]}', -3]
    decoded = [21, "x,z", 4294967295, 1, '{"a": 1}', -3]
    assert normalize(t, decoded) is decoded, "the decoder's values are already in shape"


def test_causality_keys():
    assert causality_keys(change(PK, UPDATE, [1, "a", 1], [1, "b", 1])) == [("`tdb`.`tt`", 0, 1)]
    assert causality_keys(change(PK, UPDATE, [1, "a", 1], [2, "a", 2])) == [
        ("`tdb`.`tt`", 0, 1),
        ("`tdb`.`tt`", 0, 2),
    ]
    assert causality_keys(change(UK, INSERT, after=[1, "AbC", None])) == [
        ("`tdb`.`tt`", 0, "abc")
    ], "case-insensitive, and a NULL unique key is no key"
    t = "`tdb`.`tt`"
    assert causality_keys(change(UK, INSERT, after=[1, "k", 7])) == [(t, 0, "k"), (t, 1, 7)]
    assert causality_keys(change(NOKEY, DELETE, before=[1, b"\x00\xff"])) == [(t, -1, 1, b"\x00\xff")]
    assert causality_keys(change(CPK, DELETE, before=[1, "B", 3])) == [("`tdb`.`tt`", 0, 1, "b")]


def test_causality_detects_conflicts_and_keeps_older_keys():
    c = Causality(4)
    q1 = c.assign(["a"])
    assert c.assign(["a", "b"]) == q1 and c.assign(["b"]) == q1
    other = next(k for k in (f"k{i}" for i in range(100)) if c.assign([k]) != q1)
    assert c.assign(["a", other]) is None, "keys held by two queues: conflict"
    c.older, c.relations = c.relations, {}
    assert c.assign(["a"]) == q1 and "a" in c.relations, "an older generation's key still binds"
    assert c.assign(["a", other]) is None
    c.reset()
    assert c.assign(["a", other]) is not None


def test_multiple_rows_statements():
    batch = [
        change(PK, INSERT, after=[1, "a", 1]),
        change(CPK, INSERT, after=[1, "x", 1]),
        change(PK, INSERT, after=[2, "b", 2]),
        change(PK, UPDATE, [5, "e", 5], [5, "f", 5]),
        change(PK, DELETE, before=[1, "a", 1]),
        change(PK, INSERT, after=[1, "c", 1]),
        change(PK, INSERT, after=[3, "it's", 3]),
        change(PK, UPDATE, [6, "e", 6], [7, "e", 7]),
        change(NOKEY, INSERT, after=[1, "n"]),
        change(CPK, DELETE, before=[2, "y", 0]),
        change(CPK, DELETE, before=[1, "x", 1]),
        change(PK, UPDATE, [8, "h", 8], [8, "i", 8], safe=True),
    ]
    assert [sql for sql, _c in batch_statements(batch, True)] == [
        "INSERT INTO `tdb`.`tt` (`id`,`v`) VALUES (1,'a'),(2,'b')",
        "INSERT INTO `tdb`.`tt` (`a`,`b`,`v`) VALUES (1,'x',1)",
        "INSERT INTO `tdb`.`tt` (`id`,`v`) VALUES (5,'f') "
        "ON DUPLICATE KEY UPDATE `id`=VALUES(`id`),`v`=VALUES(`v`)",
        "DELETE FROM `tdb`.`tt` WHERE `id` IN (1)",
        # 1 shares its key with the DELETE: after it (and 3 joins the latest INSERT)
        "INSERT INTO `tdb`.`tt` (`id`,`v`) VALUES (1,'c'),(3,'it\\'s')",
        "UPDATE `tdb`.`tt` SET `id`=7,`v`='e' WHERE `id`=6 LIMIT 1",  # the identity changes: alone
        "INSERT INTO `tdb`.`tt` (`a`,`b`) VALUES (1,'n')",  # no key: alone
        "DELETE FROM `tdb`.`tt` WHERE (`a`=2 AND `b`='y') OR (`a`=1 AND `b`='x')",
        "REPLACE INTO `tdb`.`tt` (`id`,`v`) VALUES (8,'i')",
    ]
    assert [c for _s, c in batch_statements(batch, True)][3] is batch[4], "errors name the first change"
    single = batch_statements(batch, False)
    assert [s for s, _c in single] == [s for c in batch for s in statements(c)]
    # a statement stays below the size limit (a row alone may exceed it)
    rows = [change(PK, INSERT, after=[i, "x" * 5, i]) for i in range(10)]
    split = [s for s, _c in batch_statements(rows, True, max_bytes=120)]
    assert len(split) > 1 and all(len(s) <= 120 for s in split)
    assert "".join(split).count("'xxxxx'") == 10


@pytest.fixture
def target_db(mariadb, dbname):
    dst = mariadb.target
    dst.execute(f"DROP DATABASE IF EXISTS {dbname}", f"CREATE DATABASE {dbname}")
    return dst


def test_safe_mode_replays_are_idempotent_on_the_target(target_db, dbname):
    dst = target_db
    dst.execute(
        f"CREATE TABLE {dbname}.t (id INT PRIMARY KEY, v VARCHAR(5))",
        f"CREATE TABLE {dbname}.n (a INT, b VARCHAR(5))",
    )
    pk = table_from_create("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(5))", dbname)
    nk = table_from_create("CREATE TABLE n (a INT, b VARCHAR(5))", dbname)
    t, n = (dbname, "t"), (dbname, "n")
    changes = [
        RowChange(INSERT, pk, t, None, [1, "a"]),
        RowChange(INSERT, pk, t, None, [2, "b"]),
        RowChange(UPDATE, pk, t, [1, "a"], [3, "c"]),
        RowChange(DELETE, pk, t, [2, "b"], None),
        RowChange(INSERT, nk, n, None, [1, "x"]),
        RowChange(INSERT, nk, n, None, [2, "y"]),
        RowChange(UPDATE, nk, n, [1, "x"], [1, "z"]),
        RowChange(DELETE, nk, n, [2, "y"], None),
    ]
    for ch in changes:
        ch.safe = True
        ch.keys = causality_keys(ch)
    for multiple_rows in (False, True):
        for _ in range(2):  # a crash right before the checkpoint: everything is replayed once more
            run(dst, [s for s, _c in batch_statements(changes, multiple_rows)])
            assert dst.query(f"SELECT * FROM {dbname}.t ORDER BY id") == [(3, "c")]
            assert dst.query(f"SELECT * FROM {dbname}.n ORDER BY a") == [(1, "z")]


def run(server, sqls: list[str]) -> None:
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            for sql in sqls:
                cur.execute(encode(sql))
    finally:
        conn.close()


TABLES = {
    "pk": "CREATE TABLE {t} (id INT PRIMARY KEY, v VARCHAR(10), w INT)",
    "uk": "CREATE TABLE {t} (u VARCHAR(10) NOT NULL, v VARCHAR(10), w INT, UNIQUE KEY uu (u))",
    "cpk": "CREATE TABLE {t} (a INT, b VARCHAR(10), w INT, PRIMARY KEY (a, b))",
    "nokey": "CREATE TABLE {t} (id INT, v VARCHAR(10), w INT)",
    # a second unique key whose values move between rows (freed by one, taken by another)
    "pkuk": "CREATE TABLE {t} (id INT PRIMARY KEY, v VARCHAR(10) NULL, w INT, UNIQUE KEY uv (v))",
}


def random_changes(rng: random.Random, kind: str, info, target, n: int, safe: bool) -> list[RowChange]:
    """A consistent random history: inserts, updates (sometimes of the identity), deletes."""
    rows: dict[tuple, list] = {}
    out = []

    def ident(v):
        return (v[0], v[1].lower()) if kind == "cpk" else (v[0],) if kind != "nokey" else tuple(v)

    def fresh():
        while True:
            k = rng.randrange(40)
            v = (
                [k, rng.choice("aAbB") + str(k), rng.randrange(5)]
                if kind == "cpk"
                else [f"k{k}" if kind == "uk" else k, rng.choice(["x", "y", "it's", None]), rng.randrange(5)]
            )
            if ident(v) not in rows:
                return v

    def free_v(v):
        """pkuk: a value for the unique column that no row holds (often one just freed)."""
        if kind != "pkuk":
            return v
        taken = {r[1] for r in rows.values()}
        choice = rng.choice([None, *[f"v{i}" for i in range(8)]])
        return choice if choice is None or choice not in taken else None

    for _ in range(n):
        roll = rng.random()
        if not rows or (roll < 0.35 and len(rows) < 25):
            v = fresh()
            v[1] = free_v(v[1])
            rows[ident(v)] = v
            out.append(RowChange(INSERT, info, target, None, v))
        elif roll < 0.8:
            old = rng.choice(list(rows.values()))
            new = list(old)
            new[2] = rng.randrange(100)
            if rng.random() < 0.2 and kind != "nokey" and len(rows) < 25:
                moved = fresh()
                new[0], new[1] = moved[0], moved[1]
            del rows[ident(old)]
            if kind == "pkuk" and (new[1] != old[1] or rng.random() < 0.5):
                new[1] = free_v(old[1])
            rows[ident(new)] = new
            out.append(RowChange(UPDATE, info, target, old, new))
        else:
            old = rng.choice(list(rows.values()))
            del rows[ident(old)]
            out.append(RowChange(DELETE, info, target, old, None))
    for c in out:
        c.safe = safe
        c.keys = causality_keys(c)
    return out


@pytest.mark.parametrize("kind", list(TABLES))
def test_multiple_rows_and_compact_batches_equal_one_statement_per_change(target_db, dbname, kind):
    dst = target_db
    rng = random.Random(kind)
    info = table_from_create(TABLES[kind].format(t="x"), dbname)
    for safe in (False, True):
        a = f"{kind}_{int(safe)}_single"
        dst.execute(TABLES[kind].format(t=f"{dbname}.{a}"))
        history = random_changes(rng, kind, info, (dbname, a), 300, safe)
        run(dst, [s for s, _c in batch_statements(history, False)])
        for multiple_rows, compact in ((True, False), (False, True), (True, True)):
            b = f"{kind}_{int(safe)}_{int(multiple_rows)}{int(compact)}"
            dst.execute(TABLES[kind].format(t=f"{dbname}.{b}"))
            moved = [RowChange(c.op, c.table, (dbname, b), c.before, c.after, safe=c.safe) for c in history]
            sqls = []
            i = 0
            while i < len(moved):  # random batch sizes, as the workers see them
                size = rng.randrange(1, 60)
                part = moved[i : i + size]
                for c in part:
                    c.keys = causality_keys(c)
                sqls += [s for s, _c in batch_statements(part, multiple_rows, compact=compact)]
                i += size
            run(dst, sqls)
            order = "ORDER BY 1, 2, 3"
            assert dst.query(f"SELECT * FROM {dbname}.{b} {order}") == dst.query(
                f"SELECT * FROM {dbname}.{a} {order}"
            ), (multiple_rows, compact)


def test_compact_rules():
    ins = change(PK, INSERT, after=[1, "a", 1])
    upd = change(PK, UPDATE, [1, "a", 1], [1, "b", 1])
    upd2 = change(PK, UPDATE, [1, "b", 1], [1, "c", 1])
    dele = change(PK, DELETE, before=[1, "c", 1])
    ins2 = change(PK, INSERT, after=[1, "d", 1])
    other = change(PK, INSERT, after=[2, "x", 2])

    def ops(changes):
        return [(c.op, c.before, c.after, c.safe) for c in compact_changes(changes)]

    assert ops([ins, other, upd]) == [(INSERT, None, [2, "x", 2], False), (INSERT, None, [1, "b", 1], False)]
    assert ops([upd, upd2]) == [(UPDATE, [1, "a", 1], [1, "c", 1], False)]
    assert ops([ins, upd, dele]) == [(DELETE, [1, "c", 1], None, False)]
    assert ops([upd, dele]) == [(DELETE, [1, "a", 1], None, False)]
    assert ops([dele, ins2]) == [(INSERT, None, [1, "d", 1], True)], "DELETE + INSERT: REPLACE"
    moved = change(PK, UPDATE, [1, "a", 1], [3, "a", 3])
    assert ops([moved]) == [(DELETE, [1, "a", 1], None, False), (INSERT, None, [3, "a", 3], False)]
    assert ops([change(NOKEY, INSERT, after=[1, "a"]), change(NOKEY, DELETE, before=[1, "a"])]) == [
        (INSERT, None, [1, "a"], False),
        (DELETE, [1, "a"], None, False),
    ], "no identity: no compaction"
    # a unique key freed by row 1 and taken by row 2 in between: row 1's changes keep their order
    u1 = change(UK, UPDATE, [1, "k1", 5], [1, "k1", 6])
    take = change(UK, INSERT, after=[2, "k2", 5])
    u2 = change(UK, UPDATE, [1, "k1", 6], [1, "k1", 7])
    assert len(compact_changes([u1, take, u2])) == 3
