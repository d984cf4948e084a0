"""Source and task configuration: DM's YAML files, every documented key, strictly validated.

This module is the one place that defines each configuration key: every config class below is a
dataclass whose fields are declared with :func:`~dmshell.engine.config.yamlstrict.key` (YAML name, type,
default, doc). Decoding, defaults and dumping are derived from those declarations
(:mod:`dmshell.engine.config.yamlstrict`). Loading rejects unknown keys, duplicate keys and values of the
wrong type with a DM-style error (``ErrConfigYamlTransform``, 20003) that names the key and the
line; semantic problems raise DM's specific config errors, prefixed with the line.

Public API (other modules depend on exactly these names):

* ``load_source_config(text: str) -> SourceConfig``
* ``load_task_config(text: str) -> TaskConfig``
* ``TaskConfig.subtask(source_id) -> SubTaskConfig`` — the per-source view a worker runs.
* ``dump_source_config(cfg, mask_password=True) -> str`` / ``dump_task_config(cfg, ...) -> str``

Passwords may be plaintext or ``dmctl encrypt`` ciphertext; loading decrypts what decrypts
(:func:`dmshell.engine.config.encrypt.decrypt_or_plaintext`), so ``DBConfig.password`` is always plaintext.
"""

# ruff: noqa: RUF009  (key() is a dataclasses.field() wrapper, not a shared default)
from __future__ import annotations

import copy
import re
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from dmshell.engine.config import encrypt
from dmshell.engine.config import yamlstrict as ys
from dmshell.engine.config.yamlstrict import Duration, key
from dmshell.engine.errors import (
    DMError,
    ErrConfigBAListNotFound,
    ErrConfigCheckItemNotSupport,
    ErrConfigCollationCompatibleNotSupport,
    ErrConfigColumnMappingDeprecated,
    ErrConfigConflictSafeModeDuration,
    ErrConfigDuplicateCfgItem,
    ErrConfigEmptySourceID,
    ErrConfigExprFilterEmptyName,
    ErrConfigExprFilterManyExpr,
    ErrConfigExprFilterNotFound,
    ErrConfigExprFilterWrongGrammar,
    ErrConfigFilterRuleNotFound,
    ErrConfigGenBAList,
    ErrConfigGenBinlogEventFilter,
    ErrConfigGenTableRouter,
    ErrConfigGlobalConfigsUnused,
    ErrConfigImportIntoShardingNotSupport,
    ErrConfigInvalidBackoff,
    ErrConfigInvalidChunkFileSize,
    ErrConfigInvalidDuplicateResolution,
    ErrConfigInvalidLoadAnalyze,
    ErrConfigInvalidLoadMode,
    ErrConfigInvalidPhysicalChecksum,
    ErrConfigInvalidPhysicalDuplicateResolution,
    ErrConfigInvalidSafeModeDuration,
    ErrConfigInvalidTaskMode,
    ErrConfigInvalidTimezone,
    ErrConfigLoaderCfgConflict,
    ErrConfigLoaderCfgNotFound,
    ErrConfigMetaInvalid,
    ErrConfigMydumperCfgConflict,
    ErrConfigMydumperCfgNotFound,
    ErrConfigMySQLInstNotFound,
    ErrConfigMySQLInstSameSourceID,
    ErrConfigMySQLInstsAtLeastOne,
    ErrConfigNeedTargetDB,
    ErrConfigNeedUniqueTaskName,
    ErrConfigOnlineDDLInvalidRegex,
    ErrConfigOnlineSchemeNotSupport,
    ErrConfigRouteRuleNotFound,
    ErrConfigShardModeNotSupport,
    ErrConfigSourceIDNotFound,
    ErrConfigStrictOptimisticShardMode,
    ErrConfigSyncerCfgConflict,
    ErrConfigSyncerCfgNotFound,
    ErrConfigTooLongSourceID,
    ErrConfigUnsupportedForeignKeyChecksOption,
    ErrConfigValidationMode,
    ErrConfigYamlTransform,
    ErrContinuousValidatorCfgNotFound,
    ErrWorkerNeedSourceID,
    ErrWorkerRelayBinlogName,
    ErrWorkerTooLongSourceID,
)

# task modes (DM's names)
MODE_ALL = "all"
MODE_FULL = "full"
MODE_INCREMENTAL = "incremental"
MODE_DUMP = "dump"
MODE_LOAD = "load"
TASK_MODES = (MODE_FULL, MODE_INCREMENTAL, MODE_ALL, MODE_DUMP, MODE_LOAD)

SHARD_PESSIMISTIC = "pessimistic"
SHARD_OPTIMISTIC = "optimistic"

MAX_SOURCE_ID_LENGTH = 32
DEFAULT_SHADOW_TABLE_RULES = "^_(.+)_(?:new|gho)$"
DEFAULT_TRASH_TABLE_RULES = "^_(.+)_(?:ghc|del|old)$"
MASKED_PASSWORD = "******"
_U32 = 2**32 - 1
_U64 = 2**64 - 1

#: ``ignore-checking-items`` values (DM's ``checking_item.go``), name → description.
CHECKING_ITEMS = {
    "all": "all checking items",
    "dump_privilege": "dump privileges of source DB checking item",
    "replication_privilege": "replication privileges of source DB checking item",
    "version": "MySQL/MariaDB version checking item",
    "server_id": "server_id checking item",
    "binlog_enable": "binlog enable checking item",
    "binlog_format": "binlog format checking item",
    "binlog_row_image": "binlog row image checking item",
    "table_schema": "table schema compatibility checking item",
    "schema_of_shard_tables": "consistent schema of shard tables checking item",
    "auto_increment_ID": "conflict auto increment ID of shard tables checking item",
    "online_ddl": "online ddl checking item",
    "binlog_db": "binlog db checking item",
    "meta_position": "meta position valid checking item",
    "conn_number": "connection number checking item",
    "target_privilege": "privileges of target DB checking item",
    "empty_region": "physical import mode empty region checking item",
    "region_distribution": "physical import mode region distribution checking item",
    "downstream_version": "physical import mode downstream TiDB/PD/TiKV version checking item",
    "free_space": "downstream free space checking item",
    "downstream_mutex_features": "physical import mode downstream incompatible feature checking item",
    "downstream_table_empty": "physical import mode downstream table empty checking item",
    "primary_key": "primary key checking item (Aliyun RDS precheck)",
}


# ---- shared pieces ------------------------------------------------------------------------------


@dataclass(slots=True)
class SecurityConfig:
    """TLS settings for a database connection (``from.security`` / ``target-database.security``)."""

    ssl_ca: str = key("", doc="path of the CA certificate")
    ssl_cert: str = key("", doc="path of the client certificate")
    ssl_key: str = key("", doc="path of the client private key")
    cert_allowed_cn: list[str] = key(factory=list, doc="allowed common names of the peer certificate")
    ssl_ca_base64: str = key("", doc="CA certificate content, base64 (instead of ssl-ca)")
    ssl_cert_base64: str = key("", doc="client certificate content, base64 (instead of ssl-cert)")
    ssl_key_base64: str = key("", doc="client private key content, base64 (instead of ssl-key)")


@dataclass(slots=True)
class DBConfig:
    """A MySQL/MariaDB/TiDB connection (``from:`` in a source file, ``target-database:`` in a task)."""

    host: str = key("", doc="host name or IP")
    port: int = key(3306, doc="port", bounds=(0, 65535))
    user: str = key("", doc="user name")
    password: str = key("", doc="password, plaintext or `dmctl encrypt` ciphertext", secret=True)
    session: dict[str, str] = key(factory=dict, doc="session variables set on every connection")
    max_allowed_packet: int | None = key(None, doc="deprecated: the driver reads it from the server")
    security: SecurityConfig | None = key(None, doc="TLS settings")


@dataclass(slots=True)
class Meta:
    """Where incremental replication of one source starts (``mysql-instances[].meta``)."""

    binlog_name: str = key("", doc="binlog file name, e.g. mysql-bin.000123")
    binlog_pos: int = key(4, doc="position in that file", bounds=(0, _U32))
    binlog_gtid: str = key("", doc="GTID set (for sources with enable-gtid)")


@dataclass(slots=True)
class BAList:
    """One block-allow-list rule set (``do-dbs``, ``do-tables``, ``ignore-dbs``, ``ignore-tables``)."""

    do_dbs: list[str] = key(factory=list, doc="schemas to migrate; `~` prefix = regex, else wildcard")
    do_tables: list[tuple[str, str]] = key(factory=list, doc="tables to migrate (db-name, tbl-name)")
    ignore_dbs: list[str] = key(factory=list, doc="schemas to skip (ignored when do-dbs is set)")
    ignore_tables: list[tuple[str, str]] = key(factory=list, doc="tables to skip (db-name, tbl-name)")


@dataclass(slots=True)
class TableExtractor:
    table_regexp: str = key("", doc="regex applied to the source table name; groups form the value")
    target_column: str = key("", doc="target column receiving the extracted value")


@dataclass(slots=True)
class SchemaExtractor:
    schema_regexp: str = key("", doc="regex applied to the source schema name; groups form the value")
    target_column: str = key("", doc="target column receiving the extracted value")


@dataclass(slots=True)
class SourceExtractor:
    source_regexp: str = key("", doc="regex applied to the source id; groups form the value")
    target_column: str = key("", doc="target column receiving the extracted value")


@dataclass(slots=True)
class RouteRule:
    """A table-routing rule (``routes.<name>``)."""

    schema_pattern: str = key("", doc="upstream schema pattern (wildcards * ? [..], or ~regex)")
    table_pattern: str = key("", doc="upstream table pattern; empty = schema-level rule")
    target_schema: str = key("", doc="downstream schema")
    target_table: str = key("", doc="downstream table; empty keeps the table name")
    extract_table: TableExtractor | None = key(None, doc="put part of the table name into a column")
    extract_schema: SchemaExtractor | None = key(None, doc="put part of the schema name into a column")
    extract_source: SourceExtractor | None = key(None, doc="put part of the source id into a column")


@dataclass(slots=True)
class EventFilterRule:
    """A binlog event filter rule (``filters.<name>`` in a task, ``filters[]`` in a source)."""

    schema_pattern: str = key("", doc="upstream schema pattern (wildcards); `*` = global rule")
    table_pattern: str = key("", doc="upstream table pattern; empty = schema-level rule")
    events: list[str] = key(factory=list, doc="event types, e.g. `all dml`, `truncate table`")
    sql_pattern: list[str] = key(factory=list, doc="regexes matched against DDL text")
    action: str = key("", doc="Do, Ignore (or Error)")


@dataclass(slots=True)
class ExpressionFilter:
    """An expression filter (``expression-filter.<name>``): skip rows whose values match a SQL expression."""

    schema: str = key("", doc="upstream schema")
    table: str = key("", doc="upstream table")
    insert_value_expr: str = key("", doc="skip INSERTed rows matching this expression")
    update_old_value_expr: str = key("", doc="skip UPDATEs whose old row matches (AND with new)")
    update_new_value_expr: str = key("", doc="skip UPDATEs whose new row matches (AND with old)")
    delete_value_expr: str = key("", doc="skip DELETEd rows matching this expression")


@dataclass(slots=True)
class MydumperConfig:
    """Dump unit settings (``mydumpers.<name>`` or ``mysql-instances[].mydumper``)."""

    threads: int = key(4, doc="dump concurrency", bounds=(0, 1024))
    chunk_filesize: str = key("64", doc="chunk size in MiB (or with a unit, e.g. 64MiB)")
    rows: int = key(
        0, doc="split tables into chunks of this many rows (0 = use chunk-filesize)", bounds=(0, _U64)
    )
    extra_args: str = key("", doc="extra dumper arguments (e.g. --consistency none)")
    mydumper_path: str = key("./bin/mydumper", doc="DM's mydumper binary (unused by dmshell)")
    statement_size: int = key(0, doc="max size of one INSERT statement (bytes)", bounds=(0, _U64))
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
    multiple_rows: bool = key(False, doc="merge several rows into multi-row statements")
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


# ---- source config ------------------------------------------------------------------------------


@dataclass(slots=True)
class PurgeConfig:
    """Relay-log purge (``purge:``)."""

    interval: int = key(3600, doc="check interval (seconds)", bounds=(0, _U64))
    expires: int = key(0, doc="purge relay logs older than this (hours); 0 = never", bounds=(0, _U64))
    remain_space: int = key(15, doc="purge when free disk space falls below this (GB)", bounds=(0, _U64))


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
    server_id: int = key(0, doc="server id used to read the binlog; 0 = generated", bounds=(0, _U32))
    case_sensitive: bool = key(False, doc="case-sensitive schema/table names in filters")
    enable: bool = key(True, doc="start the tasks of this source")
    purge: PurgeConfig = key(factory=PurgeConfig, doc="relay log purge")
    checker: CheckerConfig = key(factory=CheckerConfig, doc="automatic task resume")
    filters: list[EventFilterRule] = key(factory=list, doc="source-level binlog event filters")
    auto_fix_gtid: bool = key(False, doc="deprecated", deprecated=True)
    meta_dir: str = key("", doc="deprecated", deprecated=True)
    charset: str = key("", doc="deprecated", deprecated=True)
    tracer: dict[str, Any] = key(factory=dict, doc="deprecated", deprecated=True)


# ---- task config --------------------------------------------------------------------------------


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
class SubTaskConfig:
    """What one worker runs: the task as seen from one source."""

    name: str
    task_mode: str  # "all" | "full" | "incremental" (or DM's "dump" / "load")
    source_id: str
    meta_schema: str
    target: DBConfig
    meta: Meta | None
    block_allow_list: BAList | None
    routes: list[RouteRule]
    mydumper: MydumperConfig
    loader: LoaderConfig
    syncer: SyncerConfig
    shard_mode: str = ""
    case_sensitive: bool = False
    timezone: str = ""
    clean_dump_file: bool = True
    filters: list[EventFilterRule] = field(default_factory=list)
    expression_filters: list[ExpressionFilter] = field(default_factory=list)
    online_ddl: bool = True
    shadow_table_rules: list[str] = field(default_factory=lambda: [DEFAULT_SHADOW_TABLE_RULES])
    trash_table_rules: list[str] = field(default_factory=lambda: [DEFAULT_TRASH_TABLE_RULES])
    is_sharding: bool = False
    strict_optimistic_shard_mode: bool = False
    ignore_checking_items: list[str] = field(default_factory=list)
    collation_compatible: str = "loose"
    validator: ValidatorConfig = field(default_factory=ValidatorConfig)
    async_checkpoint_flush: bool = False
    # filled from the source config by apply_source() (DM's copyConfigFromSource)
    from_db: DBConfig | None = None
    flavor: str = ""
    server_id: int = 0
    enable_gtid: bool = False
    use_relay: bool = False
    relay_dir: str = ""

    @property
    def mode(self) -> str:
        """DM's name for ``task_mode``."""
        return self.task_mode

    @property
    def dump_dir(self) -> str:
        """The directory the dump unit writes and the load unit reads (``loader.dir``, adjusted)."""
        return self.loader.dir

    def apply_source(self, source: SourceConfig, enable_relay: bool | None = None) -> None:
        """Fill in the source's connection and settings (DM's ``copyConfigFromSource``).

        Source-level event filters are appended after the task's; a source rule with the same
        schema/table patterns as a task rule is dropped (the task's wins, as in DM).
        """
        self.from_db = copy.deepcopy(source.from_db)
        if self.timezone:
            _set_session_timezone(self.from_db, self.timezone)
        self.flavor = source.flavor
        self.server_id = source.server_id
        self.relay_dir = source.relay_dir
        self.enable_gtid = source.enable_gtid
        self.use_relay = source.enable_relay if enable_relay is None else enable_relay
        self.case_sensitive = self.case_sensitive or source.case_sensitive
        taken = {_pattern_key(r, self.case_sensitive) for r in self.filters}
        for rule in source.filters:
            if _pattern_key(rule, self.case_sensitive) not in taken:
                self.filters.append(copy.deepcopy(rule))


def _pattern_key(rule: EventFilterRule, case_sensitive: bool) -> tuple[str, str]:
    if case_sensitive:
        return (rule.schema_pattern, rule.table_pattern)
    return (rule.schema_pattern.lower(), rule.table_pattern.lower())


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
        inst = self.instance(source_id)
        ba = self.block_allow_list.get(inst.ba_list_name or inst.bw_list_name)
        mydumper, loader, syncer = self.unit_configs(inst)
        if self.task_mode in (MODE_ALL, MODE_FULL):
            # DM appends ".<task>" so tasks sharing a loader dir never share dump files
            loader.dir = loader.dir.rstrip("/") + "." + self.name
        if not loader.sorting_dir_physical and self.task_mode in (MODE_ALL, MODE_FULL, MODE_LOAD):
            loader.sorting_dir_physical = loader.dir + ".sorting"
        sub = SubTaskConfig(
            name=self.name,
            task_mode=self.task_mode,
            source_id=source_id,
            meta_schema=self.meta_schema,
            target=copy.deepcopy(self.target),
            meta=copy.deepcopy(inst.meta),
            block_allow_list=copy.deepcopy(ba),
            routes=[copy.deepcopy(self.routes[n]) for n in inst.route_rules],
            mydumper=mydumper,
            loader=loader,
            syncer=syncer,
            shard_mode=self.shard_mode,
            case_sensitive=self.case_sensitive,
            timezone=self.timezone,
            clean_dump_file=self.clean_dump_file,
            filters=[copy.deepcopy(self.filters[n]) for n in inst.filter_rules],
            expression_filters=[copy.deepcopy(self.expression_filter[n]) for n in inst.expression_filters],
            online_ddl=self.online_ddl,
            shadow_table_rules=list(self.shadow_table_rules) or [DEFAULT_SHADOW_TABLE_RULES],
            trash_table_rules=list(self.trash_table_rules) or [DEFAULT_TRASH_TABLE_RULES],
            is_sharding=self.is_sharding,
            strict_optimistic_shard_mode=self.strict_optimistic_shard_mode,
            ignore_checking_items=list(self.ignore_checking_items),
            collation_compatible=self.collation_compatible,
            validator=copy.deepcopy(self.validators.get(inst.validator_config_name) or ValidatorConfig()),
            async_checkpoint_flush=self.experimental.async_checkpoint_flush,
        )
        if self.timezone:
            _set_session_timezone(sub.target, self.timezone)
        _verify_subtask(sub)
        if source is not None:
            sub.apply_source(source)
        return sub


# ---- loading ------------------------------------------------------------------------------------


def load_source_config(text: str) -> SourceConfig:
    """Parse and verify a source config file (DM's ``SourceCfgFromYamlAndVerify``)."""
    cfg, pos = _decode(text, SourceConfig, "source config")
    at = _Lines(pos)
    if cfg.auto_fix_gtid:
        cfg.auto_fix_gtid = False  # deprecated; DM forces it off
    # DM's Checker.Adjust: the unexposed knobs always take their defaults
    defaults = CheckerConfig()
    cfg.checker.check_interval = defaults.check_interval
    cfg.checker.backoff_min = defaults.backoff_min
    cfg.checker.backoff_jitter = defaults.backoff_jitter
    cfg.checker.backoff_factor = defaults.backoff_factor
    cfg.from_db.password = encrypt.decrypt_or_plaintext(cfg.from_db.password)

    if not cfg.source_id:
        raise at.err(ErrWorkerNeedSourceID(), cfg, "source-id")
    if len(cfg.source_id) > MAX_SOURCE_ID_LENGTH:
        raise at.err(ErrWorkerTooLongSourceID(cfg.source_id, MAX_SOURCE_ID_LENGTH), cfg, "source-id")
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
    return cfg


def load_task_config(text: str) -> TaskConfig:
    """Parse and verify a task config file (DM's ``TaskConfig.FromYaml`` + ``adjust`` + subtask checks)."""
    cfg, pos = _decode(text, TaskConfig, "task config")
    cfg.raw_text = text
    _adjust_task(cfg, _Lines(pos))
    return cfg


def _decode(text: str, cls: type, where: str) -> tuple[Any, ys.Positions]:
    try:
        root = ys.parse(text)
        return ys.decode(root, cls, where)
    except ys.BindError as exc:
        on_error = getattr(exc.meta, "on_error", None)
        if on_error is not None and exc.reason_text:
            err = on_error(exc.raw, exc.reason_text)
            if isinstance(err, DMError):
                raise err.annotate(f"line {exc.line}") from None
        raise ErrConfigYamlTransform(str(exc)) from None
    except ys.YAMLStrictError as exc:
        raise ErrConfigYamlTransform(str(exc)) from None


class _Lines:
    """Prefixes semantic errors with the line of the offending key."""

    def __init__(self, pos: ys.Positions) -> None:
        self.pos = pos

    def line(self, obj: Any, yaml_key: str | None = None) -> int:
        return self.pos.line(obj, yaml_key)

    def has(self, obj: Any, yaml_key: str) -> bool:
        return self.pos.has(obj, yaml_key)

    def err(self, error: DMError, obj: Any = None, yaml_key: str | None = None) -> DMError:
        line = self.pos.line(obj, yaml_key) if obj is not None else 0
        return error.annotate(f"line {line}") if line else error


def _adjust_task(c: TaskConfig, at: _Lines) -> None:
    if not c.name:
        raise at.err(ErrConfigNeedUniqueTaskName(), c, "name")
    if c.task_mode not in TASK_MODES:
        raise at.err(ErrConfigInvalidTaskMode(), c, "task-mode")
    if not c.meta_schema:
        c.meta_schema = "dm_meta"

    # dmctl's start-task/check-task check: both keys written, saying different things
    conflict = (at.has(c, "is-sharding") and not c.is_sharding and c.shard_mode) or (
        at.has(c, "shard-mode") and not c.shard_mode and c.is_sharding
    )
    if conflict:
        raise at.err(
            ErrConfigYamlTransform(
                "The behaviour of `is-sharding` and `shard-mode` is conflicting. "
                "`is-sharding` is deprecated, please use `shard-mode` only."
            ),
            c,
            "shard-mode",
        )
    if c.shard_mode and c.shard_mode not in (SHARD_PESSIMISTIC, SHARD_OPTIMISTIC):
        raise at.err(ErrConfigShardModeNotSupport(c.shard_mode), c, "shard-mode")
    if not c.shard_mode and c.is_sharding:
        c.shard_mode = SHARD_PESSIMISTIC
    if c.strict_optimistic_shard_mode and c.shard_mode != SHARD_OPTIMISTIC:
        raise at.err(ErrConfigStrictOptimisticShardMode(), c, "strict-optimistic-shard-mode")

    if c.column_mappings:
        raise at.err(ErrConfigColumnMappingDeprecated(), c, "column-mappings")
    if not c.collation_compatible:
        c.collation_compatible = "loose"
    if c.collation_compatible not in ("loose", "strict"):
        raise at.err(
            ErrConfigCollationCompatibleNotSupport(c.collation_compatible), c, "collation_compatible"
        )
    for item in c.ignore_checking_items:
        if item not in CHECKING_ITEMS:
            raise at.err(
                ErrConfigCheckItemNotSupport(item, _supported_checking_items()), c, "ignore-checking-items"
            )
    if c.online_ddl_scheme:
        if c.online_ddl_scheme not in ("pt", "gh-ost"):
            raise at.err(ErrConfigOnlineSchemeNotSupport(c.online_ddl_scheme), c, "online-ddl-scheme")
        c.online_ddl = True
    for attr, yaml_key in (
        ("shadow_table_rules", "shadow-table-rules"),
        ("trash_table_rules", "trash-table-rules"),
    ):
        setattr(c, attr, _adjust_online_rules(yaml_key, getattr(c, attr), at, c))

    if not at.has(c, "target-database") or at.pos.node(c.target) is None:
        raise at.err(ErrConfigNeedTargetDB(), c, "target-database")
    c.target.password = encrypt.decrypt_or_plaintext(c.target.password)
    if not c.mysql_instances:
        raise at.err(ErrConfigMySQLInstsAtLeastOne(), c, "mysql-instances")

    for name, ef in c.expression_filter.items():
        _check_expression_filter(name, ef, at)
    for v in c.validators.values():
        if v is not None:
            _adjust_validator(v, at)

    if not c.block_allow_list and c.black_white_list:
        c.block_allow_list = c.black_white_list
    for rules in c.block_allow_list.values():
        for name in rules.do_dbs + rules.ignore_dbs:
            if not name:
                raise at.err(ErrConfigGenBAList(cause="DB rule's DB string cannot be empty"), rules)
        for db, tbl in rules.do_tables + rules.ignore_tables:
            if not db or not tbl:
                raise at.err(
                    ErrConfigGenBAList(cause="table rule's db-name or tbl-name cannot be empty"), rules
                )

    # named unit configs are adjusted in place (their lines stay known), then copied per instance
    for loader in c.loaders.values():
        if loader is not None:
            _adjust_loader(loader, at)
    for syncer in c.syncers.values():
        if syncer is not None:
            _adjust_syncer(syncer, at, syncer)

    refs: dict[tuple[str, str], int] = {}
    duplicates: list[str] = []
    seen: dict[str, int] = {}
    for i, inst in enumerate(c.mysql_instances):
        if inst is None:
            raise at.err(ErrConfigMySQLInstNotFound(), c, "mysql-instances")
        _adjust_instance(c, i, inst, at, refs, seen, duplicates)
    if duplicates:
        raise at.err(ErrConfigDuplicateCfgItem("\n".join(duplicates)), c, "mysql-instances")

    unused = [
        name
        for kind, table in (
            ("route", c.routes),
            ("filter", c.filters),
            ("mydumper", c.mydumpers),
            ("loader", c.loaders),
            ("syncer", c.syncers),
            ("expr", c.expression_filter),
            ("validator", c.validators),
        )
        for name in table
        if (kind, name) not in refs
    ]
    if unused:
        raise ErrConfigGlobalConfigsUnused("[" + " ".join(sorted(unused)) + "]")

    if c.timezone:
        try:
            _parse_timezone(c.timezone)
        except DMError as exc:
            raise at.err(exc, c, "timezone") from None
    # heartbeat is gone since DM 2.0; the keys are accepted and ignored
    c.enable_heartbeat = False
    c.source_ids = [inst.source_id for inst in c.mysql_instances]
    for sid in c.source_ids:  # surface subtask-level errors (filters, routes, sizes) at load time
        try:
            c.subtask(sid)
        except DMError as exc:
            inst = c.instance(sid)
            raise at.err(exc.annotate(f"source {sid}"), inst) from None


def _adjust_instance(
    c: TaskConfig,
    i: int,
    inst: MySQLInstance,
    at: _Lines,
    refs: dict[tuple[str, str], int],
    seen: dict[str, int],
    duplicates: list[str],
) -> None:
    if not inst.source_id:
        raise at.err(ErrConfigEmptySourceID().annotate(f"mysql-instance: {_ordinal(i)}"), inst)
    if inst.meta is not None and not inst.meta.binlog_name and not inst.meta.binlog_gtid:
        raise at.err(ErrConfigMetaInvalid().annotate(f"source {inst.source_id}"), inst, "meta")
    if inst.mydumper_config_name and inst.mydumper is not None:
        raise at.err(ErrConfigMydumperCfgConflict(), inst, "mydumper")
    if inst.loader_config_name and inst.loader is not None:
        raise at.err(ErrConfigLoaderCfgConflict(), inst, "loader")
    if inst.syncer_config_name and inst.syncer is not None:
        raise at.err(ErrConfigSyncerCfgConflict(), inst, "syncer")
    if not inst.ba_list_name and inst.bw_list_name:
        inst.ba_list_name = inst.bw_list_name
    if inst.source_id in seen:
        raise at.err(
            ErrConfigMySQLInstSameSourceID(seen[inst.source_id], i, inst.source_id), inst, "source-id"
        )
    seen[inst.source_id] = i
    if inst.column_mapping_rules:
        raise at.err(ErrConfigColumnMappingDeprecated(), inst, "column-mapping-rules")

    for name in inst.route_rules:
        if name not in c.routes:
            raise at.err(ErrConfigRouteRuleNotFound(i, name), inst, "route-rules")
        refs[("route", name)] = 1
    for name in inst.filter_rules:
        if name not in c.filters:
            raise at.err(ErrConfigFilterRuleNotFound(i, name), inst, "filter-rules")
        refs[("filter", name)] = 1
    if inst.ba_list_name and inst.ba_list_name not in c.block_allow_list:
        ba_key = "block-allow-list" if at.has(inst, "block-allow-list") else "black-white-list"
        raise at.err(ErrConfigBAListNotFound(i, inst.ba_list_name), inst, ba_key)

    # the instance keeps what the file says (dumps reload); subtask() resolves names each time
    if inst.mydumper_config_name:
        if inst.mydumper_config_name not in c.mydumpers:
            raise at.err(
                ErrConfigMydumperCfgNotFound(i, inst.mydumper_config_name), inst, "mydumper-config-name"
            )
        refs[("mydumper", inst.mydumper_config_name)] = 1
    if inst.loader_config_name:
        if inst.loader_config_name not in c.loaders:
            raise at.err(ErrConfigLoaderCfgNotFound(i, inst.loader_config_name), inst, "loader-config-name")
        refs[("loader", inst.loader_config_name)] = 1
    elif inst.loader is not None:
        _adjust_loader(inst.loader, at)
    if inst.syncer_config_name:
        if inst.syncer_config_name not in c.syncers:
            raise at.err(ErrConfigSyncerCfgNotFound(i, inst.syncer_config_name), inst, "syncer-config-name")
        refs[("syncer", inst.syncer_config_name)] = 1
    elif inst.syncer is not None:
        _adjust_syncer(inst.syncer, at, inst.syncer)

    _, loader, syncer = c.unit_configs(inst)
    if len(c.mysql_instances) > 1 and loader.import_mode == "import-into":
        raise at.err(ErrConfigImportIntoShardingNotSupport(), inst)
    if syncer.compact or syncer.multiple_rows:
        fk = next((v for k, v in c.target.session.items() if k.lower() == "foreign_key_checks"), None)
        if fk is not None and fk.strip(" '\"").lower() in ("1", "on", "true"):
            option = "compact" if syncer.compact else "multiple-rows"
            raise at.err(ErrConfigUnsupportedForeignKeyChecksOption(option), inst)

    if inst.validator_config_name:
        if inst.validator_config_name not in c.validators:
            raise at.err(
                ErrContinuousValidatorCfgNotFound(i, inst.validator_config_name),
                inst,
                "validator-config-name",
            )
        refs[("validator", inst.validator_config_name)] = 1
    for name in inst.expression_filters:
        if name not in c.expression_filter:
            raise at.err(ErrConfigExprFilterNotFound(i, name), inst, "expression-filters")
        refs[("expr", name)] = 1

    for label, names in (
        ("route-rules", inst.route_rules),
        ("filter-rules", inst.filter_rules),
        ("column-mapping-rules", inst.column_mapping_rules),
        ("expression-filters", inst.expression_filters),
    ):
        dupes = _duplicates(names)
        if dupes:
            duplicates.append(f"mysql-instance({i})'s {label}: {', '.join(dupes)}")


def _adjust_loader(loader: LoaderConfig, at: _Lines) -> None:
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


def _adjust_syncer(syncer: SyncerConfig, at: _Lines, owner: Any) -> None:
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


def _adjust_validator(v: ValidatorConfig, at: _Lines) -> None:
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


def _adjust_online_rules(yaml_key: str, rules: list[str], at: _Lines, c: TaskConfig) -> list[str]:
    out = []
    for rule in rules:
        r = rule if rule.startswith("^") else "^" + rule
        r = r if r.endswith("$") else r + "$"
        try:
            groups = re.compile(r).groups
        except re.error as exc:
            raise at.err(
                ErrConfigOnlineDDLInvalidRegex(yaml_key, r, f"fail to compile: {exc}"), c, yaml_key
            ) from None
        if groups != 1:
            raise at.err(
                ErrConfigOnlineDDLInvalidRegex(yaml_key, r, "rule isn't contains exactly one submatch"),
                c,
                yaml_key,
            )
        out.append(r)
    return out


def _check_expression_filter(name: str, ef: ExpressionFilter, at: _Lines) -> None:
    if not ef.schema:
        raise at.err(ErrConfigExprFilterEmptyName(name, "schema"), ef)
    if not ef.table:
        raise at.err(ErrConfigExprFilterEmptyName(name, "table"), ef)
    exprs = [
        ("insert-value-expr", ef.insert_value_expr),
        ("update-old-value-expr", ef.update_old_value_expr),
        ("update-new-value-expr", ef.update_new_value_expr),
        ("delete-value-expr", ef.delete_value_expr),
    ]
    for yaml_key, expr in exprs:
        if expr:
            reason = _expression_grammar_error(expr)
            if reason:
                raise at.err(ErrConfigExprFilterWrongGrammar(name, expr, reason), ef, yaml_key)
    set_fields = []
    if ef.insert_value_expr:
        set_fields.append(f"insert: [{ef.insert_value_expr}]")
    if ef.update_old_value_expr or ef.update_new_value_expr:
        set_fields.append(
            f"update (old value): [{ef.update_old_value_expr}] "
            f"update (new value): [{ef.update_new_value_expr}]"
        )
    if ef.delete_value_expr:
        set_fields.append(f"delete: [{ef.delete_value_expr}]")
    if len(set_fields) > 1:
        raise at.err(ErrConfigExprFilterManyExpr(name, "[" + " ".join(set_fields) + "]"), ef)


def _expression_grammar_error(expr: str) -> str:
    import sqlglot
    from sqlglot.errors import ParseError, TokenError

    try:
        parsed = sqlglot.parse("SELECT " + expr, read="mysql")
    except (ParseError, TokenError) as exc:
        return str(exc).splitlines()[0]
    if len(parsed) != 1:
        return "expected a single expression"
    return ""


def _check_event_filters(
    rules: list[EventFilterRule], case_sensitive: bool, at: _Lines, owner: Any, k: str
) -> None:
    from dmshell.engine.filters.rules import EventFilter

    try:
        EventFilter(rules, case_sensitive)
    except DMError as exc:
        raise at.err(ErrConfigGenBinlogEventFilter(cause=exc.raw_cause or exc.message), owner, k) from None
    except ValueError as exc:
        raise at.err(ErrConfigGenBinlogEventFilter(cause=str(exc)), owner, k) from None


def _verify_subtask(sub: SubTaskConfig) -> None:
    """DM's ``SubTaskConfig.Adjust`` checks that need the compiled rules."""
    from dmshell.engine.filters.rules import BAListFilter, EventFilter, TableRouter

    if not sub.source_id:
        raise ErrConfigEmptySourceID()
    if len(sub.source_id) > MAX_SOURCE_ID_LENGTH:
        raise ErrConfigTooLongSourceID()
    try:
        BAListFilter(sub.block_allow_list, sub.case_sensitive)
    except (DMError, ValueError) as exc:
        raise ErrConfigGenBAList(cause=exc) from None
    try:
        TableRouter(sub.routes, sub.case_sensitive)
    except (DMError, ValueError) as exc:
        raise ErrConfigGenTableRouter(cause=exc) from None
    try:
        EventFilter(sub.filters, sub.case_sensitive)
    except (DMError, ValueError) as exc:
        raise ErrConfigGenBinlogEventFilter(cause=exc) from None
    if parse_file_size(sub.mydumper.chunk_filesize) is None:
        raise ErrConfigInvalidChunkFileSize(sub.mydumper.chunk_filesize)


# ---- small helpers ------------------------------------------------------------------------------

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


def _parse_timezone(tz: str) -> None:
    if tz in ("SYSTEM", "Local"):
        raise ErrConfigInvalidTimezone("'SYSTEM' or 'Local' time_zone is not supported")
    m = re.fullmatch(r"([+-])(\d{1,2}):(\d{2})", tz)
    if m:
        minutes = int(m.group(2)) * 60 + int(m.group(3))
        limit = 14 * 60 if m.group(1) == "+" else 12 * 60 + 59
        if int(m.group(3)) < 60 and minutes <= limit:
            return
        raise ErrConfigInvalidTimezone(tz)
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ErrConfigInvalidTimezone(tz) from None


def _set_session_timezone(db: DBConfig, tz: str) -> None:
    for k in list(db.session):
        if k.lower() == "time_zone":
            db.session[k] = tz
            return
    db.session["time_zone"] = tz


def _valid_binlog_name(name: str) -> bool:
    parts = name.split(".")
    return len(parts) == 2 and parts[1].isdigit() and int(parts[1]) > 0


def _duplicates(names: list[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for n in names:
        if n in seen and n not in out:
            out.append(n)
        seen.add(n)
    return out


def _ordinal(i: int) -> str:
    suffix = "th" if 10 <= i % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(i % 10, "th")
    return f"{i}{suffix}"


def _supported_checking_items() -> str:
    lines = ["************ supporting checking items ************", " name:\t\tdescription"]
    lines += [f"{name}:\t{desc}" for name, desc in CHECKING_ITEMS.items()]
    lines.append("************ supporting checking items ************")
    return "\n".join(lines) + "\n"


# ---- dumping ------------------------------------------------------------------------------------


# top-level key order of DM's own YAML output (its struct field order)
_SOURCE_DUMP_ORDER = (
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
_TASK_DUMP_ORDER = (
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


def _ordered(data: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    rank = {k: i for i, k in enumerate(order)}
    return dict(sorted(data.items(), key=lambda kv: rank.get(kv[0], len(rank))))


def dump_source_config(cfg: SourceConfig, mask_password: bool = True) -> str:
    """The source config as YAML, every key; the password printed as ``'******'`` unless unmasked."""
    data = ys.encode(cfg, mask_secrets=mask_password, mask=MASKED_PASSWORD)
    return ys.dump_yaml(_ordered(data, _SOURCE_DUMP_ORDER))


def dump_task_config(cfg: TaskConfig, mask_password: bool = True) -> str:
    """The task config as YAML, every key; passwords printed as ``'******'`` unless unmasked."""
    data = ys.encode(cfg, mask_secrets=mask_password, mask=MASKED_PASSWORD)
    return ys.dump_yaml(_ordered(data, _TASK_DUMP_ORDER))


def config_keys(cls: type) -> list[tuple[str, str, Any, str]]:
    """(YAML key, type, default, doc) of every key of a config class, for help and docs."""
    return [(s.name, str(s.tp), s.default, s.doc) for s in ys.specs(cls)]
