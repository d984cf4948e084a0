"""Source and task configuration: DM's YAML files, every documented key, strictly validated.

This module is the one place that defines each configuration key, its type and its default.
Loading rejects unknown keys, duplicate keys and values of the wrong type with a DM-style error
that names the key and the line.

Public API (other modules depend on exactly these names):

* ``load_source_config(text: str) -> SourceConfig``
* ``load_task_config(text: str) -> TaskConfig``
* ``TaskConfig.subtask(source_id) -> SubTaskConfig`` — the per-source view a worker runs.
* ``dump_source_config(cfg, mask_password=True) -> str`` / ``dump_task_config(cfg, ...) -> str``
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class DBConfig:
    """A MySQL/MariaDB/TiDB connection (``from:`` in a source file, ``target-database:`` in a task)."""

    host: str = ""
    port: int = 3306
    user: str = ""
    password: str = ""  # already decrypted when DM's encrypted form was given
    session: dict[str, str] = field(default_factory=dict)
    max_allowed_packet: int | None = None


@dataclass(slots=True)
class SourceConfig:
    source_id: str
    from_db: DBConfig
    enable_gtid: bool = False
    enable_relay: bool = False
    relay_binlog_name: str = ""
    relay_binlog_gtid: str = ""
    relay_dir: str = "relay-dir"
    flavor: str = ""  # "mysql" | "mariadb" | "" (detected)
    server_id: int = 0  # replication server id used when reading the binlog; 0 = generated
    case_sensitive: bool = False
    # ... the config helper adds the remaining documented keys (purge, checker, filters, ...)


@dataclass(slots=True)
class Meta:
    binlog_name: str = ""
    binlog_pos: int = 4
    binlog_gtid: str = ""


@dataclass(slots=True)
class BAList:
    """One block-allow-list rule set (``do-dbs``, ``do-tables``, ``ignore-dbs``, ``ignore-tables``)."""

    do_dbs: list[str] = field(default_factory=list)
    do_tables: list[tuple[str, str]] = field(default_factory=list)  # (db-name, tbl-name)
    ignore_dbs: list[str] = field(default_factory=list)
    ignore_tables: list[tuple[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class RouteRule:
    schema_pattern: str
    table_pattern: str = ""
    target_schema: str = ""
    target_table: str = ""
    extract_table: dict | None = None
    extract_schema: dict | None = None
    extract_source: dict | None = None


@dataclass(slots=True)
class MydumperConfig:
    threads: int = 4
    chunk_filesize: str = "64"
    rows: int = 0
    extra_args: str = ""


@dataclass(slots=True)
class LoaderConfig:
    pool_size: int = 16
    dir: str = "./dumped_data"


@dataclass(slots=True)
class SyncerConfig:
    worker_count: int = 16
    batch: int = 100
    queue_size: int = 1024
    checkpoint_flush_interval: int = 30  # seconds
    safe_mode: bool = False
    safe_mode_duration: float = 60.0  # seconds (parsed from "60s")
    compact: bool = False
    multiple_rows: bool = False
    enable_gtid: bool | None = None


@dataclass(slots=True)
class SubTaskConfig:
    """What one worker runs: the task as seen from one source."""

    name: str
    task_mode: str  # "all" | "full" | "incremental"
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
    # ... filters, expression-filters, online-ddl etc. are added by the config helper


@dataclass(slots=True)
class TaskConfig:
    name: str
    task_mode: str
    target: DBConfig
    meta_schema: str = "dm_meta"
    source_ids: list[str] = field(default_factory=list)  # in mysql-instances order

    def subtask(self, source_id: str) -> SubTaskConfig:  # implemented by the config helper
        raise NotImplementedError
