"""Loading data files into the target over ``loader.pool-size`` connections.

A :class:`LoadJob` is one or more data files of one source table that go in as ONE transaction,
together with their rows in ``<task>_loader_checkpoint`` (and, for the full copy, the chunk's row in
``<task>_loader_chunk``): after a kill -9 a job is either loaded and recorded or neither. Jobs
arrive all at once (the load unit) or while the dump writes them (the full copy); a target table's
postponed secondary indexes (:mod:`dmshell.engine.load.index`) are built as soon as every job
announced for it (:meth:`LoadPool.expect`) is in and no more will come (:meth:`LoadPool.seal`),
while the other jobs go on.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pymysql

from dmshell.engine import db, errors
from dmshell.engine.config.database import DBConfig
from dmshell.engine.dump.files import ChunkMeta, TableMeta
from dmshell.engine.dump.options import dump_options
from dmshell.engine.load import checkpoint as load_checkpoint
from dmshell.engine.load import data as load_data
from dmshell.engine.load import index as load_index
from dmshell.engine.unit import UnitContext

log = logging.getLogger(__name__)

#: errors after which a job is simply tried again (its transaction was rolled back)
_RETRY_ERRNOS = frozenset({1205, 1213})
_RETRIES = 3
PRIVILEGE_ERRNOS = frozenset({1044, 1045, 1142, 1143, 1227, 1370})

TargetName = tuple[str, str]


def open_load_session(cfg: DBConfig) -> db.Connection:
    """A target connection set up for exact round-trips of dumped values (see :mod:`load_data`)."""
    return load_data.connect(cfg)


@dataclass(slots=True)
class LoadJob:
    """Files of one source table loaded in one transaction."""

    table: TableMeta
    files: list[ChunkMeta]
    target: load_data.Target
    #: the full copy's chunk index and the snapshot it was dumped from (None: a load unit's file)
    chunk: int | None = None
    snapshot: int = 0
    #: where the files are
    directory: Path = field(default_factory=Path)

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    @property
    def target_name(self) -> TargetName:
        return (self.target.schema, self.target.table)

    @property
    def name(self) -> str:
        return (
            self.files[0].file if len(self.files) == 1 else f"{self.files[0].file} (+{len(self.files) - 1})"
        )


class LoadPool:
    """Worker threads loading :class:`LoadJob` s; thread-safe."""

    def __init__(
        self,
        ctx: UnitContext,
        threads: int,
        stop: threading.Event,
        indexes: dict[TargetName, list[load_index.DeferredIndex]],
        on_bytes: Callable[[int], None],
        on_loaded: Callable[[LoadJob], None] | None = None,
        abort: threading.Event | None = None,
    ) -> None:
        self.ctx, self.threads, self.stop = ctx, max(1, threads), stop
        self.indexes = indexes
        self.on_bytes, self.on_loaded = on_bytes, on_loaded
        #: None: LOAD DATA LOCAL if the target allows it; False: INSERT statements only
        self.use_load_data: bool | None = None
        #: set on the first failure (shared with the dump when loading while dumping)
        self.abort = abort or threading.Event()
        self.failures: list[BaseException] = []
        self._cond = threading.Condition()
        self._work: deque[LoadJob | TargetName] = deque()
        self._expected: dict[TargetName, int] = {}
        self._sealed: set[TargetName] = set()
        self._closed = False
        self._busy = 0
        self._threads: list[threading.Thread] = []

    # -- the producer's side -----------------------------------------------------------------------
    def expect(self, target: TargetName, jobs: int) -> None:
        """``jobs`` more jobs will come for ``target``."""
        with self._cond:
            self._expected[target] = self._expected.get(target, 0) + jobs

    def seal(self, target: TargetName) -> None:
        """No more jobs will be announced for ``target``: its indexes follow its last job."""
        with self._cond:
            self._sealed.add(target)
            self._maybe_index(target)

    def put(self, job: LoadJob) -> None:
        with self._cond:
            self._work.append(job)
            self._cond.notify()

    def close_input(self) -> None:
        """No more :meth:`put`: the workers end once everything is loaded."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def start(self) -> None:
        sid = self.ctx.cfg.source_id
        self._threads = [
            threading.Thread(target=self._worker, name=f"load-{sid}-{i + 1}", daemon=True)
            for i in range(self.threads)
        ]
        for t in self._threads:
            t.start()

    def join(self) -> None:
        """Wait for the workers; raises the first failure."""
        for t in self._threads:
            t.join()
        if self.failures:
            raise self.failures[0]

    def failed(self) -> bool:
        return self.abort.is_set()

    # -- the workers ---------------------------------------------------------------------------------
    def _maybe_index(self, target: TargetName) -> None:
        if target in self._sealed and self._expected.get(target, 0) == 0 and target in self.indexes:
            self._work.appendleft(target)  # next, ahead of the remaining files
            self._expected[target] = -1  # queued once
            self._cond.notify()

    def _next(self) -> LoadJob | TargetName | None:
        with self._cond:
            while True:
                if self.stop.is_set() or self.abort.is_set():
                    return None
                if self._work:
                    self._busy += 1
                    return self._work.popleft()
                if self._closed and self._busy == 0:
                    self._cond.notify_all()
                    return None
                self._cond.wait(0.2)

    def _done(self, item: LoadJob | TargetName | None) -> None:
        with self._cond:
            self._busy -= 1
            if isinstance(item, LoadJob):
                target = item.target_name
                self._expected[target] = self._expected.get(target, 0) - 1
                self._maybe_index(target)
            self._cond.notify_all()

    def _worker(self) -> None:
        conn = None
        try:
            while True:
                item = self._next()
                if item is None:
                    return
                try:
                    if conn is None:
                        conn = open_load_session(self.ctx.cfg.target)
                    if isinstance(item, tuple):
                        self._build_indexes(conn, self.indexes[item])
                    else:
                        conn = self._load_with_retries(conn, item)
                        if self.on_loaded is not None:
                            self.on_loaded(item)
                except BaseException:
                    self._done(None)
                    raise
                self._done(item)
        except BaseException as exc:
            self.abort.set()
            self.failures.append(exc)
            with self._cond:
                self._cond.notify_all()
        finally:
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()

    def _load_with_retries(self, conn: db.Connection | None, job: LoadJob) -> db.Connection:
        for attempt in range(_RETRIES + 1):
            if conn is None:
                conn = open_load_session(self.ctx.cfg.target)
            try:
                self._load(conn, job)
                return conn
            except _Retry as exc:
                if attempt == _RETRIES:
                    raise exc.error from exc.__cause__
                log.info("load %s: %s; trying again", job.name, exc.error.raw_cause)
                time.sleep(0.1 * (attempt + 1))
            except BaseException:
                with contextlib.suppress(Exception):
                    conn.close()
                raise
        raise AssertionError("unreachable")

    def _build_indexes(self, conn: db.Connection, indexes: list[load_index.DeferredIndex]) -> None:
        for index in indexes:
            try:
                load_index.build(conn, self.ctx.cfg, index)
            except pymysql.err.MySQLError as exc:
                raise target_error(exc, f"add index {index.name} to {index.schema}.{index.table}") from exc

    def _load(self, conn: db.Connection, job: LoadJob) -> None:
        """Load the job's files and record them, all in one transaction."""
        cfg, table, target = self.ctx.cfg, job.table, job.target
        what = f"load {job.name} into {target.schema}.{target.table}"
        sent = 0

        def progress(n: int) -> None:
            nonlocal sent
            sent += n
            self.on_bytes(n)

        try:
            conn.begin()
            for chunk in job.files:
                path = job.directory / chunk.file
                if self.use_load_data is not False:
                    try:
                        self._load_data(conn, job.target, path, what, progress)
                        self.use_load_data = True
                    except pymysql.err.MySQLError as exc:
                        if self.use_load_data or db.errno_of(exc) not in load_data.LOCAL_INFILE_REFUSED:
                            raise
                        log.info(
                            "the target refuses LOAD DATA LOCAL (%s); loading with INSERT statements", exc
                        )
                        self.use_load_data = False  # (only ever on a job's first file)
                        conn.rollback()
                        conn.begin()
                if self.use_load_data is False:
                    self._insert(conn, job.target, path, what, progress)
            with conn.cursor() as cur:
                cur.executemany(
                    load_checkpoint.record_chunk_sql(cfg),
                    [(cfg.source_id, c.file, table.schema, table.table, c.bytes, c.bytes) for c in job.files],
                )
                if job.chunk is not None:
                    cur.execute(
                        load_checkpoint.record_copy_chunk_sql(cfg),
                        (
                            cfg.source_id,
                            table.schema,
                            table.table,
                            job.chunk,
                            job.snapshot,
                            sum(c.rows for c in job.files),
                            job.bytes,
                        ),
                    )
            conn.commit()
        except BaseException as exc:
            with contextlib.suppress(Exception):
                conn.rollback()
            self.on_bytes(-sent)
            if isinstance(exc, pymysql.err.MySQLError):
                error = target_error(exc, what)
                if db.errno_of(exc) in _RETRY_ERRNOS:
                    raise _Retry(error) from exc
                raise error from exc
            if isinstance(exc, OSError | ValueError):
                raise errors.ErrLoadLightningRuntime(f"read data file {job.name}", cause=exc) from exc
            raise
        self.on_bytes(job.bytes - sent)

    def _load_data(
        self, conn: db.Connection, target: load_data.Target, path: Path, what: str, progress
    ) -> None:
        piece = min(load_data._PIECE, _max_packet(conn) - 1024)
        outcome = load_data.load_data_local(conn, load_data.load_data_sql(target), path, piece, progress)
        load_data.check_warnings(conn, outcome, target, lambda n: load_data.read_line(path, n), what)

    def _insert(self, conn: db.Connection, target: load_data.Target, path: Path, what: str, progress) -> None:
        max_packet = _max_packet(conn)
        limit = min(dump_options(self.ctx.cfg.mydumper).statement_size, max_packet - 1024)
        for sql, rows in load_data.insert_statements(target, path, limit):
            if len(sql) > max_packet - 64:
                raise errors.ErrDBExecuteFailed(
                    what,
                    cause=f"a row of {len(sql)} bytes is larger than the target's max_allowed_packet "
                    f"({max_packet})",
                    workaround="Raise `max_allowed_packet` on the target "
                    "(SET GLOBAL max_allowed_packet = ...), then `resume-task`.",
                )
            outcome = load_data.execute(conn, sql)

            def line(n: int, rows: list[bytes] = rows) -> bytes | None:
                return rows[n - 1] if 0 < n <= len(rows) else None

            load_data.check_warnings(conn, outcome, target, line, what)
            progress(sum(len(r) + 1 for r in rows))


class _Retry(Exception):
    def __init__(self, error: errors.DMError) -> None:
        super().__init__(str(error))
        self.error = error


def _max_packet(conn: db.Connection) -> int:
    """The target's max_allowed_packet (read once per connection)."""
    cached = getattr(conn, "_dmshell_max_packet", None)
    if cached is None:
        cached = load_data.server_max_packet(conn)
        conn._dmshell_max_packet = cached  # type: ignore[attr-defined]
    return cached


def target_error(exc: BaseException, what: str) -> errors.DMError:
    """A target failure as DM reports it (privilege errors with a workaround)."""
    errno = db.errno_of(exc)
    if errno is not None and errno >= 3000:  # server errors (MySQL 3xxx, MariaDB 4xxx), not the client's
        return errors.ErrDBExecuteFailed(what, cause=exc)
    error = db.classify(exc, what)
    if errno in PRIVILEGE_ERRNOS:
        return errors.ErrDBExecuteFailed(
            what,
            cause=exc,
            workaround="The target user lacks a privilege: grant it SELECT, INSERT, UPDATE, DELETE, CREATE, "
            "DROP, ALTER, INDEX and CREATE VIEW on the migrated schemas and the meta schema, "
            "then `resume-task`.",
        )
    return error


def guard(fn, what: str):
    """``fn()``; a privilege error inside a DM error gets the privilege workaround."""
    try:
        return fn()
    except errors.DMError as exc:
        if isinstance(exc.cause, BaseException) and db.errno_of(exc.cause) in PRIVILEGE_ERRNOS:
            raise target_error(exc.cause, what) from exc.cause
        raise
