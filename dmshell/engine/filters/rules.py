"""Table selection, routing and binlog event filtering, with DM's matching rules.

Name patterns (DM's ``table-rule-selector``): ``*`` matches any run of characters and may only be
the last character; ``?`` matches one character; ``[abc]``, ``[a-z]`` and ``[!abc]`` are character
classes (a ``[`` without a closing ``]`` is literal). In block-allow lists and routes a pattern
starting with ``~`` is a regular expression instead (searched, not anchored — Go's ``MatchString``).
Unless ``case_sensitive``, names and wildcard patterns compare in lower case and regexes ignore case.

* :class:`BAListFilter` — ``block-allow-list`` (DM's ``filter.Filter`` plus ``skipByTable``: the
  system schemas are never replicated).
* :class:`TableRouter` — ``routes``, incl. ``extract-table/schema/source`` (DM's regexpr router).
* :class:`EventFilter` — ``filters`` (DM's ``binlog-filter``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from dmshell.engine.errors import ErrSyncerUnitBinlogEventFilter, ErrWorkerRouteTableDupMatch
from dmshell.engine.filters.rule_types import BAList, EventFilterRule, RouteRule

#: schemas that are never replicated (DM's ``filter.IsSystemSchema``)
SYSTEM_SCHEMAS = frozenset(
    {"information_schema", "performance_schema", "mysql", "sys", "metrics_schema", "inspection_schema"}
)


def is_system_schema(schema: str) -> bool:
    return schema.lower() in SYSTEM_SCHEMAS


def wildcard_regex(pattern: str) -> str:
    """The anchored regex for a DM wildcard pattern; ValueError if ``*`` is not last."""
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            if i != len(pattern) - 1:
                raise ValueError(f"pattern {pattern} not valid")
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "[" and "]" in pattern[i + 1 :]:
            close = pattern.index("]", i + 1)
            out.append(_char_class(pattern[i + 1 : close]))
            i = close
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


def _char_class(body: str) -> str:
    negate = body.startswith("!")
    if negate:
        body = body[1:]
        if not body:  # DM reads "[!]" as the single character "!"
            return re.escape("!")
    parts = []
    i = 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            parts.append(f"{re.escape(body[i])}-{re.escape(body[i + 2])}")
            i += 3
        else:
            parts.append(re.escape(body[i]))
            i += 1
    if not parts:
        return "(?!)"  # "[]" matches nothing
    return "[" + ("^" if negate else "") + "".join(parts) + "]"


class NamePattern:
    """One schema or table name pattern: ``~regex`` or a wildcard."""

    __slots__ = ("_match", "text")

    def __init__(self, text: str, case_sensitive: bool) -> None:
        self.text = text
        if text.startswith("~"):
            try:
                rx = re.compile(text[1:], 0 if case_sensitive else re.IGNORECASE)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {text[1:]!r}: {exc}") from None
            self._match = lambda name: rx.search(name) is not None
        else:
            body = text if case_sensitive else text.lower()
            rx = re.compile(wildcard_regex(body), re.DOTALL)
            self._match = lambda name: rx.fullmatch(name) is not None

    def matches(self, name: str) -> bool:
        """``name`` must already be lower-cased when the pattern is case-insensitive."""
        return self._match(name)


class BAListFilter:
    """DM's block-allow list for one subtask.

    Order (DM's ``filter.Match``): with ``do-dbs``, a schema matching none of them is filtered;
    otherwise a schema matching ``ignore-dbs`` is filtered. A schema-only check stops there. Then a
    table matching ``do-tables`` is kept, one matching ``ignore-tables`` is filtered, and any other
    table is kept only when ``do-tables`` is empty. System schemas are always filtered.
    """

    def __init__(self, rules: BAList | None, case_sensitive: bool = False) -> None:
        self.case_sensitive = case_sensitive
        self.rules = rules
        self._cache: dict[tuple[str, str], bool] = {}
        if rules is None:
            return
        cs = case_sensitive
        for name in (*rules.do_dbs, *rules.ignore_dbs):
            if not name:
                raise ValueError("DB rule's DB string cannot be empty")
        for db, tbl in (*rules.do_tables, *rules.ignore_tables):
            if not db or not tbl:
                raise ValueError("table rule's db-name or tbl-name cannot be empty")
        self._do_dbs = [NamePattern(p, cs) for p in rules.do_dbs]
        self._ignore_dbs = [NamePattern(p, cs) for p in rules.ignore_dbs]
        self._do_tables = [(NamePattern(d, cs), NamePattern(t, cs)) for d, t in rules.do_tables]
        self._ignore_tables = [(NamePattern(d, cs), NamePattern(t, cs)) for d, t in rules.ignore_tables]

    def allow_schema(self, schema: str) -> bool:
        """Whether statements on the schema itself (CREATE/DROP DATABASE...) are replicated."""
        return self.allow_table(schema, "")

    def allow_table(self, schema: str, table: str) -> bool:
        """Whether ``schema.table`` is replicated."""
        if is_system_schema(schema):
            return False
        return self.match(schema, table)

    def filter_tables(self, tables: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """The allowed ones of (schema, table) pairs, in order."""
        return [t for t in tables if self.allow_table(*t)]

    def match(self, schema: str, table: str) -> bool:
        """The rule evaluation alone (no system-schema check); ``table=""`` checks the schema."""
        if self.rules is None:
            return True
        if not self.case_sensitive:
            schema, table = schema.lower(), table.lower()
        cached = self._cache.get((schema, table))
        if cached is None:
            cached = self._schema_ok(schema) and self._table_ok(schema, table)
            if len(self._cache) > 65536:
                self._cache.clear()
            self._cache[(schema, table)] = cached
        return cached

    def _schema_ok(self, schema: str) -> bool:
        if self._do_dbs:
            return any(p.matches(schema) for p in self._do_dbs)
        if self._ignore_dbs:
            return not any(p.matches(schema) for p in self._ignore_dbs)
        return True

    def _table_ok(self, schema: str, table: str) -> bool:
        if not table:
            return True
        if self._do_tables and _match_pairs(self._do_tables, schema, table):
            return True
        if self._ignore_tables and _match_pairs(self._ignore_tables, schema, table):
            return False
        return not self._do_tables


def _match_pairs(pairs: list[tuple[NamePattern, NamePattern]], schema: str, table: str) -> bool:
    return any(d.matches(schema) and t.matches(table) for d, t in pairs)


class _CompiledRoute:
    __slots__ = ("extractors", "is_table_rule", "rule", "schema", "table")

    def __init__(self, rule: RouteRule, case_sensitive: bool) -> None:
        if not rule.schema_pattern:
            raise ValueError("schema pattern of table route rule should not be empty")
        if not rule.target_schema:
            raise ValueError("target schema of table route rule should not be empty")
        self.rule = rule
        self.schema = NamePattern(rule.schema_pattern, case_sensitive)
        self.is_table_rule = bool(rule.table_pattern)
        self.table = NamePattern(rule.table_pattern, case_sensitive) if rule.table_pattern else None
        self.extractors: list[tuple[str, str, re.Pattern[str]]] = []
        for kind, ext, attr in (
            ("table", rule.extract_table, "table_regexp"),
            ("schema", rule.extract_schema, "schema_regexp"),
            ("source", rule.extract_source, "source_regexp"),
        ):
            if ext is None:
                continue
            pattern = getattr(ext, attr)
            try:
                rx = re.compile(pattern)
            except re.error:
                raise ValueError(f"{kind} extractor {kind} regexp illegal {pattern}") from None
            if not ext.target_column:
                raise ValueError(f"{kind} extractor target column cannot be empty")
            self.extractors.append((kind, ext.target_column, rx))

    def matches(self, schema: str, table: str) -> bool:
        # a table rule also matches its schema alone (CREATE DATABASE...), like DM's filter
        if not self.schema.matches(schema):
            return False
        return self.table is None or not table or self.table.matches(table)


class TableRouter:
    """DM's table router: at most one table rule (else one schema rule) may match a table.

    A table rule wins over schema rules; an empty target table keeps the source table's name;
    schema-level statements (``table=""``) use the schema rules only. Several matching rules of the
    deciding kind raise ErrWorkerRouteTableDupMatch.
    """

    def __init__(self, rules: Sequence[RouteRule], case_sensitive: bool = False) -> None:
        self.case_sensitive = case_sensitive
        self._rules = [_CompiledRoute(r, case_sensitive) for r in rules]
        self._cache: dict[tuple[str, str], tuple[str, str]] = {}
        self._extract_cache: dict[tuple[str, str, str], list[tuple[str, str]]] = {}

    def _matching(self, schema: str, table: str) -> tuple[list[_CompiledRoute], list[_CompiledRoute]]:
        s, t = (schema, table) if self.case_sensitive else (schema.lower(), table.lower())
        tables: list[_CompiledRoute] = []
        schemas: list[_CompiledRoute] = []
        for r in self._rules:
            if r.matches(s, t):
                (tables if r.is_table_rule else schemas).append(r)
        return tables, schemas

    def route(self, schema: str, table: str) -> tuple[str, str]:
        """(target schema, target table) for ``schema.table``; unchanged when no rule matches."""
        cached = self._cache.get((schema, table))
        if cached is not None:
            return cached
        tables, schemas = self._matching(schema, table)
        chosen = schemas if not table or not tables else tables
        if len(chosen) > 1:
            raise ErrWorkerRouteTableDupMatch(schema, table)
        target_schema, target_table = schema, table
        if chosen:
            target_schema = chosen[0].rule.target_schema or schema
            target_table = chosen[0].rule.target_table or table
        result = (target_schema, target_table)
        if len(self._cache) > 65536:
            self._cache.clear()
        self._cache[(schema, table)] = result
        return result

    def extract_columns(self, schema: str, table: str, source_id: str) -> list[tuple[str, str]]:
        """(column, value) pairs from the deciding rule's extract-table/schema/source settings.

        The value is the concatenation of the regex's capture groups (empty when it does not match).
        """
        k = (schema, table, source_id)
        cached = self._extract_cache.get(k)
        if cached is None:
            cached = self._extract(schema, table, source_id)
            if len(self._extract_cache) > 65536:
                self._extract_cache.clear()
            self._extract_cache[k] = cached
        return list(cached)

    def _extract(self, schema: str, table: str, source_id: str) -> list[tuple[str, str]]:
        tables, schemas = self._matching(schema, table)
        rules = tables or schemas
        if not rules:
            return []
        out = []
        for kind, column, rx in rules[0].extractors:
            subject = {"table": table, "schema": schema, "source": source_id}[kind]
            m = rx.search(subject)
            out.append((column, "".join(g or "" for g in m.groups()) if m else ""))
        return out

    @property
    def has_extractors(self) -> bool:
        return any(r.extractors for r in self._rules)


# ---- binlog event filter ------------------------------------------------------------------------

DO, IGNORE, ERROR = "Do", "Ignore", "Error"

_DML_EVENTS = frozenset({"insert", "update", "delete"})
_DDL_EVENTS = frozenset(
    {
        "create database",
        "alter database",
        "alter schema",
        "create table",
        "create index",
        "create view",
        "drop view",
        "alter table",
        "create schema",
        "add table partition",
    }
)
_INCOMPATIBLE_DDL_EVENTS = frozenset(
    {
        "value range decrease",
        "precision decrease",
        "modify column",
        "rename column",
        "rename index",
        "drop column",
        "drop primary key",
        "drop unique key",
        "modify default value",
        "modify constraint",
        "modify columns order",
        "modify charset",
        "modify collation",
        "remove auto increment",
        "modify storage engine",
        "reorganize table partition",
        "rebuild table partition",
        "coalesce table partition",
        "split table partition",
        "exchange table partition",
        "add foreign key",
        "drop foreign key",
        "drop database",
        "drop table",
        "drop index",
        "rename table",
        "truncate table",
        "drop schema",
        "drop table partition",
        "truncate table partition",
        "modify schema charset and collate",
        "modify table charset and collate",
        "modify table comment",
        "recover table",
        "alter table partitioning",
        "remove table partitioning",
        "add column",
        "set default value",
        "rebase auto id",
        "add primary key",
        "alter index visibility",
        "alter ttl info",
        "alter ttl remove",
        "multi schema change",
    }
)
_RULE_ONLY_EVENTS = frozenset(
    {"all", "all ddl", "all dml", "none", "none ddl", "none dml", "incompatible ddl changes"}
)
_ALIASES = {
    "create schema": "create database",
    "drop schema": "drop database",
    "alter schema": "alter database",
}
#: every event type a rule may name (DM's ``toEventType``)
EVENT_TYPES = frozenset(_DML_EVENTS | _DDL_EVENTS | _INCOMPATIBLE_DDL_EVENTS | _RULE_ONLY_EVENTS)


def _normalize_event(name: str) -> str:
    low = name.strip().lower()
    if low not in EVENT_TYPES and low != "":
        raise ValueError(f"event type {name} not valid")
    return _ALIASES.get(low, low)


def _classify(event: str) -> str:
    if event in _DML_EVENTS:
        return "dml"
    if event in _DDL_EVENTS:
        return "ddl"
    if event in _INCOMPATIBLE_DDL_EVENTS:
        return "incompatible ddl"
    if event == "":
        return ""
    raise ValueError(f"event type {event} not valid")


class _CompiledEventRule:
    __slots__ = ("action", "events", "rule", "schema", "sql", "table")

    def __init__(self, rule: EventFilterRule, case_sensitive: bool) -> None:
        if not rule.schema_pattern:
            raise ValueError(f"schema pattern of binlog event rule {_show_rule(rule)} can't be empty")
        action = rule.action
        if action not in (DO, IGNORE, ERROR):
            raise ValueError(f"action of binlog event rule {_show_rule(rule)} should be Do, Ignore or Error")
        self.rule = rule
        self.action = action
        self.events = [_normalize_event(e) for e in rule.events]
        self.sql = None
        if rule.sql_pattern:
            try:
                self.sql = re.compile("|".join(rule.sql_pattern), re.IGNORECASE)
            except re.error as exc:
                raise ValueError(f"compile regular expression {rule.sql_pattern}: {exc}") from None
        self.schema = NamePattern(rule.schema_pattern, case_sensitive)
        self.table = NamePattern(rule.table_pattern, case_sensitive) if rule.table_pattern else None

    def matches(self, schema: str, table: str) -> bool:
        if not self.schema.matches(schema):
            return False
        return self.table is None or self.table.matches(table)


def _show_rule(rule: EventFilterRule) -> str:
    return (
        f"{{schema-pattern: {rule.schema_pattern!r}, table-pattern: {rule.table_pattern!r}, "
        f"action: {rule.action!r}}}"
    )


def _match_event(kind: str, event: str, rule_events: list[str]) -> bool:
    for r in rule_events:
        if r == "all":
            return True
        if r == "none":
            return False
        if kind in ("ddl", "incompatible ddl"):
            if r == "all ddl":
                return True
            if r == "none ddl":
                return False
        if kind == "dml":
            if r == "all dml":
                return True
            if r == "none dml":
                return False
        if kind == "incompatible ddl" and r == "incompatible ddl changes":
            return True
        if r == event:
            return True
    return False


class EventFilter:
    """DM's binlog event filter.

    The rules matching a table (schema-level rules first, then table-level, each in config order)
    are applied in turn; the first one that rejects the event decides. A rule rejects when

    * ``Ignore``: the event type is in its ``events``, or ``sql`` matches a ``sql-pattern``;
    * ``Do``: the event type is not in its ``events``, or it has ``sql-pattern`` and ``sql`` is
      given and matches none of them.

    So Ignore beats Do, and an event no rule rejects (or on a table no rule matches) is replicated.
    As in DM, a schema-level rule also applies to every table of its schema: a schema-level ``Do``
    rule listing only ``create database`` therefore rejects the tables' DML too.
    ``event_type=""`` checks only the SQL (a statement that could not be parsed: DM then asks the
    global ``schema-pattern: "*"`` rules with an empty schema and table).
    """

    def __init__(self, rules: Sequence[EventFilterRule] | None, case_sensitive: bool = False) -> None:
        self.case_sensitive = case_sensitive
        compiled = [_CompiledEventRule(r, case_sensitive) for r in rules or ()]
        seen: set[tuple[str, str]] = set()
        for c in compiled:
            k = (c.rule.schema_pattern, c.rule.table_pattern)
            if not case_sensitive:
                k = (k[0].lower(), k[1].lower())
            if k in seen:
                raise ValueError(f"pattern {k[0]!r}/{k[1]!r} already exists in binlog event filter")
            seen.add(k)
        # schema-level rules are returned before table-level ones, like DM's rule selector
        self._rules = [c for c in compiled if c.table is None] + [c for c in compiled if c.table is not None]
        self._cache: dict[tuple[str, str, str], str] = {}

    def action(self, schema: str, table: str, event_type: str, sql: str = "") -> str:
        """``"Do"``, ``"Ignore"`` or ``"Error"`` for one event."""
        if not self._rules:
            _normalize_event(event_type)  # still reject unknown event types
            return DO
        if sql:
            return self._action(schema, table, event_type, sql)
        # row events carry no SQL: their verdict depends on the names and the type only
        k = (schema, table, event_type)
        verdict = self._cache.get(k)
        if verdict is None:
            verdict = self._action(schema, table, event_type, "")
            if len(self._cache) > 65536:
                self._cache.clear()
            self._cache[k] = verdict
        return verdict

    def _action(self, schema: str, table: str, event_type: str, sql: str) -> str:
        event = _normalize_event(event_type)
        kind = _classify(event)
        s, t = (schema, table) if self.case_sensitive else (schema.lower(), table.lower())
        for rule in self._rules:
            if not rule.matches(s, t):
                continue
            if kind:
                hit = _match_event(kind, event, rule.events)
                if hit and rule.action in (IGNORE, ERROR):
                    return rule.action
                if not hit and rule.action == DO:
                    return IGNORE
            if sql and rule.sql is not None:
                hit = rule.sql.search(sql) is not None
                if hit and rule.action in (IGNORE, ERROR):
                    return rule.action
                if not hit and rule.action == DO:
                    return IGNORE
        return DO

    def skip_event(self, schema: str, table: str, event_type: str, sql: str = "") -> bool:
        """True when the event must not be replicated; a matching ``Error`` rule raises DMError 36015."""
        verdict = self.action(schema, table, event_type, sql)
        if verdict == ERROR:
            raise ErrSyncerUnitBinlogEventFilter(f"event {event_type} on `{schema}`.`{table}`")
        return verdict == IGNORE

    def skip_sql(self, sql: str) -> bool:
        """DM's ``skipSQLByPattern``: a statement the parser cannot handle, checked by SQL text only."""
        return self.skip_event("", "", "", sql)
