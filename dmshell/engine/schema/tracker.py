"""The upstream schema tracker: every replicated table's structure as of the current binlog position.

Row events carry no column names unless the upstream logs ``binlog_row_metadata=FULL``, and never
the column types as declared (signedness, ENUM members, character sets). The syncer decodes rows
by column index with the structures kept here. The tracker replays every upstream DDL of the
replicated tables (:meth:`SchemaTracker.apply`) so the structure follows the binlog, not the
upstream's current state.

Where a table's structure comes from when the tracker doesn't know it yet (the sync unit decides,
in this order): the checkpoint's ``table_info`` (saved with every checkpoint flush), the dump's
``<db>.<table>-schema.sql``, the upstream's ``SHOW CREATE TABLE`` and finally the target's.
Caveat (as DM): the last two give the table as it is *now*; if it was altered between the start
position and now, rows logged before that ALTER are decoded with the newer structure. Replaying the
ALTER on top is harmless (adding an existing column or dropping a missing one is a no-op here).

Tables are copy-on-write: every change produces a new :class:`TableInfo`, so objects handed out
(and per-table caches hanging off them) never change under their holders.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

from dmshell.engine import errors
from dmshell.engine.db import quote_ident
from dmshell.engine.ddl.statement import DDL, ColumnDef, DDLParseError, TableName, parse_ddl

TEXT_TYPES = frozenset(
    {"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set", "json"}
)
BINARY_TYPES = frozenset({"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"})


@dataclass(eq=False)
class TableInfo:
    """One upstream table: columns in order, primary key and unique keys (column names)."""

    schema: str
    name: str
    columns: list[ColumnDef]
    primary_key: list[str] = field(default_factory=list)
    unique_keys: list[tuple[str, list[str]]] = field(default_factory=list)
    charset: str = ""
    #: per-target-table caches of the DML layer (never serialised)
    cache: dict = field(default_factory=dict, repr=False)

    # -- lookups ---------------------------------------------------------------------------------
    def index_of(self, column: str) -> int:
        """Position of a column (case-insensitive), -1 when missing."""
        low = column.lower()
        for i, c in enumerate(self.columns):
            if c.name.lower() == low:
                return i
        return -1

    def column_charset(self, col: ColumnDef) -> str:
        if col.data_type in BINARY_TYPES:
            return "binary"
        return col.charset or self.charset or "utf8mb4"

    def key_indexes(self) -> list[tuple[str, list[int]]]:
        """PRIMARY and every UNIQUE key as (name, column positions); keys on expressions are left out."""
        out = []
        keys = ([("PRIMARY", self.primary_key)] if self.primary_key else []) + list(self.unique_keys)
        for name, cols in keys:
            idx = [self.index_of(c) for c in cols]
            if idx and all(i >= 0 for i in idx):
                out.append((name, idx))
        return out

    def identity_indexes(self) -> list[int] | None:
        """Columns that identify a row: the primary key, else the first unique key whose columns
        are all NOT NULL; None when there is none (rows are then matched on every column)."""
        for name, idx in self.key_indexes():
            if name == "PRIMARY" or all(not self.columns[i].nullable for i in idx):
                return idx
        return None

    # -- (de)serialisation -----------------------------------------------------------------------
    def to_json(self) -> str:
        doc = {
            "schema": self.schema,
            "table": self.name,
            "charset": self.charset,
            "columns": [_column_doc(c) for c in self.columns],
            "primary_key": self.primary_key,
            "unique_keys": [[n, cols] for n, cols in self.unique_keys],
            "create_table": self.create_sql(),
        }
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> TableInfo:
        doc = json.loads(text)
        cols = [ColumnDef(**{k: v for k, v in c.items() if k in _COLUMN_FIELDS}) for c in doc["columns"]]
        return cls(
            doc["schema"],
            doc["table"],
            cols,
            list(doc.get("primary_key") or []),
            [(n, list(c)) for n, c in doc.get("unique_keys") or []],
            doc.get("charset", ""),
        )

    def create_sql(self) -> str:
        """A ``CREATE TABLE`` rendering of what is tracked (for people; not replayed anywhere)."""
        lines = []
        for c in self.columns:
            line = f"  {quote_ident(c.name)} {c.type}"
            if c.charset and c.data_type in TEXT_TYPES and c.charset != self.charset:
                line += f" CHARACTER SET {c.charset}"
            line += "" if c.nullable else " NOT NULL"
            line += " GENERATED ALWAYS AS (...) VIRTUAL" if c.generated else ""
            lines.append(line)
        if self.primary_key:
            lines.append(f"  PRIMARY KEY ({','.join(quote_ident(c) for c in self.primary_key)})")
        for name, cols in self.unique_keys:
            lines.append(f"  UNIQUE KEY {quote_ident(name)} ({','.join(quote_ident(c) for c in cols)})")
        tail = f" DEFAULT CHARSET={self.charset}" if self.charset else ""
        return f"CREATE TABLE {quote_ident(self.name)} (\n" + ",\n".join(lines) + "\n)" + tail

    def clone(self, schema: str | None = None, name: str | None = None) -> TableInfo:
        return TableInfo(
            self.schema if schema is None else schema,
            self.name if name is None else name,
            copy.deepcopy(self.columns),
            list(self.primary_key),
            [(n, list(c)) for n, c in self.unique_keys],
            self.charset,
        )


_COLUMN_FIELDS = (
    "name",
    "type",
    "data_type",
    "unsigned",
    "nullable",
    "generated",
    "charset",
    "collation",
    "elements",
    "default",
    "auto_increment",
)


def _column_doc(c: ColumnDef) -> dict:
    d = asdict(c)
    return {k: d[k] for k in _COLUMN_FIELDS}


def table_from_create(sql: str, schema: str) -> TableInfo:
    """Build a :class:`TableInfo` from a ``CREATE TABLE`` statement (e.g. ``SHOW CREATE TABLE``)."""
    try:
        ddl = parse_ddl(sql, schema)
    except DDLParseError as exc:
        raise errors.ErrSchemaTrackerInvalidCreateTableStmt(sql, cause=exc) from exc
    if ddl is None or ddl.kind != "create table" or not ddl.columns:
        raise errors.ErrSchemaTrackerInvalidCreateTableStmt(sql)
    return _table_from_ddl(ddl, ddl.table.schema, ddl.table.table)


def _table_from_ddl(ddl: DDL, schema: str, name: str) -> TableInfo:
    info = TableInfo(schema, name, [], charset=ddl.charset)
    for col in ddl.columns:
        _add_column(info, col)
    for idx in ddl.indexes:
        _add_index(info, idx.kind, idx.name, idx.columns)
    return info


def _add_column(info: TableInfo, col: ColumnDef) -> None:
    col = copy.copy(col)
    position, col.position = col.position, None
    primary, unique = col.primary, col.unique
    col.primary = col.unique = False
    if info.index_of(col.name) >= 0:
        return
    if position and position[0] == "first":
        info.columns.insert(0, col)
    elif position and position[0] == "after" and info.index_of(position[1]) >= 0:
        info.columns.insert(info.index_of(position[1]) + 1, col)
    else:
        info.columns.append(col)
    if primary:
        _add_index(info, "primary", "PRIMARY", [col.name])
    if unique:
        _add_index(info, "unique", col.name, [col.name])


def _add_index(info: TableInfo, kind: str, name: str, columns: list[str]) -> None:
    if not columns or any(not c for c in columns):
        return  # no key, or a key on an expression: useless for identifying rows
    if kind == "primary":
        info.primary_key = list(columns)
        for c in columns:
            i = info.index_of(c)
            if i >= 0:
                info.columns[i].nullable = False
    elif kind == "unique":
        name = name or columns[0]
        if not any(n.lower() == name.lower() for n, _ in info.unique_keys):
            info.unique_keys.append((name, list(columns)))


def _rename_in_keys(info: TableInfo, old: str, new: str) -> None:
    low = old.lower()
    info.primary_key = [new if c.lower() == low else c for c in info.primary_key]
    info.unique_keys = [(n, [new if c.lower() == low else c for c in cols]) for n, cols in info.unique_keys]


def _drop_from_keys(info: TableInfo, column: str) -> None:
    low = column.lower()
    info.primary_key = [c for c in info.primary_key if c.lower() != low]
    info.unique_keys = [(n, [c for c in cols if c.lower() != low]) for n, cols in info.unique_keys]
    info.unique_keys = [(n, cols) for n, cols in info.unique_keys if cols]


Key = tuple[str, str]
Loader = Callable[[str, str], "TableInfo | None"]


class SchemaTracker:
    """Tracked tables by (schema, table). Not thread-safe: owned by the syncer's reader thread."""

    def __init__(self) -> None:
        self._tables: dict[Key, TableInfo] = {}
        #: tables changed (or dropped) since the last :meth:`take_changes`
        self._changed: set[Key] = set()

    def get(self, schema: str, table: str) -> TableInfo | None:
        return self._tables.get((schema, table))

    def put(self, info: TableInfo, *, changed: bool = True) -> None:
        self._tables[(info.schema, info.name)] = info
        if changed:
            self._changed.add((info.schema, info.name))

    def remove(self, schema: str, table: str) -> None:
        if self._tables.pop((schema, table), None) is not None:
            self._changed.add((schema, table))

    def tables(self) -> list[TableInfo]:
        return list(self._tables.values())

    def take_changes(self) -> tuple[list[TableInfo], list[Key]]:
        """Tables changed and tables removed since the last call (for the checkpoint flush)."""
        changed = [self._tables[k] for k in self._changed if k in self._tables]
        removed = [k for k in self._changed if k not in self._tables]
        self._changed.clear()
        return changed, removed

    # -- DDL replay ------------------------------------------------------------------------------
    def apply(self, ddl: DDL, tracked: Callable[[TableName], bool], load: Loader) -> None:
        """Replay ``ddl`` on the tracked tables for which ``tracked(name)`` is true.

        ``load(schema, table)`` fetches a table the tracker doesn't know yet (for ALTERs).
        Raises ``ErrSchemaTrackerCannotExecDDL`` when the statement can't be replayed.
        """
        kind = ddl.kind
        if kind == "create table":
            t = ddl.table
            if not tracked(t) or (ddl.if_not_exists and self.get(t.schema, t.table)):
                return
            if ddl.like is not None:
                src = self.get(ddl.like.schema, ddl.like.table) or load(ddl.like.schema, ddl.like.table)
                if src is None:
                    self.remove(t.schema, t.table)  # unknown: fetched again when first needed
                    return
                self.put(src.clone(t.schema, t.table))
            elif ddl.columns:
                self.put(_table_from_ddl(ddl, t.schema, t.table))
            else:
                self.remove(t.schema, t.table)
        elif kind == "alter table":
            self._alter(ddl, tracked, load)
        elif kind == "drop table":
            for t in ddl.tables:
                self.remove(t.schema, t.table)
        elif kind == "rename table":
            for old, new in zip(ddl.tables[::2], ddl.tables[1::2], strict=True):
                info = self.get(old.schema, old.table)
                self.remove(old.schema, old.table)
                if info is not None and tracked(new):
                    self.put(info.clone(new.schema, new.table))
        elif kind in ("create index", "drop index"):
            t = ddl.table
            info = self.get(t.schema, t.table) or (load(t.schema, t.table) if tracked(t) else None)
            if info is None or ddl.index is None:
                return
            changed = info.clone()
            if kind == "create index":
                _add_index(changed, ddl.index.kind, ddl.index.name, ddl.index.columns)
            else:
                name = ddl.index.name.lower()
                changed.unique_keys = [(n, c) for n, c in changed.unique_keys if n.lower() != name]
            self.put(changed)
        elif kind == "drop database":
            for key in [k for k in self._tables if k[0] == ddl.schema]:
                self.remove(*key)

    def _alter(self, ddl: DDL, tracked: Callable[[TableName], bool], load: Loader) -> None:
        t = ddl.table
        if not tracked(t):
            return
        info = self.get(t.schema, t.table) or load(t.schema, t.table)
        if info is None:
            return  # nothing known: fetched when first needed
        new = info.clone()
        target = (t.schema, t.table)
        for a in ddl.actions:
            try:
                target = self._alter_action(new, a, target)
            except (ValueError, IndexError) as exc:
                raise errors.ErrSchemaTrackerCannotExecDDL(ddl.sql, cause=exc) from exc
        if target != (t.schema, t.table):
            self.remove(t.schema, t.table)
            new.schema, new.name = target
            if not tracked(TableName(*target)):
                return
        self.put(new)

    @staticmethod
    def _alter_action(info: TableInfo, a, target: Key) -> Key:
        kind = a.kind
        if kind == "add column":
            for col in a.columns:
                _add_column(info, col)
        elif kind == "drop column":
            i = info.index_of(a.name)
            if i >= 0:
                del info.columns[i]
                _drop_from_keys(info, a.name)
        elif kind in ("modify column", "change column"):
            col = copy.copy(a.columns[0])
            old = a.name if kind == "change column" else col.name
            i = info.index_of(old)
            if i < 0:
                return target
            position, col.position = col.position, None
            primary, unique = col.primary, col.unique
            col.primary = col.unique = False
            if old.lower() in (c.lower() for c in info.primary_key):
                col.nullable = False
            del info.columns[i]
            if position and position[0] == "first":
                info.columns.insert(0, col)
            elif position and position[0] == "after" and info.index_of(position[1]) >= 0:
                info.columns.insert(info.index_of(position[1]) + 1, col)
            else:
                info.columns.insert(i, col)
            if old != col.name:
                _rename_in_keys(info, old, col.name)
            if primary:
                _add_index(info, "primary", "PRIMARY", [col.name])
            if unique:
                _add_index(info, "unique", col.name, [col.name])
        elif kind == "rename column":
            i = info.index_of(a.name)
            if i >= 0:
                info.columns[i] = copy.copy(info.columns[i])
                info.columns[i].name = a.new_name
                _rename_in_keys(info, a.name, a.new_name)
        elif kind == "alter column":
            i = info.index_of(a.name)
            if i >= 0:
                info.columns[i] = copy.copy(info.columns[i])
                info.columns[i].default = a.new_name or None
        elif kind == "add index" and a.index is not None:
            _add_index(info, a.index.kind, a.index.name, a.index.columns)
        elif kind == "drop index":
            info.unique_keys = [(n, c) for n, c in info.unique_keys if n.lower() != a.name.lower()]
        elif kind == "drop primary key":
            info.primary_key = []
        elif kind == "rename index":
            old = a.name.lower()
            info.unique_keys = [(a.new_name if n.lower() == old else n, c) for n, c in info.unique_keys]
        elif kind == "rename table" and a.new_table is not None:
            return a.new_table.schema, a.new_table.table
        elif kind == "convert charset":
            info.charset = a.charset
            for c in info.columns:
                if c.data_type in TEXT_TYPES:
                    c.charset, c.collation = a.charset, ""
        return target


def load_table_infos(rows: Iterable[tuple[str, str, str | bytes]]) -> list[TableInfo]:
    """Parse checkpoint ``(cp_schema, cp_table, table_info)`` rows (``ErrSchemaTrackerInvalidJSON``)."""
    out = []
    for schema, table, text in rows:
        try:
            out.append(TableInfo.from_json(text))
        except (ValueError, KeyError, TypeError) as exc:
            raise errors.ErrSchemaTrackerInvalidJSON(schema, table, cause=exc) from exc
    return out
