"""The load unit: the dump directory into the target, resumable at any moment without loss or duplicates.

Flow: read the dump's ``metadata``; create the meta tables and record that this dump is being
loaded (:mod:`load_checkpoint`); create the target schemas and tables after routing (shard tables
routed to one target table are created once; their columns must agree with each other and with a
target table that already exists, e.g. created by another source); then load the data files over
``loader.pool-size`` connections, biggest first. Every file is ONE transaction that also inserts its
row into ``<meta>.<task>_loader_checkpoint``, and files already recorded there are skipped, so a
kill -9 at any point resumes exactly. Views (dumped with ``--no-views=false``) come next, then one
transaction marks the load finished with the dump's binlog location (:func:`load_finished_location`),
and the dump files are cleaned up when ``clean-dump-file`` is set (all of them in task-mode
``full``, only the data files otherwise).

Data goes in with ``LOAD DATA LOCAL`` where the target allows it, else with multi-row INSERTs
(:mod:`load_data`; both check every warning). Target session: ``time_zone='+00:00'`` like the dump,
``NO_AUTO_VALUE_ON_ZERO`` (an AUTO_INCREMENT column keeps its 0), ``foreign_key_checks=0`` (tables
load in any order); ``unique_checks`` stays on, so merged shards can never plant duplicates. Tables
the unit creates get their plain secondary indexes after the data (:mod:`load_index`).

Rows whose key already exists in the target follow ``loader.on-duplicate-logical`` (DM's default
``replace``; ``error``; ``ignore``). Routes' ``extract-table/schema/source`` columns are set on every
row; the target table must then already have them.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import shutil
import threading
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass

import pymysql

from dmshell.engine import db, errors
from dmshell.engine.binlog.location import Location
from dmshell.engine.config.database import DBConfig
from dmshell.engine.config.subtask import SubTaskConfig
from dmshell.engine.db import quote_ident, quote_table
from dmshell.engine.dump import files as dumpfiles
from dmshell.engine.dump.files import ChunkMeta, ColumnMeta, DumpMetadata, TableMeta, ViewMeta
from dmshell.engine.dump.options import dump_options
from dmshell.engine.filters.rules import BAListFilter, TableRouter
from dmshell.engine.load import checkpoint as load_checkpoint
from dmshell.engine.load import data as load_data
from dmshell.engine.load import index as load_index
from dmshell.engine.progress import RateMeter, percent
from dmshell.engine.unit import Unit, UnitContext
from dmshell.proto import dmworker_pb2 as pb

log = logging.getLogger(__name__)

#: errors after which a chunk is simply tried again (its transaction was rolled back)
_RETRY_ERRNOS = frozenset({1205, 1213})
_RETRIES = 3
_PRIVILEGE_ERRNOS = frozenset({1044, 1045, 1142, 1143, 1227, 1370})
_CREATE_VIEW = re.compile(r"CREATE\s(.*?)\sVIEW\s(?:`(?:[^`]|``)*`\.)?`(?:[^`]|``)*`\sAS\s", re.S)
_INT_WIDTH = re.compile(r"^(tinyint|smallint|mediumint|int|integer|bigint)\(\d+\)")


def load_finished_location(target_conn: db.Connection, cfg: SubTaskConfig) -> Location | None:
    """The dump's binlog location once this source's load is complete (None before that)."""
    return load_checkpoint.finished_location(target_conn, cfg)


def open_load_session(cfg: DBConfig) -> db.Connection:
    """A target connection set up for exact round-trips of dumped values (see :mod:`load_data`)."""
    return load_data.connect(cfg)


@dataclass(slots=True)
class _Job:
    table: TableMeta
    chunk: ChunkMeta
    target: load_data.Target


class LoadUnit(Unit):
    """DM's load unit (``pb.Load``); ``completed()`` = the load of this source is recorded finished."""

    unit_type = pb.Load

    def __init__(self, ctx: UnitContext) -> None:
        super().__init__(ctx)
        self._lock = threading.Lock()
        self._finished_bytes = 0
        self._total_bytes = 0
        self._finished = False
        self._location: Location | None = None
        self._meter = RateMeter()
        #: None: LOAD DATA LOCAL if the target allows it; False: INSERT statements only
        self.use_load_data: bool | None = None
        #: quoted source table → quoted target table, for the references inside views
        self._renames: dict[str, str] = {}
        #: the target tables of this source
        self._targets: set[tuple[str, str]] = set()

    # -- Unit ----------------------------------------------------------------------------------
    def completed(self) -> bool:
        conn = db.connect(self.ctx.cfg.target)
        try:
            return load_finished_location(conn, self.ctx.cfg) is not None
        finally:
            conn.close()

    def process(self, stop: threading.Event) -> None:
        cfg = self.ctx.cfg
        with self._lock:
            self._finished_bytes = self._total_bytes = 0
            self._finished = False
        conn = open_load_session(cfg.target)
        try:
            _guard(lambda: load_checkpoint.ensure_tables(conn, cfg), "create the loader checkpoint tables")
            finished = load_finished_location(conn, cfg)
            if finished is not None:  # e.g. the dump files are already cleaned up
                self._mark_finished(finished, 0)
                return
            meta = self._read_dump()
            with self._lock:
                self._location = meta.location
            _guard(lambda: load_checkpoint.begin_load(conn, cfg, meta.dump_id), "record the load start")
            jobs, views = self._prepare_targets(conn, meta)
            done = load_checkpoint.done_chunks(conn, cfg)
        finally:
            conn.close()
        with self._lock:
            self._total_bytes = sum(j.chunk.bytes for j in jobs)
            self._finished_bytes = sum(j.chunk.bytes for j in jobs if j.chunk.file in done)
        pending = sorted((j for j in jobs if j.chunk.file not in done), key=lambda j: -j.chunk.bytes)
        log.info(
            "load of source %s: %d files, %d already loaded",
            cfg.source_id,
            len(jobs),
            len(jobs) - len(pending),
        )
        self._load_all(pending, stop)
        if stop.is_set():
            log.info("load of source %s stopped", cfg.source_id)
            return
        conn = open_load_session(cfg.target)
        try:
            self._create_views(conn, views)
            load_checkpoint.finish_load(conn, cfg, meta.location, {j.chunk.file for j in jobs})
        finally:
            conn.close()
        self._mark_finished(meta.location, self._total_bytes)
        log.info("load of source %s finished at %s", cfg.source_id, meta.location)
        if cfg.clean_dump_file:
            self._clean_dump_files(meta)

    def status(self) -> pb.LoadStatus:
        with self._lock:
            finished, total = self._finished_bytes, self._total_bytes
            done, loc = self._finished, self._location
        st = pb.LoadStatus(
            finishedBytes=finished,
            totalBytes=total,
            progress=percent(finished, total, done),
            bps=0 if done else self._meter.rate(finished),
        )
        if loc is not None and loc.file:
            st.metaBinlog = loc.position_str()
            st.metaBinlogGTID = loc.gtid
        return st

    # -- steps ---------------------------------------------------------------------------------
    def _read_dump(self) -> DumpMetadata:
        dump_dir = self.ctx.dump_dir
        if not dump_dir.is_dir():
            raise errors.ErrLoadUnitDumpDirNotFound(str(dump_dir))
        meta = dumpfiles.read_metadata(dump_dir)
        if meta is None:
            raise errors.ErrParseMydumperMeta(
                "the dump is incomplete (no metadata file)", str(dump_dir / dumpfiles.METADATA_FILE)
            )
        return meta

    def _prepare_targets(
        self, conn: db.Connection, meta: DumpMetadata
    ) -> tuple[list[_Job], list[tuple[ViewMeta, str, str]]]:
        """Route every dumped table, create target schemas and tables; the files to load and the
        views to create (with their target schema and name)."""
        cfg = self.ctx.cfg
        try:
            router = TableRouter(cfg.routes, cfg.case_sensitive)
        except errors.DMError:
            raise
        except Exception as exc:
            raise errors.ErrLoadUnitGenTableRouter(cause=exc) from exc
        try:  # the dump's own filter (a table list in extra-args replaces the block-allow list)
            ba = dump_options(cfg.mydumper).table_filter() or BAListFilter(
                cfg.block_allow_list, cfg.case_sensitive
            )
        except errors.DMError:
            raise
        except Exception as exc:
            raise errors.ErrLoadUnitGenBAList(cause=exc) from exc

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
        self._targets = set(groups)
        on_duplicate = cfg.loader.on_duplicate_logical or "replace"
        jobs: list[_Job] = []
        for t in tables:
            dest = load_data.Target(
                *routed[(t.schema, t.table)],
                t.columns,
                router.extract_columns(t.schema, t.table, cfg.source_id),
                on_duplicate,
            )
            jobs.extend(_Job(t, c, dest) for c in t.chunks)
        views = []
        for v in meta.views:
            if ba.allow_table(v.schema, v.name):
                views.append((v, *router.route(v.schema, v.name)))
                if views[-1][1] not in created_schemas:
                    self._create_schema(conn, v.schema, schema_files.get(v.schema), views[-1][1])
                    created_schemas.add(views[-1][1])
        renamed = {**routed, **{(v.schema, v.name): (schema, name) for v, schema, name in views}}
        self._renames = {quote_table(*old): quote_table(*new) for old, new in renamed.items() if old != new}
        return jobs, views

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
            _guard(
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
            raise _target_error(exc, f"use {target_schema}") from exc
        _execute(conn, sql, f"create table {target_schema}.{target_table}")

    def _create_views(self, conn: db.Connection, views: list[tuple[ViewMeta, str, str]]) -> None:
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
                    last_error = _target_error(exc, f"create view {schema}.{name}")
            if len(failed) == len(pending):
                assert last_error is not None
                raise last_error
            pending = failed

    def _load_all(self, jobs: list[_Job], stop: threading.Event) -> None:
        """Load the files over ``pool-size`` connections, biggest first, and build a table's postponed
        secondary indexes (:mod:`load_index`) as soon as its last file is in, while other files load."""
        conn = open_load_session(self.ctx.cfg.target)
        try:
            recorded = _guard(
                lambda: load_index.pending(conn, self.ctx.cfg, self._targets),
                "read the secondary indexes to build",
            )
        finally:
            conn.close()
        indexes: dict[tuple[str, str], list[load_index.DeferredIndex]] = {}
        for index in recorded:
            indexes.setdefault((index.schema, index.table), []).append(index)
        files_left = Counter((j.target.schema, j.target.table) for j in jobs)
        work: deque[_Job | tuple[str, str]] = deque(jobs)
        work.extendleft(t for t in indexes if files_left[t] == 0)
        if not work:
            return
        if indexes:
            log.info(
                "load of source %s: %d secondary index(es) of %d table(s) are built after their data",
                self.ctx.cfg.source_id,
                len(recorded),
                len(indexes),
            )
        lock = threading.Lock()

        def next_item() -> _Job | tuple[str, str] | None:
            with lock:
                return work.popleft() if work else None

        def file_done(job: _Job) -> None:
            target = (job.target.schema, job.target.table)
            with lock:
                files_left[target] -= 1
                if files_left[target] == 0 and target in indexes:
                    work.appendleft(target)  # next, ahead of the remaining files

        abort = threading.Event()
        failures: list[BaseException] = []
        n = max(1, min(self.ctx.cfg.loader.pool_size or 16, len(work)))
        threads = [
            threading.Thread(
                target=self._worker,
                args=(next_item, file_done, indexes, stop, abort, failures),
                name=f"load-{self.ctx.cfg.source_id}-{i + 1}",
                daemon=True,
            )
            for i in range(n)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if failures:
            raise failures[0]

    def _worker(
        self,
        next_item,
        file_done,
        indexes: dict[tuple[str, str], list[load_index.DeferredIndex]],
        stop: threading.Event,
        abort: threading.Event,
        failures: list[BaseException],
    ) -> None:
        conn = None
        try:
            while not stop.is_set() and not abort.is_set():
                item = next_item()
                if item is None:
                    return
                if conn is None:
                    conn = open_load_session(self.ctx.cfg.target)
                if isinstance(item, tuple):
                    self._build_indexes(conn, indexes[item])
                    continue
                for attempt in range(_RETRIES + 1):
                    if conn is None:
                        conn = open_load_session(self.ctx.cfg.target)
                    try:
                        self._load_chunk(conn, item)
                        break
                    except _Retry as exc:
                        if attempt == _RETRIES:
                            raise exc.error from exc.__cause__
                        log.info("load %s: %s; trying again", item.chunk.file, exc.error.raw_cause)
                        time.sleep(0.1 * (attempt + 1))
                    except BaseException:
                        with contextlib.suppress(Exception):
                            conn.close()
                        conn = None
                        raise
                file_done(item)
        except BaseException as exc:
            abort.set()
            failures.append(exc)
        finally:
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()

    def _build_indexes(self, conn: db.Connection, indexes: list[load_index.DeferredIndex]) -> None:
        for index in indexes:
            try:
                load_index.build(conn, self.ctx.cfg, index)
            except pymysql.err.MySQLError as exc:
                raise _target_error(exc, f"add index {index.name} to {index.schema}.{index.table}") from exc

    def _load_chunk(self, conn: db.Connection, job: _Job) -> None:
        """Load one data file and record it in the checkpoint, all in one transaction."""
        cfg, table, chunk, target = self.ctx.cfg, job.table, job.chunk, job.target
        path = self.ctx.dump_dir / chunk.file
        what = f"load {chunk.file} into {target.schema}.{target.table}"
        sent = 0

        def progress(n: int) -> None:
            nonlocal sent
            sent += n
            with self._lock:
                self._finished_bytes += n

        try:
            conn.begin()
            if self.use_load_data is not False:
                try:
                    self._load_data(conn, job, path, what, progress)
                    self.use_load_data = True
                except pymysql.err.MySQLError as exc:
                    if self.use_load_data or db.errno_of(exc) not in load_data.LOCAL_INFILE_REFUSED:
                        raise
                    log.info("the target refuses LOAD DATA LOCAL (%s); loading with INSERT statements", exc)
                    self.use_load_data = False
                    conn.rollback()
                    conn.begin()
            if self.use_load_data is False:
                self._insert(conn, job, path, what, progress)
            with conn.cursor() as cur:
                cur.execute(
                    load_checkpoint.record_chunk_sql(cfg),
                    (cfg.source_id, chunk.file, table.schema, table.table, chunk.bytes, chunk.bytes),
                )
            conn.commit()
        except BaseException as exc:
            with contextlib.suppress(Exception):
                conn.rollback()
            with self._lock:
                self._finished_bytes -= sent
            if isinstance(exc, pymysql.err.MySQLError):
                error = _target_error(exc, what)
                if db.errno_of(exc) in _RETRY_ERRNOS:
                    raise _Retry(error) from exc
                raise error from exc
            if isinstance(exc, OSError | ValueError):
                raise errors.ErrLoadLightningRuntime(f"read data file {chunk.file}", cause=exc) from exc
            raise
        with self._lock:
            self._finished_bytes += chunk.bytes - sent

    def _load_data(self, conn: db.Connection, job: _Job, path, what: str, progress) -> None:
        piece = min(load_data._PIECE, _max_packet(conn) - 1024)
        outcome = load_data.load_data_local(conn, load_data.load_data_sql(job.target), path, piece, progress)
        load_data.check_warnings(conn, outcome, job.target, lambda n: load_data.read_line(path, n), what)

    def _insert(self, conn: db.Connection, job: _Job, path, what: str, progress) -> None:
        max_packet = _max_packet(conn)
        limit = min(dump_options(self.ctx.cfg.mydumper).statement_size, max_packet - 1024)
        for sql, rows in load_data.insert_statements(job.target, path, limit):
            if len(sql) > max_packet - 64:
                raise errors.ErrDBExecuteFailed(
                    what,
                    cause=f"a row of {len(sql)} bytes is larger than the target's max_allowed_packet "
                    f"({max_packet})",
                    workaround="Raise `max_allowed_packet` on the target "
                    "(SET GLOBAL max_allowed_packet = ...), then `resume-task`.",
                )
            outcome = load_data.execute(conn, sql)
            load_data.check_warnings(
                conn,
                outcome,
                job.target,
                functools.partial(_nth, rows),
                what,
            )
            progress(sum(len(r) + 1 for r in rows))

    def _mark_finished(self, location: Location, total_bytes: int) -> None:
        with self._lock:
            self._finished = True
            self._location = location
            self._total_bytes = self._finished_bytes = total_bytes

    def _clean_dump_files(self, meta: DumpMetadata) -> None:
        """DM's clean-dump-file: everything in task-mode full, else only the data files (the schema
        files and metadata stay for the sync unit)."""
        dump_dir = self.ctx.dump_dir
        if self.ctx.cfg.task_mode == "full":
            shutil.rmtree(dump_dir, ignore_errors=True)
            return
        for table in meta.tables:
            for chunk in table.chunks:
                with contextlib.suppress(OSError):
                    (dump_dir / chunk.file).unlink()


class _Retry(Exception):
    def __init__(self, error: errors.DMError) -> None:
        super().__init__(str(error))
        self.error = error


def _nth(rows: Sequence[bytes], n: int) -> bytes | None:
    """Row ``n`` (1-based) of an INSERT's rows: what a warning "at row n" is about."""
    return rows[n - 1] if 0 < n <= len(rows) else None


def _max_packet(conn: db.Connection) -> int:
    """The target's max_allowed_packet (read once per connection)."""
    cached = getattr(conn, "_dmshell_max_packet", None)
    if cached is None:
        cached = load_data.server_max_packet(conn)
        conn._dmshell_max_packet = cached  # type: ignore[attr-defined]
    return cached


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
        raise _target_error(exc, f"read the columns of {schema}.{table}") from exc
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


# -- errors --------------------------------------------------------------------------------------
def _target_error(exc: BaseException, what: str) -> errors.DMError:
    errno = db.errno_of(exc)
    if errno is not None and errno >= 3000:  # server errors (MySQL 3xxx, MariaDB 4xxx), not the client's
        return errors.ErrDBExecuteFailed(what, cause=exc)
    error = db.classify(exc, what)
    if errno in _PRIVILEGE_ERRNOS:
        return errors.ErrDBExecuteFailed(
            what,
            cause=exc,
            workaround="The target user lacks a privilege: grant it SELECT, INSERT, UPDATE, DELETE, CREATE, "
            "DROP, ALTER, INDEX and CREATE VIEW on the migrated schemas and the meta schema, "
            "then `resume-task`.",
        )
    return error


def _guard(fn, what: str):
    try:
        return fn()
    except errors.DMError as exc:
        if isinstance(exc.cause, BaseException) and db.errno_of(exc.cause) in _PRIVILEGE_ERRNOS:
            raise _target_error(exc.cause, what) from exc.cause
        raise


def _execute(conn: db.Connection, sql: str, what: str) -> None:
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    except pymysql.err.MySQLError as exc:
        raise _target_error(exc, what) from exc
