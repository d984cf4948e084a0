"""What to dump: the allowed tables and views, their columns, and key ranges that split tables into chunks.

All queries run on a snapshot connection (see :mod:`dmshell.engine.dump.snapshot`), which returns
raw text-protocol values (str/bytes/None).

Chunking (DM's ``rows``): a table is split on its primary key, else on a NOT NULL unique key, else
on the first column of another index when it is a NOT NULL integer (as dumpling does); the key's
columns must have a type whose order the server can compare against a literal exactly (numbers,
strings, temporal types, ENUM, BIT). Chunk boundaries are found by walking the key every ``rows``
rows, so chunks hold about ``rows`` rows whatever the key's distribution. A table without such a
key is dumped whole (its file is still split by ``chunk-filesize``).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from dmshell.engine import db
from dmshell.engine.db import quote_ident, quote_table
from dmshell.engine.dump import files as dumpfiles
from dmshell.engine.dump.files import ColumnMeta

SYSTEM_SCHEMAS = frozenset({"mysql", "information_schema", "performance_schema", "sys"})
#: rows per chunk when ``mydumper.rows`` is not set (DM's default)
DEFAULT_CHUNK_ROWS = 200_000
_INTEGER = frozenset({"tinyint", "smallint", "mediumint", "int", "integer", "bigint"})
#: key column types whose order the server compares exactly against a literal of the boundary
CHUNKABLE_TYPES = _INTEGER | frozenset(
    {
        "decimal",
        "numeric",
        "float",
        "double",
        "real",
        "char",
        "varchar",
        "binary",
        "varbinary",
        "date",
        "datetime",
        "timestamp",
        "time",
        "year",
        "enum",
        "bit",
    }
)
_DEFINER = re.compile(r"\sDEFINER=(`(?:[^`]|``)*`|'[^']*'|\S+)@(`(?:[^`]|``)*`|'[^']*'|\S+)")

Conn = db.Connection
log = logging.getLogger(__name__)


@dataclass(slots=True)
class Column:
    name: str
    data_type: str
    column_type: str
    nullable: bool
    generated: bool
    charset: str = ""


@dataclass(slots=True)
class TablePlan:
    schema: str
    table: str
    est_rows: int = 0
    est_bytes: int = 0
    create_sql: str = ""
    columns: list[Column] = field(default_factory=list)
    #: columns of the key used to split the table, and its index
    key: list[str] = field(default_factory=list)
    key_index: str = ""
    #: the key is the primary key or a NOT NULL unique key (a row's identity)
    key_unique: bool = False
    #: WHERE conditions of the chunks, in key order; [""] = the whole table in one chunk
    chunks: list[str] = field(default_factory=list)

    @property
    def dumped(self) -> list[Column]:
        return [c for c in self.columns if not c.generated]

    def column_meta(self) -> list[ColumnMeta]:
        return [
            ColumnMeta(
                c.name, c.column_type, dumpfiles.codec_for(c.data_type, c.charset), c.nullable, c.charset
            )
            for c in self.dumped
        ]

    def select_sql(self, where: str) -> str:
        """The query returning every row of ``where`` as one record of the dump format."""
        cols = self.dumped
        expr = dumpfiles.row_expression(self.column_meta(), [c.data_type for c in cols])
        sql = f"SELECT {expr} FROM {quote_table(self.schema, self.table)}"
        return f"{sql} WHERE {where}" if where else sql


@dataclass(slots=True)
class ViewPlan:
    schema: str
    name: str
    create_sql: str = ""


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value


def list_objects(
    conn: Conn, allow_table: Callable[[str, str], bool], allow_schema: Callable[[str], bool], meta_schema: str
) -> tuple[list[str], list[TablePlan], list[ViewPlan]]:
    """Allowed user schemas, base tables and views (sequences and system-versioned tables skipped)."""
    skip = SYSTEM_SCHEMAS | {meta_schema.lower()}
    with conn.cursor() as cur:
        cur.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME")
        all_schemas = [_text(r[0]) for r in cur.fetchall()]
        cur.execute(
            "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, COALESCE(TABLE_ROWS, 0), "
            "COALESCE(DATA_LENGTH, 0) FROM information_schema.TABLES "
            "ORDER BY TABLE_SCHEMA, TABLE_NAME"
        )
        rows = cur.fetchall()
    tables, views = [], []
    for schema, table, ttype, est_rows, est_bytes in rows:
        schema, table, ttype = _text(schema), _text(table), _text(ttype)
        if schema.lower() in skip or not allow_table(schema, table):
            continue
        if ttype == "VIEW":
            views.append(ViewPlan(schema, table))
        elif ttype == "BASE TABLE":
            tables.append(TablePlan(schema, table, int(est_rows), int(est_bytes)))
        else:
            log.info(
                "dump: skip %s `%s`.`%s` (only base tables and views are dumped)",
                ttype.lower(),
                schema,
                table,
            )
    with_objects = {t.schema for t in tables} | {v.schema for v in views}
    schemas = [s for s in all_schemas if s.lower() not in skip and (s in with_objects or allow_schema(s))]
    return schemas, tables, views


def show_create_database(conn: Conn, schema: str) -> str:
    with conn.cursor() as cur:
        cur.execute(f"SHOW CREATE DATABASE {quote_ident(schema)}")
        return _text(db.one_row(cur)[1])


def show_create_view(conn: Conn, view: ViewPlan) -> str:
    """``SHOW CREATE VIEW`` without the DEFINER clause (the definer may not exist on the target)."""
    with conn.cursor() as cur:
        cur.execute(f"SHOW CREATE VIEW {quote_table(view.schema, view.name)}")
        sql = _text(db.one_row(cur)[1])
    return _DEFINER.sub("", sql, count=1)


def describe(conn: Conn, plan: TablePlan) -> None:
    """Fill ``create_sql``, ``columns`` and the chunking key of ``plan``."""
    with conn.cursor() as cur:
        cur.execute(f"SHOW CREATE TABLE {quote_table(plan.schema, plan.table)}")
        plan.create_sql = _text(db.one_row(cur)[1])
        cur.execute(
            "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, COALESCE(GENERATION_EXPRESSION, ''), "
            "EXTRA, COALESCE(CHARACTER_SET_NAME, '') FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
            (plan.schema, plan.table),
        )
        plan.columns = [
            Column(
                _text(name),
                _text(dtype).lower(),
                _text(ctype),
                _text(nullable) == "YES",
                bool(_text(gen_expr)) or "GENERATED" in _text(extra).upper(),
                _text(charset).lower(),
            )
            for name, dtype, ctype, nullable, gen_expr, extra, charset in cur.fetchall()
        ]
        cur.execute(
            "SELECT INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART FROM information_schema.STATISTICS "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s "
            "ORDER BY INDEX_NAME = 'PRIMARY' DESC, NON_UNIQUE, INDEX_NAME, SEQ_IN_INDEX",
            (plan.schema, plan.table),
        )
        indexes: dict[str, tuple[bool, list[tuple[str, bool]]]] = {}
        for index, non_unique, column, sub_part in cur.fetchall():
            entry = indexes.setdefault(_text(index), (_text(non_unique) == "0", []))
            entry[1].append((_text(column), sub_part is not None))
    plan.key, plan.key_index, plan.key_unique = choose_key(plan.columns, indexes)


def choose_key(
    columns: list[Column], indexes: dict[str, tuple[bool, list[tuple[str, bool]]]]
) -> tuple[list[str], str, bool]:
    """The chunking key, its index and whether it is unique: the primary key, else the first usable
    NOT NULL unique key, else the first column of an index when it is a NOT NULL integer;
    ``([], "", False)`` when none fits."""
    by_name = {c.name.lower(): c for c in columns}

    def usable(name: str, prefix: bool) -> bool:
        c = by_name.get(name.lower())
        return (
            c is not None
            and not prefix
            and not c.nullable
            and not c.generated
            and c.data_type in CHUNKABLE_TYPES
        )

    for index, (unique, cols) in indexes.items():
        if unique and all(usable(n, p) for n, p in cols):
            return [n for n, _ in cols], index, True
    for index, (_unique, cols) in indexes.items():
        name, prefix = cols[0]
        if usable(name, prefix) and by_name[name.lower()].data_type in _INTEGER:
            return [name], index, False
    return [], "", False


def boundary_expression(col: Column) -> str:
    """SQL rendering a key value as a literal that compares exactly like the stored value."""
    q = quote_ident(col.name)
    t = col.data_type
    if t in ("float",):
        return f"{q}*1e0"
    if t in ("enum", "bit"):
        return f"{q}+0"  # compared by index / numeric value
    if t in ("binary", "varbinary"):
        return f"CONCAT('X''',HEX({q}),'''')"
    if t in ("char", "varchar") and col.charset not in dumpfiles.UTF8_CHARSETS:
        # an introducer keeps the column's character set (and so its collation) for the comparison
        return f"CONCAT('_{col.charset} X''',HEX({q}),'''')"
    if t in ("char", "varchar", "date", "datetime", "timestamp", "time"):
        return f"QUOTE({q})"
    return q


def split(conn: Conn, plan: TablePlan, rows_per_chunk: int, stop: threading.Event) -> None:
    """Walk the key to find chunk boundaries every ``rows_per_chunk`` rows; fill ``plan.chunks``.

    Consecutive chunks are ``key > b[i-1] AND key <= b[i]`` with exact complements, so they cover
    every row exactly once (the walk reads the snapshot).
    """
    if not plan.key or rows_per_chunk <= 0:
        plan.chunks = [""]
        return
    by_name = {c.name.lower(): c for c in plan.columns}
    key_cols = [by_name[k.lower()] for k in plan.key]
    key_sql = ",".join(quote_ident(c) for c in plan.key)
    literals = ",".join(boundary_expression(c) for c in key_cols)
    table = f"{quote_table(plan.schema, plan.table)} FORCE INDEX ({quote_ident(plan.key_index)})"
    bounds: list[list[str]] = []
    with conn.cursor() as cur:
        while not stop.is_set():
            where = f" WHERE {_gt(plan.key, bounds[-1])}" if bounds else ""
            cur.execute(
                f"SELECT {literals} FROM {table}{where} ORDER BY {key_sql} "
                f"LIMIT 1 OFFSET {rows_per_chunk - 1}"
            )
            row = cur.fetchone()
            if row is None:
                break
            bounds.append([_text(v) for v in row])
        if bounds:  # the last boundary is the last row: drop it rather than leave an empty chunk
            cur.execute(f"SELECT 1 FROM {table} WHERE {_gt(plan.key, bounds[-1])} LIMIT 1")
            if cur.fetchone() is None:
                bounds.pop()
    chunks, prev = [], None
    for bound in [*bounds, None]:
        conds = []
        if prev is not None:
            conds.append(_gt(plan.key, prev))
        if bound is not None:
            conds.append(_le(plan.key, bound))
        chunks.append(" AND ".join(conds))
        prev = bound
    plan.chunks = chunks


def _gt(key: list[str], values: list[str]) -> str:
    """``(k1,k2,..) > (v1,v2,..)`` expanded so the range optimizer uses the index."""
    terms = []
    for i in range(len(key)):
        eqs = [f"{quote_ident(k)} = {v}" for k, v in zip(key[:i], values[:i], strict=True)]
        terms.append(" AND ".join([*eqs, f"{quote_ident(key[i])} > {values[i]}"]))
    return "(" + " OR ".join(f"({t})" for t in terms) + ")"


def _le(key: list[str], values: list[str]) -> str:
    """The exact complement of :func:`_gt` for NOT NULL keys."""
    terms = []
    for i in range(len(key)):
        eqs = [f"{quote_ident(k)} = {v}" for k, v in zip(key[:i], values[:i], strict=True)]
        terms.append(" AND ".join([*eqs, f"{quote_ident(key[i])} < {values[i]}"]))
    terms.append(" AND ".join(f"{quote_ident(k)} = {v}" for k, v in zip(key, values, strict=True)))
    return "(" + " OR ".join(f"({t})" for t in terms) + ")"
