"""DM's checks of a task file after decoding (``TaskConfig.adjust`` and ``SubTaskConfig.Adjust``):
defaults filled in, names resolved, every rule compiled once; errors carry DM's codes and the line."""

from __future__ import annotations

import re
import zoneinfo

from dmshell.engine.config import encrypt
from dmshell.engine.config.secrets import map_secrets
from dmshell.engine.config.subtask import TASK_MODES
from dmshell.engine.config.task import SHARD_OPTIMISTIC, SHARD_PESSIMISTIC, MySQLInstance, TaskConfig
from dmshell.engine.config.units import adjust_loader, adjust_syncer, adjust_validator
from dmshell.engine.config.yamlfile import Lines
from dmshell.engine.errors import (
    DMError,
    ErrConfigBAListNotFound,
    ErrConfigCheckItemNotSupport,
    ErrConfigCollationCompatibleNotSupport,
    ErrConfigColumnMappingDeprecated,
    ErrConfigDuplicateCfgItem,
    ErrConfigEmptySourceID,
    ErrConfigExprFilterEmptyName,
    ErrConfigExprFilterManyExpr,
    ErrConfigExprFilterNotFound,
    ErrConfigExprFilterWrongGrammar,
    ErrConfigFilterRuleNotFound,
    ErrConfigGenBAList,
    ErrConfigGlobalConfigsUnused,
    ErrConfigImportIntoShardingNotSupport,
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
    ErrConfigStrictOptimisticShardMode,
    ErrConfigSyncerCfgConflict,
    ErrConfigSyncerCfgNotFound,
    ErrConfigUnsafeName,
    ErrConfigUnsupportedForeignKeyChecksOption,
    ErrConfigYamlTransform,
    ErrContinuousValidatorCfgNotFound,
)
from dmshell.engine.filters.rule_types import ExpressionFilter
from dmshell.engine.names import name_error

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


def adjust_task(c: TaskConfig, at: Lines) -> None:
    """DM's ``TaskConfig.adjust`` in place, then every subtask built once to check its rules."""
    if not c.name:
        raise at.err(ErrConfigNeedUniqueTaskName(), c, "name")
    if bad := name_error("task name", c.name):
        raise at.err(ErrConfigUnsafeName(bad), c, "name")
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
    map_secrets(c.target, encrypt.decrypt_or_plaintext)
    if not c.mysql_instances:
        raise at.err(ErrConfigMySQLInstsAtLeastOne(), c, "mysql-instances")

    for name, ef in c.expression_filter.items():
        _check_expression_filter(name, ef, at)
    for v in c.validators.values():
        if v is not None:
            adjust_validator(v, at)

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
            adjust_loader(loader, at)
    for syncer in c.syncers.values():
        if syncer is not None:
            adjust_syncer(syncer, at, syncer)

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
    at: Lines,
    refs: dict[tuple[str, str], int],
    seen: dict[str, int],
    duplicates: list[str],
) -> None:
    if not inst.source_id:
        raise at.err(ErrConfigEmptySourceID().annotate(f"mysql-instance: {_ordinal(i)}"), inst)
    if bad := name_error("source-id", inst.source_id):
        raise at.err(ErrConfigUnsafeName(bad), inst, "source-id")
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
        adjust_loader(inst.loader, at)
    if inst.syncer_config_name:
        if inst.syncer_config_name not in c.syncers:
            raise at.err(ErrConfigSyncerCfgNotFound(i, inst.syncer_config_name), inst, "syncer-config-name")
        refs[("syncer", inst.syncer_config_name)] = 1
    elif inst.syncer is not None:
        adjust_syncer(inst.syncer, at, inst.syncer)

    _, loader, syncer = c.unit_configs(inst)
    if len(c.mysql_instances) > 1 and loader.import_mode == "import-into":
        raise at.err(ErrConfigImportIntoShardingNotSupport(), inst)
    # (DM refuses multiple-rows too; dmshell's default is on and its DML sessions run with
    # foreign_key_checks = 0 whatever the session says: see docs/decisions.md)
    if syncer.compact:
        fk = next((v for k, v in c.target.session.items() if k.lower() == "foreign_key_checks"), None)
        if fk is not None and fk.strip(" '\"").lower() in ("1", "on", "true"):
            raise at.err(ErrConfigUnsupportedForeignKeyChecksOption("compact"), inst)

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


def _adjust_online_rules(yaml_key: str, rules: list[str], at: Lines, c: TaskConfig) -> list[str]:
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


def _check_expression_filter(name: str, ef: ExpressionFilter, at: Lines) -> None:
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
