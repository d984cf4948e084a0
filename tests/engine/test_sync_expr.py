"""The expression filter's in-process evaluator follows MySQL's rules; what it can't evaluate goes
to the target (here a recording stand-in for the target's one-value query)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from dmshell.engine import errors
from dmshell.engine.filters.expression import ExpressionFilters
from dmshell.engine.filters.rule_types import ExpressionFilter
from dmshell.engine.schema.tracker import table_from_create

INFO = table_from_create(
    "CREATE TABLE t (id INT PRIMARY KEY, c INT, name VARCHAR(20), b VARCHAR(10) COLLATE utf8mb4_bin, "
    "ts TIMESTAMP NULL, d DECIMAL(10,2), s SET('x','y'), f DOUBLE, dt DATE)",
    "db",
)


def row(**values) -> list:
    names = [c.name for c in INFO.columns]
    return [values.get(n) for n in names]


class Target:
    """Answers like the target would for the few remote cases below, and records the queries."""

    def __init__(self, answer=1) -> None:
        self.queries: list[tuple[str, list]] = []
        self.answer = answer

    def __call__(self, sql: str, args: list):
        self.queries.append((sql, args))
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


def verdict(expr: str, values: list, target: Target | None = None) -> bool:
    flt = ExpressionFilters(
        [ExpressionFilter(schema="db", table="t", insert_value_expr=expr)], False, target or Target()
    )
    return flt.for_table("db", "t", INFO).skip("insert", None, values)


@pytest.mark.parametrize(
    ("expr", "values", "skipped"),
    [
        ("c % 2 = 0", row(c=4), True),
        ("c % 2 = 0", row(c=3), False),
        ("c % 2 = 0", row(c=None), False),  # NULL never filters
        ("-c % 3 = -1", row(c=4), True),  # MOD keeps the dividend's sign
        ("c DIV 3 = 1", row(c=5), True),
        ("c / 3 = 0.3333", row(c=1), True),  # "/" has 4 more decimals, rounded
        ("d / 3 = 0.3333", row(d=Decimal("1.00")), False),  # ... on top of the operand's scale
        ("c / 0 IS NULL", row(c=1), True),
        ("c", row(c=1), True),  # DM's test is "the value is 1"
        ("c", row(c=2), False),
        ("name = 'ABC '", row(name="abc"), True),  # case-insensitive collation, trailing spaces ignored
        ("b = 'ABC'", row(b="abc"), False),  # _bin collation
        ("name LIKE 'a_c%'", row(name="AbCdef"), True),
        ("name NOT LIKE 'a%'", row(name="xyz"), True),
        ("name REGEXP '^x.z$'", row(name="XYZ"), True),
        ("c IN (1, 2, NULL)", row(c=2), True),
        ("c IN (1, NULL)", row(c=2), False),  # NULL, not true
        ("c NOT BETWEEN 1 AND 3", row(c=5), True),
        ("c > 1 AND name IS NOT NULL", row(c=2, name="n"), True),
        ("c > 1 OR name IS NULL", row(c=0, name=None), True),
        ("c > 1 XOR c > 2", row(c=2), True),
        ("NOT (c <=> NULL)", row(c=2), True),
        ("'10' = c", row(c=10), True),  # string vs number compares as numbers
        ("ts < '2021-01-01 12:34:56.5678+08:00'", row(ts=dt.datetime(2021, 1, 1, 4, 0)), True),
        ("ts > NOW()", row(ts=dt.datetime(2000, 1, 1)), False),
        ("YEAR(dt) = 2020 AND MONTH(dt) = 2", row(dt=dt.date(2020, 2, 29)), True),
        ("IF(c > 1, 1, 0)", row(c=2), True),
        ("CASE WHEN c < 0 THEN 0 WHEN c > 5 THEN 1 ELSE 0 END", row(c=6), True),
        ("IFNULL(c, 7) = 7 AND COALESCE(NULL, name) = 'a'", row(c=None, name="a"), True),
        ("NULLIF(c, 1) IS NULL", row(c=1), True),
        ("LENGTH(name) = 4 AND CHAR_LENGTH(name) = 2", row(name="éé"), True),
        ("CONCAT(UPPER(name), LOWER('X')) = 'ABx' AND SUBSTRING(name, 2) = 'b'", row(name="ab"), True),
        ("ABS(c) + ROUND(d, 1) + FLOOR(f) = 7.3", row(c=-3, d=Decimal("2.25"), f=2.9), True),
        ("GREATEST(c, 3) = 5 AND LEAST(c, 3) = 3", row(c=5), True),
        ("no_such_column = 1", row(c=1), False),  # unknown column: FALSE, as DM
    ],
)
def test_in_process_evaluation(expr, values, skipped):
    target = Target(answer="not used")
    assert verdict(expr, values, target) is skipped
    assert target.queries == [], "evaluated in-process"


def test_what_python_cannot_evaluate_goes_to_the_target():
    target = Target(answer=1)
    rule = ExpressionFilter(schema="db", table="t", insert_value_expr="FIND_IN_SET('x', s) > 0")
    flt = ExpressionFilters([rule], False, target)
    exprs = flt.for_table("db", "t", INFO)
    assert exprs.skip("insert", None, row(id=1, s="x,y"))  # a SET column and a function: remote
    assert target.queries == [
        ("SELECT (FIND_IN_SET('x', s) > 0) FROM (SELECT %s AS `s`) AS `dmshell_row`", ["x,y"])
    ]
    assert exprs.skip("insert", None, row(id=2, s="x,y"))
    assert len(target.queries) == 1, "answers are cached per distinct value"
    target.answer = 0
    assert not verdict("CRC32(c) = 5", row(c=1), target)
    syntax = RuntimeError("You have an error in your SQL syntax")
    bad = Target(answer=errors.ErrDBExecuteFailed("x", cause=syntax))
    with pytest.raises(errors.DMError) as exc:
        verdict("c MOD MOD 2", row(c=1), bad)
    assert exc.value.code == 20041


def test_update_rules_need_old_and_new_and_rules_are_per_table():
    flt = ExpressionFilters(
        [
            ExpressionFilter(
                schema="DB", table="T", update_old_value_expr="c = 1", update_new_value_expr="c = 2"
            ),
            ExpressionFilter(schema="db", table="t", update_new_value_expr="name = 'skip'"),
            ExpressionFilter(schema="db", table="t", delete_value_expr="c > 10"),
        ],
        False,
        Target(),
    )
    exprs = flt.for_table("db", "t", INFO)
    assert exprs.skip("update", row(c=1), row(c=2))
    assert not exprs.skip("update", row(c=1), row(c=3))
    assert not exprs.skip("update", row(c=0), row(c=2))
    assert exprs.skip("update", row(c=0), row(c=0, name="SKIP"))
    assert exprs.skip("delete", row(c=11), None) and not exprs.skip("delete", row(c=10), None)
    assert not exprs.skip("insert", None, row(c=11))
    assert flt.for_table("db", "other", INFO) is None
    assert (
        ExpressionFilters(
            [ExpressionFilter(schema="DB", table="t", insert_value_expr="c = 1")], True, Target()
        ).for_table("db", "t", INFO)
        is None
    ), "case-sensitive names"


def test_a_lost_target_connection_stays_resumable():
    lost = Target(answer=errors.ErrDBBadConn(cause=ConnectionError("gone")))
    with pytest.raises(errors.DMError) as exc:
        verdict("CRC32(c) = 5", row(c=1), lost)
    assert exc.value.resumable and exc.value.code == 10002
