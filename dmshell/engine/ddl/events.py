"""Binlog-event-filter types of DDL statements, as DM classifies them (``DDLWorker.AstToDDLEvent``).

DM splits a multi-clause ``ALTER TABLE`` and asks the binlog event filter about each clause with
its own type. The types follow TiDB's parse tree, which gives some surprising answers that are kept
here on purpose (a filter must behave as it does in DM):

* ``ADD COLUMN``, ``ADD PARTITION``, ``DROP FOREIGN KEY``, ``DROP CHECK``, ``FORCE``, most table
  options → ``alter table``;
* ``ADD INDEX / UNIQUE / PRIMARY KEY / FOREIGN KEY / CHECK`` → ``modify constraint``;
* ``MODIFY`` / ``CHANGE`` → compared with the tracked column: ``value range decrease``,
  ``precision decrease``, ``modify column``, ``remove auto increment``, ``drop primary key`` (a key
  column whose new definition doesn't restate the key), ``drop unique key``, ``modify default
  value``, ``modify charset``, ``modify collation``, ``modify columns order``, ``rename column``,
  else ``alter table``;
* ``ALTER COLUMN .. SET/DROP DEFAULT`` → ``modify default value``; ``RENAME COLUMN / INDEX / TO``,
  ``DROP COLUMN / INDEX / PRIMARY KEY`` and the partition maintenance clauses → their own names;
  ``CONVERT TO CHARACTER SET`` / ``[DEFAULT] CHARSET=`` → ``modify charset``, ``COLLATE=`` →
  ``modify collation``, ``ENGINE=`` → ``modify storage engine``.

Other statements: ``create database``, ``drop database``, ``alter database``, ``create table``,
``drop table``, ``truncate table``, ``rename table``, ``create index``, ``drop index``.
"""

from __future__ import annotations

import re

from dmshell.engine.ddl.statement import DDL, AlterAction, ColumnDef, DDLParseError, tokenize

#: integer types by width (TiDB compares their default display widths: "narrower" means this order)
_INTS = {"tinyint": 1, "smallint": 2, "mediumint": 3, "int": 4, "bigint": 5}
_STRINGS = {
    "char",
    "varchar",
    "binary",
    "varbinary",
    "tinytext",
    "text",
    "mediumtext",
    "longtext",
    "tinyblob",
    "blob",
    "mediumblob",
    "longblob",
}
#: TiDB type codes: these pairs are the same type (``TypeBlob`` family keeps its own codes)
_TYPE_CODE = {
    "binary": "char",
    "varbinary": "varchar",
    "bool": "tinyint",
    "boolean": "tinyint",
    "integer": "int",
    "numeric": "decimal",
    "dec": "decimal",
    "fixed": "decimal",
    "real": "double",
    "double precision": "double",
}
_CLAUSE_WORDS = [
    (("DROP", "PARTITION"), "drop table partition"),
    (("TRUNCATE", "PARTITION"), "truncate table partition"),
    (("REORGANIZE", "PARTITION"), "reorganize table partition"),
    (("REBUILD", "PARTITION"), "rebuild table partition"),
    (("COALESCE", "PARTITION"), "coalesce table partition"),
    (("EXCHANGE", "PARTITION"), "exchange table partition"),
]
_ARGS = re.compile(r"\(([^)]*)\)")


def statement_event(ddl: DDL) -> str:
    """The event type of a statement other than ALTER TABLE (DM's ``filter.AstToDDLEvent``)."""
    return ddl.kind


def clause_event(
    ddl: DDL, a: AlterAction, old: ColumnDef | None = None, *, primary: bool = False, unique: bool = False
) -> str:
    """The event type of one ALTER TABLE clause.

    ``old`` is the tracked column a MODIFY/CHANGE clause changes (None when unknown: the clause is
    then ``alter table``, as in DM when the table info can't be found); ``primary`` / ``unique``
    tell whether that column is the primary key / a single-column unique key.
    """
    kind = a.kind
    simple = {
        "rename column": "rename column",
        "rename index": "rename index",
        "rename table": "rename table",
        "drop column": "drop column",
        "drop primary key": "drop primary key",
        "alter column": "modify default value",
        "convert charset": "modify charset",
    }
    if kind in simple:
        return simple[kind]
    words = _words(ddl.sql[a.start : a.end])
    if kind == "drop index":
        return "drop index" if words[1:2] in (["INDEX"], ["KEY"]) else "alter table"
    if kind == "add index" or (
        kind == "other"
        and words[:1] == ["ADD"]
        and len(words) > 1
        and words[1]
        in ("CONSTRAINT", "FOREIGN", "CHECK", "PRIMARY", "UNIQUE", "INDEX", "KEY", "FULLTEXT", "SPATIAL")
    ):
        return "modify constraint"
    if kind in ("modify column", "change column"):
        return _modify_event(a, old, primary, unique)
    for prefix, event in _CLAUSE_WORDS:
        if tuple(words[: len(prefix)]) == prefix:
            return event
    if kind == "other":
        for w in words:
            if w in ("CHARSET", "CHARACTER"):
                return "modify charset"
            if w == "COLLATE":
                return "modify collation"
            if w == "ENGINE":
                return "modify storage engine"
    return "alter table"


def _words(text: str) -> list[str]:
    try:
        return [t.upper for t in tokenize(text) if t.kind == "word"]
    except DDLParseError:
        return []


def _args(col: ColumnDef) -> tuple[int, int]:
    """(length, decimals) from the column type's arguments; (-1, -1) when unspecified."""
    m = _ARGS.search(col.type)
    if not m or col.data_type in ("enum", "set"):
        return -1, -1
    parts = [p.strip() for p in m.group(1).split(",")]
    try:
        flen = int(parts[0])
        dec = int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        return -1, -1
    return flen, dec


def _code(col: ColumnDef) -> str:
    return _TYPE_CODE.get(col.data_type, col.data_type)


def _binary(col: ColumnDef) -> bool:
    return col.data_type in ("binary", "varbinary") or col.charset == "binary"


def _needs_data_change(old: ColumnDef, new: ColumnDef) -> str:
    """DM's ``needChangeColumnData`` ("alter table" when the column data needn't change)."""
    toggled = old.unsigned != new.unsigned
    (oflen, odec), (nflen, ndec) = _args(old), _args(new)

    def truncation() -> bool:
        return (nflen > 0 and (oflen < 0 or nflen < oflen or ndec < odec)) or toggled

    oc, nc = _code(old), _code(new)
    if oc == nc:
        if oc == "decimal":
            return "precision decrease" if (oflen, odec) != (nflen, ndec) or toggled else "alter table"
        if oc in ("enum", "set"):
            changed = new.elements[: len(old.elements)] != old.elements
            return "value range decrease" if changed else "alter table"
        if oc in _INTS:
            return "precision decrease" if toggled else "alter table"
        if oc == "char":
            return "precision decrease" if _binary(old) and nflen != oflen else "alter table"
        return "value range decrease" if truncation() else "alter table"
    if {oc, nc} == {"char", "varchar"}:
        return "modify column"
    if oc in _STRINGS and nc in _STRINGS:
        return "modify column" if truncation() else "alter table"
    if oc in _INTS and nc in _INTS:
        return "value range decrease" if _INTS[nc] < _INTS[oc] or toggled else "alter table"
    return "modify column"


def _norm_default(col: ColumnDef) -> str | None:
    d = col.default
    if d is None:
        return None if col.nullable else ""
    d = d.strip()
    if d.upper() == "NULL":
        return None
    if len(d) >= 2 and d[0] == d[-1] and d[0] in "'\"":
        d = d[1:-1]
    d = d.lower()
    return {
        "current_timestamp()": "current_timestamp",
        "now()": "current_timestamp",
        "localtimestamp": "current_timestamp",
        "localtime": "current_timestamp",
    }.get(d, d)


def _modify_event(a: AlterAction, old: ColumnDef | None, primary: bool, unique: bool) -> str:
    if old is None or not a.columns:
        return "alter table"
    new = a.columns[0]
    event = _needs_data_change(old, new)
    if event != "alter table":
        return event
    if old.auto_increment and not new.auto_increment:
        return "remove auto increment"
    if primary and not new.primary:
        return "drop primary key"
    if unique and not new.unique:
        return "drop unique key"
    if _norm_default(old) != _norm_default(new):
        return "modify default value"
    if new.charset and old.charset and new.charset != old.charset:
        return "modify charset"
    if new.collation and old.collation and new.collation != old.collation:
        return "modify collation"
    if new.position is not None:
        return "modify columns order"
    if old.name.lower() != new.name.lower():
        return "rename column"
    return "alter table"
