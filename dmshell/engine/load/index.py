"""Secondary indexes built after the data is loaded, not row by row while it is.

A table the load unit creates gets its primary key and unique keys at once (they decide REPLACE and
duplicates) but not its plain secondary indexes (``KEY``/``INDEX`` lines): InnoDB inserts much
faster without them, and one sorted build per index at the end is cheaper than maintaining them
row by row. Tables with foreign keys keep all their indexes (a foreign key needs its index).

Durability: the postponed definitions are recorded in ``<meta>.<task>_loader_deferred_index``
*before* the table is created, and an index is forgotten only once it exists, so a kill -9 at any
point leaves either the record (the index is added at the end of a later run) or the index.
Tables created by someone else are never touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pymysql

from dmshell.engine import db
from dmshell.engine.config.subtask import SubTaskConfig
from dmshell.engine.db import quote_table

_PLAIN_KEY = re.compile(r"^\s+(?:KEY|INDEX)\s+`((?:[^`]|``)*)`\s*\(")


@dataclass(frozen=True, slots=True)
class DeferredIndex:
    schema: str
    table: str
    name: str
    #: the index line of SHOW CREATE TABLE, e.g. ``KEY `k_1` (`k`)``
    definition: str


def split_create(create_sql: str) -> tuple[str, list[tuple[str, str]]]:
    """``CREATE TABLE`` without its plain secondary indexes, and those indexes (name, definition).

    Returns the statement unchanged (and no index) when it has foreign keys or an unexpected layout.
    """
    lines = create_sql.split("\n")
    if len(lines) < 3 or "FOREIGN KEY" in create_sql.upper():
        return create_sql, []
    head, body, tail = lines[0], lines[1:-1], lines[-1]
    if not head.rstrip().endswith("(") or not tail.startswith(")"):
        return create_sql, []
    keep, deferred = [], []
    for line in body:
        m = _PLAIN_KEY.match(line)
        if m:
            deferred.append((m.group(1).replace("``", "`"), line.strip().rstrip(",")))
        else:
            keep.append(line.rstrip().rstrip(","))
    if not deferred or not keep:
        return create_sql, []
    return "\n".join([head, ",\n".join(keep), tail]), deferred


def table_name(cfg: SubTaskConfig) -> str:
    return quote_table(cfg.meta_schema, f"{cfg.name}_loader_deferred_index")


def create_table_sql(cfg: SubTaskConfig) -> str:
    return f"""CREATE TABLE IF NOT EXISTS {table_name(cfg)} (
        target_schema varchar(128) NOT NULL,
        target_table varchar(128) NOT NULL,
        index_name varchar(128) NOT NULL,
        seq int NOT NULL,
        definition text NOT NULL,
        PRIMARY KEY (target_schema, target_table, index_name)
    )"""


def record(
    conn: db.Connection,
    cfg: SubTaskConfig,
    schema: str,
    table: str,
    indexes: list[tuple[str, str]],
) -> None:
    rows = [(schema, table, name, seq, definition) for seq, (name, definition) in enumerate(indexes)]
    with conn.cursor() as cur:
        cur.executemany(
            f"REPLACE INTO {table_name(cfg)} (target_schema, target_table, index_name, seq, "
            "definition) VALUES (%s, %s, %s, %s, %s)",
            rows,
        )


def pending(conn: db.Connection, cfg: SubTaskConfig, tables: set[tuple[str, str]]) -> list[DeferredIndex]:
    """The recorded indexes of ``tables`` (target schema, table)."""
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT target_schema, target_table, index_name, definition FROM {table_name(cfg)} "
            "ORDER BY target_schema, target_table, seq"
        )  # the original order of the indexes
        rows = cur.fetchall()
    out = [DeferredIndex(*(_text(v) for v in row)) for row in rows]
    return [index for index in out if (index.schema, index.table) in tables]


def build(conn: db.Connection, cfg: SubTaskConfig, index: DeferredIndex) -> None:
    """Add the index unless it exists already (another source's load may have added it), then
    forget it."""
    table = quote_table(index.schema, index.table)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT 1 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s "
            "AND INDEX_NAME = %s LIMIT 1",
            (index.schema, index.table, index.name),
        )
        if cur.fetchone() is None:
            try:
                cur.execute(f"ALTER TABLE {table} ADD {index.definition}")
            except pymysql.err.MySQLError as exc:
                if db.errno_of(exc) != 1061:  # "Duplicate key name": added concurrently
                    raise
        cur.execute(
            f"DELETE FROM {table_name(cfg)} WHERE target_schema = %s AND target_table = %s "
            "AND index_name = %s",
            (index.schema, index.table, index.name),
        )


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
