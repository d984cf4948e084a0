"""Shared helpers of the sync unit tests: a SyncUnit running in a thread, subtask contexts against
the MariaDB fixture, and poll-until-converged checks (no fixed sleeps)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from dmshell.engine.binlog.location import Location, master_status
from dmshell.engine.config.source import SourceConfig
from dmshell.engine.config.subtask import SubTaskConfig
from dmshell.engine.config.task import Meta
from dmshell.engine.config.units import LoaderConfig, MydumperConfig, SyncerConfig
from dmshell.engine.filters.rule_types import BAList
from dmshell.engine.sync.syncer import SyncUnit
from dmshell.engine.unit import UnitContext

TIMEOUT = 60  # generous upper bound for convergence polls; they normally return within a second


def make_ctx(
    tmp_path: Path,
    source,
    target,
    dbname: str,
    *,
    task: str = "tsync",
    meta: Meta | None = None,
    routes=None,
    schemas: list[str] | None = None,
    ba: BAList | None = None,
    filters=None,
    expression_filters=None,
    task_mode: str = "incremental",
    enable_gtid: bool = False,
    source_id: str = "mysql-01",
    **syncer,
) -> UnitContext:
    options = {"worker_count": 4, "batch": 20, "checkpoint_flush_interval": 1, "safe_mode_duration": 0.0}
    options.update(syncer)
    if meta is None and task_mode == "incremental":
        with source.connect() as conn:
            meta = meta_at(master_status(conn))
    cfg = SubTaskConfig(
        name=task,
        task_mode=task_mode,
        source_id=source_id,
        meta_schema=f"{dbname}_meta",
        target=target.dbconfig(),
        meta=meta,
        block_allow_list=ba or BAList(do_dbs=schemas or [dbname]),
        routes=routes or [],
        mydumper=MydumperConfig(threads=2),
        loader=LoaderConfig(pool_size=2),
        syncer=SyncerConfig(**options),
        filters=list(filters or []),
        expression_filters=list(expression_filters or []),
    )
    src = SourceConfig(source_id=source_id, from_db=source.dbconfig(), enable_gtid=enable_gtid)
    return UnitContext(cfg=cfg, source=src, work_dir=tmp_path / source_id, worker_name="worker1")


def meta_at(loc: Location) -> Meta:
    return Meta(binlog_name=loc.file, binlog_pos=loc.pos)


class Running:
    """A SyncUnit processing in a thread until :meth:`stop`."""

    def __init__(self, ctx: UnitContext, unit: SyncUnit | None = None, start_time: str = "") -> None:
        self.unit = unit or SyncUnit(ctx, start_time=start_time)
        self.stop_event = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.unit.process(self.stop_event)
        except BaseException as exc:  # reported by stop()/wait_error()
            self.error = exc

    def stop(self, close: bool = True) -> None:
        self.stop_event.set()
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive(), "process() did not return after stop"
        if close:
            self.unit.close()
        if self.error is not None:
            raise self.error

    def wait_error(self, close: bool = True) -> BaseException:
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive(), "process() did not fail"
        if close:
            self.unit.close()
        assert self.error is not None
        return self.error


def rows(server, sql: str) -> list[tuple]:
    """Rows as the server renders them (text protocol: no client-side conversion), sorted."""
    return server.rendered_rows(sql)


def wait_until(predicate, what: str, timeout: float = TIMEOUT, running: Running | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running is not None and running.error is not None:
            raise running.error
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def converge(
    src, dst, tables: list[tuple[str, str]], running: Running | None = None, timeout: float = TIMEOUT
) -> None:
    """Wait until every (source table, target table) pair holds the same rows."""

    def same() -> bool:
        try:
            return all(rows(src, f"SELECT * FROM {a}") == rows(dst, f"SELECT * FROM {b}") for a, b in tables)
        except Exception:  # the target table may not exist yet
            return False

    wait_until(same, f"convergence of {tables}", timeout=timeout, running=running)


def synced(unit: SyncUnit, server) -> bool:
    st = unit.status()
    with server.connect() as conn:
        master = master_status(conn)
    return st.synced and st.syncerBinlog == master.position_str()


def checkpoint_rows(target, dbname: str, task: str = "tsync") -> list[tuple]:
    return target.query(
        "SELECT cp_schema, cp_table, binlog_name, binlog_pos, binlog_gtid, "
        "exit_safe_binlog_name, exit_safe_binlog_pos, exit_safe_binlog_gtid, table_info, "
        "is_global "
        f"FROM `{dbname}_meta`.`{task}_syncer_checkpoint` ORDER BY cp_schema, cp_table"
    )


def global_checkpoint(target, dbname: str, task: str = "tsync") -> Location:
    (row,) = [r for r in checkpoint_rows(target, dbname, task) if r[9]]
    return Location(row[2], row[3], row[4] or "")


def flushed_checkpoint(target, dbname: str, task: str = "tsync") -> Location:
    """The global checkpoint, or position 0 of no file while there is none yet (for polls)."""
    try:
        return global_checkpoint(target, dbname, task)
    except Exception:  # no checkpoint table/row yet
        return Location("", 0)


def master(server) -> Location:
    with server.connect() as conn:
        return master_status(conn)


def columns(server, table: str) -> list[str]:
    return [r[0] for r in server.query(f"SHOW COLUMNS FROM {table}")]


def fresh_db(mariadb, dbname: str) -> str:
    """``dbname`` with its databases (and ``_t``/``_x``/``_meta`` companions) dropped on every server
    (for each test module's ``db`` fixture)."""
    for server in (mariadb.up1, mariadb.up2, mariadb.target):
        server.execute(
            f"DROP DATABASE IF EXISTS `{dbname}`",
            f"DROP DATABASE IF EXISTS `{dbname}_meta`",
            f"DROP DATABASE IF EXISTS `{dbname}_t`",
            f"DROP DATABASE IF EXISTS `{dbname}_x`",
        )
    return dbname
