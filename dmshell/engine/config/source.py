"""Source configuration (``operate-source create source.yaml``): an upstream and its settings.

The password of ``from:`` may be plaintext or ``dmctl encrypt`` ciphertext; loading decrypts what
decrypts (:func:`dmshell.engine.config.encrypt.decrypt_or_plaintext`), so ``DBConfig.password`` is
always plaintext.
"""

# ruff: noqa: RUF009  (key() is a dataclasses.field() wrapper, not a shared default)
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dmshell.engine import yamlstrict as ys
from dmshell.engine.config import encrypt
from dmshell.engine.config.database import DBConfig
from dmshell.engine.config.secrets import map_secrets
from dmshell.engine.config.yamlfile import Lines
from dmshell.engine.errors import (
    DMError,
    ErrConfigGenBinlogEventFilter,
    ErrConfigInvalidBackoff,
    ErrConfigUnsafeName,
    ErrConfigYamlTransform,
    ErrWorkerNeedSourceID,
    ErrWorkerRelayBinlogName,
    ErrWorkerTooLongSourceID,
)
from dmshell.engine.filters.rule_types import EventFilterRule
from dmshell.engine.filters.rules import EventFilter
from dmshell.engine.names import name_error
from dmshell.engine.yamlstrict import U32, U64, Duration, key

MAX_SOURCE_ID_LENGTH = 32


@dataclass(slots=True)
class PurgeConfig:
    """Relay-log purge (``purge:``)."""

    interval: int = key(3600, doc="check interval (seconds)", bounds=(0, U64))
    expires: int = key(0, doc="purge relay logs older than this (hours); 0 = never", bounds=(0, U64))
    remain_space: int = key(15, doc="purge when free disk space falls below this (GB)", bounds=(0, U64))


@dataclass(slots=True)
class CheckerConfig:
    """Automatic resume of paused tasks (``checker:``)."""

    check_enable: bool = key(True, doc="auto-resume tasks paused by resumable errors")
    backoff_rollback: Duration = key(300.0, doc="shrink the backoff after this much healthy time")
    backoff_max: Duration = key(300.0, doc="maximum backoff")
    # DM overwrites these four with its defaults; accepted for compatibility
    check_interval: Duration = key(5.0, doc="(fixed) check interval")
    backoff_min: Duration = key(1.0, doc="(fixed) minimum backoff")
    backoff_jitter: bool = key(True, doc="(fixed) jitter the backoff")
    backoff_factor: float = key(2.0, doc="(fixed) backoff factor")


@dataclass(slots=True)
class SourceConfig:
    """An upstream MySQL/MariaDB source (``operate-source create source.yaml``)."""

    source_id: str = key("", doc="unique id of the source (≤ 32 characters)")
    from_db: DBConfig = key(factory=DBConfig, name="from", doc="connection to the upstream")
    enable_gtid: bool = key(False, doc="replicate by GTID")
    enable_relay: bool = key(False, doc="pull binlog into a local relay log (deprecated: start-relay)")
    relay_binlog_name: str = key("", doc="relay start binlog file")
    relay_binlog_gtid: str = key("", doc="relay start GTID set")
    relay_dir: str = key("relay-dir", doc="relay log directory")
    flavor: str = key("", doc="mysql | mariadb; empty = detected")
    server_id: int = key(0, doc="server id used to read the binlog; 0 = generated", bounds=(0, U32))
    case_sensitive: bool = key(False, doc="case-sensitive schema/table names in filters")
    enable: bool = key(True, doc="start the tasks of this source")
    purge: PurgeConfig = key(factory=PurgeConfig, doc="relay log purge")
    checker: CheckerConfig = key(factory=CheckerConfig, doc="automatic task resume")
    filters: list[EventFilterRule] = key(factory=list, doc="source-level binlog event filters")
    auto_fix_gtid: bool = key(False, doc="deprecated", deprecated=True)
    meta_dir: str = key("", doc="deprecated", deprecated=True)
    charset: str = key("", doc="deprecated", deprecated=True)
    tracer: dict[str, Any] = key(factory=dict, doc="deprecated", deprecated=True)


# top-level key order of DM's own YAML output (its struct field order)
DUMP_ORDER = (
    "enable",
    "enable-gtid",
    "auto-fix-gtid",
    "relay-dir",
    "meta-dir",
    "flavor",
    "charset",
    "enable-relay",
    "relay-binlog-name",
    "relay-binlog-gtid",
    "source-id",
    "from",
    "purge",
    "checker",
    "server-id",
    "tracer",
    "case-sensitive",
    "filters",
)


def adjust_source(cfg: SourceConfig, at: Lines) -> None:
    """DM's ``SourceConfig.Adjust`` and ``Verify``: defaults filled in, every value checked."""
    if cfg.auto_fix_gtid:
        cfg.auto_fix_gtid = False  # deprecated; DM forces it off
    # DM's Checker.Adjust: the unexposed knobs always take their defaults
    defaults = CheckerConfig()
    cfg.checker.check_interval = defaults.check_interval
    cfg.checker.backoff_min = defaults.backoff_min
    cfg.checker.backoff_jitter = defaults.backoff_jitter
    cfg.checker.backoff_factor = defaults.backoff_factor
    map_secrets(cfg.from_db, encrypt.decrypt_or_plaintext)

    if not cfg.source_id:
        raise at.err(ErrWorkerNeedSourceID(), cfg, "source-id")
    if len(cfg.source_id) > MAX_SOURCE_ID_LENGTH:
        raise at.err(ErrWorkerTooLongSourceID(cfg.source_id, MAX_SOURCE_ID_LENGTH), cfg, "source-id")
    if bad := name_error("source-id", cfg.source_id):
        raise at.err(ErrConfigUnsafeName(bad), cfg, "source-id")
    if cfg.relay_binlog_name and not _valid_binlog_name(cfg.relay_binlog_name):
        raise at.err(ErrWorkerRelayBinlogName(cfg.relay_binlog_name), cfg, "relay-binlog-name")
    if cfg.flavor and cfg.flavor.lower() not in ("mysql", "mariadb"):
        raise at.err(
            ErrConfigYamlTransform(f'flavor "{cfg.flavor}" not supported, use mysql or mariadb'),
            cfg,
            "flavor",
        )
    _check_event_filters(cfg.filters, cfg.case_sensitive, at, cfg, "filters")
    if cfg.checker.backoff_max < cfg.checker.backoff_min:
        raise at.err(
            ErrConfigInvalidBackoff(
                ys.format_duration(cfg.checker.backoff_max), ys.format_duration(cfg.checker.backoff_min)
            ),
            cfg.checker,
            "backoff-max",
        )


def _check_event_filters(
    rules: list[EventFilterRule], case_sensitive: bool, at: Lines, owner: Any, k: str
) -> None:
    try:
        EventFilter(rules, case_sensitive)
    except DMError as exc:
        raise at.err(ErrConfigGenBinlogEventFilter(cause=exc.raw_cause or exc.message), owner, k) from None
    except ValueError as exc:
        raise at.err(ErrConfigGenBinlogEventFilter(cause=str(exc)), owner, k) from None


def _valid_binlog_name(name: str) -> bool:
    parts = name.split(".")
    return len(parts) == 2 and parts[1].isdigit() and int(parts[1]) > 0
