"""Row changes from the binlog turned into SQL for the target, and their causality keys.

A :class:`RowChange` is one row of a rows event, decoded by column position with the schema
tracker's :class:`TableInfo`. Rows are identified on the target by the primary key, else by a
unique key whose columns are all NOT NULL, else by every column (with ``LIMIT 1``).

SQL (DM's rules, ``dm/syncer/dml.go``), with the values written as SQL literals (one text per
statement, no client-side parameter interpolation):

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

``multiple-rows`` (:func:`batch_statements`, DM's ``genDMLsWithSameOp``): the changes of one batch
become multi-row statements per target table and kind: ``INSERT``/``REPLACE ... VALUES (..),(..)``,
``INSERT ... ON DUPLICATE KEY UPDATE`` for updates that keep the row's identity (normal mode),
``DELETE ... WHERE <key> IN (...)``. Unlike DM, which only merges *consecutive* changes, a change
joins the latest statement of its kind for its table unless a later statement touches one of its
causality keys (changes sharing no key commute; the batch is one transaction, so the order between
tables is invisible). Identity-changing updates (normal mode) and keyless tables stay one
statement per change.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from dmshell.engine.db import quote_ident, quote_table

if TYPE_CHECKING:
    from dmshell.engine.schema.tracker import TableInfo

INSERT, UPDATE, DELETE = "insert", "update", "delete"

_INT_BITS = {"tinyint": 8, "smallint": 16, "mediumint": 24, "int": 32, "bigint": 64}


@dataclass(slots=True)
class RowChange:
    op: str  # INSERT / UPDATE / DELETE
    table: TableInfo  # the upstream table as of this event
    target: tuple[str, str]  # routed (schema, table)
    #: values by column position: ``before`` for UPDATE and DELETE, ``after`` for INSERT and UPDATE,
    #: else None (typed Any: which image is there depends on ``op``, which the checker can't follow)
    before: Any
    after: Any
    ts: int = 0  # event timestamp (upstream clock)
    #: whatever the caller wants reported with an error (the event's locations)
    origin: Any = None
    safe: bool = False  # safe mode (set when dispatched)
    keys: list | None = None  # causality keys (set when dispatched)
    plan: Any = None  # the SQL plan of (table, target) (set when dispatched; see plan_of)


# -- SQL literals ----------------------------------------------------------------------------------
_ESCAPES = [chr(x) for x in range(128)]
for _c, _e in {0: "\\0", 10: "\\n", 13: "\\r", 26: "\\Z", 34: '\\"', 39: "\\'", 92: "\\\\"}.items():
    _ESCAPES[_c] = _e


def _str_literal(v: str) -> str:
    if "'" in v or "\\" in v or '"' in v or "\0" in v or "\n" in v or "\r" in v or "\x1a" in v:
        return "'" + v.translate(_ESCAPES) + "'"
    return "'" + v + "'"


def _bytes_literal(v: bytes) -> str:
    # surrogateescape: bytes >= 0x80 travel as lone surrogates and are restored by the final
    # encode("utf-8", "surrogateescape") (PyMySQL's own convention)
    return "_binary'" + v.decode("ascii", "surrogateescape").translate(_ESCAPES) + "'"


def _float_literal(v: float) -> str:
    s = repr(v)
    if s in ("inf", "-inf", "nan"):
        raise ValueError(f"{s} can't be written to MySQL")
    return s if "e" in s else s + "e0"


def _timedelta_literal(v: dt.timedelta) -> str:
    sign = ""
    if v < dt.timedelta(0):
        sign, v = "-", -v
    hours, rest = divmod(v.days * 86400 + v.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    frac = f".{v.microseconds:06d}" if v.microseconds else ""
    return f"'{sign}{hours:02d}:{minutes:02d}:{seconds:02d}{frac}'"


def _other_literal(v: Any) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int):
        return str(int(v))
    if isinstance(v, str):
        return _str_literal(str(v))
    if isinstance(v, bytes | bytearray | memoryview):
        return _bytes_literal(bytes(v))
    if isinstance(v, set | frozenset):
        return _str_literal(",".join(sorted(v)))
    if isinstance(v, dict | list):
        return _str_literal(json.dumps(v, default=_json_default, ensure_ascii=False))
    if isinstance(v, dt.datetime | dt.date | dt.time):
        return "'" + v.isoformat(" ") + "'" if isinstance(v, dt.datetime) else "'" + v.isoformat() + "'"
    return _str_literal(str(v))


_LITERALS: dict[type, Any] = {
    int: str,
    str: _str_literal,
    bytes: _bytes_literal,
    type(None): lambda v: "NULL",
    float: _float_literal,
    Decimal: str,
    dt.timedelta: _timedelta_literal,
    dt.datetime: lambda v: "'" + v.isoformat(" ") + "'",
    dt.date: lambda v: "'" + v.isoformat() + "'",
}


def encode(sql: str) -> bytes:
    """The bytes to send for a statement built from :func:`literal` values (binary strings
    travel as lone surrogates, restored here)."""
    return sql.encode("utf-8", "surrogateescape")


def literal(v: Any) -> str:
    """``v`` as an SQL literal (backslash escapes: the DML sessions don't use
    NO_BACKSLASH_ESCAPES, see :mod:`dmshell.engine.sync.apply`)."""
    f = _LITERALS.get(type(v))
    return f(v) if f is not None else _other_literal(v)


def _row_literal(values: list, cols: list[int] | None) -> str:
    lits = _LITERALS
    if cols is None:
        return "(" + ",".join([(lits.get(type(v)) or _other_literal)(v) for v in values]) + ")"
    return "(" + ",".join([(lits.get(type(values[i])) or _other_literal)(values[i]) for i in cols]) + ")"


# -- per table plans -------------------------------------------------------------------------------
@dataclass(slots=True, eq=False)
class _Plan:
    """Per (table structure, target table) pre-computed SQL pieces: everything the SQL of a
    change needs (picklable, no reference to the table structure)."""

    table: str  # quoted target name
    columns: list[str]  # quoted names of every column
    write_cols: list[int]  # non-generated columns
    written: list[int] | None  # write_cols, or None when every column is written
    names: list[str]  # quoted names of write_cols
    insert_cols: str  # "(`a`,`b`)"
    upsert_tail: str  # " ON DUPLICATE KEY UPDATE `a`=VALUES(`a`),..."
    identity: list[int] | None
    keys: list[tuple[str, list[int]]]
    single_key: int  # column index of a one-column primary key that is the only key, else -1
    norm: list[tuple[int, str, list[str]]]  # columns needing normalize(): (index, type, members)


def plan_of(table: TableInfo, target: tuple[str, str]) -> _Plan:
    plan = table.cache.get(target)
    if plan is not None:
        return plan
    columns = [quote_ident(c.name) for c in table.columns]
    write = [i for i, c in enumerate(table.columns) if not c.generated]
    names = [columns[i] for i in write]
    keys = table.key_indexes()
    plan = _Plan(
        table=quote_table(*target),
        columns=columns,
        write_cols=write,
        written=None if len(write) == len(table.columns) else write,
        names=names,
        insert_cols="(" + ",".join(names) + ")",
        upsert_tail=" ON DUPLICATE KEY UPDATE " + ",".join(f"{n}=VALUES({n})" for n in names),
        identity=table.identity_indexes(),
        keys=keys,
        single_key=keys[0][1][0] if len(keys) == 1 and len(keys[0][1]) == 1 else -1,
        norm=_norm_columns(table),
    )
    table.cache[target] = plan
    return plan


def _plan(change: RowChange) -> _Plan:
    return change.plan or plan_of(change.table, change.target)


def _norm_columns(table: TableInfo) -> list[tuple[int, str, list[str]]]:
    return [
        (i, c.data_type, list(c.elements))
        for i, c in enumerate(table.columns)
        if c.data_type in ("bit", "set", "json") or (c.unsigned and c.data_type in _INT_BITS)
    ]


def normalize(table: TableInfo, values: list | None) -> list | None:
    """Turn decoded binlog values into values written correctly for their column types.

    The row decoder already produces these forms; this covers values from elsewhere (sets,
    bit strings, JSON documents, unsigned integers decoded as signed)."""
    norm = table.cache.get("_norm")
    if norm is None:
        norm = table.cache["_norm"] = _norm_columns(table)
    return _normalize(norm, values)


def _normalize(norm: list[tuple[int, str, list[str]]], values: Any) -> Any:
    """``values`` (a row image, or None) with the columns of ``norm`` normalised."""
    if values is None or not norm:
        return values
    out = None
    for i, dt_, elements in norm:
        v = values[i] if i < len(values) else None
        if v is None or (type(v) is int and v >= 0) or (type(v) is str and dt_ != "bit"):
            continue
        new = v
        if dt_ == "bit" and isinstance(v, str):
            new = int(v, 2) if v else 0
        elif dt_ == "set" and isinstance(v, set | frozenset):
            order = {e: n for n, e in enumerate(elements)}
            new = ",".join(sorted(v, key=lambda e: order.get(e, len(order))))
        elif dt_ == "json" and not isinstance(v, str | bytes):
            new = json.dumps(v, default=_json_default, ensure_ascii=False)
        elif dt_ in _INT_BITS and isinstance(v, int) and v < 0:
            new = v + (1 << _INT_BITS[dt_])  # signedness unknown to the decoder
        if new is not v:
            if out is None:
                out = list(values)
            out[i] = new
    return values if out is None else out


def _json_default(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


# -- single-row statements -------------------------------------------------------------------------
def _where(plan: _Plan, values: list) -> str:
    """WHERE clause identifying the row ``values``."""
    cols = plan.identity if plan.identity is not None else plan.write_cols
    names = plan.columns
    parts = []
    for i in cols:
        v = values[i]
        parts.append(f"{names[i]} IS NULL" if v is None else f"{names[i]}={literal(v)}")
    return " AND ".join(parts) or "1=1"


def statements(change: RowChange, safe_mode: bool | None = None) -> list[str]:
    """The statements that apply ``change`` to the target, one change at a time (DM's
    ``multiple-rows: false``). ``safe_mode`` defaults to the change's own flag."""
    safe = change.safe if safe_mode is None else safe_mode
    plan = _plan(change)
    before = _normalize(plan.norm, change.before)
    after = _normalize(plan.norm, change.after)
    keyed = plan.identity is not None
    out: list[str] = []

    def insert(verb: str, values: list) -> str:
        return f"{verb} INTO {plan.table} {plan.insert_cols} VALUES {_row_literal(values, plan.written)}"

    def delete(values: list) -> str:
        return f"DELETE FROM {plan.table} WHERE {_where(plan, values)} LIMIT 1"

    if change.op == INSERT:
        assert after is not None
        if safe and keyed:
            out.append(insert("REPLACE", after))
        else:
            if safe:
                out.append(delete(after))
            out.append(insert("INSERT", after))
    elif change.op == UPDATE:
        assert before is not None and after is not None
        if safe:
            if keyed:
                if any(before[i] != after[i] for i in plan.identity or ()):
                    out.append(delete(before))
                out.append(insert("REPLACE", after))
            else:
                out.append(delete(before))
                out.append(delete(after))
                out.append(insert("INSERT", after))
        else:
            sets = ",".join(
                f"{n}={literal(after[i])}" for n, i in zip(plan.names, plan.write_cols, strict=True)
            )
            out.append(f"UPDATE {plan.table} SET {sets} WHERE {_where(plan, before)} LIMIT 1")
    elif change.op == DELETE:
        assert before is not None
        out.append(delete(before))
    return out


# -- multi-row statements --------------------------------------------------------------------------
class _Group:
    __slots__ = ("kind", "plan", "rows")

    def __init__(self, kind: str, plan: _Plan) -> None:
        self.kind = kind  # "INSERT" | "REPLACE" | "UPSERT" | "DELETE" | "ONE"
        self.plan = plan
        self.rows: list[RowChange] = []


def _kind(change: RowChange, plan: _Plan) -> str:
    """The multi-row statement a change joins; "ONE": it is written on its own."""
    ident = plan.identity
    if ident is None:
        return "ONE"
    op = change.op
    if op == INSERT:
        return "REPLACE" if change.safe else "INSERT"
    if op == DELETE:
        return "DELETE"
    if _moved(change, ident):
        return "ONE"
    return "REPLACE" if change.safe else "UPSERT"


def _moved(change: RowChange, ident: list[int]) -> bool:
    """Whether an UPDATE changes the row's identity."""
    before, after = change.before, change.after
    if len(ident) == 1:
        i = ident[0]
        return before[i] != after[i]
    return any(before[i] != after[i] for i in ident)


def _render(group: _Group, max_bytes: int) -> list[tuple[str, RowChange]]:
    plan, kind, rows = group.plan, group.kind, group.rows
    if kind == "ONE":
        return [(sql, c) for c in rows for sql in statements(c)]
    out: list[tuple[str, RowChange]] = []
    norm = plan.norm
    if kind == "DELETE":
        ident = plan.identity
        assert ident is not None
        if len(ident) == 1:
            col = ident[0]
            head = f"DELETE FROM {plan.table} WHERE {plan.columns[col]} IN ("
            parts = [literal(_normalize(norm, c.before)[col]) for c in rows]
            tail = ")"
            sep = ","
        else:
            names = [plan.columns[i] for i in ident]
            head = f"DELETE FROM {plan.table} WHERE "
            parts = []
            for c in rows:
                values = _normalize(norm, c.before)
                parts.append(
                    "("
                    + " AND ".join(f"{n}={literal(values[i])}" for n, i in zip(names, ident, strict=True))
                    + ")"
                )
            tail = ""
            sep = " OR "
    else:
        verb = "REPLACE" if kind == "REPLACE" else "INSERT"
        head = f"{verb} INTO {plan.table} {plan.insert_cols} VALUES "
        tail = plan.upsert_tail if kind == "UPSERT" else ""
        sep = ","
        written = plan.written
        parts = [_row_literal(_normalize(norm, c.after), written) for c in rows]
    # statements of at most max_bytes (one row always fits: it is sent alone)
    start, size = 0, len(head) + len(tail)
    for n, part in enumerate(parts):
        if n > start and size + len(part) + len(sep) > max_bytes:
            out.append((head + sep.join(parts[start:n]) + tail, rows[start]))
            start, size = n, len(head) + len(tail)
        size += len(part) + len(sep)
    out.append((head + sep.join(parts[start:]) + tail, rows[start]))
    return out


def batch_statements(
    changes: list[RowChange], multiple_rows: bool, max_bytes: int = 4 << 20, compact: bool = False
) -> list[tuple[str, RowChange]]:
    """The statements applying ``changes`` (in order) in one transaction, each with the change to
    report when it fails. ``changes`` carry their causality keys (see :func:`causality_keys`)
    when ``multiple_rows`` or ``compact``."""
    if compact:
        changes = compact_changes(changes)
    if not multiple_rows:
        return [(sql, c) for c in changes for sql in statements(c)]
    groups: list[_Group] = []
    last_of_kind: dict[tuple[_Plan, str], int] = {}  # (plan, kind) -> index of its latest group
    last_touch: dict[Any, int] = {}  # causality key -> index of the latest group holding it
    for c in changes:
        plan = c.plan or plan_of(c.table, c.target)
        kind = _kind(c, plan)
        keys = c.keys or ()
        floor = -1
        for k in keys:
            g = last_touch.get(k, -1)
            if g > floor:
                floor = g
        slot = (plan, kind)
        at = last_of_kind.get(slot, -1)
        if kind == "ONE" or at < floor or at < 0:
            at = len(groups)
            groups.append(_Group(kind, plan))
            last_of_kind[slot] = at
        groups[at].rows.append(c)
        for k in keys:
            last_touch[k] = at
    out: list[tuple[str, RowChange]] = []
    for group in groups:
        out.extend(_render(group, max_bytes))
    return out


# -- compaction ------------------------------------------------------------------------------------
def compact_changes(changes: list[RowChange]) -> list[RowChange]:
    """DM's ``syncers.compact`` over one batch: the changes of one row (same target table and
    identity: primary key, else a NOT NULL unique key) collapse into one, at the position of the
    last one. An UPDATE of the identity is first split into DELETE + INSERT. Rules (DM's
    ``compactJob``): INSERT+UPDATE → INSERT, UPDATE+UPDATE → UPDATE, any+DELETE → DELETE,
    DELETE+INSERT → INSERT in safe mode (REPLACE). Rows without an identity pass through.

    Unlike DM, two changes are only merged when no change between them touched one of their
    other causality keys (a unique-key value freed by one row and taken by another must keep its
    order)."""
    out: list[RowChange | None] = []
    at: dict[tuple, int] = {}  # (target table, identity values) -> index in out
    last: dict[Any, int] = {}  # causality key -> index in out of the latest change holding it

    def add(c: RowChange) -> None:
        plan = c.plan or plan_of(c.table, c.target)
        ident = plan.identity
        keys = c.keys if c.keys is not None else causality_keys(c)
        if ident is None:
            _append(c, keys)
            return
        values = c.after if c.op == INSERT else c.before
        key = (plan.table, *[_key_value(values[i]) for i in ident])
        i = at.get(key)
        if i is not None:
            prev = out[i]
            assert prev is not None and prev.keys is not None  # `at` names live changes, keyed
            if all(last.get(k) == i for k in prev.keys):  # nothing since touched its keys
                merged = _merge(prev, c)
                if merged is not None:
                    out[i] = None
                    merged.keys = list(dict.fromkeys([*prev.keys, *keys]))
                    at[key] = len(out)
                    _append(merged, merged.keys)
                    return
        at[key] = len(out)
        _append(c, keys)

    def _append(c: RowChange, keys: list) -> None:
        c.keys = keys
        n = len(out)
        out.append(c)
        for k in keys:
            last[k] = n

    for c in changes:
        plan = c.plan or plan_of(c.table, c.target)
        if c.op == UPDATE and plan.identity is not None and _moved(c, plan.identity):
            add(RowChange(DELETE, c.table, c.target, c.before, None, c.ts, c.origin, c.safe, None, plan))
            add(RowChange(INSERT, c.table, c.target, None, c.after, c.ts, c.origin, c.safe, None, plan))
        else:
            add(c)
    return [c for c in out if c is not None]


def _merge(prev: RowChange, c: RowChange) -> RowChange | None:
    """``prev`` then ``c`` (same row) as one change; None for sequences a consistent binlog
    doesn't have (they are left alone)."""
    p, n = prev.op, c.op
    safe = prev.safe or c.safe
    if n == DELETE and p in (INSERT, UPDATE):
        before = c.before if p == INSERT else prev.before
        return RowChange(DELETE, c.table, c.target, before, None, c.ts, c.origin, safe, None, c.plan)
    if n == UPDATE and p in (INSERT, UPDATE):
        before = None if p == INSERT else prev.before
        return RowChange(p, c.table, c.target, before, c.after, c.ts, c.origin, safe, None, c.plan)
    if n == INSERT and p == DELETE:
        return RowChange(INSERT, c.table, c.target, None, c.after, c.ts, c.origin, True, None, c.plan)
    return None


# -- causality ---------------------------------------------------------------------------------------
def _key_value(v: Any) -> Any:
    return v.lower() if type(v) is str else v  # case-insensitive collations: 'a' and 'A' collide


def _image_keys(plan: _Plan, values: list, out: list) -> None:
    found = False
    for n, (_name, idx) in enumerate(plan.keys):
        if len(idx) == 1:
            v = values[idx[0]]
            if v is None:
                continue
            out.append((plan.table, n, _key_value(v)))
        else:
            vals = [values[i] for i in idx]
            if any(v is None for v in vals):
                continue
            out.append((plan.table, n, *[_key_value(v) for v in vals]))
        found = True
    if not found:
        out.append((plan.table, -1, *[_key_value(values[i]) for i in plan.write_cols]))


def causality_keys(change: RowChange) -> list:
    """Keys naming the rows ``change`` touches: changes sharing a key must be applied in order.

    One key per PRIMARY/UNIQUE key (all of whose values are non-NULL) of each row image — a tuple
    of the routed target table, the key's number and the values (strings lower-cased); a table
    without usable keys uses the whole row.
    """
    plan = change.plan or plan_of(change.table, change.target)
    i = plan.single_key
    if i >= 0:
        before, after = change.before, change.after
        if before is None:
            v = after[i]
        elif after is None or after[i] == before[i]:
            v = before[i]
        else:
            v = None
        if v is not None:
            return [(plan.table, 0, v.lower() if type(v) is str else v)]
    keys: list = []
    if change.before is not None:
        _image_keys(plan, change.before, keys)
    if change.after is not None:
        _image_keys(plan, change.after, keys)
    return list(dict.fromkeys(keys)) if len(keys) > 1 else keys
