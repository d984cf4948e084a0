"""What the master does with a task before it hands it to the scheduler: parse it against the known
sources, check ``--start-time``, remove old metadata, and turn it into subtask records (with the
upstream's current position for incremental tasks without ``meta``, DM's ``GetLatestMeta``)."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterable

from dmshell.daemon.store import Store, SubTaskRecord
from dmshell.engine import errors
from dmshell.engine.binlog.location import master_status
from dmshell.engine.binlog.start_time import parse_start_time
from dmshell.engine.config.load import load_source_config, load_task_config
from dmshell.engine.config.source import SourceConfig
from dmshell.engine.config.task import TaskConfig
from dmshell.engine.db import classify, connect
from dmshell.engine.meta import remove_task_meta
from dmshell.proto import dmworker_pb2 as pb

log = logging.getLogger(__name__)

#: DM's hint for ``--start-time`` (``utils.StartTimeFormatHint``)
START_TIME_FORMAT_HINT = (
    "'2006-01-02 15:04:05', '2006-01-02T15:04:05', '2006-01-02 15:04:05+08:00', "
    "'2006-01-02T15:04:05+08:00', '2006-01-02 15:04:05+0800', or "
    "'2006-01-02T15:04:05+0800'"
)


def start_time_error(start_time: str) -> str:
    """DM's message for a malformed ``--start-time`` ("" when it is empty or well-formed)."""
    if not start_time:
        return ""
    try:
        parse_start_time(start_time, 0)
    except ValueError as exc:
        return f"error while parse start-time, expected in the format like {START_TIME_FORMAT_HINT}: {exc}"
    return ""


def parse_task(store: Store, text: str) -> TaskConfig:
    """Parse a task and check its sources exist; raises ``DMError``."""
    cfg = load_task_config(text)
    known = store.sources()
    for sid in cfg.source_ids:
        if sid not in known:
            raise errors.ErrConfigSourceIDNotFound(sid)
    return cfg


def source_configs(store: Store, ids: Iterable[str]) -> dict[str, SourceConfig]:
    return {sid: load_source_config(store.get_source(sid) or "") for sid in ids}


def remove_meta(store: Store, cfg: TaskConfig) -> None:
    """``start-task --remove-meta``: drop the task's tables in the target's meta schema."""
    others = {r.task for r in store.subtasks()} - {cfg.name}
    conn = connect(cfg.target, connect_timeout=10)
    try:
        dropped = remove_task_meta(conn, cfg.meta_schema, cfg.name, others)
    finally:
        conn.close()
    log.info("remove-meta of task %s: dropped %s", cfg.name, dropped)


def subtask_records(
    store: Store, cfg: TaskConfig, text: str, sources: list[str], remove_meta: bool, start_time: str = ""
) -> list[SubTaskRecord]:
    """One record per source, expected stage Running, all with the same new start id."""
    start_id = uuid.uuid4().hex
    records = []
    for sid in sources:
        meta_name, meta_pos, meta_gtid = "", 0, ""
        if cfg.task_mode == "incremental" and cfg.subtask(sid).meta is None:
            meta_name, meta_pos, meta_gtid = latest_meta(source_configs(store, [sid])[sid])
        records.append(
            SubTaskRecord(
                task=cfg.name,
                source=sid,
                task_yaml=text,
                expect_stage=pb.Running,
                start_id=start_id,
                remove_meta=remove_meta,
                meta_binlog_name=meta_name,
                meta_binlog_pos=meta_pos,
                meta_binlog_gtid=meta_gtid,
                start_time=start_time,
            )
        )
    return records


def latest_meta(source_cfg: SourceConfig) -> tuple[str, int, str]:
    """DM's ``GetLatestMeta``: the upstream's current binlog file, position and GTID set."""
    conn = connect(source_cfg.from_db, connect_timeout=10)
    try:
        try:
            loc = master_status(conn, source_cfg.flavor or None)
        except errors.DMError:
            raise
        except Exception as exc:
            raise classify(exc, "SHOW MASTER STATUS") from exc
    finally:
        with contextlib.suppress(Exception):
            conn.close()
    return loc.file, loc.pos, loc.gtid
