"""Analysis and rewriting of the DDL statements found in binlog query events.

The statement text is tokenized with sqlglot's MySQL tokenizer (which gives every token's position
in the original text); a small recursive-descent reader over those tokens recognises the table
DDLs the syncer replicates and the schema tracker replays:

* ``CREATE TABLE`` (column list, ``LIKE``, ``... SELECT``), ``ALTER TABLE`` (ADD/DROP/MODIFY/CHANGE/
  RENAME COLUMN, ADD/DROP/RENAME INDEX or KEY or PRIMARY KEY, RENAME TO, CONVERT TO CHARACTER SET,
  table options), ``DROP TABLE``, ``RENAME TABLE``, ``TRUNCATE TABLE``, ``CREATE/DROP INDEX``,
  ``CREATE/DROP/ALTER DATABASE``.

Everything else (BEGIN/COMMIT, views, triggers, routines, users, grants, FLUSH, ...) is reported
as "not a table DDL" and skipped by the syncer. Routing never regenerates SQL from a syntax tree:
:func:`rewrite` replaces the exact spans of the table (or database) names in the ORIGINAL text, so
everything else in the statement — options, comments, spacing — reaches the target unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlglot.dialects.mysql import MySQL
from sqlglot.errors import TokenError
from sqlglot.tokens import TokenType

from dmshell.engine.db import quote_ident, quote_table

#: MySQL error numbers that mean "this DDL was already applied" (ignored while replaying in safe mode)
ALREADY_APPLIED_ERRNOS = frozenset(
    {
        1007,  # can't create database; database exists
        1008,  # can't drop database; database doesn't exist
        1050,  # table already exists
        1051,  # unknown table (DROP)
        1054,  # unknown column (CHANGE / RENAME COLUMN of an already renamed column)
        1060,  # duplicate column name
        1061,  # duplicate key name
        1068,  # multiple primary key defined
        1091,  # can't DROP; check that column/key exists
        1176,  # key doesn't exist (RENAME INDEX)
    }
)
#: "table doesn't exist": already applied only for statements that drop or rename the table.
NO_SUCH_TABLE = 1146

_STRING_TYPES = {TokenType.STRING, TokenType.NATIONAL_STRING, TokenType.RAW_STRING}
_LITERAL_TYPES = {TokenType.NUMBER, TokenType.HEX_STRING, TokenType.BIT_STRING, TokenType.BYTE_STRING}
_PUNCT = {
    TokenType.L_PAREN: "(",
    TokenType.R_PAREN: ")",
    TokenType.COMMA: ",",
    TokenType.DOT: ".",
    TokenType.SEMICOLON: ";",
    TokenType.EQ: "=",
}


class _Tokenizer(MySQL.Tokenizer):
    # sqlglot treats RENAME/REPLACE/... as opaque commands (the rest becomes one string token).
    COMMANDS = set()


class DDLParseError(ValueError):
    """The statement looks like a table DDL but could not be analysed."""


@dataclass(slots=True)
class Tok:
    kind: str  # "word" | "ident" (quoted) | "string" | "literal" | "punct" | "other"
    text: str  # unescaped for ident/string, raw for the others
    start: int  # span in the original SQL, end exclusive
    end: int

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""

    def is_name(self) -> bool:
        return self.kind in ("word", "ident")


def tokenize(sql: str) -> list[Tok]:
    """Tokens with positions; multi-word keyword tokens (``PRIMARY KEY``) become one word each."""
    try:
        raw = _Tokenizer().tokenize(sql)  # a fresh tokenizer per call: thread-safe
    except TokenError as exc:
        raise DDLParseError(str(exc)) from exc
    out: list[Tok] = []
    for t in raw:
        start, end = t.start, t.end + 1
        tt = t.token_type
        if tt == TokenType.IDENTIFIER:
            out.append(Tok("ident", t.text, start, end))
        elif tt in _STRING_TYPES:
            out.append(Tok("string", t.text, start, end))
        elif tt in _LITERAL_TYPES:
            out.append(Tok("literal", sql[start:end], start, end))
        elif tt in _PUNCT:
            out.append(Tok("punct", _PUNCT[tt], start, end))
        else:
            text = sql[start:end]
            if text and (text[0].isalnum() or text[0] in "_$"):
                words = text.split()
                out.extend(Tok("word", w, start, end) for w in words)
            else:
                out.append(Tok("other", text, start, end))
    return out


# -- results -----------------------------------------------------------------------------------
@dataclass(slots=True)
class TableName:
    """A table name as written in the statement; ``start:end`` covers ``db.tbl`` (or ``tbl``)."""

    schema: str
    table: str
    start: int = -1
    end: int = -1


@dataclass(slots=True)
class ColumnDef:
    """One column as the schema tracker keeps it."""

    name: str
    type: str  # normalized type, e.g. "int(10) unsigned", "varchar(20)", "enum('a','b')"
    data_type: str  # base type, lower case: "int", "varchar", "enum", ...
    unsigned: bool = False
    nullable: bool = True
    generated: bool = False
    charset: str = ""  # explicit or derived from the collation; "" = table default
    collation: str = ""
    elements: list[str] = field(default_factory=list)  # ENUM / SET members
    default: str | None = None  # the DEFAULT expression as written (None: no DEFAULT clause)
    auto_increment: bool = False
    primary: bool = False  # inline PRIMARY KEY (only while parsing)
    unique: bool = False  # inline UNIQUE (only while parsing)
    position: tuple[str, str] | None = None  # ("first", "") / ("after", col) (only while parsing)


@dataclass(slots=True)
class IndexDef:
    kind: str  # "primary" | "unique" | "index" | "foreign" | "check" | "other"
    name: str = ""
    columns: list[str] = field(default_factory=list)
    ref: TableName | None = None  # FOREIGN KEY ... REFERENCES


@dataclass(slots=True)
class AlterAction:
    kind: str  # see module docstring; "other" for options we don't track
    columns: list[ColumnDef] = field(default_factory=list)  # add/modify/change
    name: str = ""  # dropped/renamed column or index, old name of CHANGE
    new_name: str = ""
    index: IndexDef | None = None
    new_table: TableName | None = None
    charset: str = ""
    if_exists: bool = False
    start: int = -1
    end: int = -1
    #: ``ADD (c1 ..., c2 ...)``: the span of each column definition (to split the clause)
    spans: list[tuple[int, int]] = field(default_factory=list)


@dataclass(slots=True)
class DDL:
    """One analysed DDL statement."""

    kind: str  # "create table", "alter table", "drop table", "rename table", "truncate table",
    # "create index", "drop index", "create database", "drop database", "alter database"
    sql: str
    tables: list[TableName] = field(default_factory=list)  # rename: [old1, new1, old2, new2, ...]
    refs: list[TableName] = field(default_factory=list)  # other names to route (LIKE, REFERENCES)
    schema: str = ""  # database DDLs
    schema_span: tuple[int, int] = (-1, -1)
    if_exists: bool = False
    if_not_exists: bool = False
    columns: list[ColumnDef] = field(default_factory=list)
    indexes: list[IndexDef] = field(default_factory=list)
    charset: str = ""
    collation: str = ""
    like: TableName | None = None
    as_select: bool = False
    actions: list[AlterAction] = field(default_factory=list)
    index: IndexDef | None = None  # CREATE INDEX / DROP INDEX
    #: where ``IF [NOT] EXISTS `` goes to make the statement idempotent (-1: already there / n.a.)
    ifx_at: int = -1

    @property
    def table(self) -> TableName:
        return self.tables[0]

    def already_applied(self, errno: int | None) -> bool:
        """Does the target's error ``errno`` mean this statement was applied before (a replay)?"""
        if errno in ALREADY_APPLIED_ERRNOS:
            return True
        return errno == NO_SUCH_TABLE and (
            self.kind in ("drop table", "drop index", "rename table", "truncate table")
            or (self.kind == "alter table" and any(a.kind == "rename table" for a in self.actions))
        )


# -- the reader --------------------------------------------------------------------------------
_SKIP_WORDS = {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "XA", "RELEASE"}
_DML_WORDS = {"INSERT", "UPDATE", "DELETE", "REPLACE", "LOAD"}
_INDEX_START = {
    "INDEX",
    "KEY",
    "UNIQUE",
    "PRIMARY",
    "FULLTEXT",
    "SPATIAL",
    "CONSTRAINT",
    "FOREIGN",
    "CHECK",
    "PERIOD",
    "SYSTEM",
    "PARTITION",
}


def first_word(sql: str) -> str:
    """The statement's first keyword, upper case ("" when there is none)."""
    try:
        toks = tokenize(sql)
    except DDLParseError:
        return ""
    return toks[0].upper if toks else ""


def is_dml_statement(sql: str) -> bool:
    """True for a statement-format DML (INSERT/UPDATE/DELETE/REPLACE/LOAD DATA) in a query event."""
    return first_word(sql) in _DML_WORDS


def parse_ddl(sql: str, default_schema: str) -> DDL | None:
    """Analyse one statement; None when it isn't a table/database DDL the syncer handles.

    ``default_schema`` is the query event's current database (for unqualified names).
    Raises :class:`DDLParseError` when the statement is a table DDL that can't be understood.
    """
    toks = tokenize(sql)
    while toks and toks[-1].kind == "punct" and toks[-1].text == ";":
        toks.pop()
    if not toks or toks[0].upper in _SKIP_WORDS:
        return None
    p = _Reader(sql, toks, default_schema)
    try:
        return p.statement()
    except (IndexError, DDLParseError) as exc:
        raise DDLParseError(f"{exc or 'unexpected end of statement'}: {sql}") from exc


class _Reader:
    def __init__(self, sql: str, toks: list[Tok], default_schema: str) -> None:
        self.sql = sql
        self.toks = toks
        self.i = 0
        self.default_schema = default_schema

    # -- token helpers -------------------------------------------------------------------------
    def peek(self, k: int = 0) -> Tok | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def at_end(self) -> bool:
        return self.i >= len(self.toks)

    def at(self, *words: str) -> bool:
        for k, w in enumerate(words):
            t = self.peek(k)
            if t is None:
                return False
            if w in "(),.=;":
                if not (t.kind == "punct" and t.text == w):
                    return False
            elif t.upper != w:
                return False
        return True

    def accept(self, *words: str) -> bool:
        if self.at(*words):
            self.i += len(words)
            return True
        return False

    def expect(self, *words: str) -> None:
        if not self.accept(*words):
            got = self.peek()
            raise DDLParseError(f"expected {' '.join(words)} near {got.text if got else 'end'!r}")

    def next(self) -> Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def name(self) -> Tok:
        t = self.next()
        if not t.is_name():
            raise DDLParseError(f"expected a name near {t.text!r}")
        return t

    def table_name(self) -> TableName:
        first = self.name()
        if self.at("."):
            self.i += 1
            second = self.name()
            return TableName(first.text, second.text, first.start, second.end)
        return TableName(self.default_schema, first.text, first.start, first.end)

    def skip_group(self) -> list[Tok]:
        """Skip a balanced ``( ... )`` starting at the current token; returns the inner tokens."""
        self.expect("(")
        start, depth = self.i, 1
        while depth:
            t = self.next()
            if t.kind == "punct":
                depth += {"(": 1, ")": -1}.get(t.text, 0)
        return self.toks[start : self.i - 1]

    def split_top(self, toks: list[Tok]) -> list[list[Tok]]:
        """Split tokens at depth-0 commas."""
        parts: list[list[Tok]] = [[]]
        depth = 0
        for t in toks:
            if t.kind == "punct" and t.text == "(":
                depth += 1
            elif t.kind == "punct" and t.text == ")":
                depth -= 1
            elif t.kind == "punct" and t.text == "," and depth == 0:
                parts.append([])
                continue
            parts[-1].append(t)
        return [p for p in parts if p]

    def sub(self, toks: list[Tok]) -> _Reader:
        return _Reader(self.sql, toks, self.default_schema)

    # -- statements ----------------------------------------------------------------------------
    def statement(self) -> DDL | None:
        head = self.next().upper
        if head == "CREATE":
            return self.create()
        if head == "ALTER":
            return self.alter()
        if head == "DROP":
            return self.drop()
        if head == "RENAME":
            return self.rename()
        if head == "TRUNCATE":
            self.accept("TABLE")
            return DDL("truncate table", self.sql, tables=[self.table_name()])
        return None

    def create(self) -> DDL | None:
        self.accept("OR", "REPLACE")
        if self.accept("TEMPORARY"):
            return None  # session-local; not replicated in row-based binlogs anyway
        if self.accept("TABLE"):
            return self.create_table()
        if self.at("DATABASE") or self.at("SCHEMA"):
            self.i += 1
            ddl = DDL("create database", self.sql)
            ddl.if_not_exists = self.accept("IF", "NOT", "EXISTS")
            t = self.name()
            ddl.schema, ddl.schema_span = t.text, (t.start, t.end)
            ddl.ifx_at = -1 if ddl.if_not_exists else t.start
            return ddl
        unique = False
        if self.at("UNIQUE") or self.at("FULLTEXT") or self.at("SPATIAL"):
            unique = self.next().upper == "UNIQUE"
        if self.at("INDEX") or self.at("KEY"):
            self.i += 1
            ddl = DDL("create index", self.sql)
            ddl.if_not_exists = self.accept("IF", "NOT", "EXISTS")
            name = self.name().text
            while not self.at("ON"):
                self.next()
            self.expect("ON")
            ddl.tables = [self.table_name()]
            cols = self.index_columns(self.skip_group())
            ddl.index = IndexDef("unique" if unique else "index", name, cols)
            return ddl
        return None  # views, triggers, routines, users, sequences, ...

    def create_table(self) -> DDL:
        ddl = DDL("create table", self.sql)
        ddl.if_not_exists = self.accept("IF", "NOT", "EXISTS")
        ddl.tables = [self.table_name()]
        ddl.ifx_at = -1 if ddl.if_not_exists else ddl.tables[0].start
        if self.accept("LIKE"):
            ddl.like = self.table_name()
            ddl.refs.append(ddl.like)
            return ddl
        if self.at("(", "LIKE"):
            self.i += 2
            ddl.like = self.table_name()
            ddl.refs.append(ddl.like)
            return ddl
        if self.at("("):
            body = self.skip_group()
            for item in self.split_top(body):
                self.table_element(ddl, item)
        # table options, then an optional [IGNORE|REPLACE] [AS] SELECT
        while not self.at_end():
            if self.at("SELECT") or self.at("AS") or self.at("IGNORE") or self.at("REPLACE"):
                ddl.as_select = True
                break
            if self.accept("DEFAULT"):
                continue
            if self.accept("CHARACTER", "SET") or self.accept("CHARSET"):
                self.accept("=")
                ddl.charset = self.next().text.lower()
                continue
            if self.accept("COLLATE"):
                self.accept("=")
                ddl.collation = self.next().text.lower()
                continue
            if self.at("("):
                self.skip_group()
                continue
            self.next()
        if not ddl.charset and ddl.collation:
            ddl.charset = ddl.collation.split("_")[0]
        return ddl

    def table_element(self, ddl: DDL, item: list[Tok]) -> None:
        head = item[0]
        if head.kind == "word" and head.upper in _INDEX_START:
            idx = self.sub(item).index_def()
            ddl.indexes.append(idx)
            if idx.ref:
                ddl.refs.append(idx.ref)
            return
        col = self.sub(item).column_def(ddl.refs)
        ddl.columns.append(col)

    def index_def(self) -> IndexDef:
        """``[CONSTRAINT [name]] {PRIMARY KEY | UNIQUE [KEY] | KEY | FOREIGN KEY ...} [name] (cols)``."""
        name = ""
        nxt = self.peek(1)
        if self.accept("CONSTRAINT") and nxt is not None and nxt.is_name() and nxt.upper not in _INDEX_START:
            name = self.next().text
        kind = "other"
        if self.accept("PRIMARY", "KEY"):
            kind, name = "primary", "PRIMARY"
        elif self.accept("UNIQUE"):
            kind = "unique"
            _ = self.accept("KEY") or self.accept("INDEX")
        elif self.accept("FOREIGN", "KEY"):
            kind = "foreign"
        elif self.accept("CHECK"):
            return IndexDef("check", name)
        elif self.at("INDEX") or self.at("KEY") or self.at("FULLTEXT") or self.at("SPATIAL"):
            self.next()
            _ = self.accept("KEY") or self.accept("INDEX")
            kind = "index"
        else:
            return IndexDef("other", name)
        self.accept("IF", "NOT", "EXISTS")
        while not self.at_end() and not self.at("("):
            t = self.next()
            if t.is_name() and t.upper not in ("USING", "BTREE", "HASH", "RTREE") and kind != "primary":
                name = t.text
        if self.at_end():
            return IndexDef(kind, name)
        cols = self.index_columns(self.skip_group())
        idx = IndexDef(kind, name or (cols[0] if cols else ""), cols)
        if kind == "foreign" and self.accept("REFERENCES"):
            idx.ref = self.table_name()
        return idx

    def index_columns(self, inner: list[Tok]) -> list[str]:
        cols = []
        for part in self.split_top(inner):
            if part[0].is_name():
                cols.append(part[0].text)
            else:
                cols.append("")  # expression key part: no plain column
        return cols

    def column_def(self, refs: list[TableName] | None = None) -> ColumnDef:
        name = self.name().text
        type_tok = self.name()
        data_type = type_tok.text.lower()
        if data_type == "national" and self.peek() is not None:
            data_type = self.name().text.lower()
        if data_type == "long":
            nxt = self.peek()
            if nxt is not None and nxt.upper in ("VARCHAR", "VARBINARY", "VARCHARACTER"):
                data_type = "mediumblob" if self.next().upper == "VARBINARY" else "mediumtext"
            else:
                data_type = "mediumtext"
        data_type = {
            "character varying": "varchar",
            "char varying": "varchar",
            "double precision": "double",
            "character": "char",
            "integer": "int",
            "bool": "tinyint",
            "boolean": "tinyint",
            "dec": "decimal",
            "numeric": "decimal",
            "fixed": "decimal",
            "real": "double",
            "int1": "tinyint",
            "int2": "smallint",
            "int3": "mediumint",
            "int4": "int",
            "int8": "bigint",
            "middleint": "mediumint",
        }.get(data_type, data_type)
        col = ColumnDef(name, data_type, data_type)
        args = ""
        if self.at("("):
            inner = self.skip_group()
            if data_type in ("enum", "set"):
                col.elements = [t.text for t in inner if t.kind == "string"]
                args = ",".join("'" + e.replace("'", "''") + "'" for e in col.elements)
            else:
                args = ",".join(t.text for t in inner if t.kind in ("literal", "word"))
        if data_type == "serial":
            col.data_type, col.unsigned, col.nullable, col.unique = "bigint", True, False, True
        if type_tok.text.lower() in ("bool", "boolean"):
            args = "1"
        zerofill = False
        while not self.at_end():
            t = self.next()
            u = t.upper
            if u in ("UNSIGNED", "UNSIGNED INTEGER"):
                col.unsigned = True
            elif u == "ZEROFILL":
                col.unsigned = zerofill = True
            elif u == "SIGNED":
                pass
            elif u == "NOT" and self.accept("NULL"):
                col.nullable = False
            elif u == "NULL":
                col.nullable = True
            elif u == "DEFAULT":
                begin = self.peek()
                self.skip_expr()
                if begin is not None:
                    col.default = self.sql[begin.start : self.toks[self.i - 1].end]
            elif u == "UPDATE":
                self.skip_expr()
            elif u == "AUTO_INCREMENT":
                col.auto_increment = True
            elif (u == "PRIMARY" and self.accept("KEY")) or u == "KEY":
                col.primary, col.nullable = True, False
            elif u == "UNIQUE":
                col.unique = True
                self.accept("KEY")
            elif u in ("CHARSET", "CHARACTER") or (u == "CHAR" and self.at("SET")):
                self.accept("SET")
                col.charset = self.next().text.lower()
            elif u == "COLLATE":
                col.collation = self.next().text.lower()
            elif u == "ASCII":
                col.charset = "latin1"
            elif u == "UNICODE":
                col.charset = "ucs2"
            elif u == "BYTE":
                col.charset = "binary"
            elif u in ("AS", "GENERATED"):
                col.generated = True
                if u == "GENERATED":
                    self.accept("ALWAYS")
                    self.accept("AS")
                if self.at("("):
                    self.skip_group()
            elif u == "COMMENT":
                self.next()
            elif u == "FIRST":
                col.position = ("first", "")
            elif u == "AFTER":
                col.position = ("after", self.name().text)
            elif u == "REFERENCES":
                ref = self.table_name()
                if refs is not None:
                    refs.append(ref)
            elif t.kind == "punct" and t.text == "(":
                self.i -= 1
                self.skip_group()
        if col.collation and not col.charset:
            col.charset = col.collation.split("_")[0]
        if data_type in ("binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"):
            col.charset = "binary"
        col.type = (
            data_type
            + (f"({args})" if args else "")
            + (" unsigned" if col.unsigned else "")
            + (" zerofill" if zerofill else "")
        )
        return col

    def skip_expr(self) -> None:
        """Skip one DEFAULT / ON UPDATE expression."""
        t = self.next()
        if t.kind == "punct" and t.text == "(":
            self.i -= 1
            self.skip_group()
            return
        if t.kind == "other" and t.text in ("-", "+"):
            t = self.next()
        if t.kind == "other" and (nxt := self.peek()) is not None and nxt.kind == "string":
            self.next()  # _charset'literal'
        if self.at("("):
            self.skip_group()  # function call: current_timestamp(6)

    def alter(self) -> DDL | None:
        self.accept("ONLINE")
        self.accept("IGNORE")
        if self.at("DATABASE") or self.at("SCHEMA"):
            self.next()
            ddl = DDL("alter database", self.sql)
            t = self.peek()
            if (
                t is not None
                and t.is_name()
                and t.upper not in ("DEFAULT", "CHARACTER", "CHARSET", "COLLATE", "COMMENT", "UPGRADE")
            ):
                self.next()
                ddl.schema, ddl.schema_span = t.text, (t.start, t.end)
            else:
                ddl.schema = self.default_schema
            return ddl
        if not self.accept("TABLE"):
            return None
        ddl = DDL("alter table", self.sql)
        ddl.if_exists = self.accept("IF", "EXISTS")
        ddl.tables = [self.table_name()]
        rest = self.toks[self.i :]
        for part in self.split_top(rest):
            action = self.sub(part).alter_action(ddl)
            action.start, action.end = part[0].start, part[-1].end
            ddl.actions.append(action)
        return ddl

    def alter_action(self, ddl: DDL) -> AlterAction:
        if self.accept("ADD"):
            self.accept("COLUMN")
            if_not_exists = self.accept("IF", "NOT", "EXISTS")
            t = self.peek()
            if t is not None and t.kind == "word" and t.upper in _INDEX_START and not self.at("COLUMN"):
                idx = self.index_def()
                if idx.ref:
                    ddl.refs.append(idx.ref)
                kind = "add index" if idx.kind in ("primary", "unique", "index") else "other"
                return AlterAction(kind, index=idx)
            if self.at("("):
                parts = self.split_top(self.skip_group())
                cols = [self.sub(p).column_def(ddl.refs) for p in parts]
                return AlterAction(
                    "add column",
                    columns=cols,
                    if_exists=if_not_exists,
                    spans=[(p[0].start, p[-1].end) for p in parts],
                )
            return AlterAction("add column", columns=[self.column_def(ddl.refs)], if_exists=if_not_exists)
        if self.accept("DROP"):
            if self.accept("PRIMARY", "KEY"):
                return AlterAction("drop primary key", name="PRIMARY")
            if self.at("INDEX") or self.at("KEY") or self.at("CONSTRAINT") or self.at("FOREIGN"):
                what = self.next().upper
                if what == "FOREIGN":
                    self.accept("KEY")
                if_exists = self.accept("IF", "EXISTS")
                kind = "drop index" if what in ("INDEX", "KEY", "CONSTRAINT") else "other"
                return AlterAction(kind, name=self.name().text, if_exists=if_exists)
            if self.at("CHECK") or self.at("PARTITION") or self.at("PERIOD") or self.at("SYSTEM"):
                return AlterAction("other")
            self.accept("COLUMN")
            if_exists = self.accept("IF", "EXISTS")
            return AlterAction("drop column", name=self.name().text, if_exists=if_exists)
        if self.accept("MODIFY"):
            self.accept("COLUMN")
            if_exists = self.accept("IF", "EXISTS")
            return AlterAction("modify column", columns=[self.column_def(ddl.refs)], if_exists=if_exists)
        if self.accept("CHANGE"):
            self.accept("COLUMN")
            if_exists = self.accept("IF", "EXISTS")
            old = self.name().text
            col = self.column_def(ddl.refs)
            return AlterAction(
                "change column", columns=[col], name=old, new_name=col.name, if_exists=if_exists
            )
        if self.accept("RENAME"):
            if self.accept("COLUMN"):
                if_exists = self.accept("IF", "EXISTS")
                old = self.name().text
                self.expect("TO")
                return AlterAction("rename column", name=old, new_name=self.name().text, if_exists=if_exists)
            if self.at("INDEX") or self.at("KEY"):
                self.next()
                old = self.name().text
                self.expect("TO")
                return AlterAction("rename index", name=old, new_name=self.name().text)
            _ = self.accept("TO") or self.accept("AS")
            new = self.table_name()
            ddl.refs.append(new)
            return AlterAction("rename table", new_table=new)
        if self.accept("ALTER"):
            self.accept("COLUMN")
            name = self.name().text
            if self.accept("SET", "DEFAULT"):
                begin = self.peek()
                self.skip_expr()
                default = self.sql[begin.start : self.toks[self.i - 1].end] if begin is not None else None
                return AlterAction("alter column", name=name, new_name=default or "")
            if self.accept("DROP", "DEFAULT"):
                return AlterAction("alter column", name=name)
            return AlterAction("other")
        if self.accept("CONVERT", "TO"):
            self.accept("CHARACTER", "SET") or self.accept("CHARSET")
            return AlterAction("convert charset", charset=self.next().text.lower())
        return AlterAction("other")

    def drop(self) -> DDL | None:
        if self.accept("TEMPORARY"):
            return None  # session-local tables are never replicated (and may shadow real names)
        if self.accept("TABLE") or self.accept("TABLES"):
            ddl = DDL("drop table", self.sql)
            ddl.if_exists = self.accept("IF", "EXISTS")
            while True:
                ddl.tables.append(self.table_name())
                if not self.accept(","):
                    break
            ddl.ifx_at = -1 if ddl.if_exists else ddl.tables[0].start
            return ddl
        if self.at("DATABASE") or self.at("SCHEMA"):
            self.next()
            ddl = DDL("drop database", self.sql)
            ddl.if_exists = self.accept("IF", "EXISTS")
            t = self.name()
            ddl.schema, ddl.schema_span = t.text, (t.start, t.end)
            ddl.ifx_at = -1 if ddl.if_exists else t.start
            return ddl
        if self.accept("INDEX") or self.accept("KEY"):
            ddl = DDL("drop index", self.sql)
            ddl.if_exists = self.accept("IF", "EXISTS")
            name_tok = self.name()
            name = name_tok.text
            ddl.ifx_at = -1 if ddl.if_exists else name_tok.start
            self.expect("ON")
            ddl.tables = [self.table_name()]
            ddl.index = IndexDef("index", name)
            return ddl
        return None

    def rename(self) -> DDL | None:
        if not (self.accept("TABLE") or self.accept("TABLES")):
            return None
        ddl = DDL("rename table", self.sql)
        while True:
            old = self.table_name()
            if self.accept("WAIT"):
                self.next()
            self.accept("NOWAIT")
            self.expect("TO")
            ddl.tables += [old, self.table_name()]
            if not self.accept(","):
                break
        return ddl


# -- rewriting ---------------------------------------------------------------------------------
def rewrite(sql: str, replacements: Iterable[tuple[int, int, str]]) -> str:
    """Replace ``sql[start:end]`` by ``text`` for each (non-overlapping) replacement."""
    out, last = [], 0
    for start, end, text in sorted(replacements):
        if start < last:
            raise ValueError("overlapping replacements")
        out.append(sql[last:start])
        out.append(text)
        last = end
    out.append(sql[last:])
    return "".join(out)


Router = Callable[[str, str], tuple[str, str]]


def route_statement(ddl: DDL, route: Router, keep: Callable[[TableName], bool]) -> list[str]:
    """:func:`downstream_statements` with every ALTER clause kept and nothing split."""
    return downstream_statements(ddl, route, keep)


def downstream_statements(
    ddl: DDL,
    route: Router,
    keep: Callable[[TableName], bool],
    keep_clause: Callable[[AlterAction], bool] | None = None,
    split: bool = False,
) -> list[str]:
    """The statements to run on the target for ``ddl``; ``[]`` when nothing is left to run.

    * ``route(schema, table)`` gives the target name (``table == ""`` for a database); only the
      names' spans in the original text are replaced.
    * ``keep(name)`` tells whether a table (``table == ""``: a database) takes part (block-allow
      list, binlog event filter). Multi-table DROP/RENAME statements lose the parts not kept.
    * ``keep_clause(action)`` filters single ALTER TABLE clauses (the binlog event filter judges
      each clause of a multi-clause ALTER on its own, as DM does after splitting it).
    * ``split``: one statement per ALTER clause (``ADD (a, b)`` gives one per column), DROP table
      and RENAME pair — for targets without multi-schema-change support (TiDB before 6.2).

    Like DM, CREATE DATABASE/TABLE get ``IF NOT EXISTS`` and DROP DATABASE/TABLE/INDEX get
    ``IF EXISTS``: a table another shard already created, or a replayed DDL, is not an error.
    """
    sql = ddl.sql
    kind = ddl.kind
    ifx = "IF NOT EXISTS " if kind.startswith("create") else "IF EXISTS "
    guard = [(ddl.ifx_at, ddl.ifx_at, ifx)] if ddl.ifx_at >= 0 else []
    if kind in ("create database", "drop database", "alter database"):
        if not keep(TableName(ddl.schema, "")):
            return []
        if ddl.schema_span[0] < 0:
            return [sql]
        target = route(ddl.schema, "")[0]
        return [rewrite(sql, [*guard, (ddl.schema_span[0], ddl.schema_span[1], quote_ident(target))])]

    def routed(name: TableName) -> str:
        return quote_table(*route(name.schema, name.table))

    if kind == "drop table":
        kept = [t for t in ddl.tables if keep(t)]
        if not kept:
            return []
        if len(kept) == len(ddl.tables) and not (split and len(kept) > 1):
            return [rewrite(sql, [*guard, *((t.start, t.end, routed(t)) for t in ddl.tables)])]
        head = sql[: ddl.tables[0].start] + (ifx if guard else "")
        if split:
            return [head + routed(t) for t in kept]
        return [head + ", ".join(routed(t) for t in kept)]
    if kind == "rename table":
        pairs = [(ddl.tables[i], ddl.tables[i + 1]) for i in range(0, len(ddl.tables), 2)]
        kept_pairs = [(a, b) for a, b in pairs if keep(a) and keep(b)]
        if not kept_pairs:
            return []
        if len(kept_pairs) == len(pairs) and not (split and len(pairs) > 1):
            return [rewrite(sql, [(t.start, t.end, routed(t)) for t in ddl.tables])]
        return [f"RENAME TABLE {routed(a)} TO {routed(b)}" for a, b in kept_pairs]
    if not ddl.tables or not keep(ddl.table):
        return []
    names = [ddl.table, *[r for r in ddl.refs if r.start >= 0]]
    actions = ddl.actions if kind == "alter table" else []
    kept_actions = [a for a in actions if keep_clause is None or keep_clause(a)]
    if actions and not kept_actions:
        return []
    if len(kept_actions) == len(actions) and not (split and len(actions) > 1):
        return [rewrite(sql, [*guard, *((t.start, t.end, routed(t)) for t in names)])]

    def clause(a: AlterAction, start: int, end: int) -> str:
        inner = [(r.start - start, r.end - start, routed(r)) for r in names if start <= r.start < end]
        return rewrite(sql[start:end], inner)

    if not split:
        head = rewrite(sql[: actions[0].start], [(ddl.table.start, ddl.table.end, routed(ddl.table))])
        return [head + ", ".join(clause(a, a.start, a.end) for a in kept_actions)]
    out = []
    current = routed(ddl.table)
    for a in kept_actions:
        if a.kind == "add column" and len(a.spans) > 1:
            out += [f"ALTER TABLE {current} ADD COLUMN {clause(a, s, e)}" for s, e in a.spans]
        else:
            out.append(f"ALTER TABLE {current} {clause(a, a.start, a.end)}")
        if a.kind == "rename table" and a.new_table is not None:
            current = routed(a.new_table)
    return out
