"""Where the dumped tables go in the target: routing, the target schemas, tables and views.

Shard tables routed to one target table are created once; their columns must agree with each other
and with a target table that already exists (created by another source, an earlier run or the
user). Tables the load creates get their plain secondary indexes after the data
(:mod:`dmshell.engine.load.index`). Views are created last, with references to routed tables
rewritten.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pymysql

from dmshell.engine import db, errors
from dmshell.engine.db import quote_ident, quote_table
from dmshell.engine.dump.files import ColumnMeta, DumpMetadata, TableMeta, ViewMeta
from dmshell.engine.dump.options import dump_options
from dmshell.engine.filters.rules import BAListFilter, TableRouter
from dmshell.engine.load import data as load_data
from dmshell.engine.load import index as load_index
from dmshell.engine.load.pool import guard, target_error
from dmshell.engine.unit import UnitContext

_CREATE_VIEW = re.compile(r"CREATE\s(.*?)\sVIEW\s(?:`(?:[^`]|``)*`\.)?`(?:[^`]|``)*`\sAS\s", re.S)
_INT_WIDTH = re.compile(r"^(tinyint|smallint|mediumint|int|integer|bigint)\(\d+\)")


@dataclass(slots=True)
class Prepared:
    """The outcome of :meth:`Targets.prepare`."""

    #: (source schema, table) → where and how its rows are written
    targets: dict[tuple[str, str], load_data.Target] = field(default_factory=dict)
    #: views to create, with their target schema and name
    views: list[tuple[ViewMeta, str, str]] = field(default_factory=list)
    #: target table → its source tables (shard members)
    groups: dict[tuple[str, str], list[TableMeta]] = field(default_factory=dict)


class Targets:
    """Routing and creation of the target objects of one subtask."""

    def __init__(self, ctx: UnitContext) -> None:
        self.ctx = ctx
        cfg = ctx.cfg
        try:
            self.router = TableRouter(cfg.routes, cfg.case_sensitive)
        except errors.DMError:
            raise
        except Exception as exc:
            raise errors.ErrLoadUnitGenTableRouter(cause=exc) from exc
        try:  # the dump's own filter (a table list in extra-args replaces the block-allow list)
            self.ba = dump_options(cfg.mydumper).table_filter() or BAListFilter(
                cfg.block_allow_list, cfg.case_sensitive
            )
        except errors.DMError:
            raise
        except Exception as exc:
            raise errors.ErrLoadUnitGenBAList(cause=exc) from exc
        #: quoted source table → quoted target table, for the references inside views
        self._renames: dict[str, str] = {}

    def prepare(self, conn: db.Connection, meta: DumpMetadata) -> Prepared:
        """Route every dumped table, create the target schemas and tables; where each table's rows
        go and the views to create."""
        cfg, router, ba = self.ctx.cfg, self.router, self.ba
        tables = [t for t in meta.tables if ba.allow_table(t.schema, t.table)]
        groups: dict[tuple[str, str], list[TableMeta]] = {}
        routed: dict[tuple[str, str], tuple[str, str]] = {}
        for t in tables:
            target = router.route(t.schema, t.table)
            routed[(t.schema, t.table)] = target
            groups.setdefault(target, []).append(t)
        for target, members in groups.items():
            _check_same_columns(target, members)

        # every dumped schema (also an empty one, as DM does) and every table's target schema
        schema_files = {s.name: s.file for s in meta.schemas}
        wanted = [(router.route(s.name, "")[0], s.name) for s in meta.schemas if ba.allow_schema(s.name)]
        wanted += [(target[0], members[0].schema) for target, members in groups.items()]
        created_schemas: set[str] = set()
        for target_schema, source_schema in wanted:
            if target_schema not in created_schemas:
                self._create_schema(conn, source_schema, schema_files.get(source_schema), target_schema)
                created_schemas.add(target_schema)
        for (target_schema, target_table), members in groups.items():
            first = members[0]
            existing = _target_columns(conn, target_schema, target_table)
            if existing is None:
                self._create_table(conn, first, target_schema, target_table)
            else:  # created by another source (shard merge), by an earlier run, or by the user
                _check_target_columns((target_schema, target_table), first, existing)
        out = Prepared(groups=groups)
        on_duplicate = cfg.loader.on_duplicate_logical or "replace"
        for t in tables:
            out.targets[(t.schema, t.table)] = load_data.Target(
                *routed[(t.schema, t.table)],
                t.columns,
                router.extract_columns(t.schema, t.table, cfg.source_id),
                on_duplicate,
            )
        views = out.views
        for v in meta.views:
            if ba.allow_table(v.schema, v.name):
                views.append((v, *router.route(v.schema, v.name)))
                if views[-1][1] not in created_schemas:
                    self._create_schema(conn, v.schema, schema_files.get(v.schema), views[-1][1])
                    created_schemas.add(views[-1][1])
        renamed = {**routed, **{(v.schema, v.name): (schema, name) for v, schema, name in views}}
        self._renames = {quote_table(*old): quote_table(*new) for old, new in renamed.items() if old != new}
        return out

    def _read_statement(self, name: str) -> str:
        try:
            text = (self.ctx.dump_dir / name).read_text(encoding="utf-8")
        except OSError as exc:
            raise errors.ErrLoadUnitReadSchemaFile(name, cause=exc) from exc
        return text.strip().removesuffix(";")

    def _create_schema(self, conn: db.Connection, source: str, file: str | None, target: str) -> None:
        sql = f"CREATE DATABASE IF NOT EXISTS {quote_ident(target)}"
        if file:
            original = self._read_statement(file)
            prefix = f"CREATE DATABASE {quote_ident(source)}"
            if not original.startswith(prefix):
                raise errors.ErrLoadUnitParseStatement(original[:200])
            sql += original[len(prefix) :]  # keeps the character set / collation options
        _execute(conn, sql, f"create schema {target}")

    def _create_table(
        self, conn: db.Connection, table: TableMeta, target_schema: str, target_table: str
    ) -> None:
        create_sql = self._read_statement(table.schema_file)
        prefix = f"CREATE TABLE {quote_ident(table.table)}"
        if not create_sql.startswith(prefix):
            raise errors.ErrLoadUnitNotCreateTable(create_sql[:200], table.schema, table.table)
        create_sql, deferred = load_index.split_create(create_sql)
        if deferred:  # recorded first: a kill -9 right after the CREATE must not lose them
            guard(
                lambda: load_index.record(conn, self.ctx.cfg, target_schema, target_table, deferred),
                "record the secondary indexes to build",
            )
        sql = (
            f"CREATE TABLE IF NOT EXISTS {quote_table(target_schema, target_table)}"
            + create_sql[len(prefix) :]
        )
        try:
            conn.select_db(target_schema)  # unqualified foreign-key references resolve here
        except pymysql.err.MySQLError as exc:
            raise target_error(exc, f"use {target_schema}") from exc
        _execute(conn, sql, f"create table {target_schema}.{target_table}")

    def create_views(self, conn: db.Connection, views: list[tuple[ViewMeta, str, str]]) -> None:
        """CREATE OR REPLACE every view; views that depend on views created later are retried."""
        pending = list(views)
        while pending:
            failed, last_error = [], None
            for view, schema, name in pending:
                sql = self._read_statement(view.file)
                m = _CREATE_VIEW.match(sql)
                if not m:
                    raise errors.ErrLoadUnitParseStatement(sql[:200])
                body = sql[m.end() :]
                for old, new in self._renames.items():
                    body = body.replace(old, new)
                statement = f"CREATE OR REPLACE {m.group(1)} VIEW {quote_table(schema, name)} AS {body}"
                try:
                    conn.select_db(schema)
                    with conn.cursor() as cur:
                        cur.execute(statement)
                except pymysql.err.MySQLError as exc:
                    failed.append((view, schema, name))
                    last_error = target_error(exc, f"create view {schema}.{name}")
            if len(failed) == len(pending):
                assert last_error is not None
                raise last_error
            pending = failed


# -- column checks -----------------------------------------------------------------------------
def _normalized(col_type: str) -> str:
    """A column type for comparison across servers: lower case, integer display widths dropped."""
    return _INT_WIDTH.sub(r"\1", col_type.strip().lower())


def _describe(col: ColumnMeta) -> str:
    return f"{col.type}{'' if col.nullable else ' NOT NULL'}" + (
        f" CHARACTER SET {col.charset}" if col.charset else ""
    )


def _check_same_columns(target: tuple[str, str], members: list[TableMeta]) -> None:
    """Shard tables merged into one target table must agree on their columns (name, type,
    nullability, character set)."""
    first = members[0]
    expected = [(c.name.lower(), _normalized(c.type), c.nullable, c.charset) for c in first.columns]
    for other in members[1:]:
        got = [(c.name.lower(), _normalized(c.type), c.nullable, c.charset) for c in other.columns]
        if got == expected:
            continue
        diff = next(
            (
                (a, b)
                for a, b in zip(first.columns, other.columns, strict=False)
                if (a.name.lower(), _normalized(a.type), a.nullable, a.charset)
                != (b.name.lower(), _normalized(b.type), b.nullable, b.charset)
            ),
            None,
        )
        if diff:
            detail = (
                f"column {quote_ident(diff[0].name)} {_describe(diff[0])} vs "
                f"{quote_ident(diff[1].name)} {_describe(diff[1])}"
            )
        else:
            detail = f"{len(first.columns)} columns vs {len(other.columns)}"
        raise _conflict(
            f"shard tables {quote_table(first.schema, first.table)} and "
            f"{quote_table(other.schema, other.table)} are merged into {quote_table(*target)} "
            f"but their columns differ: {detail}"
        )


def _target_columns(conn: db.Connection, schema: str, table: str) -> dict[str, ColumnMeta] | None:
    """The columns of an existing target table (None when it does not exist)."""
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COALESCE(CHARACTER_SET_NAME, '') "
                "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
                (schema, table),
            )
            rows = cur.fetchall()
    except pymysql.err.MySQLError as exc:
        raise target_error(exc, f"read the columns of {schema}.{table}") from exc
    if not rows:
        return None
    return {
        str(n).lower(): ColumnMeta(str(n), str(t), "", str(nl) == "YES", str(cs).lower())
        for n, t, nl, cs in rows
    }


def _check_target_columns(target: tuple[str, str], table: TableMeta, existing: dict[str, ColumnMeta]) -> None:
    """The dumped columns must exist in the target table with the same type and character set, and
    fit its nullability (extra target columns are fine: defaults or extract columns fill them)."""
    for col in table.columns:
        have = existing.get(col.name.lower())
        if have is None:
            problem = f"column {quote_ident(col.name)} does not exist in the target table"
        elif _normalized(have.type) != _normalized(col.type) or (col.charset and have.charset != col.charset):
            problem = f"column {quote_ident(col.name)} {_describe(col)} vs {_describe(have)} in the target"
        elif col.nullable and not have.nullable:
            problem = f"column {quote_ident(col.name)} is nullable but NOT NULL in the target"
        else:
            continue
        raise _conflict(
            f"{quote_table(table.schema, table.table)} is loaded into the existing table "
            f"{quote_table(*target)} but they differ: {problem}"
        )


def _conflict(message: str) -> errors.DMError:
    return errors.ErrLoadLightningRuntime(
        message,
        workaround="Please make the schemas of the shard tables (and of an existing target table) identical, "
        "or route them to different target tables in the `routes` config of the task "
        "configuration file; then `resume-task` (or `start-task --remove-meta` after dropping "
        "the target table).",
    )


# -- errors ------------------------------------------------------------------------------------
def _execute(conn: db.Connection, sql: str, what: str) -> None:
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    except pymysql.err.MySQLError as exc:
        raise target_error(exc, what) from exc
