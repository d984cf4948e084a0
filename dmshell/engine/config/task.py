"""Task configuration (``start-task task.yaml``): DM's task file, every documented key.

Every config class is a dataclass whose fields are declared with
:func:`~dmshell.engine.yamlstrict.key` (YAML name, type, default, doc); decoding, defaults and
dumping derive from those declarations. The rule types (block-allow list, routes, filters) live in
:mod:`dmshell.engine.filters.rule_types`, the unit settings in :mod:`.units`; loading and checking
a file is :mod:`.load`. ``TaskConfig.subtask(source_id)`` is the per-source view a worker runs.
"""

# ruff: noqa: RUF009  (key() is a dataclasses.field() wrapper, not a shared default)
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from dmshell.engine.config.database import DBConfig
from dmshell.engine.config.source import SourceConfig
from dmshell.engine.config.subtask import SubTaskConfig, build_subtask
from dmshell.engine.config.units import (
    ExperimentalConfig,
    LoaderConfig,
    MydumperConfig,
    SyncerConfig,
    ValidatorConfig,
)
from dmshell.engine.errors import ErrConfigSourceIDNotFound
from dmshell.engine.filters.rule_types import BAList, EventFilterRule, ExpressionFilter, RouteRule
from dmshell.engine.yamlstrict import U32, key

SHARD_PESSIMISTIC = "pessimistic"
SHARD_OPTIMISTIC = "optimistic"


@dataclass(slots=True)
class Meta:
    """Where incremental replication of one source starts (``mysql-instances[].meta``)."""

    binlog_name: str = key("", doc="binlog file name, e.g. mysql-bin.000123")
    binlog_pos: int = key(4, doc="position in that file", bounds=(0, U32))
    binlog_gtid: str = key("", doc="GTID set (for sources with enable-gtid)")


@dataclass(slots=True)
class MySQLInstance:
    """One ``mysql-instances`` entry: a source and the named rules it uses."""

    source_id: str = key("", doc="source id (operate-source)")
    meta: Meta | None = key(None, doc="incremental start position")
    filter_rules: list[str] = key(factory=list, doc="names in `filters`")
    column_mapping_rules: list[str] = key(factory=list, doc="deprecated (unsupported)", deprecated=True)
    route_rules: list[str] = key(factory=list, doc="names in `routes`")
    expression_filters: list[str] = key(factory=list, doc="names in `expression-filter`")
    bw_list_name: str = key("", name="black-white-list", doc="old name of block-allow-list", deprecated=True)
    ba_list_name: str = key("", name="block-allow-list", doc="name in `block-allow-list`")
    mydumper_config_name: str = key("", doc="name in `mydumpers`")
    mydumper: MydumperConfig | None = key(None, doc="inline dump settings")
    mydumper_thread: int = key(0, doc="overrides mydumper threads", bounds=(0, 1024))
    loader_config_name: str = key("", doc="name in `loaders`")
    loader: LoaderConfig | None = key(None, doc="inline load settings")
    loader_thread: int = key(0, doc="overrides loader pool-size", bounds=(0, 1024))
    syncer_config_name: str = key("", doc="name in `syncers`")
    syncer: SyncerConfig | None = key(None, doc="inline sync settings")
    syncer_thread: int = key(0, doc="overrides syncer worker-count", bounds=(0, 1024))
    validator_config_name: str = key("", doc="name in `validators`")


@dataclass(slots=True)
class TaskConfig:
    """A data migration task (``start-task task.yaml``).

    ``task-mode: incremental`` does not require ``meta``: without it a source starts from its
    checkpoint in ``meta-schema`` when there is one, otherwise from the upstream's current binlog
    position at start (``start-task --start-time`` may also pick one). With ``meta``, the
    checkpoint still wins unless the task is started with ``--remove-meta`` (DM's rule).
    """

    name: str = key("", doc="task name, unique in the cluster")
    task_mode: str = key("", doc="all | full | incremental (also dump, load)")
    target: DBConfig = key(factory=DBConfig, name="target-database", doc="downstream database")
    meta_schema: str = key("dm_meta", doc="downstream schema for checkpoints and task meta")
    source_ids: list[str] = key(factory=list, internal=True, doc="mysql-instances source ids, in order")
    is_sharding: bool = key(False, doc="deprecated: shard-mode pessimistic", deprecated=True)
    shard_mode: str = key("", doc='"" | pessimistic | optimistic')
    strict_optimistic_shard_mode: bool = key(False, doc="optimistic mode: fail on conflicting DDL")
    ignore_checking_items: list[str] = key(factory=list, doc="precheck items to skip")
    enable_heartbeat: bool = key(False, doc="deprecated (ignored)", deprecated=True)
    heartbeat_update_interval: int = key(1, doc="deprecated (ignored)", deprecated=True)
    heartbeat_report_interval: int = key(10, doc="deprecated (ignored)", deprecated=True)
    timezone: str = key("", doc="time zone for TIMESTAMP values, e.g. +08:00 or Asia/Shanghai")
    case_sensitive: bool = key(False, doc="case-sensitive schema/table names in rules")
    collation_compatible: str = key("loose", name="collation_compatible", doc="loose | strict")
    mysql_instances: list[MySQLInstance] = key(factory=list, doc="the sources of the task")
    online_ddl: bool = key(True, doc="handle gh-ost / pt-osc online schema changes")
    shadow_table_rules: list[str] = key(factory=list, doc="regexes of online-DDL shadow tables")
    trash_table_rules: list[str] = key(factory=list, doc="regexes of online-DDL trash tables")
    online_ddl_scheme: str = key("", doc="deprecated: gh-ost | pt (means online-ddl: true)", deprecated=True)
    routes: dict[str, RouteRule] = key(factory=dict, doc="table routing rules")
    filters: dict[str, EventFilterRule] = key(factory=dict, doc="binlog event filter rules")
    column_mappings: dict[str, Any] = key(factory=dict, doc="unsupported since DM v6.6", deprecated=True)
    expression_filter: dict[str, ExpressionFilter] = key(factory=dict, doc="expression filters")
    black_white_list: dict[str, BAList] = key(
        factory=dict, doc="old name of block-allow-list", deprecated=True
    )
    block_allow_list: dict[str, BAList] = key(factory=dict, doc="block-allow-list rule sets")
    mydumpers: dict[str, MydumperConfig] = key(factory=dict, doc="named dump settings")
    loaders: dict[str, LoaderConfig] = key(factory=dict, doc="named load settings")
    syncers: dict[str, SyncerConfig] = key(factory=dict, doc="named sync settings")
    validators: dict[str, ValidatorConfig] = key(factory=dict, doc="named validator settings")
    clean_dump_file: bool = key(True, doc="remove dump files after loading")
    ansi_quotes: bool = key(False, doc="deprecated: the SQL mode is detected", deprecated=True)
    remove_meta: bool = key(False, doc="deprecated: use start-task --remove-meta", deprecated=True)
    experimental: ExperimentalConfig = key(factory=ExperimentalConfig, doc="experimental features")
    raw_text: str = key("", internal=True, doc="the YAML text the task was loaded from")

    def instance(self, source_id: str) -> MySQLInstance:
        """The ``mysql-instances`` entry of ``source_id`` (ErrConfigSourceIDNotFound if absent)."""
        for inst in self.mysql_instances:
            if inst.source_id == source_id:
                return inst
        raise ErrConfigSourceIDNotFound(source_id)

    def unit_configs(self, inst: MySQLInstance) -> tuple[MydumperConfig, LoaderConfig, SyncerConfig]:
        """Fresh dump/load/sync settings of an instance: named or inline config, else DM's defaults,
        then the ``mydumper-thread`` / ``loader-thread`` / ``syncer-thread`` aliases."""
        named_dumper = self.mydumpers.get(inst.mydumper_config_name) if inst.mydumper_config_name else None
        mydumper = copy.deepcopy(named_dumper or inst.mydumper or MydumperConfig())
        if not mydumper.chunk_filesize:
            mydumper.chunk_filesize = "64"
        if inst.mydumper_thread:
            mydumper.threads = inst.mydumper_thread
        named_loader = self.loaders.get(inst.loader_config_name) if inst.loader_config_name else None
        loader = copy.deepcopy(named_loader or inst.loader or LoaderConfig())
        if inst.loader_thread:
            loader.pool_size = inst.loader_thread
        named_syncer = self.syncers.get(inst.syncer_config_name) if inst.syncer_config_name else None
        syncer = copy.deepcopy(named_syncer or inst.syncer or SyncerConfig())
        if inst.syncer_thread:
            syncer.worker_count = inst.syncer_thread
        return mydumper, loader, syncer

    def subtask(self, source_id: str, source: SourceConfig | None = None) -> SubTaskConfig:
        """The subtask for one source: named rules resolved, defaults and DM's adjustments applied.

        With ``source``, its connection and settings are filled in too (:meth:`SubTaskConfig.apply_source`).
        """
        return build_subtask(self, source_id, source)


# top-level key order of DM's own YAML output (its struct field order)
DUMP_ORDER = (
    "name",
    "task-mode",
    "is-sharding",
    "shard-mode",
    "strict-optimistic-shard-mode",
    "ignore-checking-items",
    "meta-schema",
    "enable-heartbeat",
    "heartbeat-update-interval",
    "heartbeat-report-interval",
    "timezone",
    "case-sensitive",
    "collation_compatible",
    "target-database",
    "mysql-instances",
    "online-ddl",
    "shadow-table-rules",
    "trash-table-rules",
    "online-ddl-scheme",
    "routes",
    "filters",
    "column-mappings",
    "expression-filter",
    "black-white-list",
    "block-allow-list",
    "mydumpers",
    "loaders",
    "syncers",
    "validators",
    "clean-dump-file",
    "ansi-quotes",
    "remove-meta",
    "experimental",
)
