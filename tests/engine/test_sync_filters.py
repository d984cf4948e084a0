"""Every filter and route kind in the running sync unit (real MariaDB): block-allow list in its
documented evaluation order for DML and DDL, routes (wildcards, regex, schema-only) with
extract-table/schema/source columns, binlog event filters (event types per ALTER clause,
sql-pattern, Do/Ignore precedence, Error) and expression filters."""

from __future__ import annotations

import pytest

from dmshell.engine import errors
from dmshell.engine.filters.rule_types import (
    BAList,
    EventFilterRule,
    ExpressionFilter,
    RouteRule,
    SchemaExtractor,
    SourceExtractor,
    TableExtractor,
)

from .sync_helpers import Running, converge, fresh_db, make_ctx, rows, synced, wait_until


@pytest.fixture
def db(mariadb, dbname):
    return fresh_db(mariadb, dbname)


def drop(servers, *schemas: str) -> None:
    for server in servers:
        server.execute(*(f"DROP DATABASE IF EXISTS `{s}`" for s in schemas))


def tables_in(server, *schemas: str) -> list[tuple[str, str]]:
    marks = ",".join(["%s"] * len(schemas))
    return sorted(
        server.query(
            f"SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES "
            f"WHERE TABLE_SCHEMA IN ({marks})",
            schemas,
        )
    )


def test_block_allow_list_in_the_documented_order(mariadb, db, tmp_path):
    """The manual's worked example: do-dbs win over ignore-dbs, the schema step runs first, then
    do-tables (regex or wildcard), then ignore-tables — for DML and for DDL."""
    src, dst = mariadb.up1, mariadb.target
    logs, forum, b16, b18 = f"{db}_logs", f"{db}_forum", f"{db}_fb_2016", f"{db}_fb_2018"
    drop((src, dst), logs, forum, b16, b18)
    ba = BAList(
        do_dbs=[b18, forum],
        ignore_dbs=[f"~^{db}_fb_"],
        do_tables=[(logs, "~_2018$"), (f"~^{db}_f", "messages")],
        ignore_tables=[("~.*", "^messages.*")],
    )
    running = Running(make_ctx(tmp_path, src, dst, db, ba=ba))
    try:
        statements = [f"CREATE DATABASE {s}" for s in (logs, forum, b16, b18)]
        for schema, table in [
            (logs, "messages_2016"),
            (logs, "messages_2018"),
            (forum, "users"),
            (forum, "messages"),
            (b16, "messages"),
            (b18, "messages"),
        ]:
            statements += [
                f"CREATE TABLE {schema}.{table} (id INT PRIMARY KEY, v INT)",
                f"INSERT INTO {schema}.{table} VALUES (1, 1), (2, 2)",
                f"ALTER TABLE {schema}.{table} ADD COLUMN w INT",
                f"UPDATE {schema}.{table} SET w = id WHERE id = 1",
                f"DELETE FROM {schema}.{table} WHERE id = 2",
            ]
        src.execute(*statements)
        kept = [(f"{forum}.messages", f"{forum}.messages"), (f"{b18}.messages", f"{b18}.messages")]
        converge(src, dst, kept, running)
        wait_until(lambda: synced(running.unit, src), "synced status", running=running)
    finally:
        running.stop()
        drop((src,), logs, forum, b16, b18)
    assert set(tables_in(dst, logs, forum, b16, b18)) == {(forum, "messages"), (b18, "messages")}
    assert rows(dst, f"SELECT * FROM {forum}.messages") == [("1", "1", "1")]
    drop((dst,), logs, forum, b16, b18)


def test_routes_with_regex_wildcards_schema_rules_and_extracted_columns(mariadb, db, tmp_path):
    """Shards `<db>_s1.t_1`, `<db>_s1.t_2`, `<db>_s2.t_1` (same ids) merge into one table whose key
    includes the extracted table/schema/source columns; a schema-only rule keeps table names."""
    src, dst = mariadb.up2, mariadb.target
    s1, s2, merged = f"{db}_s1", f"{db}_s2", f"{db}_t"
    drop((src, dst), s1, s2)
    routes = [
        RouteRule(
            schema_pattern=f"~^{db}_s[0-9]+$",
            table_pattern="t_*",
            target_schema=merged,
            target_table="all_t",
            extract_table=TableExtractor(table_regexp="t_(.*)", target_column="c_table"),
            extract_schema=SchemaExtractor(schema_regexp=f"{db}_(.*)", target_column="c_schema"),
            extract_source=SourceExtractor(source_regexp="(.*)", target_column="c_source"),
        ),
        RouteRule(schema_pattern=f"{db}_s?", target_schema=merged),  # schema-only: keeps table names
    ]
    dst.execute(
        f"CREATE DATABASE {merged}",
        f"CREATE TABLE {merged}.all_t (id INT, v VARCHAR(10), c_table VARCHAR(20), "
        "c_schema VARCHAR(20), c_source VARCHAR(20), PRIMARY KEY (id, c_table, c_schema))",
    )
    running = Running(make_ctx(tmp_path, src, dst, db, routes=routes, schemas=[f"~^{db}_s"]))
    try:
        src.execute(
            f"CREATE DATABASE {s1}",
            f"CREATE DATABASE {s2}",
            *(
                f"CREATE TABLE {s}.{t} (id INT PRIMARY KEY, v VARCHAR(10))"
                for s, t in ((s1, "t_1"), (s1, "t_2"), (s2, "t_1"))
            ),
            f"CREATE TABLE {s1}.other (k INT PRIMARY KEY)",
            f"INSERT INTO {s1}.t_1 VALUES (1, 'a'), (2, 'b')",
            f"INSERT INTO {s1}.t_2 VALUES (1, 'c'), (2, 'd')",
            f"INSERT INTO {s2}.t_1 VALUES (1, 'e'), (2, 'f')",
            f"INSERT INTO {s1}.other VALUES (7)",
            f"UPDATE {s1}.t_2 SET v = 'cc' WHERE id = 1",
            f"UPDATE {s2}.t_1 SET id = 3 WHERE id = 2",
            f"DELETE FROM {s1}.t_1 WHERE id = 2",
        )
        want = [
            ("1", "a", "1", "s1", "mysql-01"),
            ("1", "cc", "2", "s1", "mysql-01"),
            ("1", "e", "1", "s2", "mysql-01"),
            ("2", "d", "2", "s1", "mysql-01"),
            ("3", "f", "1", "s2", "mysql-01"),
        ]
        wait_until(
            lambda: _rows_or_none(dst, f"SELECT * FROM {merged}.all_t") == want,
            "merged rows",
            running=running,
        )
        converge(src, dst, [(f"{s1}.other", f"{merged}.other")], running)
    finally:
        running.stop()
        drop((src,), s1, s2)
    assert tables_in(dst, merged, s1, s2) == [(merged, "all_t"), (merged, "other")]


def _rows_or_none(server, sql: str):
    try:
        return rows(server, sql)
    except Exception:  # not created yet
        return None


def test_binlog_event_filters(mariadb, db, tmp_path):
    src, dst = mariadb.up1, mariadb.target
    x = f"{db}_x"
    drop((src, dst), x)
    filters = [
        EventFilterRule(
            schema_pattern=db,
            table_pattern="nodel*",
            events=["truncate table", "drop table", "delete"],
            action="Ignore",
        ),
        EventFilterRule(
            schema_pattern=db, table_pattern="onlydml*", events=["create table", "all dml"], action="Do"
        ),
        EventFilterRule(schema_pattern=db, table_pattern="keepcol*", events=["drop column"], action="Ignore"),
        EventFilterRule(
            schema_pattern=db, table_pattern="sqlpat*", sql_pattern=["COMMENT\\s+'skip me'"], action="Ignore"
        ),
        EventFilterRule(schema_pattern=db, events=["drop database"], action="Ignore"),
        # Ignore wins over Do: the schema-level rule ignores inserts the table-level rule allows
        EventFilterRule(schema_pattern=x, events=["insert"], action="Ignore"),
        EventFilterRule(schema_pattern=x, table_pattern="prec", events=["all"], action="Do"),
    ]
    running = Running(make_ctx(tmp_path, src, dst, db, schemas=[db, x], filters=filters))
    try:
        src.execute(
            f"CREATE DATABASE {db}",
            f"CREATE DATABASE {x}",
            f"CREATE TABLE {db}.nodel (id INT PRIMARY KEY)",
            f"INSERT INTO {db}.nodel VALUES (1), (2)",
            f"DELETE FROM {db}.nodel WHERE id = 1",
            f"CREATE TABLE {db}.onlydml (id INT PRIMARY KEY, a INT)",
            f"ALTER TABLE {db}.onlydml ADD INDEX ia (a)",
            f"INSERT INTO {db}.onlydml (id, a) VALUES (1, 1)",
            f"CREATE TABLE {db}.keepcol (id INT PRIMARY KEY, a INT, gone INT)",
            f"INSERT INTO {db}.keepcol VALUES (1, 1, 1)",
            f"ALTER TABLE {db}.keepcol ADD COLUMN n INT DEFAULT 5, DROP COLUMN gone",
            f"INSERT INTO {db}.keepcol (id, a) VALUES (2, 2)",
            f"CREATE TABLE {db}.sqlpat (id INT PRIMARY KEY)",
            f"ALTER TABLE {db}.sqlpat COMMENT 'skip me'",
            f"ALTER TABLE {db}.sqlpat COMMENT 'keep me'",
            f"CREATE TABLE {x}.prec (id INT PRIMARY KEY, v INT)",
            f"INSERT INTO {x}.prec VALUES (1, 1)",
        )
        wait_until(lambda: tables_in(dst, x) == [(x, "prec")], "prec created", running=running)
        dst.execute(f"INSERT INTO {x}.prec VALUES (1, 1), (2, 2)")  # the upstream's insert was ignored
        src.execute(
            f"UPDATE {x}.prec SET v = 10 WHERE id = 1",
            f"INSERT INTO {x}.prec VALUES (3, 3)",
            f"TRUNCATE TABLE {db}.nodel",
            f"DROP TABLE {db}.nodel",
            f"DROP DATABASE {db}",
        )
        wait_until(lambda: synced(running.unit, src), "synced status", running=running)
    finally:
        running.stop()
        drop((src,), x)
    assert rows(dst, f"SELECT * FROM {db}.nodel") == [("1",), ("2",)], "delete/truncate/drop ignored"
    assert rows(dst, f"SELECT * FROM {db}.onlydml") == [("1", "1")]
    assert dst.query(
        f"SELECT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = '{db}' "
        "AND TABLE_NAME = 'onlydml'"
    ) == [("PRIMARY",)], "ALTER filtered by the Do rule"
    assert rows(dst, f"SELECT id, a, gone, n FROM {db}.keepcol") == [
        ("1", "1", "1", "5"),
        ("2", "2", None, "5"),
    ], "DROP COLUMN ignored, ADD COLUMN of the same ALTER kept"
    comment = dst.query(
        f"SELECT TABLE_COMMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{db}' "
        "AND TABLE_NAME = 'sqlpat'"
    )
    assert comment == [("keep me",)]
    assert rows(dst, f"SELECT * FROM {x}.prec") == [("1", "10"), ("2", "2")], "Ignore beats Do"
    drop((dst,), x)


def test_event_filter_error_rule_pauses_the_task(mariadb, db, tmp_path):
    src, dst = mariadb.up1, mariadb.target
    src.execute(f"CREATE DATABASE {db}", f"CREATE TABLE {db}.t (id INT PRIMARY KEY)")
    dst.execute(f"CREATE DATABASE {db}", f"CREATE TABLE {db}.t (id INT PRIMARY KEY)")
    filters = [EventFilterRule(schema_pattern=db, table_pattern="t", events=["update"], action="Error")]
    running = Running(make_ctx(tmp_path, src, dst, db, filters=filters))
    src.execute(f"INSERT INTO {db}.t VALUES (1)", f"UPDATE {db}.t SET id = 2")
    err = running.wait_error()
    assert isinstance(err, errors.DMError) and err.code == 36015 and not err.resumable
    assert err.message.startswith("startLocation: [position: (mysql-bin.") and f"`{db}`.`t`" in err.message
    assert rows(dst, f"SELECT * FROM {db}.t") == [("1",)]


def test_expression_filters(mariadb, db, tmp_path):
    src, dst = mariadb.up1, mariadb.target
    exprs = [
        ExpressionFilter(schema=db, table="ins", insert_value_expr="c % 2 = 0"),  # DM's documented example
        ExpressionFilter(
            schema=db, table="upd", update_old_value_expr="c = 1", update_new_value_expr="c = 2"
        ),
        ExpressionFilter(schema=db, table="upd", update_new_value_expr="name LIKE 'SKIP%'"),
        ExpressionFilter(
            schema=db, table="del", delete_value_expr="ts < '2021-01-01 00:00:00' AND tag IS NULL"
        ),
        # evaluated by the target (SET columns and CRC32 are not evaluated in-process)
        ExpressionFilter(
            schema=db, table="remote", insert_value_expr="FIND_IN_SET('x', s) > 0 OR CRC32(id) = 0"
        ),
        ExpressionFilter(schema=db, table="ins", delete_value_expr="no_such_column = 1"),  # FALSE, as DM
    ]
    running = Running(make_ctx(tmp_path, src, dst, db, expression_filters=exprs))
    try:
        src.execute(
            f"CREATE DATABASE {db}",
            f"CREATE TABLE {db}.ins (id INT PRIMARY KEY, c INT)",
            f"CREATE TABLE {db}.upd (id INT PRIMARY KEY, c INT, name VARCHAR(20))",
            f"CREATE TABLE {db}.del (id INT PRIMARY KEY, ts TIMESTAMP NULL, tag VARCHAR(5))",
            f"CREATE TABLE {db}.remote (id INT PRIMARY KEY, s SET('x', 'y'))",
            f"INSERT INTO {db}.ins VALUES (1, 1), (2, 2), (3, 3), (4, 4), (5, NULL)",
            f"DELETE FROM {db}.ins WHERE id = 1",
            f"INSERT INTO {db}.upd VALUES (1, 1, 'a'), (2, 1, 'b'), (3, 3, 'c')",
            f"UPDATE {db}.upd SET c = 2 WHERE id IN (1, 3)",
            f"UPDATE {db}.upd SET name = 'skip it' WHERE id = 2",
            f"INSERT INTO {db}.del VALUES (1, '2020-06-01 00:00:00', NULL), (2, '2020-06-01 00:00:00', 'x'), "
            "(3, '2022-01-01 00:00:00', NULL)",
            f"DELETE FROM {db}.del",
            f"INSERT INTO {db}.remote VALUES (1, 'x'), (2, 'y'), (3, 'x,y'), (4, '')",
        )
        wait_until(lambda: synced(running.unit, src), "synced status", running=running)
    finally:
        running.stop()
    assert rows(dst, f"SELECT * FROM {db}.ins") == [("3", "3"), ("5", None)], "even c skipped, NULL kept"
    # id 1: old c=1 and new c=2 -> skipped; id 3: old c=3 -> applied; id 2: new name LIKE 'SKIP%' -> skipped
    assert rows(dst, f"SELECT * FROM {db}.upd") == [("1", "1", "a"), ("2", "1", "b"), ("3", "2", "c")]
    assert rows(dst, f"SELECT id FROM {db}.del") == [("1",)], "only the old untagged row's delete skipped"
    assert rows(dst, f"SELECT * FROM {db}.remote") == [("2", "y"), ("4", "")]
