"""The load unit: the dump directory into the target, resumable at any moment without loss or duplicates.

Flow: read the dump's ``metadata``; create the meta tables and record that this dump is being
loaded (:mod:`load_checkpoint`); create the target schemas and tables after routing (shards routed
to one target table are created once, and must have identical column definitions); then load the
chunk files over ``loader.pool-size`` connections. Every chunk is ONE transaction that also inserts
its row into ``<meta>.<task>_loader_checkpoint``, and chunks already recorded there are skipped, so
a kill -9 at any point resumes exactly. Finally one transaction marks the load finished with the
dump's binlog location (:func:`load_finished_location`), and the dump files are cleaned up when
``clean-dump-file`` is set (all of them in task-mode ``full``, only the data files otherwise).

Target session: ``sql_mode`` strict (a value that doesn't fit the target column is an error, never a
silent truncation) without ``NO_ZERO_DATE``/``NO_ZERO_IN_DATE`` (zero dates round-trip) and with
``NO_AUTO_VALUE_ON_ZERO`` (an AUTO_INCREMENT column keeps its 0), ``time_zone='+00:00'`` like the
dump, ``foreign_key_checks=0`` (tables load in any order). ``unique_checks`` stays on: InnoDB may
skip secondary unique checks without it, which would let merged shards plant duplicates.

Rows whose key already exists in the target follow ``loader.on-duplicate-logical`` (DM's default
``replace``: REPLACE INTO; ``error``: INSERT; ``ignore``: INSERT IGNORE). Routes' ``extract-table/
schema/source`` columns are appended to every row; the target table must then already have them.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import re
import shutil
import threading
from dataclasses import dataclass

import pymysql
from pymysql.converters import escape_string

from dmshell.engine import db, dumpfiles, errors, load_checkpoint
from dmshell.engine.binlog import Location
from dmshell.engine.config import DBConfig, SubTaskConfig
from dmshell.engine.db import quote_ident, quote_table
from dmshell.engine.dump_progress import RateMeter, percent
from dmshell.engine.dumpfiles import ChunkMeta, DumpMetadata, TableMeta
from dmshell.engine.filters import BAListFilter, TableRouter
from dmshell.engine.unit import Unit, UnitContext
from dmshell.proto import dmworker_pb2 as pb

log = logging.getLogger(__name__)

TARGET_SQL_MODE = "NO_AUTO_VALUE_ON_ZERO,STRICT_ALL_TABLES"
#: loader.on-duplicate-logical: what a row whose key already exists in the target does
_INSERT_VERBS = {"replace": "REPLACE INTO", "error": "INSERT INTO", "ignore": "INSERT IGNORE INTO"}
#: one ``(v1,v2,...)`` row of a dumped INSERT: parentheses only occur inside quoted text
_ROW = re.compile(rb"\((?:[^'()]|'(?:[^'\\]|\\.)*')*\)", re.S)


def load_finished_location(target_conn: pymysql.connections.Connection,
                           cfg: SubTaskConfig) -> Location | None:
    """The dump's binlog location once this source's load is complete (None before that)."""
    return load_checkpoint.finished_location(target_conn, cfg)


def open_load_session(cfg: DBConfig) -> pymysql.connections.Connection:
    """A target connection set up for exact round-trips of dumped values (see the module doc)."""
    conn = db.connect(cfg)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SET SESSION sql_mode = '{TARGET_SQL_MODE}', time_zone = '+00:00', "
                        "foreign_key_checks = 0")
    except pymysql.err.MySQLError as exc:
        conn.close()
        raise db.classify(exc, "set load session") from exc
    return conn


@dataclass(slots=True)
class _Job:
    table: TableMeta
    chunk: ChunkMeta
    target: tuple[str, str]
    #: (column, value) pairs added to every row (routes' extract-table/schema/source)
    extra: list[tuple[str, str]]


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
            load_checkpoint.ensure_tables(conn, cfg)
            finished = load_finished_location(conn, cfg)
            if finished is not None:  # e.g. the dump files are already cleaned up
                self._mark_finished(finished, 0)
                return
            meta = self._read_dump()
            with self._lock:
                self._location = meta.location
            load_checkpoint.begin_load(conn, cfg, meta.dump_id)
            jobs = self._prepare_targets(conn, meta)
            done = load_checkpoint.done_chunks(conn, cfg)
        finally:
            conn.close()
        with self._lock:
            self._total_bytes = sum(j.chunk.bytes for j in jobs)
            self._finished_bytes = sum(j.chunk.bytes for j in jobs if j.chunk.file in done)
        pending = [j for j in jobs if j.chunk.file not in done]
        log.info("load of source %s: %d chunks, %d already loaded", cfg.source_id, len(jobs),
                 len(jobs) - len(pending))
        self._load_all(pending, stop)
        if stop.is_set():
            log.info("load of source %s stopped", cfg.source_id)
            return
        conn = open_load_session(cfg.target)
        try:
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
        st = pb.LoadStatus(finishedBytes=finished, totalBytes=total, progress=percent(finished, total, done),
                           bps=0 if done else self._meter.rate(finished))
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
            raise errors.ErrParseMydumperMeta("the dump is incomplete (no metadata file)",
                                              str(dump_dir / dumpfiles.METADATA_FILE))
        return meta

    def _prepare_targets(self, conn: pymysql.connections.Connection, meta: DumpMetadata) -> list[_Job]:
        """Route every dumped table, create target schemas and tables; the chunks to load."""
        cfg = self.ctx.cfg
        try:
            router = TableRouter(cfg.routes, cfg.case_sensitive)
        except errors.DMError:
            raise
        except Exception as exc:
            raise errors.ErrLoadUnitGenTableRouter(cause=exc) from exc
        try:
            ba = BAListFilter(cfg.block_allow_list, cfg.case_sensitive)
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
        creates = {(t.schema, t.table): self._read_statement(t.schema_file) for t in tables}
        for target, members in groups.items():
            _check_same_columns(target, members, creates)

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
            self._create_table(conn, first, creates[(first.schema, first.table)], target_schema, target_table)
        jobs = []
        for t in tables:
            extra = router.extract_columns(t.schema, t.table, cfg.source_id)
            jobs.extend(_Job(t, c, routed[(t.schema, t.table)], extra) for c in t.chunks)
        return jobs

    def _read_statement(self, name: str) -> str:
        try:
            text = (self.ctx.dump_dir / name).read_text(encoding="utf-8")
        except OSError as exc:
            raise errors.ErrLoadUnitReadSchemaFile(name, cause=exc) from exc
        return text.strip().removesuffix(";")

    def _create_schema(self, conn: pymysql.connections.Connection, source: str, file: str | None,
                       target: str) -> None:
        sql = f"CREATE DATABASE IF NOT EXISTS {quote_ident(target)}"
        if file:
            original = self._read_statement(file)
            prefix = f"CREATE DATABASE {quote_ident(source)}"
            if not original.startswith(prefix):
                raise errors.ErrLoadUnitParseStatement(original[:200])
            sql += original[len(prefix):]  # keeps the character set / collation options
        _execute(conn, sql, f"create schema {target}")

    def _create_table(self, conn: pymysql.connections.Connection, table: TableMeta, create_sql: str,
                      target_schema: str, target_table: str) -> None:
        prefix = f"CREATE TABLE {quote_ident(table.table)}"
        if not create_sql.startswith(prefix):
            raise errors.ErrLoadUnitNotCreateTable(create_sql[:200], table.schema, table.table)
        sql = (f"CREATE TABLE IF NOT EXISTS {quote_table(target_schema, target_table)}"
               + create_sql[len(prefix):])
        try:
            conn.select_db(target_schema)  # unqualified foreign-key references resolve here
        except pymysql.err.MySQLError as exc:
            raise db.classify(exc, f"use {target_schema}") from exc
        _execute(conn, sql, f"create table {target_schema}.{target_table}")

    def _load_all(self, jobs: list[_Job], stop: threading.Event) -> None:
        if not jobs:
            return
        work: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        for job in jobs:
            work.put(job)
        abort = threading.Event()
        failures: list[BaseException] = []
        n = max(1, min(self.ctx.cfg.loader.pool_size, len(jobs)))
        threads = [threading.Thread(target=self._worker, args=(work, stop, abort, failures),
                                    name=f"load-{self.ctx.cfg.source_id}-{i + 1}", daemon=True)
                   for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if failures:
            raise failures[0]

    def _worker(self, work: queue.SimpleQueue[_Job], stop: threading.Event, abort: threading.Event,
                failures: list[BaseException]) -> None:
        conn = None
        try:
            while not stop.is_set() and not abort.is_set():
                try:
                    job = work.get_nowait()
                except queue.Empty:
                    return
                if conn is None:
                    conn = open_load_session(self.ctx.cfg.target)
                self._load_chunk(conn, job)
        except BaseException as exc:
            abort.set()
            failures.append(exc)
        finally:
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()

    def _load_chunk(self, conn: pymysql.connections.Connection, job: _Job) -> None:
        """Load one chunk file and record it in the checkpoint, all in one transaction."""
        cfg, table, chunk = self.ctx.cfg, job.table, job.chunk
        source_prefix = dumpfiles.insert_prefix(table.table, table.columns).encode("utf-8")
        columns = ",".join(quote_ident(c) for c in [*table.columns, *(c for c, _ in job.extra)])
        verb = _INSERT_VERBS.get(cfg.loader.on_duplicate_logical or "replace", "REPLACE INTO")
        target_prefix = f"{verb} {quote_table(*job.target)} ({columns}) VALUES ".encode()
        extra = "".join(",'" + escape_string(v) + "'" for _, v in job.extra).encode() + b")"
        path = self.ctx.dump_dir / chunk.file
        try:
            conn.begin()
            with conn.cursor() as cur:
                for stmt in dumpfiles.iter_statements(path):
                    if not stmt.startswith(source_prefix):
                        raise errors.ErrLoadUnitInvalidInsertSQL(stmt[:200].decode("utf-8", "replace"))
                    values = stmt[len(source_prefix):]
                    if job.extra:
                        values = _ROW.sub(lambda m: m.group(0)[:-1] + extra, values)
                    cur.execute(target_prefix + values)
                cur.execute(load_checkpoint.record_chunk_sql(cfg),
                            (cfg.source_id, chunk.file, table.schema, table.table, chunk.bytes, chunk.bytes))
            conn.commit()
        except BaseException as exc:
            with contextlib.suppress(Exception):
                conn.rollback()
            if isinstance(exc, pymysql.err.MySQLError):
                raise db.classify(exc, f"load {chunk.file} into {job.target[0]}.{job.target[1]}") from exc
            if isinstance(exc, OSError):
                raise errors.ErrLoadLightningRuntime(f"read data file {chunk.file}", cause=exc) from exc
            raise
        with self._lock:
            self._finished_bytes += chunk.bytes

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


def _check_same_columns(target: tuple[str, str], members: list[TableMeta], creates: dict) -> None:
    """Shard tables merged into one target table must agree on their column definitions."""
    first = members[0]
    expected = _column_definitions(creates[(first.schema, first.table)])
    for other in members[1:]:
        got = _column_definitions(creates[(other.schema, other.table)])
        if got != expected:
            diff = next(((a, b) for a, b in zip(expected, got, strict=False) if a != b),
                        (f"{len(expected)} columns", f"{len(got)} columns"))
            raise errors.ErrLoadLightningRuntime(
                f"shard tables {quote_table(first.schema, first.table)} and "
                f"{quote_table(other.schema, other.table)} are merged into {quote_table(*target)} "
                "but their column definitions differ: "
                f"{diff[0]} vs {diff[1]}",
                workaround="Please make the schemas of the shard tables identical, or route them to "
                           "different target tables in the `routes` config of the task configuration file.")


def _column_definitions(create_sql: str) -> list[str]:
    """The column lines of a ``SHOW CREATE TABLE`` statement (keys and table options excluded)."""
    return [line.strip().rstrip(",") for line in create_sql.split("\n")[1:] if line.startswith("  `")]


def _execute(conn: pymysql.connections.Connection, sql: str, what: str) -> None:
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    except pymysql.err.MySQLError as exc:
        raise db.classify(exc, what) from exc
