"""Block-allow lists, table routing and binlog event filters against DM's documented examples."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dmshell.engine.errors import DMError
from dmshell.engine.filters.rule_types import (
    BAList,
    EventFilterRule,
    RouteRule,
    SchemaExtractor,
    SourceExtractor,
    TableExtractor,
)
from dmshell.engine.filters.rules import BAListFilter, EventFilter, TableRouter, wildcard_regex

# ---- block-allow list ---------------------------------------------------------------------------

# The manual's worked example (seed-004-A §4.5): which tables survive the rule below.
WORKED = BAList(
    do_dbs=["forum_backup_2018", "forum"],
    ignore_dbs=["~^forum_backup_"],
    do_tables=[("logs", "~_2018$"), ("~^forum.*", "messages")],
    ignore_tables=[("~.*", "^messages.*")],
)


@pytest.mark.parametrize(
    ("schema", "table", "allowed"),
    [
        ("logs", "messages_2016", False),
        ("logs", "messages_2017", False),
        ("logs", "messages_2018", False),  # schema step first: logs is not in do-dbs
        ("forum_backup_2016", "messages", False),
        ("forum_backup_2017", "messages", False),
        ("forum", "users", False),  # do-tables non-empty and no match
        ("forum", "messages", True),
        ("forum_backup_2018", "messages", True),
    ],
)
def test_balist_manual_worked_example(schema, table, allowed):
    assert BAListFilter(WORKED).allow_table(schema, table) is allowed


def test_balist_wildcards_from_the_manual():
    f = BAListFilter(BAList(do_dbs=["test*"], do_tables=[("test[123]", "t[1-5]"), ("test", "t")]))
    assert f.allow_table("test1", "t5")
    assert f.allow_table("test3", "t1")
    assert not f.allow_table("test4", "t1")  # schema passes do-dbs, no do-tables entry matches
    assert not f.allow_table("test1", "t6")
    assert f.allow_table("test", "t")
    assert not f.allow_table("prod", "t")
    assert f.allow_schema("test_anything")
    assert not f.allow_schema("prod")


def test_balist_regex_rule_from_the_manual():
    f = BAListFilter(
        BAList(
            do_dbs=["~^test.*"],
            ignore_dbs=["mysql"],
            do_tables=[("~^test.*", "~^t.*"), ("test", "t")],
            ignore_tables=[("test", "log")],
        )
    )
    assert f.allow_table("test_a", "tx")
    assert not f.allow_table("test_a", "log")  # do-tables non-empty, no match
    assert not f.allow_table("other", "t")


def test_balist_ignore_dbs_only_when_do_dbs_empty():
    assert not BAListFilter(BAList(ignore_dbs=["secret*"])).allow_table("secret_1", "t")
    assert BAListFilter(BAList(ignore_dbs=["secret*"])).allow_table("public", "t")
    both = BAListFilter(BAList(do_dbs=["secret_1"], ignore_dbs=["secret*"]))
    assert both.allow_table("secret_1", "t")  # ignore-dbs is not consulted


def test_balist_ignore_tables_only():
    f = BAListFilter(BAList(ignore_tables=[("user", "log")]))
    assert not f.allow_table("user", "log")
    assert f.allow_table("user", "information")
    assert f.allow_schema("user")


def test_balist_none_allows_all_but_system_schemas():
    f = BAListFilter(None)
    assert f.allow_table("app", "t")
    for schema in ("mysql", "information_schema", "PERFORMANCE_SCHEMA", "sys"):
        assert not f.allow_table(schema, "t")
        assert not f.allow_schema(schema)
    assert not BAListFilter(BAList(do_dbs=["mysql"])).allow_table("mysql", "user")


def test_balist_case_sensitivity():
    rules = BAList(do_dbs=["App*"], do_tables=[("App*", "~^Orders$")])
    insensitive = BAListFilter(rules)
    assert insensitive.allow_table("APPX", "orders")
    sensitive = BAListFilter(rules, case_sensitive=True)
    assert sensitive.allow_table("AppX", "Orders")
    assert not sensitive.allow_table("appx", "Orders")
    assert not sensitive.allow_table("AppX", "orders")


def test_balist_regex_is_searched_not_anchored():
    f = BAListFilter(BAList(do_dbs=["~shard"]))
    assert f.allow_schema("my_shard_01")


def test_balist_filter_tables_keeps_order():
    f = BAListFilter(BAList(do_dbs=["a", "c"]))
    assert f.filter_tables([("c", "1"), ("b", "2"), ("a", "3")]) == [("c", "1"), ("a", "3")]


@pytest.mark.parametrize(
    "bad", [BAList(do_dbs=["a*b"]), BAList(do_dbs=["~("]), BAList(do_tables=[("a", "")])]
)
def test_balist_invalid_rules(bad):
    with pytest.raises(ValueError):
        BAListFilter(bad)


def test_wildcard_grammar():
    assert wildcard_regex("t_*") == "t_.*"
    assert wildcard_regex("t?") == "t."
    assert wildcard_regex("a[!0-9]") == "a[^0-9]"
    assert wildcard_regex("a[") == "a\\["
    with pytest.raises(ValueError):
        wildcard_regex("a*b")


# ---- routes -------------------------------------------------------------------------------------

SHARD_RULES = [
    RouteRule(schema_pattern="test_*", table_pattern="t_*", target_schema="test", target_table="t"),
    RouteRule(schema_pattern="test_*", target_schema="test"),
]


def test_route_shard_merge_from_the_manual():
    r = TableRouter(SHARD_RULES)
    assert r.route("test_1", "t_1") == ("test", "t")
    assert r.route("test_2", "t_9") == ("test", "t")
    assert r.route("test_1", "other") == ("test", "other")  # schema rule keeps the table name
    assert r.route("test_1", "") == ("test", "")  # CREATE/DROP DATABASE uses the schema rule
    assert r.route("prod", "t_1") == ("prod", "t_1")  # no rule: unchanged


def test_route_schema_merge_keeps_table_names():
    r = TableRouter([RouteRule(schema_pattern="test_*", target_schema="test")])
    assert r.route("test_3", "t_3") == ("test", "t_3")


def test_route_two_table_rules_on_one_table_is_an_error():
    rules = [
        RouteRule(schema_pattern="test_*", target_schema="test"),
        RouteRule(schema_pattern="test_*", table_pattern="t_*", target_schema="test", target_table="t"),
        RouteRule(
            schema_pattern="test_1_bak", table_pattern="t_1_bak", target_schema="test", target_table="t_bak"
        ),
    ]
    r = TableRouter(rules)
    with pytest.raises(DMError) as info:
        r.route("test_1_bak", "t_1_bak")
    assert info.value.code == 40080
    assert "table test_1_bak.t_1_bak matches more than one rule" in str(info.value)
    assert r.route("test_2", "t_2") == ("test", "t")  # one table rule + one schema rule is fine


def test_route_character_class_is_not_a_number_range():
    r = TableRouter(
        [RouteRule(schema_pattern="db", table_pattern="table_parttern_[0-63]", target_schema="x")]
    )
    assert [n for n in range(70) if r.route("db", f"table_parttern_{n}")[0] == "x"] == [0, 1, 2, 3, 4, 5, 6]


def test_route_regex_patterns_and_case():
    r = TableRouter([RouteRule(schema_pattern="~^Shard_\\d+$", table_pattern="Orders", target_schema="all")])
    assert r.route("SHARD_12", "ORDERS") == ("all", "ORDERS")
    cs = TableRouter([RouteRule(schema_pattern="Shard_*", target_schema="all")], case_sensitive=True)
    assert cs.route("shard_1", "t") == ("shard_1", "t")
    assert cs.route("Shard_1", "t") == ("all", "t")


def test_route_extract_columns():
    rule = RouteRule(
        schema_pattern="test_*",
        table_pattern="t_*",
        target_schema="test",
        target_table="t",
        extract_table=TableExtractor(table_regexp="t_(.*)", target_column="c_table"),
        extract_schema=SchemaExtractor(schema_regexp="test_(.*)", target_column="c_schema"),
        extract_source=SourceExtractor(source_regexp="(mysql)-(.*)", target_column="c_source"),
    )
    r = TableRouter([rule, RouteRule(schema_pattern="other", target_schema="o")])
    assert r.extract_columns("test_1", "t_01", "mysql-replica-01") == [
        ("c_table", "01"),
        ("c_schema", "1"),
        ("c_source", "mysqlreplica-01"),
    ]
    assert r.extract_columns("other", "x", "s") == []
    assert r.extract_columns("nomatch", "x", "s") == []
    assert r.has_extractors


@pytest.mark.parametrize(
    "rule",
    [
        RouteRule(schema_pattern="", target_schema="x"),
        RouteRule(schema_pattern="a", target_schema=""),
        RouteRule(schema_pattern="a*b", target_schema="x"),
        RouteRule(
            schema_pattern="a",
            target_schema="x",
            extract_table=TableExtractor(table_regexp="(", target_column="c"),
        ),
        RouteRule(
            schema_pattern="a",
            target_schema="x",
            extract_table=TableExtractor(table_regexp="t", target_column=""),
        ),
    ],
)
def test_route_invalid_rules(rule):
    with pytest.raises(ValueError):
        TableRouter([rule])


# ---- binlog event filter ------------------------------------------------------------------------


def rule(schema, table, events, sql, action):
    return EventFilterRule(
        schema_pattern=schema, table_pattern=table, events=events, sql_pattern=sql, action=action
    )


DM_RULES = [
    rule(
        "Test_1_*",
        "abc*",
        ["delete", "insert", "create index", "drop index", "drop view"],
        [r"^DROP\s+PROCEDURE", r"^CREATE\s+PROCEDURE"],
        "Ignore",
    ),
    rule("xxx_*", "abc_*", ["all dml", "none ddl"], [], "Ignore"),
    rule("yyy_*", "abc_*", ["ALL DML"], [], "Do"),
    rule("cdc", "t1", ["rebase auto id"], [], "Ignore"),
]


@pytest.mark.parametrize(
    ("schema", "table", "event", "sql", "action"),
    [
        ("test_1_a", "abc1", "delete", "", "Ignore"),
        ("test_1_a", "abc1", "insert", "", "Ignore"),
        ("test_1_a", "abc1", "update", "", "Do"),
        ("test_1_a", "abc1", "create index", "", "Ignore"),
        ("test_1_a", "abc1", "rename table", "", "Do"),
        ("test_1_a", "abc1", "", "drop procedure abc", "Ignore"),
        ("test_1_a", "abc1", "", "create procedure abc", "Ignore"),
        ("test_1_a", "abc1", "", "create function abc", "Do"),
        ("xxx_1", "abc_1", "", "create function abc", "Do"),
        ("xxx_1", "abc_1", "insert", "", "Ignore"),
        ("xxx_1", "abc_1", "create index", "", "Do"),  # "none ddl" stops the match
        ("yyy_1", "abc_1", "insert", "", "Do"),
        ("yyy_1", "abc_1", "create index", "", "Ignore"),  # Do rule without the event filters it
        ("test_1_a", "abc1", "drop view", "", "Ignore"),
        ("cdc", "t1", "rebase auto id", "", "Ignore"),
        ("xxx_a", "", "insert", "", "Do"),  # table rule does not match a schema-only name
    ],
)
def test_event_filter_dm_cases(schema, table, event, sql, action):
    assert EventFilter(DM_RULES).action(schema, table, event, sql) == action


def test_event_filter_case_sensitive():
    f = EventFilter(DM_RULES[:2], case_sensitive=True)
    assert f.action("test_1_a", "abc1", "delete") == "Do"
    assert f.action("Test_1_a", "abc1", "delete") == "Ignore"
    assert f.action("xxx_1", "abc_1", "insert") == "Ignore"


def test_event_filter_manual_shard_examples():
    ignore_deletes = EventFilter(
        [
            rule("test_*", "t_*", ["truncate table", "drop table", "delete"], [], "Ignore"),
            rule("test_*", "", ["drop database"], [], "Ignore"),
        ]
    )
    assert ignore_deletes.skip_event("test_1", "t_1", "delete")
    assert ignore_deletes.skip_event("test_1", "t_1", "truncate table")
    assert not ignore_deletes.skip_event("test_1", "t_1", "insert")
    assert ignore_deletes.skip_event("test_1", "", "drop database")
    assert ignore_deletes.skip_event(
        "test_1", "t_1", "drop database"
    )  # the schema rule applies to its tables
    assert not ignore_deletes.skip_event("prod", "t_1", "delete")

    dml_only = EventFilter(
        [
            rule("test_*", "t_*", ["create table", "all dml"], [], "Do"),
            rule("test_*", "", ["create database"], [], "Do"),
        ]
    )
    assert not dml_only.skip_event("test_1", "", "create database")
    assert dml_only.skip_event("test_1", "", "drop database")
    # a table is matched by both Do rules: each must let the event through
    assert dml_only.skip_event("test_1", "t_1", "create table")
    assert dml_only.skip_event("test_1", "t_1", "insert")
    assert dml_only.skip_event("test_1", "t_1", "alter table")


def test_event_filter_sql_patterns():
    procs = EventFilter([rule("test_*", "t_*", [], [r"^DROP\s+PROCEDURE", r"^CREATE\s+PROCEDURE"], "Ignore")])
    assert procs.skip_event("test_1", "t_1", "", "DROP PROCEDURE p")
    assert procs.skip_event("test_1", "t_1", "", "create   procedure p() begin end")  # case-insensitive
    assert not procs.skip_event("test_1", "t_1", "alter table", "ALTER TABLE t_1 ADD c INT")

    partition = EventFilter(
        [
            rule(
                "*",
                "",
                [],
                [r"ALTER\s+TABLE[\s\S]*ADD\s+PARTITION", r"ALTER\s+TABLE[\s\S]*DROP\s+PARTITION"],
                "Ignore",
            )
        ]
    )
    assert partition.skip_sql("ALTER TABLE db.t ADD PARTITION (PARTITION p3 VALUES LESS THAN (30))")
    assert partition.skip_event("db", "t", "alter table", "ALTER TABLE t DROP PARTITION p1")
    assert not partition.skip_sql("ALTER TABLE db.t ADD COLUMN c INT")


def test_event_filter_do_rule_with_sql_pattern():
    f = EventFilter([rule("db", "*", ["all ddl"], ["^ALTER"], "Do")])
    assert not f.skip_event("db", "t", "alter table", "ALTER TABLE t ADD c INT")
    assert f.skip_event("db", "t", "create table", "CREATE TABLE t (a INT)")  # SQL matches no pattern


def test_event_filter_do_rule_filters_unlisted_dml():
    f = EventFilter([rule("db", "*", ["all ddl"], [], "Do")])
    assert f.skip_event("db", "t", "insert")


def test_event_filter_ignore_beats_do():
    f = EventFilter([rule("db", "", ["all"], [], "Do"), rule("db", "t", ["delete"], [], "Ignore")])
    assert f.skip_event("db", "t", "delete")
    assert not f.skip_event("db", "t", "update")


def test_event_filter_none_and_incompatible_ddl():
    assert not EventFilter([rule("db", "", ["none"], [], "Ignore")]).skip_event("db", "t", "drop table")
    incompatible = EventFilter([rule("db", "", ["incompatible ddl changes"], [], "Ignore")])
    assert incompatible.skip_event("db", "t", "drop column")
    assert not incompatible.skip_event("db", "t", "add table partition")
    alias = EventFilter([rule("db", "", ["create schema"], [], "Ignore")])
    assert alias.skip_event("db", "", "create database")


def test_event_filter_error_action_raises():
    f = EventFilter([rule("db", "t", ["drop table"], [], "Error")])
    with pytest.raises(DMError) as info:
        f.skip_event("db", "t", "drop table")
    assert info.value.code == 36015
    assert not f.skip_event("db", "t", "insert")


def test_event_filter_no_rules():
    assert not EventFilter(None).skip_event("db", "t", "drop table")


@pytest.mark.parametrize(
    "rules",
    [
        [rule("db", "", ["explode"], [], "Ignore")],
        [rule("db", "", [], [], "ignore")],
        [rule("", "", ["all"], [], "Ignore")],
        [rule("db", "", [], ["("], "Ignore")],
        [rule("db", "t", ["all"], [], "Ignore"), rule("DB", "T", ["insert"], [], "Do")],
    ],
)
def test_event_filter_invalid_rules(rules):
    with pytest.raises(ValueError):
        EventFilter(rules)


def test_event_filter_rejects_unknown_event_at_runtime():
    with pytest.raises(ValueError):
        EventFilter([]).skip_event("db", "t", "explode")


# ---- dependencies -------------------------------------------------------------------------------


def test_filters_do_not_import_config():
    """Dependencies point one way: config imports the rule types from the filters, never the reverse
    (also not through another module)."""
    code = (
        "import sys\nimport dmshell.engine.filters.expression, dmshell.engine.filters.rules\n"
        "print(sorted(m for m in sys.modules if m.startswith('dmshell.engine.config')))\n"
    )
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert proc.stdout.strip() == "[]"
