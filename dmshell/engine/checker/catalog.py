"""What the table items look at: a source's tables of the task and their shapes, fetched once per
source from ``information_schema`` (DM's ``FetchTargetDoTables`` and its ``SHOW CREATE TABLE``s).

:func:`task_tables` is the allow-listed base tables of a source grouped by the target table they
are routed to; :func:`shapes` their columns, keys, foreign keys and character sets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dmshell.engine.checker.items import CheckContext, query
from dmshell.engine.dump.plan import SYSTEM_SCHEMAS
from dmshell.engine.filters.rules import BAListFilter, TableRouter

Table = tuple[str, str]


@dataclass(slots=True)
class Shape:
    """One upstream table as the table items compare it."""

    columns: list[tuple[str, str]] = field(default_factory=list)  # (lower-case name, column type)
    primary: tuple[str, ...] = ()
    uniques: set[tuple[str, ...]] = field(default_factory=set)
    auto_increment: str = ""
    foreign_keys: list[str] = field(default_factory=list)
    charsets: set[str] = field(default_factory=set)


def quoted(table: Table) -> str:
    """DM's ``filter.Table.String()``: `` `schema`.`table` ``."""
    return f"`{table[0]}`.`{table[1]}`"


def task_tables(ctx: CheckContext, source: str) -> dict[Table, list[Table]]:
    """The source's allowed base tables, by the target table they are routed to."""

    def fetch() -> dict[Table, list[Table]]:
        sub = ctx.subtask(source)
        ba = BAListFilter(sub.block_allow_list, sub.case_sensitive)
        router = TableRouter(sub.routes, sub.case_sensitive)
        skip = SYSTEM_SCHEMAS | {sub.meta_schema.lower()}
        rows = query(
            ctx.source(source),
            "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' "
            "ORDER BY TABLE_SCHEMA, TABLE_NAME",
        )
        out: dict[Table, list[Table]] = {}
        for schema, table in rows:
            if schema.lower() in skip or not ba.allow_table(schema, table):
                continue
            out.setdefault(router.route(schema, table), []).append((schema, table))
        return out

    return ctx.memo(("tables", source), fetch)


def schemas(ctx: CheckContext, source: str) -> list[str]:
    """The upstream schemas holding tables of the task (DM's ``interestedDBPerUpstream``)."""
    return sorted({t[0] for tables in task_tables(ctx, source).values() for t in tables})


def shapes(ctx: CheckContext, source: str) -> dict[Table, Shape]:
    """The shape of every table of :func:`task_tables`."""

    def fetch() -> dict[Table, Shape]:
        names = schemas(ctx, source)
        wanted = {t for tables in task_tables(ctx, source).values() for t in tables}
        out: dict[Table, Shape] = {t: Shape() for t in wanted}
        if not names:
            return out
        conn = ctx.source(source)
        marks = ", ".join(["%s"] * len(names))
        for schema, table, charset in query(
            conn,
            "SELECT t.TABLE_SCHEMA, t.TABLE_NAME, c.CHARACTER_SET_NAME FROM information_schema.TABLES t "
            "JOIN information_schema.COLLATIONS c ON c.COLLATION_NAME = t.TABLE_COLLATION "
            f"WHERE t.TABLE_SCHEMA IN ({marks})",
            names,
        ):
            if (schema, table) in out:
                out[schema, table].charsets.add(charset.lower())
        for schema, table, column, ctype, charset, extra in query(
            conn,
            "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, CHARACTER_SET_NAME, EXTRA "
            f"FROM information_schema.COLUMNS WHERE TABLE_SCHEMA IN ({marks}) "
            "ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION",
            names,
        ):
            if (shape := out.get((schema, table))) is None:
                continue
            shape.columns.append((column.lower(), ctype.lower()))
            if charset:
                shape.charsets.add(charset.lower())
            if "auto_increment" in (extra or "").lower():
                shape.auto_increment = column.lower()
        keys: dict[tuple[str, str, str], list[str]] = {}
        unique: set[tuple[str, str, str]] = set()
        for schema, table, index, non_unique, column in query(
            conn,
            "SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME "
            f"FROM information_schema.STATISTICS WHERE TABLE_SCHEMA IN ({marks}) "
            "ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
            names,
        ):
            keys.setdefault((schema, table, index), []).append(str(column).lower())
            if not int(non_unique):
                unique.add((schema, table, index))
        for (schema, table, index), cols in keys.items():
            if (shape := out.get((schema, table))) is None or (schema, table, index) not in unique:
                continue
            if index == "PRIMARY":
                shape.primary = tuple(cols)
            else:
                shape.uniques.add(tuple(cols))
        for schema, table, name in query(
            conn,
            "SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME "
            "FROM information_schema.REFERENTIAL_CONSTRAINTS "
            f"WHERE CONSTRAINT_SCHEMA IN ({marks}) ORDER BY CONSTRAINT_NAME",
            names,
        ):
            if (shape := out.get((schema, table))) is not None:
                shape.foreign_keys.append(name)
        return out

    return ctx.memo(("shapes", source), fetch)
