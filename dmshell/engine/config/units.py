"""Settings of the processing units in a task file: dump (``mydumpers``), load (``loaders``), sync
(``syncers``), continuous validation (``validators``) and ``experimental``, with DM's adjustments."""

# ruff: noqa: RUF009  (key() is a dataclasses.field() wrapper, not a shared default)
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dmshell.engine import yamlstrict as ys
from dmshell.engine.config.yamlfile import Lines
from dmshell.engine.errors import (
    ErrConfigConflictSafeModeDuration,
    ErrConfigInvalidDuplicateResolution,
    ErrConfigInvalidLoadAnalyze,
    ErrConfigInvalidLoadMode,
    ErrConfigInvalidPhysicalChecksum,
    ErrConfigInvalidPhysicalDuplicateResolution,
    ErrConfigInvalidSafeModeDuration,
    ErrConfigValidationMode,
    ErrConfigYamlTransform,
)
from dmshell.engine.yamlstrict import U64, Duration, key


@dataclass(slots=True)
class MydumperConfig:
    """Dump unit settings (``mydumpers.<name>`` or ``mysql-instances[].mydumper``)."""

    threads: int = key(4, doc="dump concurrency", bounds=(0, 1024))
    chunk_filesize: str = key("64", doc="chunk size in MiB (or with a unit, e.g. 64MiB)")
    rows: int = key(
        0, doc="split tables into chunks of this many rows (0 = use chunk-filesize)", bounds=(0, U64)
    )
    extra_args: str = key("", doc="extra dumper arguments (e.g. --consistency none)")
    mydumper_path: str = key("./bin/mydumper", doc="DM's mydumper binary (unused by dmshell)")
    statement_size: int = key(0, doc="max size of one INSERT statement (bytes)", bounds=(0, U64))
    where: str = key("", doc="WHERE condition applied to every dumped table")
    skip_tz_utc: bool = key(True, doc="do not convert TIMESTAMP values to UTC while dumping")


@dataclass(slots=True)
class LoaderConfig:
    """Load unit settings (``loaders.<name>`` or ``mysql-instances[].loader``)."""

    pool_size: int = key(16, doc="load concurrency", bounds=(0, 1024))
    dir: str = key("./dumped_data", doc="dump directory; `.<task>` is appended for all/full tasks")
    sorting_dir_physical: str = key("", doc="physical import sorting directory")
    import_mode: str = key("logical", doc="logical | physical | import-into (sql/loader = logical)")
    on_duplicate: str = key("", doc="deprecated alias of on-duplicate-logical", deprecated=True)
    on_duplicate_logical: str = key("replace", doc="replace | error | ignore")
    on_duplicate_physical: str = key("none", doc="none | manual")
    disk_quota_physical: int = key(0, doc="physical import disk quota (bytes)")
    checksum_physical: str = key("required", doc="required | optional | off")
    analyze: str = key("optional", doc="required | optional | off")
    range_concurrency: int = key(0, doc="physical import range concurrency")
    compress_kv_pairs: str = key("", doc="physical import KV compression")
    pd_addr: str = key("", doc="PD address for physical import")
    dump_dir_max_size: int = key(
        1024,
        doc="dmshell: while loading what it dumps, the dump directory's cap in MiB (a dump session "
        "waits before its next chunk at the cap)",
        bounds=(1, 1 << 30),
    )


def _safe_mode_duration_error(raw: str, reason: str) -> Exception:
    return ErrConfigInvalidSafeModeDuration(raw, reason)


@dataclass(slots=True)
class SyncerConfig:
    """Sync unit settings (``syncers.<name>`` or ``mysql-instances[].syncer``)."""

    worker_count: int = key(16, doc="DML worker count", bounds=(0, 1024))
    batch: int = key(100, doc="DML statements per downstream transaction", bounds=(0, 1 << 20))
    queue_size: int = key(1024, doc="per-worker job queue size", bounds=(0, 1 << 24))
    checkpoint_flush_interval: int = key(30, doc="checkpoint flush interval (seconds)", bounds=(0, 86400))
    safe_mode: bool = key(False, doc="always use REPLACE/DELETE+REPLACE")
    safe_mode_duration: Duration = key(
        60.0,
        doc="safe mode after a restart (default 2 * checkpoint-flush-interval)",
        on_error=_safe_mode_duration_error,
    )
    compact: bool = key(False, doc="compact several changes of one row into one")
    multiple_rows: bool = key(True, doc="merge several rows into multi-row statements (dmshell: on)")
    txn_split_rows: int = key(
        100_000,
        doc="dmshell: an upstream transaction with more row changes is applied in parts",
        bounds=(1, 1 << 30),
    )
    enable_gtid: bool | None = key(None, doc="deprecated: taken from the source config", deprecated=True)
    meta_file: str = key("", doc="deprecated", deprecated=True)
    max_retry: int = key(0, doc="deprecated", deprecated=True)
    auto_fix_gtid: bool = key(False, doc="deprecated", deprecated=True)
    disable_detect: bool = key(False, doc="deprecated: causality detection is always on", deprecated=True)
    enable_ansi_quotes: bool = key(False, doc="deprecated: the SQL mode is detected", deprecated=True)


@dataclass(slots=True)
class ValidatorConfig:
    """Continuous data validation settings (``validators.<name>``)."""

    mode: str = key("none", doc="none | fast | full")
    worker_count: int = key(4, doc="validation workers")
    validate_interval: Duration = key(10.0, doc="interval between validation rounds")
    check_interval: Duration = key(5.0, doc="interval between checks")
    row_error_delay: Duration = key(1800.0, doc="a row still failing after this is an error")
    meta_flush_interval: Duration = key(300.0, doc="meta flush interval")
    batch_query_size: int = key(100, doc="rows per validation query")
    max_pending_row_size: str = key("500m", doc="max size of pending rows")
    max_pending_row_count: int = key(2147483647, doc="max number of pending rows")


@dataclass(slots=True)
class ExperimentalConfig:
    async_checkpoint_flush: bool = key(False, doc="flush checkpoints asynchronously")


_SIZE_RE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kKmMgGtTpP]?)(i?[bB])?\s*")
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_file_size(text: str) -> int | None:
    """Bytes in a ``chunk-filesize`` (DM's ``ParseFileSize``): a bare number is MiB, else ``64MiB``, ``1g``...

    Empty means the 64 MiB default; ``None`` means invalid.
    """
    if not text:
        return 64 << 20
    if text.isdigit():
        return int(text) << 20
    m = _SIZE_RE.fullmatch(text)
    if not m:
        return None
    return int(float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()])


def adjust_loader(loader: LoaderConfig, at: Lines) -> None:
    """DM's ``LoaderConfig.adjust``: old mode names mapped, empty values defaulted, options checked."""
    mode = (loader.import_mode or "logical").lower()
    if mode in ("sql", "loader"):
        mode = "logical"
    if mode not in ("logical", "physical", "import-into"):
        raise at.err(ErrConfigInvalidLoadMode(loader.import_mode), loader, "import-mode")
    loader.import_mode = mode
    if loader.pool_size == 0:
        loader.pool_size = 16
    if not loader.on_duplicate_logical and loader.on_duplicate:
        loader.on_duplicate_logical = loader.on_duplicate
    checks = (
        (
            "on_duplicate_logical",
            "on-duplicate-logical",
            "replace",
            ("replace", "error", "ignore"),
            ErrConfigInvalidDuplicateResolution,
        ),
        (
            "on_duplicate_physical",
            "on-duplicate-physical",
            "none",
            ("none", "manual"),
            ErrConfigInvalidPhysicalDuplicateResolution,
        ),
        (
            "checksum_physical",
            "checksum-physical",
            "required",
            ("required", "optional", "off"),
            ErrConfigInvalidPhysicalChecksum,
        ),
        ("analyze", "analyze", "optional", ("required", "optional", "off"), ErrConfigInvalidLoadAnalyze),
    )
    for attr, yaml_key, default, allowed, error in checks:
        value = (getattr(loader, attr) or default).lower()
        if value not in allowed:
            raise at.err(error(getattr(loader, attr)), loader, yaml_key)
        setattr(loader, attr, value)


def adjust_syncer(syncer: SyncerConfig, at: Lines, owner: Any) -> None:
    """DM's ``SyncerConfig.adjust``; ``owner`` is where ``safe-mode-duration`` would be written."""
    if syncer.queue_size == 0:
        syncer.queue_size = 1024
    if syncer.checkpoint_flush_interval == 0:
        syncer.checkpoint_flush_interval = 30
    if not at.has(owner, "safe-mode-duration"):
        syncer.safe_mode_duration = 2.0 * syncer.checkpoint_flush_interval
    if syncer.safe_mode_duration < 0:
        raise at.err(
            ErrConfigInvalidSafeModeDuration(
                ys.format_duration(syncer.safe_mode_duration), "negative duration"
            ),
            owner,
            "safe-mode-duration",
        )
    if syncer.safe_mode and syncer.safe_mode_duration == 0:
        raise at.err(ErrConfigConflictSafeModeDuration(), owner, "safe-mode-duration")


def adjust_validator(v: ValidatorConfig, at: Lines) -> None:
    """DM's ``ValidatorConfig.Adjust``: empty or zero values take the defaults."""
    v.mode = v.mode or "none"
    if v.mode not in ("none", "fast", "full"):
        raise at.err(ErrConfigValidationMode(), v, "mode")
    defaults = ValidatorConfig()
    for attr in (
        "worker_count",
        "validate_interval",
        "check_interval",
        "row_error_delay",
        "meta_flush_interval",
        "batch_query_size",
        "max_pending_row_size",
        "max_pending_row_count",
    ):
        value = getattr(v, attr)
        if (not value) if isinstance(value, str) else value <= 0:
            setattr(v, attr, getattr(defaults, attr))
    if parse_file_size(v.max_pending_row_size) is None:
        raise at.err(
            ErrConfigYamlTransform(f'invalid max-pending-row-size "{v.max_pending_row_size}"'),
            v,
            "max-pending-row-size",
        )
