"""DM's ``expression-filter``: skip row changes whose values make an SQL expression true.

Rules name one upstream table exactly (``schema``/``table``; case-insensitive unless the task is
case-sensitive). Per row change (DM's ``ExprFilterGroup``):

* INSERT is skipped when any rule's ``insert-value-expr`` is true for the new row;
* DELETE when any ``delete-value-expr`` is true for the old row;
* UPDATE when, for some rule, ``update-old-value-expr`` is true for the old row AND
  ``update-new-value-expr`` for the new one (a missing side counts as true).

"True" is DM's test ``result == 1`` (so ``c`` alone skips rows where ``c`` is 1, and NULL never
skips). A column the table doesn't have makes the expression FALSE (with a warning), as in DM.
Expressions are compiled once per table structure (a DDL recompiles them).

Evaluation happens in-process: the expression is parsed with sqlglot and compiled into a Python
closure that follows MySQL's rules for the common operators and functions (three-valued logic,
numeric/string/temporal comparisons, ``/`` with 4 extra decimals, ``DIV``, ``%`` with the
dividend's sign, LIKE, REGEXP, IN, BETWEEN, CASE/IF/IFNULL/COALESCE/NULLIF, string, math and date
functions). Strings compare case-insensitively unless the column is binary or has a ``_bin``/``_cs``
collation. An expression using anything else is evaluated by the target database instead
(``SELECT <expr> FROM (SELECT <values> AS <columns>) AS t``, one round trip per distinct set of
values, cached), which is exact but slower. TIMESTAMP values and ``NOW()`` are in UTC (DM's
documented default).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import sqlglot
from sqlglot import exp

from dmshell.engine import errors
from dmshell.engine.db import quote_ident
from dmshell.engine.filters.rule_types import ExpressionFilter
from dmshell.engine.schema.tracker import TableInfo

log = logging.getLogger(__name__)

INSERT, UPDATE, DELETE = "insert", "update", "delete"
#: distinct value tuples whose remote verdict is remembered per expression
REMOTE_CACHE = 4096

Row = Sequence[Any]
Evaluator = Callable[[Row], Any]


class _Unsupported(Exception):
    """This value combination needs the target to evaluate the expression."""


# -- value semantics (MySQL) -------------------------------------------------------------------
_NUM_PREFIX = re.compile(r"\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")
_TEMPORAL = (dt.datetime, dt.date, dt.timedelta)


def _str_to_num(s: str) -> float | int:
    m = _NUM_PREFIX.match(s)
    if not m:
        return 0
    text = m.group(0).strip()
    try:
        return int(text)
    except ValueError:
        return float(text)


def _num(v: Any) -> int | float | Decimal:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int | float | Decimal):
        return v
    if isinstance(v, str):
        return _str_to_num(v)
    if isinstance(v, bytes):
        return _str_to_num(v.decode("utf-8", "replace"))
    raise _Unsupported()


def _truth(v: Any) -> bool | None:
    if v is None:
        return None
    if isinstance(v, _TEMPORAL):
        return True
    return _num(v) != 0


def _parse_temporal(s: str, like: Any) -> Any:
    text = s.strip()
    try:
        if isinstance(like, dt.date):
            if len(text) <= 10:
                d = dt.date.fromisoformat(text)
                return dt.datetime(d.year, d.month, d.day) if isinstance(like, dt.datetime) else d
            value = dt.datetime.fromisoformat(text.replace(" ", "T", 1))
            if value.tzinfo is not None:  # '...+08:00': compare in UTC, like TIMESTAMP values
                value = value.astimezone(dt.UTC).replace(tzinfo=None)
            return value if isinstance(like, dt.datetime) else value.date()
    except ValueError:
        raise _Unsupported() from None
    raise _Unsupported()


def _fold(s: str) -> str:
    return s.casefold().rstrip(" ")


def _compare(a: Any, b: Any, ci: bool) -> int:
    """-1/0/1 under MySQL's comparison rules (both non-NULL)."""
    if isinstance(a, bool):
        a = int(a)
    if isinstance(b, bool):
        b = int(b)
    if isinstance(a, str) and isinstance(b, str):
        if ci:
            a, b = _fold(a), _fold(b)
        else:
            a, b = a.rstrip(" "), b.rstrip(" ")
        return (a > b) - (a < b)
    if isinstance(a, bytes | str) and isinstance(b, bytes | str):
        a = a.encode() if isinstance(a, str) else a
        b = b.encode() if isinstance(b, str) else b
        return (a > b) - (a < b)
    if isinstance(a, _TEMPORAL) or isinstance(b, _TEMPORAL):
        if isinstance(a, str):
            a = _parse_temporal(a, b)
        if isinstance(b, str):
            b = _parse_temporal(b, a)
        if isinstance(a, dt.datetime) and type(b) is dt.date:
            b = dt.datetime(b.year, b.month, b.day)
        if isinstance(b, dt.datetime) and type(a) is dt.date:
            a = dt.datetime(a.year, a.month, a.day)
        if type(a) is not type(b):
            raise _Unsupported()
        return (a > b) - (a < b)
    x, y = _num(a), _num(b)
    if isinstance(x, float) and isinstance(y, Decimal):
        y = float(y)
    elif isinstance(y, float) and isinstance(x, Decimal):
        x = float(x)
    return (x > y) - (x < y)


def _arith(op: str, a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    # int, float or Decimal: made the same type below, which the checker cannot follow
    x: Any = _num(a)
    y: Any = _num(b)
    if isinstance(x, float) or isinstance(y, float):
        x, y = float(x), float(y)
    elif isinstance(x, Decimal) or isinstance(y, Decimal):
        x, y = Decimal(x), Decimal(y)
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    if y == 0:
        return None  # division by zero is NULL (with a warning) in MySQL
    if op == "/":
        if isinstance(x, float):
            return x / y
        dx = Decimal(x)
        exponent = dx.as_tuple().exponent  # an int for every finite number
        scale = max(0, -exponent if isinstance(exponent, int) else 0) + 4  # div_precision_increment
        return (dx / Decimal(y)).quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
    if op == "div":
        try:
            return int(Decimal(x) / Decimal(y))
        except InvalidOperation:
            raise _Unsupported() from None
    # "%": the result takes the dividend's sign
    if isinstance(x, int) and isinstance(y, int):
        r = abs(x) % abs(y)
        return -r if x < 0 else r
    if isinstance(x, float):
        return math.fmod(x, y)
    return x % y  # Decimal: truncated division already


def _like_regex(pattern: str, escape: str = "\\") -> str:
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == escape and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return "".join(out)


def _text(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, dt.datetime):
        return v.isoformat(" ")
    if isinstance(v, float):
        return repr(v)
    return str(v)


# -- compilation -------------------------------------------------------------------------------
#: column types whose decoded values don't follow MySQL's semantics in Python
_REMOTE_TYPES = frozenset({"bit", "set", "json", "geometry", "point", "linestring", "polygon", "year"})


class _Compiler:
    """Turns a sqlglot tree into a closure over a row; raises _Unsupported for unknown nodes."""

    def __init__(self, info: TableInfo) -> None:
        self.info = info

    def column(self, name: str) -> int:
        i = self.info.index_of(name)
        if i >= 0 and self.info.columns[i].data_type in _REMOTE_TYPES:
            raise _Unsupported()
        return i

    def ci(self, node: exp.Expression) -> bool:
        """Whether string comparisons involving ``node`` ignore case."""
        for c in node.find_all(exp.Column):
            i = self.info.index_of(c.name)
            if i >= 0:
                col = self.info.columns[i]
                coll = col.collation or ""
                if self.info.column_charset(col) == "binary" or coll.endswith(("_bin", "_cs")):
                    return False
        return True

    def compile(self, node: exp.Expression) -> Evaluator:
        c = self.compile
        if isinstance(node, exp.Paren):
            return c(node.this)
        if isinstance(node, exp.Column):
            i = self.column(node.name)
            if i < 0:
                return lambda row: None
            return lambda row: row[i]
        if isinstance(node, exp.Literal):
            if node.is_string:
                value = node.this
                return lambda row: value
            text = node.this
            if re.fullmatch(r"\d+", text):
                ival = int(text)
                return lambda row: ival
            if re.fullmatch(r"\d*\.\d+|\d+\.\d*", text):
                dval = Decimal(text)
                return lambda row: dval
            fval = float(text)
            return lambda row: fval
        if isinstance(node, exp.Null):
            return lambda row: None
        if isinstance(node, exp.Boolean):
            bval = 1 if node.this else 0
            return lambda row: bval
        if isinstance(node, exp.Neg):
            f = c(node.this)
            return lambda row: None if (v := f(row)) is None else -_num(v)
        if isinstance(node, exp.Add | exp.Sub | exp.Mul | exp.Div | exp.IntDiv | exp.Mod):
            if isinstance(node.expression, exp.Interval) or isinstance(node.this, exp.Interval):
                raise _Unsupported()
            op = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.IntDiv: "div", exp.Mod: "%"}[
                type(node)
            ]
            fa, fb = c(node.this), c(node.expression)
            return lambda row: _arith(op, fa(row), fb(row))
        cmp_ops: dict[type[exp.Expression], Callable[[int], bool]] = {
            exp.EQ: lambda r: r == 0,
            exp.NEQ: lambda r: r != 0,
            exp.GT: lambda r: r > 0,
            exp.GTE: lambda r: r >= 0,
            exp.LT: lambda r: r < 0,
            exp.LTE: lambda r: r <= 0,
        }
        if type(node) in cmp_ops:
            test = cmp_ops[type(node)]
            fa, fb = c(node.this), c(node.expression)
            ci = self.ci(node)

            def compare(row: Row) -> Any:
                a, b = fa(row), fb(row)
                if a is None or b is None:
                    return None
                return 1 if test(_compare(a, b, ci)) else 0

            return compare
        if isinstance(node, exp.NullSafeEQ):
            fa, fb = c(node.this), c(node.expression)
            ci = self.ci(node)

            def null_safe(row: Row) -> Any:
                a, b = fa(row), fb(row)
                if a is None or b is None:
                    return 1 if a is None and b is None else 0
                return 1 if _compare(a, b, ci) == 0 else 0

            return null_safe
        if isinstance(node, exp.And | exp.Or | exp.Xor):
            fa, fb = c(node.this), c(node.expression)
            kind = type(node)

            def logic(row: Row) -> Any:
                a, b = _truth(fa(row)), _truth(fb(row))
                if kind is exp.And:
                    if a is False or b is False:
                        return 0
                    return None if a is None or b is None else 1
                if kind is exp.Or:
                    if a is True or b is True:
                        return 1
                    return None if a is None or b is None else 0
                return None if a is None or b is None else int(a != b)

            return logic
        if isinstance(node, exp.Not):
            f = c(node.this)
            return lambda row: None if (t := _truth(f(row))) is None else int(not t)
        if isinstance(node, exp.Is):
            f = c(node.this)
            target = node.expression
            if isinstance(target, exp.Null):
                return lambda row: int(f(row) is None)
            if isinstance(target, exp.Boolean):
                want = bool(target.this)
                return lambda row: int(_truth(f(row)) is want)
            raise _Unsupported()
        if isinstance(node, exp.In):
            if node.args.get("query") is not None or node.args.get("unnest") is not None:
                raise _Unsupported()
            f = c(node.this)
            items = [c(e) for e in node.expressions]
            ci = self.ci(node)

            def in_list(row: Row) -> Any:
                v = f(row)
                if v is None:
                    return None
                saw_null = False
                for item in items:
                    w = item(row)
                    if w is None:
                        saw_null = True
                    elif _compare(v, w, ci) == 0:
                        return 1
                return None if saw_null else 0

            return in_list
        if isinstance(node, exp.Between):
            f, lo, hi = c(node.this), c(node.args["low"]), c(node.args["high"])
            ci = self.ci(node)

            def between(row: Row) -> Any:
                v, a, b = f(row), lo(row), hi(row)
                ge = None if v is None or a is None else _compare(v, a, ci) >= 0
                le = None if v is None or b is None else _compare(v, b, ci) <= 0
                if ge is False or le is False:
                    return 0
                return None if ge is None or le is None else 1

            return between
        if isinstance(node, exp.Like | exp.ILike):
            f, fp = c(node.this), c(node.expression)
            flags = re.DOTALL | (re.IGNORECASE if self.ci(node) or isinstance(node, exp.ILike) else 0)

            def like(row: Row) -> Any:
                v, p = f(row), fp(row)
                if v is None or p is None:
                    return None
                return int(re.fullmatch(_like_regex(_text(p)), _text(v), flags) is not None)

            return like
        if isinstance(node, exp.Escape):
            raise _Unsupported()
        if isinstance(node, exp.RegexpLike):
            f, fp = c(node.this), c(node.expression)
            flags = re.IGNORECASE if self.ci(node) else re.NOFLAG

            def regexp(row: Row) -> Any:
                v, p = f(row), fp(row)
                if v is None or p is None:
                    return None
                try:
                    return int(re.search(_text(p), _text(v), flags) is not None)
                except re.error:
                    raise _Unsupported() from None

            return regexp
        if isinstance(node, exp.If):
            cond, yes = c(node.this), c(node.args["true"])
            no = c(node.args["false"]) if node.args.get("false") is not None else (lambda row: None)
            return lambda row: yes(row) if _truth(cond(row)) else no(row)
        if isinstance(node, exp.Case):
            if node.this is not None:
                raise _Unsupported()  # CASE x WHEN ...: needs comparison typing; rare
            branches = [(c(i.this), c(i.args["true"])) for i in node.args.get("ifs") or []]
            default = c(node.args["default"]) if node.args.get("default") is not None else (lambda row: None)

            def case(row: Row) -> Any:
                for cond, value in branches:
                    if _truth(cond(row)):
                        return value(row)
                return default(row)

            return case
        if isinstance(node, exp.Coalesce):
            parts = [c(node.this), *(c(e) for e in node.expressions)]

            def coalesce(row: Row) -> Any:
                for p in parts:
                    v = p(row)
                    if v is not None:
                        return v
                return None

            return coalesce
        if isinstance(node, exp.Nullif):
            fa, fb = c(node.this), c(node.expression)
            ci = self.ci(node)

            def nullif(row: Row) -> Any:
                a, b = fa(row), fb(row)
                return None if a is not None and b is not None and _compare(a, b, ci) == 0 else a

            return nullif
        return self.function(node)

    def function(self, node: exp.Expression) -> Evaluator:
        c = self.compile
        if isinstance(node, exp.Length):
            f = c(node.this)
            as_bytes = bool(node.args.get("binary"))

            def length(row: Row) -> Any:
                v = f(row)
                if v is None:
                    return None
                if isinstance(v, bytes):
                    return len(v)
                return len(_text(v).encode()) if as_bytes else len(_text(v))

            return length
        if isinstance(node, exp.Upper | exp.Lower):
            f = c(node.this)
            conv = str.upper if isinstance(node, exp.Upper) else str.lower
            return lambda row: None if (v := f(row)) is None else conv(_text(v))
        if isinstance(node, exp.Concat):
            parts = [c(e) for e in node.expressions]

            def concat(row: Row) -> Any:
                out = []
                for p in parts:
                    v = p(row)
                    if v is None:
                        return None
                    out.append(_text(v))
                return "".join(out)

            return concat
        if isinstance(node, exp.Substring):
            f = c(node.this)
            start = c(node.args["start"]) if node.args.get("start") is not None else (lambda row: 1)
            count = c(node.args["length"]) if node.args.get("length") is not None else (lambda row: None)

            def substring(row: Row) -> Any:
                v, s, n = f(row), start(row), count(row)
                if v is None or s is None:
                    return None
                text, s = _text(v), int(_num(s))
                if s == 0 or abs(s) > len(text):
                    return ""
                i = s - 1 if s > 0 else len(text) + s
                if node.args.get("length") is None:
                    return text[i:]
                if n is None:
                    return None
                return text[i : i + max(0, int(_num(n)))]

            return substring
        if isinstance(node, exp.Abs):
            f = c(node.this)
            return lambda row: None if (v := f(row)) is None else abs(_num(v))
        if isinstance(node, exp.Floor | exp.Ceil):
            if node.args.get("decimals") is not None:
                raise _Unsupported()
            f = c(node.this)
            fn = math.floor if isinstance(node, exp.Floor) else math.ceil
            return lambda row: None if (v := f(row)) is None else fn(_num(v))
        if isinstance(node, exp.Round):
            f = c(node.this)
            fd = c(node.args["decimals"]) if node.args.get("decimals") is not None else (lambda row: 0)

            def round_(row: Row) -> Any:
                v, d = f(row), fd(row)
                if v is None or d is None:
                    return None
                x, places = _num(v), int(_num(d))
                if isinstance(x, float):
                    raise _Unsupported()  # MySQL rounds doubles to even, decimals half up
                r = Decimal(x).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
                return int(r) if isinstance(x, int) and places <= 0 else r

            return round_
        if isinstance(node, exp.Greatest | exp.Least):
            parts = [c(node.this), *(c(e) for e in node.expressions)]
            want = 1 if isinstance(node, exp.Greatest) else -1
            ci = self.ci(node)

            def extreme(row: Row) -> Any:
                values = [p(row) for p in parts]
                if any(v is None for v in values):
                    return None
                best = values[0]
                for v in values[1:]:
                    if _compare(v, best, ci) == want:
                        best = v
                return best

            return extreme
        if isinstance(node, exp.CurrentTimestamp):
            return lambda row: dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
        if isinstance(node, exp.TsOrDsToDate):
            f = c(node.this)

            def to_date(row: Row) -> Any:
                v = f(row)
                if v is None:
                    return None
                if isinstance(v, dt.datetime):
                    return v.date()
                if isinstance(v, dt.date):
                    return v
                if isinstance(v, str):
                    return _parse_temporal(v, dt.date(2000, 1, 1))
                raise _Unsupported()

            return to_date
        if isinstance(node, exp.Year | exp.Month | exp.Day):
            f = c(node.this)
            attr = {exp.Year: "year", exp.Month: "month", exp.Day: "day"}[type(node)]

            def part(row: Row) -> Any:
                v = f(row)
                if v is None:
                    return None
                if isinstance(v, str):
                    v = _parse_temporal(v, dt.date(2000, 1, 1))
                if not isinstance(v, dt.date):
                    raise _Unsupported()
                return getattr(v, attr)

            return part
        if isinstance(node, exp.Anonymous):
            name = str(node.this).upper()
            args = [c(e) for e in node.expressions]
            if name in ("NOW", "SYSDATE", "LOCALTIME", "LOCALTIMESTAMP", "UTC_TIMESTAMP") and not args:
                return lambda row: dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
            if name in ("CHAR_LENGTH", "CHARACTER_LENGTH") and len(args) == 1:
                f = args[0]
                return lambda row: None if (v := f(row)) is None else len(_text(v))
            if name == "ISNULL" and len(args) == 1:
                f = args[0]
                return lambda row: int(f(row) is None)
            if name == "MOD" and len(args) == 2:
                fa, fb = args
                return lambda row: _arith("%", fa(row), fb(row))
        raise _Unsupported()


# -- per-table filters -------------------------------------------------------------------------
class _Remote:
    """Evaluates one expression on the target (exact MySQL semantics, one round trip per row)."""

    def __init__(
        self, text: str, info: TableInfo, columns: list[int], query: Callable[[str, list], Any]
    ) -> None:
        self.columns = columns
        self.query = query
        if columns:
            select = ", ".join(f"%s AS {quote_ident(info.columns[i].name)}" for i in columns)
            self.sql = f"SELECT ({text}) FROM (SELECT {select}) AS `dmshell_row`"
        else:
            self.sql = f"SELECT ({text})"
        self.cache: OrderedDict[tuple, Any] = OrderedDict()

    def __call__(self, row: Row) -> Any:
        values = [_sql_value(row[i]) for i in self.columns]
        key = tuple(repr(v) for v in values)
        if key in self.cache:
            self.cache.move_to_end(key)
            return self.cache[key]
        result = self.query(self.sql, values)
        self.cache[key] = result
        if len(self.cache) > REMOTE_CACHE:
            self.cache.popitem(last=False)
        return result


def _sql_value(v: Any) -> Any:
    if isinstance(v, set | frozenset):
        return ",".join(sorted(v))
    if isinstance(v, dict | list):
        return json.dumps(v)
    return v


class _Expr:
    """One compiled expression: in-process, falling back to the target per row when needed."""

    def __init__(self, text: str, info: TableInfo, query: Callable[[str, list], Any], name: str) -> None:
        self.text = text
        self.name = name
        self.local: Evaluator | None = None
        self.remote: _Remote | None = None
        self.never = False
        tree = None
        try:
            tree = sqlglot.parse_one(text, read="mysql")
        except sqlglot.errors.ParseError:
            pass  # MySQL syntax sqlglot doesn't know: the target decides (and reports bad grammar)
        if tree is not None:
            names = {col.name.lower() for col in tree.find_all(exp.Column)}
            missing = [n for n in names if info.index_of(n) < 0]
            if missing:
                log.warning(
                    "expression %r of %s: unknown column(s) %s; it filters nothing (as DM)",
                    text,
                    name,
                    ", ".join(sorted(missing)),
                )
                self.never = True
                return
            try:
                self.local = _Compiler(info).compile(tree)
            except _Unsupported:
                self.local = None
            columns = sorted(info.index_of(n) for n in names)
        else:
            columns = list(range(len(info.columns)))
        self.remote = _Remote(text, info, columns, query)

    def __call__(self, row: Row) -> bool:
        """DM's verdict: the expression's value is (integer) 1."""
        if self.never:
            return False
        if self.local is not None:
            try:
                value = self.local(row)
            except (_Unsupported, ArithmeticError, ValueError, TypeError, OverflowError):
                value = self._remote(row)
        else:
            value = self._remote(row)
        return isinstance(value, int) and value == 1

    def _remote(self, row: Row) -> Any:
        assert self.remote is not None
        try:
            return self.remote(row)
        except errors.DMError as err:
            if err.resumable:  # the target connection broke: retried after the resume
                raise
            raise errors.ErrConfigExprFilterWrongGrammar(
                self.name, self.text, err.raw_cause or err.message, cause=err.cause
            ) from err


class TableExprs:
    """The expression filters of one table structure."""

    def __init__(
        self, insert: list[_Expr], update: list[tuple[_Expr | None, _Expr | None]], delete: list[_Expr]
    ) -> None:
        self.insert, self.update, self.delete = insert, update, delete

    def skip(self, op: str, before: Row | None, after: Row | None) -> bool:
        """Whether this row change is filtered out."""
        if op == INSERT:
            return after is not None and any(e(after) for e in self.insert)
        if op == DELETE:
            return before is not None and any(e(before) for e in self.delete)
        if before is None or after is None:  # an UPDATE has both images
            return False
        return any((old is None or old(before)) and (new is None or new(after)) for old, new in self.update)


class ExpressionFilters:
    """The task's ``expression-filter`` rules for one source.

    ``query(sql, args)`` runs a one-value query on the target (for the expressions evaluated
    there); it is only called when such an expression meets a row.
    """

    def __init__(
        self, rules: Sequence[ExpressionFilter], case_sensitive: bool, query: Callable[[str, list], Any]
    ) -> None:
        self.case_sensitive = case_sensitive
        self.query = query
        self.rules: dict[tuple[str, str], list[ExpressionFilter]] = {}
        for r in rules:
            self.rules.setdefault(self._key(r.schema, r.table), []).append(r)
        self._compiled: dict[tuple[str, str], tuple[TableInfo, TableExprs | None]] = {}

    def _key(self, schema: str, table: str) -> tuple[str, str]:
        return (schema, table) if self.case_sensitive else (schema.lower(), table.lower())

    def __bool__(self) -> bool:
        return bool(self.rules)

    def for_table(self, schema: str, table: str, info: TableInfo) -> TableExprs | None:
        """The compiled filters of ``schema.table`` as structured by ``info`` (None: no rule)."""
        key = self._key(schema, table)
        rules = self.rules.get(key)
        if not rules:
            return None
        cached = self._compiled.get(key)
        if cached is not None and cached[0] is info:
            return cached[1]
        name = f"`{schema}`.`{table}`"

        def make(text: str) -> _Expr | None:
            return _Expr(text, info, self.query, name) if text else None

        insert = [e for r in rules if (e := make(r.insert_value_expr)) is not None]
        delete = [e for r in rules if (e := make(r.delete_value_expr)) is not None]
        update = [
            (make(r.update_old_value_expr), make(r.update_new_value_expr))
            for r in rules
            if r.update_old_value_expr or r.update_new_value_expr
        ]
        compiled = TableExprs(insert, update, delete) if (insert or delete or update) else None
        self._compiled[key] = (info, compiled)
        return compiled
