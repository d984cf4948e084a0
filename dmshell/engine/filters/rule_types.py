"""The rule declarations of a task file: block-allow lists, routes (with extractors), binlog event
filters and expression filters, as the YAML declares them.

:mod:`.rules` and :mod:`.expression` compile these into matchers; :mod:`dmshell.engine.config` reads
them from task and source files. Like every config class, each field is one key declared with
:func:`~dmshell.engine.yamlstrict.key`.
"""

# ruff: noqa: RUF009  (key() is a dataclasses.field() wrapper, not a shared default)
from __future__ import annotations

from dataclasses import dataclass

from dmshell.engine.yamlstrict import key


@dataclass(slots=True)
class BAList:
    """One block-allow-list rule set (``do-dbs``, ``do-tables``, ``ignore-dbs``, ``ignore-tables``)."""

    do_dbs: list[str] = key(factory=list, doc="schemas to migrate; `~` prefix = regex, else wildcard")
    do_tables: list[tuple[str, str]] = key(factory=list, doc="tables to migrate (db-name, tbl-name)")
    ignore_dbs: list[str] = key(factory=list, doc="schemas to skip (ignored when do-dbs is set)")
    ignore_tables: list[tuple[str, str]] = key(factory=list, doc="tables to skip (db-name, tbl-name)")


@dataclass(slots=True)
class TableExtractor:
    table_regexp: str = key("", doc="regex applied to the source table name; groups form the value")
    target_column: str = key("", doc="target column receiving the extracted value")


@dataclass(slots=True)
class SchemaExtractor:
    schema_regexp: str = key("", doc="regex applied to the source schema name; groups form the value")
    target_column: str = key("", doc="target column receiving the extracted value")


@dataclass(slots=True)
class SourceExtractor:
    source_regexp: str = key("", doc="regex applied to the source id; groups form the value")
    target_column: str = key("", doc="target column receiving the extracted value")


@dataclass(slots=True)
class RouteRule:
    """A table-routing rule (``routes.<name>``)."""

    schema_pattern: str = key("", doc="upstream schema pattern (wildcards * ? [..], or ~regex)")
    table_pattern: str = key("", doc="upstream table pattern; empty = schema-level rule")
    target_schema: str = key("", doc="downstream schema")
    target_table: str = key("", doc="downstream table; empty keeps the table name")
    extract_table: TableExtractor | None = key(None, doc="put part of the table name into a column")
    extract_schema: SchemaExtractor | None = key(None, doc="put part of the schema name into a column")
    extract_source: SourceExtractor | None = key(None, doc="put part of the source id into a column")


@dataclass(slots=True)
class EventFilterRule:
    """A binlog event filter rule (``filters.<name>`` in a task, ``filters[]`` in a source)."""

    schema_pattern: str = key("", doc="upstream schema pattern (wildcards); `*` = global rule")
    table_pattern: str = key("", doc="upstream table pattern; empty = schema-level rule")
    events: list[str] = key(factory=list, doc="event types, e.g. `all dml`, `truncate table`")
    sql_pattern: list[str] = key(factory=list, doc="regexes matched against DDL text")
    action: str = key("", doc="Do, Ignore (or Error)")


@dataclass(slots=True)
class ExpressionFilter:
    """An expression filter (``expression-filter.<name>``): skip rows whose values match a SQL expression."""

    schema: str = key("", doc="upstream schema")
    table: str = key("", doc="upstream table")
    insert_value_expr: str = key("", doc="skip INSERTed rows matching this expression")
    update_old_value_expr: str = key("", doc="skip UPDATEs whose old row matches (AND with new)")
    update_new_value_expr: str = key("", doc="skip UPDATEs whose new row matches (AND with old)")
    delete_value_expr: str = key("", doc="skip DELETEd rows matching this expression")
