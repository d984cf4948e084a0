"""The subtask: a task as one source sees it, what one worker runs (DM's ``SubTaskConfig``).

:func:`build_subtask` resolves a task's named rules and unit settings for one source and checks
what needs the compiled rules; :meth:`SubTaskConfig.apply_source` adds the source's connection.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dmshell.engine.config.database import DBConfig
from dmshell.engine.config.source import MAX_SOURCE_ID_LENGTH, SourceConfig
from dmshell.engine.config.units import (
    LoaderConfig,
    MydumperConfig,
    SyncerConfig,
    ValidatorConfig,
    parse_file_size,
)
from dmshell.engine.errors import (
    DMError,
    ErrConfigEmptySourceID,
    ErrConfigGenBAList,
    ErrConfigGenBinlogEventFilter,
    ErrConfigGenTableRouter,
    ErrConfigInvalidChunkFileSize,
    ErrConfigTooLongSourceID,
)
from dmshell.engine.filters.rule_types import BAList, EventFilterRule, ExpressionFilter, RouteRule
from dmshell.engine.filters.rules import BAListFilter, EventFilter, TableRouter

if TYPE_CHECKING:  # the task builds its subtasks; a subtask only reads the task
    from dmshell.engine.config.task import Meta, TaskConfig

DEFAULT_SHADOW_TABLE_RULES = "^_(.+)_(?:new|gho)$"
DEFAULT_TRASH_TABLE_RULES = "^_(.+)_(?:ghc|del|old)$"
# task modes (DM's names)
MODE_ALL = "all"
MODE_FULL = "full"
MODE_INCREMENTAL = "incremental"
MODE_DUMP = "dump"
MODE_LOAD = "load"
TASK_MODES = (MODE_FULL, MODE_INCREMENTAL, MODE_ALL, MODE_DUMP, MODE_LOAD)


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

    def apply_source(self, source: SourceConfig, enable_relay: bool | None = None) -> None:
        """Fill in the source's connection and settings (DM's ``copyConfigFromSource``).

        Source-level event filters are appended after the task's; a source rule with the same
        schema/table patterns as a task rule is dropped (the task's wins, as in DM).
        """
        self.from_db = copy.deepcopy(source.from_db)
        if self.timezone:
            set_session_timezone(self.from_db, self.timezone)
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


def build_subtask(task: TaskConfig, source_id: str, source: SourceConfig | None = None) -> SubTaskConfig:
    """The subtask of ``task`` for one source: named rules resolved, defaults and DM's adjustments
    applied, rules compiled once to check them. With ``source``, its connection and settings are
    filled in too (:meth:`SubTaskConfig.apply_source`)."""
    inst = task.instance(source_id)
    ba = task.block_allow_list.get(inst.ba_list_name or inst.bw_list_name)
    mydumper, loader, syncer = task.unit_configs(inst)
    if task.task_mode in (MODE_ALL, MODE_FULL):
        # DM appends ".<task>" so tasks sharing a loader dir never share dump files
        loader.dir = loader.dir.rstrip("/") + "." + task.name
    if not loader.sorting_dir_physical and task.task_mode in (MODE_ALL, MODE_FULL, MODE_LOAD):
        loader.sorting_dir_physical = loader.dir + ".sorting"
    sub = SubTaskConfig(
        name=task.name,
        task_mode=task.task_mode,
        source_id=source_id,
        meta_schema=task.meta_schema,
        target=copy.deepcopy(task.target),
        meta=copy.deepcopy(inst.meta),
        block_allow_list=copy.deepcopy(ba),
        routes=[copy.deepcopy(task.routes[n]) for n in inst.route_rules],
        mydumper=mydumper,
        loader=loader,
        syncer=syncer,
        shard_mode=task.shard_mode,
        case_sensitive=task.case_sensitive,
        timezone=task.timezone,
        clean_dump_file=task.clean_dump_file,
        filters=[copy.deepcopy(task.filters[n]) for n in inst.filter_rules],
        expression_filters=[copy.deepcopy(task.expression_filter[n]) for n in inst.expression_filters],
        online_ddl=task.online_ddl,
        shadow_table_rules=list(task.shadow_table_rules) or [DEFAULT_SHADOW_TABLE_RULES],
        trash_table_rules=list(task.trash_table_rules) or [DEFAULT_TRASH_TABLE_RULES],
        is_sharding=task.is_sharding,
        strict_optimistic_shard_mode=task.strict_optimistic_shard_mode,
        ignore_checking_items=list(task.ignore_checking_items),
        collation_compatible=task.collation_compatible,
        validator=copy.deepcopy(task.validators.get(inst.validator_config_name) or ValidatorConfig()),
        async_checkpoint_flush=task.experimental.async_checkpoint_flush,
    )
    if task.timezone:
        set_session_timezone(sub.target, task.timezone)
    verify_subtask(sub)
    if source is not None:
        sub.apply_source(source)
    return sub


def verify_subtask(sub: SubTaskConfig) -> None:
    """DM's ``SubTaskConfig.Adjust`` checks that need the compiled rules."""
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


def set_session_timezone(db: DBConfig, tz: str) -> None:
    """Set ``time_zone`` among the session variables of ``db`` (whatever case the key was written in)."""
    for k in list(db.session):
        if k.lower() == "time_zone":
            db.session[k] = tz
            return
    db.session["time_zone"] = tz
