"""Row changes from the binlog turned into SQL for the target, and their causality keys.

A :class:`RowChange` is one row of a rows event, decoded by column position with the schema
tracker's :class:`TableInfo`. Rows are identified on the target by the primary key, else by a
unique key whose columns are all NOT NULL, else by every column (with ``LIMIT 1``).

SQL (DM's rules, ``dm/syncer/dml.go``):

========  ======================================  ================================================
op        normal                                  safe mode (idempotent replays)
========  ======================================  ================================================
INSERT    ``INSERT``                              ``REPLACE``
UPDATE    ``UPDATE ... WHERE <old key>``          ``REPLACE`` the new row; when the key changed,
                                                  ``DELETE`` the old one first
DELETE    ``DELETE ... WHERE <key> LIMIT 1``      same
========  ======================================  ================================================

Tables without any key can't be made idempotent by REPLACE; in safe mode their INSERT becomes
``DELETE <same row> LIMIT 1`` + ``INSERT`` (and UPDATE deletes the old and the new image before
inserting the new one), which is exact unless the table holds several identical rows.
Generated columns are never written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dmshell.engine.db import quote_ident, quote_table
from dmshell.engine.schema_tracker import TableInfo

INSERT, UPDATE, DELETE = "insert", "update", "delete"

_INT_BITS = {"tinyint": 8, "smallint": 16, "mediumint": 24, "int": 32, "bigint": 64}


@dataclass(slots=True)
class RowChange:
    op: str  # INSERT / UPDATE / DELETE
    table: TableInfo  # the upstream table as of this event
    target: tuple[str, str]  # routed (schema, table)
    before: list | None  # values by column position (UPDATE, DELETE)
    after: list | None  # (INSERT, UPDATE)
    ts: int = 0  # event timestamp (upstream clock)
    #: whatever the caller wants reported with an error (the event's locations)
    origin: Any = None


@dataclass(slots=True)
class _Plan:
    """Per (table structure, target table) pre-computed SQL pieces."""

    table: str  # quoted target name
    write_cols: list[int]  # non-generated columns
    insert_cols: str  # "(`a`,`b`)"
    placeholders: str  # "(%s,%s)"
    set_clause: str  # "`a`=%s,`b`=%s"
    identity: list[int] | None
    keys: list[tuple[str, list[int]]]


def _plan(change: RowChange) -> _Plan:
    table = change.table
    plan = table.cache.get(change.target)
    if plan is not None:
        return plan
    write = [i for i, c in enumerate(table.columns) if not c.generated]
    names = [quote_ident(table.columns[i].name) for i in write]
    plan = _Plan(
        table=quote_table(*change.target),
        write_cols=write,
        insert_cols="(" + ",".join(names) + ")",
        placeholders="(" + ",".join(["%s"] * len(write)) + ")",
        set_clause=",".join(f"{n}=%s" for n in names),
        identity=table.identity_indexes(),
        keys=table.key_indexes(),
    )
    table.cache[change.target] = plan
    return plan


def normalize(table: TableInfo, values: list | None) -> list | None:
    """Turn decoded binlog values into values PyMySQL writes correctly for their column types."""
    if values is None:
        return None
    plan_cols = table.cache.get("_norm")
    if plan_cols is None:
        plan_cols = [(i, c) for i, c in enumerate(table.columns)
                     if c.data_type in ("bit", "set", "json") or (c.unsigned and c.data_type in _INT_BITS)]
        table.cache["_norm"] = plan_cols
    if not plan_cols:
        return values
    out = list(values)
    for i, col in plan_cols:
        v = out[i] if i < len(out) else None
        if v is None:
            continue
        dt = col.data_type
        if dt == "bit" and isinstance(v, str):
            out[i] = int(v, 2) if v else 0
        elif dt == "set" and isinstance(v, set | frozenset):
            order = {e: n for n, e in enumerate(col.elements)}
            out[i] = ",".join(sorted(v, key=lambda e: order.get(e, len(order))))
        elif dt == "json" and not isinstance(v, str | bytes):
            out[i] = json.dumps(v, default=_json_default, ensure_ascii=False)
        elif dt in _INT_BITS and isinstance(v, int) and v < 0:
            out[i] = v + (1 << _INT_BITS[dt])  # signedness unknown to the decoder
    return out


def _json_default(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


def _where(plan: _Plan, table: TableInfo, values: list) -> tuple[str, list]:
    """WHERE clause identifying the row ``values``: (sql, args)."""
    cols = plan.identity if plan.identity is not None else plan.write_cols
    parts, args = [], []
    for i in cols:
        name = quote_ident(table.columns[i].name)
        v = values[i]
        if v is None:
            parts.append(f"{name} IS NULL")
        else:
            parts.append(f"{name}=%s")
            args.append(v)
    return " AND ".join(parts) or "1=1", args


def gen_sql(change: RowChange, safe_mode: bool) -> list[tuple[str, list]]:
    """The statements (with arguments) that apply ``change`` to the target."""
    plan = _plan(change)
    table = change.table
    before = normalize(table, change.before)
    after = normalize(table, change.after)
    keyed = plan.identity is not None
    out: list[tuple[str, list]] = []

    def row_args(values: list) -> list:
        return [values[i] for i in plan.write_cols]

    insert = f"INSERT INTO {plan.table} {plan.insert_cols} VALUES {plan.placeholders}"
    replace = f"REPLACE INTO {plan.table} {plan.insert_cols} VALUES {plan.placeholders}"

    def delete(values: list) -> tuple[str, list]:
        where, args = _where(plan, table, values)
        return f"DELETE FROM {plan.table} WHERE {where} LIMIT 1", args

    if change.op == INSERT:
        assert after is not None
        if safe_mode and keyed:
            out.append((replace, row_args(after)))
        else:
            if safe_mode:
                out.append(delete(after))
            out.append((insert, row_args(after)))
    elif change.op == UPDATE:
        assert before is not None and after is not None
        if safe_mode:
            if keyed:
                if any(before[i] != after[i] for i in plan.identity or ()):
                    out.append(delete(before))
                out.append((replace, row_args(after)))
            else:
                out.append(delete(before))
                out.append(delete(after))
                out.append((insert, row_args(after)))
        else:
            where, args = _where(plan, table, before)
            out.append((f"UPDATE {plan.table} SET {plan.set_clause} WHERE {where} LIMIT 1",
                        row_args(after) + args))
    elif change.op == DELETE:
        assert before is not None
        out.append(delete(before))
    return out


def _key_value(v: Any) -> str:
    if isinstance(v, str):
        return v.lower()  # case-insensitive collations: 'a' and 'A' collide in a unique key
    if isinstance(v, bytes):
        return v.hex()
    return repr(v)


def causality_keys(change: RowChange) -> list[str]:
    """Keys naming the rows ``change`` touches: changes sharing a key must be applied in order.

    One key per PRIMARY/UNIQUE key (all of whose values are non-NULL) of each row image, prefixed
    with the routed target table; a table without usable keys uses the whole row.
    """
    plan = _plan(change)
    prefix = plan.table
    keys: list[str] = []
    for values in (change.before, change.after):
        if values is None:
            continue
        found = False
        for name, idx in plan.keys:
            vals = [values[i] for i in idx]
            if any(v is None for v in vals):
                continue
            found = True
            keys.append(prefix + "|" + name + "|" + "|".join(_key_value(v) for v in vals))
        if not found:
            keys.append(prefix + "||" + "|".join(_key_value(values[i]) for i in plan.write_cols))
    return list(dict.fromkeys(keys))
