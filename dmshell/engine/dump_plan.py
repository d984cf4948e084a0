"""What to dump: the allowed tables, their columns, and primary-key ranges that split them into chunks.

All queries run on a snapshot connection (see :mod:`dmshell.engine.dump_snapshot`), which returns
raw text-protocol values (str/bytes/None).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import pymysql

from dmshell.engine import dumpfiles
from dmshell.engine.db import quote_ident, quote_table

SYSTEM_SCHEMAS = frozenset({"mysql", "information_schema", "performance_schema", "sys"})
#: rows per chunk when ``mydumper.rows`` is not set
DEFAULT_CHUNK_ROWS = 100_000
#: key column types whose text rendering compares exactly like the stored value (so the
#: boundary walk below is monotonic); tables keyed on anything else are dumped as one chunk
CHUNKABLE_TYPES = frozenset({
    "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "numeric",
    "char", "varchar", "binary", "varbinary", "date", "datetime", "timestamp", "time", "year",
})

Conn = pymysql.connections.Connection
log = logging.getLogger(__name__)


@dataclass(slots=True)
class Column:
    name: str
    data_type: str
    nullable: bool
    generated: bool


@dataclass(slots=True)
class TablePlan:
    schema: str
    table: str
    est_rows: int = 0
    est_bytes: int = 0
    create_sql: str = ""
    columns: list[Column] = field(default_factory=list)
    #: columns of the PRIMARY KEY (or a NOT NULL UNIQUE key) used to split the table, and its index
    key: list[str] = field(default_factory=list)
    key_index: str = ""
    #: WHERE conditions of the chunks, in key order; [""] = the whole table in one chunk
    chunks: list[str] = field(default_factory=list)

    @property
    def dumped_columns(self) -> list[str]:
        return [c.name for c in self.columns if not c.generated]

    def select_sql(self, where: str) -> str:
        exprs = []
        for col in self.columns:
            if col.generated:
                continue
            q = quote_ident(col.name)
            # FLOAT's text rendering keeps 6 digits; as a double it prints (and reloads) exactly.
            exprs.append(f"({q} * 1e0)" if col.data_type == "float" else q)
        sql = f"SELECT {','.join(exprs)} FROM {quote_table(self.schema, self.table)}"
        return f"{sql} WHERE {where}" if where else sql


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value


def list_tables(conn: Conn, allow_table: Callable[[str, str], bool], allow_schema: Callable[[str], bool],
                meta_schema: str) -> tuple[list[str], list[TablePlan]]:
    """Allowed user schemas and base tables (views, sequences and system-versioned tables skipped)."""
    skip = SYSTEM_SCHEMAS | {meta_schema}
    with conn.cursor() as cur:
        cur.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME")
        all_schemas = [_text(r[0]) for r in cur.fetchall()]
        cur.execute("SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, COALESCE(TABLE_ROWS, 0), "
                    "COALESCE(DATA_LENGTH, 0) FROM information_schema.TABLES "
                    "ORDER BY TABLE_SCHEMA, TABLE_NAME")
        rows = cur.fetchall()
    tables = []
    for schema, table, ttype, est_rows, est_bytes in rows:
        schema, table = _text(schema), _text(table)
        if schema.lower() in skip or not allow_table(schema, table):
            continue
        if _text(ttype) != "BASE TABLE":
            log.info("dump: skip %s `%s`.`%s` (only base tables are dumped)", _text(ttype).lower(),
                     schema, table)
            continue
        tables.append(TablePlan(schema, table, int(est_rows), int(est_bytes)))
    with_tables = {t.schema for t in tables}
    schemas = [s for s in all_schemas
               if s.lower() not in skip and (s in with_tables or allow_schema(s))]
    return schemas, tables


def show_create_database(conn: Conn, schema: str) -> str:
    with conn.cursor() as cur:
        cur.execute(f"SHOW CREATE DATABASE {quote_ident(schema)}")
        return _text(cur.fetchone()[1])


def describe(conn: Conn, plan: TablePlan) -> None:
    """Fill ``create_sql``, ``columns`` and the chunking key of ``plan``."""
    with conn.cursor() as cur:
        cur.execute(f"SHOW CREATE TABLE {quote_table(plan.schema, plan.table)}")
        plan.create_sql = _text(cur.fetchone()[1])
        cur.execute(
            "SELECT COLUMN_NAME, DATA_TYPE, IS_NULLABLE, COALESCE(GENERATION_EXPRESSION, ''), EXTRA "
            "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s "
            "ORDER BY ORDINAL_POSITION", (plan.schema, plan.table))
        plan.columns = [
            Column(_text(name), _text(dtype).lower(), _text(nullable) == "YES",
                   bool(_text(gen_expr)) or "GENERATED" in _text(extra).upper())
            for name, dtype, nullable, gen_expr, extra in cur.fetchall()
        ]
        cur.execute(
            "SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s AND NON_UNIQUE = 0 "
            "ORDER BY INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX", (plan.schema, plan.table))
        indexes: dict[str, list[str]] = {}
        for index, column in cur.fetchall():
            indexes.setdefault(_text(index), []).append(_text(column))
    by_name = {c.name.lower(): c for c in plan.columns}
    for index, cols in indexes.items():
        defs = [by_name.get(c.lower()) for c in cols]
        if all(d is not None and not d.nullable and not d.generated for d in defs):
            if all(d.data_type in CHUNKABLE_TYPES for d in defs):
                plan.key, plan.key_index = cols, index
            break  # the primary key (or first usable unique key) decides; don't fall back further


def split(conn: Conn, plan: TablePlan, rows_per_chunk: int, stop: threading.Event) -> None:
    """Walk the key to find chunk boundaries every ``rows_per_chunk`` rows; fill ``plan.chunks``.

    Consecutive chunks are ``key > b[i-1] AND key <= b[i]`` with exact complements, so they cover
    every row exactly once whatever happens to the data meanwhile (the walk reads the snapshot).
    """
    if not plan.key or rows_per_chunk <= 0:
        plan.chunks = [""]
        return
    key_sql = ",".join(quote_ident(c) for c in plan.key)
    base = (f"SELECT {key_sql} FROM {quote_table(plan.schema, plan.table)} "
            f"FORCE INDEX ({quote_ident(plan.key_index)})")
    bounds: list[list[str]] = []
    with conn.cursor() as cur:
        while not stop.is_set():
            where = f" WHERE {_gt(plan.key, bounds[-1])}" if bounds else ""
            cur.execute(f"{base}{where} ORDER BY {key_sql} LIMIT 1 OFFSET {rows_per_chunk - 1}")
            row = cur.fetchone()
            if row is None:
                break
            numeric = dumpfiles.numeric_flags(cur.description)
            bounds.append([dumpfiles.encode_row([v], [n])[1:-1] for v, n in zip(row, numeric, strict=True)])
        if bounds:  # the last boundary is the last row: drop it rather than leave an empty chunk
            cur.execute(f"{base} WHERE {_gt(plan.key, bounds[-1])} LIMIT 1")
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
