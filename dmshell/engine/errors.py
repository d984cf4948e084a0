"""DM's error system: every error has a code, class, scope, level, message, raw cause and workaround.

Codes, classes and message texts follow DM's catalogue (``dm/errors.toml``) so that scripts and
people who know DM recognise them. Only the errors dmshell raises are defined here; add new ones to
``CATALOG`` (one line each, grouped by class), never construct ad-hoc codes elsewhere.

``str(err)`` is DM's rendering::

    [code=36001:class=sync-unit:scope=internal:level=high], Message: ..., RawCause: ..., Workaround: ...
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class ErrClass(StrEnum):
    DATABASE = "database"
    FUNCTIONAL = "functional"
    CONFIG = "config"
    BINLOG_OP = "binlog-op"
    CHECKPOINT = "checkpoint"
    TASK_CHECK = "task-check"
    SOURCE_CHECK = "source-check"
    RELAY_EVENT_LIB = "relay-event-lib"
    RELAY_UNIT = "relay-unit"
    DUMP_UNIT = "dump-unit"
    LOAD_UNIT = "load-unit"
    SYNC_UNIT = "sync-unit"
    DM_MASTER = "dm-master"
    DM_WORKER = "dm-worker"
    SCHEMA_TRACKER = "schema-tracker"
    SCHEDULER = "scheduler"
    DMCTL = "dmctl"
    NOT_SET = "not-set"


class Scope(StrEnum):
    NOT_SET = "not-set"
    UPSTREAM = "upstream"
    DOWNSTREAM = "downstream"
    INTERNAL = "internal"


class Level(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


@dataclass(frozen=True, slots=True)
class ErrorCode:
    """One catalogue entry. ``message`` is a ``%``-format template."""

    code: int
    cls: ErrClass
    scope: Scope
    level: Level
    message: str
    workaround: str = ""
    #: resumable errors are retried automatically with backoff (DM's task checker)
    resumable: bool = False

    def __call__(
        self, *args: object, cause: BaseException | str | None = None, workaround: str | None = None
    ) -> DMError:
        """Build an error from this entry: ``ErrSyncerUnitPanic("boom", cause=exc)``."""
        if not args:
            message = self.message
        elif "%" in self.message:
            message = self.message % args
        else:  # entries with an empty template (ErrNotSet) take the text as given
            message = " ".join(str(a) for a in args)
        return DMError(self, message, cause, workaround)


class DMError(Exception):
    """An error with DM's code/class/scope/level/message/raw-cause/workaround."""

    def __init__(
        self,
        entry: ErrorCode,
        message: str,
        cause: BaseException | str | None = None,
        workaround: str | None = None,
    ) -> None:
        self.entry = entry
        self.message = message
        self.cause = cause
        self.workaround = entry.workaround if workaround is None else workaround
        super().__init__(str(self))

    @property
    def code(self) -> int:
        return self.entry.code

    @property
    def resumable(self) -> bool:
        return self.entry.resumable

    @property
    def raw_cause(self) -> str:
        if self.cause is None:
            return ""
        if isinstance(self.cause, DMError):
            return str(self.cause)
        if isinstance(self.cause, BaseException):
            return _describe_exception(self.cause)
        return str(self.cause)

    def annotate(self, prefix: str) -> DMError:
        """DM's ``Annotatef``: the message becomes ``"<prefix>: <old message>"``."""
        return DMError(self.entry, f"{prefix}: {self.message}", self.cause, self.workaround)

    def __str__(self) -> str:
        e = self.entry
        out = f"[code={e.code}:class={e.cls}:scope={e.scope}:level={e.level}]"
        if self.message:
            out += f", Message: {self.message}"
        if self.raw_cause:
            out += f", RawCause: {self.raw_cause}"
        if self.workaround:
            out += f", Workaround: {self.workaround}"
        return out


def _describe_exception(exc: BaseException) -> str:
    # PyMySQL errors carry (errno, text); print them the way the Go driver does.
    args: tuple[object, ...] = getattr(exc, "args", ())
    if len(args) == 2 and isinstance(args[0], int):
        return f"Error {args[0]}: {args[1]}"
    return str(exc) or type(exc).__name__


def _e(
    code: int,
    cls: ErrClass,
    scope: Scope,
    level: Level,
    message: str,
    workaround: str = "",
    resumable: bool = False,
) -> ErrorCode:
    # DM's templates are Go format strings; %v and %+v print like Python's %s.
    message = message.replace("%+v", "%s").replace("%v", "%s")
    entry = ErrorCode(code, cls, scope, level, message, workaround, resumable)
    if code in CATALOG:
        raise ValueError(f"duplicate error code {code}")
    CATALOG[code] = entry
    return entry


CATALOG: dict[int, ErrorCode] = {}
_I, _U, _D, _N = Scope.INTERNAL, Scope.UPSTREAM, Scope.DOWNSTREAM, Scope.NOT_SET
_LOW, _MED, _HIGH = Level.LOW, Level.MEDIUM, Level.HIGH
C = ErrClass

# Entries as DM's catalogue defines them (code, class, scope, level, message, workaround).
ErrDBDriverError = _e(
    10001,
    C.DATABASE,
    _N,
    _HIGH,
    "database driver error",
    "Please check the database connection and the database config in configuration file.",
    resumable=True,
)
ErrDBBadConn = _e(
    10002,
    C.DATABASE,
    _N,
    _HIGH,
    "database driver",
    "Please check the database connection, then use `pause-task` to pause the task and then use `resume-task` to resume the task.",
    resumable=True,
)
ErrDBInvalidConn = _e(
    10003,
    C.DATABASE,
    _N,
    _HIGH,
    "database driver",
    "Please check the database connection, then use `pause-task` to stop the task and then use `resume-task` to resume the task.",
    resumable=True,
)
ErrDBUnExpect = _e(10004, C.DATABASE, _N, _HIGH, "unexpect database error: %s")
ErrDBQueryFailed = _e(10005, C.DATABASE, _N, _HIGH, "query statement failed: %s")
ErrDBExecuteFailed = _e(10006, C.DATABASE, _N, _HIGH, "execute statement failed: %s")
ErrParseMydumperMeta = _e(11001, C.FUNCTIONAL, _I, _HIGH, "parse mydumper metadata error: %s, metadata: %s")
ErrNotMySQLGTID = _e(11011, C.FUNCTIONAL, _I, _HIGH, "%s is not mysql GTID set")
ErrNotMariaDBGTID = _e(11012, C.FUNCTIONAL, _I, _HIGH, "%s is not mariadb GTID set")
ErrCiphertextLenNotValid = _e(
    11047, C.FUNCTIONAL, _I, _HIGH, "ciphertext's length should be greater than %d, but got %d not valid"
)
ErrCiphertextContextNotValid = _e(11048, C.FUNCTIONAL, _I, _HIGH, "ciphertext's content not valid")
ErrEncCipherTextBase64Decode = _e(11050, C.FUNCTIONAL, _I, _HIGH, "decode base64 encoded password %s")
ErrVerifyHandleErrorArgs = _e(11118, C.FUNCTIONAL, _I, _LOW, "", "Please make sure the args are correct.")
ErrConfigCheckItemNotSupport = _e(
    20001,
    C.CONFIG,
    _I,
    _MED,
    "checking item %s is not supported\n%s",
    "Please check `ignore-checking-items` config in task configuration file, which can be set including `all`/`dump_privilege`/`replication_privilege`/`version`/`binlog_enable`/`binlog_format`/`binlog_row_image`/`table_schema`/`schema_of_shard_tables`/`auto_increment_ID`.",
)
ErrConfigTomlTransform = _e(
    20002, C.CONFIG, _I, _MED, "%s", "Please check the configuration file has correct TOML format."
)
ErrConfigYamlTransform = _e(
    20003, C.CONFIG, _I, _MED, "%s", "Please check the configuration file has correct YAML format."
)
ErrConfigTaskNameEmpty = _e(
    20004,
    C.CONFIG,
    _I,
    _MED,
    "task name should not be empty",
    "Please check the `name` config in task configuration file.",
)
ErrConfigEmptySourceID = _e(
    20005,
    C.CONFIG,
    _I,
    _MED,
    "empty source-id not valid",
    "Please check the `source-id` config in configuration file.",
)
ErrConfigTooLongSourceID = _e(
    20006,
    C.CONFIG,
    _I,
    _MED,
    "too long source-id not valid",
    "Please check the `source-id` config in configuration file. The max source id length is 32.",
)
ErrConfigOnlineSchemeNotSupport = _e(
    20007,
    C.CONFIG,
    _I,
    _MED,
    "online scheme %s not supported",
    "Please check the `online-ddl-scheme` config in task configuration file. Only `ghost` and `pt` are currently supported.",
)
ErrConfigInvalidTimezone = _e(
    20008,
    C.CONFIG,
    _I,
    _MED,
    "invalid timezone string: %s",
    "Please check the `timezone` config in task configuration file.",
)
ErrConfigDecryptDBPassword = _e(20010, C.CONFIG, _I, _MED, "decrypt DB password %s failed")
ErrConfigMetaInvalid = _e(
    20011,
    C.CONFIG,
    _I,
    _MED,
    "must specify `binlog-name` without GTID enabled for the source or specify `binlog-gtid` with GTID enabled for the source",
    "Please check the `meta` config in task configuration file.",
)
ErrConfigMySQLInstNotFound = _e(
    20012,
    C.CONFIG,
    _I,
    _MED,
    "mysql instance config must specify",
    "Please check the `mysql-instances` config in task configuration file.",
)
ErrConfigMySQLInstsAtLeastOne = _e(
    20013,
    C.CONFIG,
    _I,
    _MED,
    "must specify at least one mysql-instances",
    "Please check the `mysql-instances` config in task configuration file.",
)
ErrConfigMySQLInstSameSourceID = _e(
    20014,
    C.CONFIG,
    _I,
    _MED,
    "mysql-instance (%d) and (%d) have same source-id (%s)",
    "Please check the `mysql-instances` config in task configuration file.",
)
ErrConfigMydumperCfgConflict = _e(
    20015,
    C.CONFIG,
    _I,
    _MED,
    "mydumper-config-name and mydumper should only specify one",
    "Please check the `mydumper-config-name` and `mydumper` config in task configuration file.",
)
ErrConfigLoaderCfgConflict = _e(
    20016,
    C.CONFIG,
    _I,
    _MED,
    "loader-config-name and loader should only specify one",
    "Please check the `loader-config-name` and `loader` config in task configuration file.",
)
ErrConfigSyncerCfgConflict = _e(
    20017,
    C.CONFIG,
    _I,
    _MED,
    "syncer-config-name and syncer should only specify one",
    "Please check the `syncer-config-name` and `syncer` config in task configuration file.",
)
ErrConfigReadCfgFromFile = _e(20018, C.CONFIG, _I, _MED, "read config file %v")
ErrConfigNeedUniqueTaskName = _e(
    20019,
    C.CONFIG,
    _I,
    _MED,
    "must specify a unique task name",
    "Please check the `name` config in task configuration file.",
)
ErrConfigInvalidTaskMode = _e(
    20020,
    C.CONFIG,
    _I,
    _MED,
    "please specify right task-mode, support `full`, `incremental`, `all`, `dump`, `load`",
    "Please check the `task-mode` config in task configuration file.",
)
ErrConfigNeedTargetDB = _e(
    20021,
    C.CONFIG,
    _I,
    _MED,
    "must specify target-database",
    "Please check the `target-database` config in task configuration file.",
)
ErrConfigMetadataNotSet = _e(
    20022,
    C.CONFIG,
    _I,
    _MED,
    "mysql-instance(%s) must set meta for task-mode %s",
    "Please check the `meta` config in task configuration file.",
)
ErrConfigRouteRuleNotFound = _e(
    20023,
    C.CONFIG,
    _I,
    _MED,
    "mysql-instance(%d)'s route-rules %s not exist in routes",
    "Please check the `route-rules` config in task configuration file.",
)
ErrConfigFilterRuleNotFound = _e(
    20024,
    C.CONFIG,
    _I,
    _MED,
    "mysql-instance(%d)'s filter-rules %s not exist in filters",
    "Please check the `filter-rules` config in task configuration file.",
)
ErrConfigColumnMappingNotFound = _e(
    20025,
    C.CONFIG,
    _I,
    _MED,
    "mysql-instance(%d)'s column-mapping-rules %s not exist in column-mapping",
    "Please check the `column-mapping-rules` config in task configuration file.",
)
ErrConfigBAListNotFound = _e(
    20026,
    C.CONFIG,
    _I,
    _MED,
    "mysql-instance(%d)'s list %s not exist in block allow list",
    "Please check the `block-allow-list` config in task configuration file.",
)
ErrConfigMydumperCfgNotFound = _e(
    20027,
    C.CONFIG,
    _I,
    _MED,
    "mysql-instance(%d)'s mydumper config %s not exist in mydumpers",
    "Please check the `mydumper-config-name` config in task configuration file.",
)
ErrConfigMydumperPathNotValid = _e(
    20028,
    C.CONFIG,
    _I,
    _MED,
    "mysql-instance(%d)'s mydumper-path must specify a valid path to mydumper binary when task-mode is all or full",
    "Please check the `mydumper-path` config in task configuration file.",
)
ErrConfigLoaderCfgNotFound = _e(
    20029,
    C.CONFIG,
    _I,
    _MED,
    "mysql-instance(%d)'s loader config %s not exist in loaders",
    "Please check the `loader-config-name` config in task configuration file.",
)
ErrConfigSyncerCfgNotFound = _e(
    20030,
    C.CONFIG,
    _I,
    _MED,
    "mysql-instance(%d)'s syncer config %s not exist in syncer",
    "Please check the `syncer-config-name` config in task configuration file.",
)
ErrConfigSourceIDNotFound = _e(
    20031,
    C.CONFIG,
    _I,
    _MED,
    "source %s in deployment configuration not found",
    "Please use `operate-source create source-config-file-path` to add source.",
)
ErrConfigDuplicateCfgItem = _e(
    20032,
    C.CONFIG,
    _I,
    _MED,
    "the following mysql configs have duplicate items, please remove the duplicates:\n%s",
    "Please check the `mysql-instances` config in task configuration file.",
)
ErrConfigShardModeNotSupport = _e(
    20033,
    C.CONFIG,
    _I,
    _MED,
    "shard mode %s not supported",
    "Please check the `shard-mode` config in task configuration file, which can be set to `pessimistic`/`optimistic`.",
)
ErrConfigGenBinlogEventFilter = _e(
    20037,
    C.CONFIG,
    _I,
    _HIGH,
    "generate binlog event filter",
    "Please check the `filters` config in source and task configuration files.",
)
ErrConfigGlobalConfigsUnused = _e(
    20038,
    C.CONFIG,
    _I,
    _HIGH,
    "The configurations as following %v are set in global configuration but instances don't use them",
    "Please check the configuration files.",
)
ErrConfigExprFilterManyExpr = _e(
    20039,
    C.CONFIG,
    _I,
    _HIGH,
    "expression filter can only specify one of (insert, update, delete) expressions, but %s has specified %v",
    "If you want to filter by A or B, please write two filters.",
)
ErrConfigExprFilterNotFound = _e(
    20040,
    C.CONFIG,
    _I,
    _HIGH,
    "mysql-instance(%d)'s expression-filters %s not exist in expression-filter",
    "Please check the `expression-filters` config in task configuration file.",
)
ErrConfigExprFilterWrongGrammar = _e(
    20041,
    C.CONFIG,
    _I,
    _HIGH,
    "expression-filter name(%s) SQL(%s) has wrong grammar: %v",
    "Please check the `expression-filters` config in task configuration file.",
)
ErrConfigExprFilterEmptyName = _e(
    20042,
    C.CONFIG,
    _I,
    _HIGH,
    "expression-filter %s has empty %s",
    "Please check the `expression-filters` config in task configuration file.",
)
ErrConfigInvalidBackoff = _e(
    20043,
    C.CONFIG,
    _I,
    _HIGH,
    "`backoff-max` value %v is less than `backoff-min` value %v",
    "Please increase `backoff-max` config in task configuration file.",
)
ErrConfigGenBAList = _e(
    20044,
    C.CONFIG,
    _I,
    _HIGH,
    "generate block allow list error",
    "Please check the `block-allow-list` config in task configuration file.",
)
ErrConfigGenTableRouter = _e(
    20045,
    C.CONFIG,
    _I,
    _HIGH,
    "generate table router error",
    "Please check the `routes` config in task configuration file.",
)
ErrConfigCollationCompatibleNotSupport = _e(
    20052,
    C.CONFIG,
    _I,
    _MED,
    "collation compatible %s not supported",
    "Please check the `collation_compatible` config in task configuration file, which can be set to `loose`/`strict`.",
)
ErrConfigInvalidChunkFileSize = _e(
    20047,
    C.CONFIG,
    _I,
    _HIGH,
    "invalid `chunk-filesize` %v",
    "Please check the `chunk-filesize` config in task configuration file.",
)
ErrConfigOnlineDDLInvalidRegex = _e(
    20048,
    C.CONFIG,
    _I,
    _HIGH,
    "config '%s' regex pattern '%s' invalid, reason: %s",
    "Please check if params is correctly in the configuration file.",
)
ErrConfigInvalidLoadMode = _e(
    20053,
    C.CONFIG,
    _I,
    _MED,
    "invalid load mode '%s'",
    "Please choose a valid value in ['logical', 'physical', 'import-into']",
)
ErrConfigInvalidDuplicateResolution = _e(
    20054,
    C.CONFIG,
    _I,
    _MED,
    "invalid load on-duplicate-logical or on-duplicate option '%s'",
    "Please choose a valid value in ['replace', 'error', 'ignore'] or leave it empty.",
)
ErrConfigValidationMode = _e(
    20055,
    C.CONFIG,
    _I,
    _HIGH,
    "invalid validation mode",
    "Please check `validation-mode` config in task configuration file.",
)
ErrContinuousValidatorCfgNotFound = _e(
    20056,
    C.CONFIG,
    _I,
    _MED,
    "mysql-instance(%d)'s continuous validator config %s not exist",
    "Please check the `validator-config-name` config in task configuration file.",
)
ErrConfigStartTimeTooLate = _e(
    20057,
    C.CONFIG,
    _I,
    _HIGH,
    "start-time %s is too late, no binlog location matches it",
    "Please check the `--start-time` is expected or try again later.",
)
ErrConfigLoaderDirInvalid = _e(
    20058,
    C.CONFIG,
    _I,
    _HIGH,
    "loader's dir %s is invalid",
    "Please check the `dir` config in task configuration file.",
)
ErrConfigInvalidSafeModeDuration = _e(
    20060,
    C.CONFIG,
    _I,
    _MED,
    "safe-mode-duration '%s' parsed failed: %v",
    "Please check the `safe-mode-duration` is correct.",
)
ErrConfigConflictSafeModeDuration = _e(
    20061,
    C.CONFIG,
    _I,
    _LOW,
    "safe-mode(true) conflicts with safe-mode-duration(0s)",
    "Please set safe-mode to false or safe-mode-duration to non-zero.",
)
ErrConfigInvalidPhysicalDuplicateResolution = _e(
    20062,
    C.CONFIG,
    _I,
    _MED,
    "invalid load on-duplicate-physical option '%s'",
    "Please choose a valid value in ['none', 'manual'] or leave it empty.",
)
ErrConfigInvalidPhysicalChecksum = _e(
    20063,
    C.CONFIG,
    _I,
    _MED,
    "invalid load checksum-physical option '%s'",
    "Please choose a valid value in ['required', 'optional', 'off'] or leave it empty.",
)
ErrConfigColumnMappingDeprecated = _e(
    20064,
    C.CONFIG,
    _I,
    _HIGH,
    "column-mapping is not supported since v6.6.0",
    "Please use extract-table/extract-schema/extract-source to handle data conflict when merge tables. See https://docs.pingcap.com/tidb/v6.4/task-configuration-file-full#task-configuration-file-template-advanced",
)
ErrConfigInvalidLoadAnalyze = _e(
    20065,
    C.CONFIG,
    _I,
    _MED,
    "invalid load analyze option '%s'",
    "Please choose a valid value in ['required', 'optional', 'off'] or leave it empty.",
)
ErrConfigStrictOptimisticShardMode = _e(
    20066,
    C.CONFIG,
    _I,
    _MED,
    "cannot enable `strict-optimistic-shard-mode` while `shard-mode` is not `optimistic`",
    "Please set `shard-mode` to `optimistic` if you want to enable `strict-optimistic-shard-mode`.",
)
ErrConfigSecretKeyPath = _e(
    20067,
    C.CONFIG,
    _I,
    _HIGH,
    "invalid secret key path or content: %v",
    "Please check whether the path is valid, and has required permission to read the file, and the key is correct.",
)
ErrConfigImportIntoShardingNotSupport = _e(
    20068,
    C.CONFIG,
    _I,
    _HIGH,
    "import-into mode does not support sharding (multi-source) scenario",
    "Please use 'physical' or 'logical' mode for sharding scenarios, or disable sharding mode to use 'import-into'.",
)
ErrConfigUnsupportedForeignKeyChecksOption = _e(
    20070,
    C.CONFIG,
    _I,
    _MED,
    "`%s` is not supported when foreign_key_checks=1",
    "Please disable `foreign_key_checks`, or disable this syncer option in task configuration file.",
)
# dmshell's own (not in DM's catalogue): a key whose feature dmshell lacks, set to a non-default value
ErrConfigNotSupportedYet = _e(
    20900,
    C.CONFIG,
    _I,
    _MED,
    "%s (line %d): not supported yet by dmshell (%s); remove it or set it to %s",
    "Please remove the key from the configuration file or set it to its default value.",
)
# dmshell's own: a name that would become a file name and is not a safe one (engine/names.py)
ErrConfigUnsafeName = _e(
    20901,
    C.CONFIG,
    _I,
    _MED,
    "%s",
    "Please rename it: tasks, sources and workers name directories in the data dir.",
)
# dmshell's own: a ``security:`` setting that cannot give a verified TLS connection (engine/dbtls.py)
ErrConfigTLSInvalid = _e(
    20902,
    C.CONFIG,
    _I,
    _MED,
    "%s",
    "Please check `security` (ssl-ca, ssl-cert, ssl-key, cert-allowed-cn) of the database config.",
)
ErrBinlogParsePosFromStr = _e(22003, C.BINLOG_OP, _I, _HIGH, "")
ErrCheckpointInvalidTaskMode = _e(24001, C.CHECKPOINT, _I, _MED, "invalid task mode: %s")
ErrCheckpointDBNotExistInFile = _e(
    24004, C.CHECKPOINT, _I, _MED, "db (%s) not exist in data files, but in checkpoint"
)
ErrCheckpointTableNotExistInFile = _e(
    24005, C.CHECKPOINT, _I, _MED, "table (%s) not exist in db (%s) data files, but in checkpoint"
)
ErrTaskCheckSameTableName = _e(
    26001,
    C.TASK_CHECK,
    _I,
    _MED,
    "same table name in case-insensitive %v",
    "Please check `target-table` config in task configuration file.",
)
ErrTaskCheckFailedOpenDB = _e(
    26002,
    C.TASK_CHECK,
    _I,
    _HIGH,
    "failed to open DSN %s:***@%s:%d",
    "Please check the database config in configuration file.",
)
ErrTaskCheckGenTableRouter = _e(
    26003,
    C.TASK_CHECK,
    _I,
    _MED,
    "generate table router error",
    "Please check the `routes` config in task configuration file.",
)
ErrTaskCheckSyncConfigError = _e(26005, C.TASK_CHECK, _I, _MED, "%s: %v\n detail: %v")
ErrTaskCheckGenBAList = _e(
    26006,
    C.TASK_CHECK,
    _I,
    _MED,
    "generate block allow list error",
    "Please check the `block-allow-list` config in task configuration file.",
)
ErrRelayParseUUIDIndex = _e(28001, C.RELAY_EVENT_LIB, _I, _HIGH, "parse server-uuid.index")
ErrRelayParseUUIDSuffix = _e(28002, C.RELAY_EVENT_LIB, _I, _HIGH, "UUID (with suffix) %s not valid")
ErrRelayLoadMetaData = _e(30003, C.RELAY_UNIT, _I, _HIGH, "load meta data")
ErrRelayBinlogNameNotValid = _e(
    30004,
    C.RELAY_UNIT,
    _I,
    _HIGH,
    "relay-binlog-name %s not valid",
    "Please check the `relay-binlog-name` config in source config file.",
)
ErrRelayFlushLocalMeta = _e(30006, C.RELAY_UNIT, _I, _HIGH, "flush local meta")
ErrRelayTCPReaderGetEvent = _e(
    30015, C.RELAY_UNIT, _U, _HIGH, "TCPReader get relay event with error", resumable=True
)
ErrRelayWriterFileOperate = _e(30025, C.RELAY_UNIT, _I, _HIGH, "")
ErrRelayMkdir = _e(30033, C.RELAY_UNIT, _I, _HIGH, "relay mkdir")
ErrRelaySwitchMasterNeedGTID = _e(
    30034,
    C.RELAY_UNIT,
    _I,
    _HIGH,
    "can only switch relay's master server when GTID enabled",
    "Please check `enable-gtid` config in source configuration file.",
)
ErrRelayOtherStrategyIsPurging = _e(30036, C.RELAY_UNIT, _I, _HIGH, "%s is purging")
ErrRelayPurgeIsForbidden = _e(
    30037,
    C.RELAY_UNIT,
    _I,
    _HIGH,
    "relay log purge is forbidden temporarily, because %s",
    "Please try again later.",
)
ErrRelayNoActiveRelayLog = _e(30038, C.RELAY_UNIT, _I, _HIGH, "no active relay log file found")
ErrRelayPurgeRequestNotValid = _e(30039, C.RELAY_UNIT, _I, _HIGH, "request %+v not valid")
ErrRelayRemoveFileFail = _e(30041, C.RELAY_UNIT, _I, _HIGH, "remove relay log %s %s")
ErrDumpUnitRuntime = _e(
    32001, C.DUMP_UNIT, _I, _HIGH, "mydumper/dumpling runs with error, with output (may empty): %s"
)
ErrDumpUnitGenTableRouter = _e(
    32002,
    C.DUMP_UNIT,
    _I,
    _HIGH,
    "generate table router",
    "Please check `routes` config in task configuration file.",
)
ErrDumpUnitGenBAList = _e(
    32003,
    C.DUMP_UNIT,
    _I,
    _HIGH,
    "generate block allow list",
    "Please check the `block-allow-list` config in task configuration file.",
)
ErrDumpUnitGlobalLock = _e(
    32004,
    C.DUMP_UNIT,
    _I,
    _HIGH,
    "Couldn't acquire global lock",
    "Please check upstream privilege about FTWRL, or add `--no-locks` or `--consistency none` to extra-args of mydumpers",
)
ErrLoadUnitCreateSchemaFile = _e(
    34001,
    C.LOAD_UNIT,
    _I,
    _MED,
    "generate schema file",
    "Please check the `loaders` config in task configuration file.",
)
ErrLoadUnitReadSchemaFile = _e(34005, C.LOAD_UNIT, _I, _HIGH, "read schema from sql file %s")
ErrLoadUnitParseStatement = _e(34006, C.LOAD_UNIT, _I, _HIGH, "parse statement %s")
ErrLoadUnitNotCreateTable = _e(
    34007, C.LOAD_UNIT, _I, _HIGH, "statement %s for %s/%s is not create table statement"
)
ErrLoadUnitDispatchSQLFromFile = _e(34008, C.LOAD_UNIT, _I, _HIGH, "dispatch sql")
ErrLoadUnitInvalidInsertSQL = _e(34009, C.LOAD_UNIT, _I, _HIGH, "invalid insert sql %s")
ErrLoadUnitGenTableRouter = _e(
    34010,
    C.LOAD_UNIT,
    _I,
    _HIGH,
    "generate table router",
    "Please check `routes` config in task configuration file.",
)
ErrLoadUnitNoDBFile = _e(34012, C.LOAD_UNIT, _I, _HIGH, "invalid data sql file, cannot find db - %s")
ErrLoadUnitNoTableFile = _e(34013, C.LOAD_UNIT, _I, _HIGH, "invalid data sql file, cannot find table - %s")
ErrLoadUnitDumpDirNotFound = _e(34014, C.LOAD_UNIT, _I, _HIGH, "%s does not exist or it's not a dir")
ErrLoadUnitDuplicateTableFile = _e(
    34015, C.LOAD_UNIT, _I, _HIGH, "invalid table schema file, duplicated item - %s"
)
ErrLoadUnitGenBAList = _e(
    34016,
    C.LOAD_UNIT,
    _I,
    _HIGH,
    "generate block allow list",
    "Please check the `block-allow-list` config in task configuration file.",
)
ErrLoadTaskCheckPointNotMatch = _e(
    34018,
    C.FUNCTIONAL,
    _I,
    _HIGH,
    "inconsistent checkpoints between loader and target database",
    "If you want to redo the whole task, please check that you have not forgotten to add -remove-meta flag for start-task command.",
)
ErrLoadLightningRuntime = _e(34019, C.LOAD_UNIT, _I, _HIGH, "")
ErrSyncerUnitPanic = _e(36001, C.SYNC_UNIT, _I, _HIGH, "panic error: %v")
ErrSyncUnitInvalidTableName = _e(36002, C.SYNC_UNIT, _I, _HIGH, "extract table name for DML error: %s")
ErrSyncUnitTableNameQuery = _e(36003, C.SYNC_UNIT, _I, _HIGH, "table name parse error: %s")
ErrSyncUnitNotSupportedDML = _e(36004, C.SYNC_UNIT, _I, _HIGH, "DMLNode %v not supported")
ErrSyncerUnitDMLStatementFound = _e(
    36014,
    C.SYNC_UNIT,
    _I,
    _HIGH,
    "only support ROW format binlog, unexpected DML statement found in query event",
)
ErrSyncerUnitDMLColumnNotMatch = _e(
    36027,
    C.SYNC_UNIT,
    _I,
    _HIGH,
    "Column count doesn't match value count: %d (columns) vs %d (values)",
    "Please check the log files to see if a related DDL has been skipped, and you could use `operate-schema` to get and set the table structure.",
)
ErrSyncerUnitBinlogEventFilter = _e(36015, C.SYNC_UNIT, _I, _HIGH, "")
ErrSyncerUnitGenBinlogEventFilter = _e(
    36030,
    C.SYNC_UNIT,
    _I,
    _HIGH,
    "generate binlog event filter",
    "Please check the `filters` config in source and task configuration files.",
)
ErrSyncerUnitGenTableRouter = _e(
    36031,
    C.SYNC_UNIT,
    _I,
    _HIGH,
    "generate table router",
    "Please check `routes` config in task configuration file.",
)
ErrSyncerUnitInvalidReplicaEvent = _e(36016, C.SYNC_UNIT, _I, _HIGH, "invalid replication event type %v")
ErrSyncerUnitOnlineDDLInvalidMeta = _e(36039, C.SYNC_UNIT, _I, _HIGH, "online ddl meta invalid")
ErrSyncerUnitGhostRenameTableNotValid = _e(
    36043, C.SYNC_UNIT, _I, _HIGH, "tables should contain old and new table name"
)
ErrSyncerUnitGhostRenameToGhostTable = _e(
    36044, C.SYNC_UNIT, _I, _HIGH, "rename table to gh-ost temporary table %s not supported"
)
ErrSyncerUnitGhostRenameGhostTblToOther = _e(
    36045, C.SYNC_UNIT, _I, _HIGH, "rename gh-ost temporary table to other temporary table %s not supported"
)
ErrSyncerUnitGhostOnlineDDLOnGhostTbl = _e(
    36046, C.SYNC_UNIT, _I, _HIGH, "online ddl metadata for ghost temporary table `%s`.`%s` not found"
)
ErrSyncerUnitGenBAList = _e(
    36060,
    C.SYNC_UNIT,
    _I,
    _HIGH,
    "generate block allow list",
    "Please check the `block-allow-list` config in task configuration file.",
)
ErrSyncerUnitHandleDDLFailed = _e(36061, C.SYNC_UNIT, _I, _HIGH, "fail to handle ddl job for %s")
ErrSyncerUnitParseDDL = _e(
    36067,
    C.SYNC_UNIT,
    _I,
    _HIGH,
    "parse DDL: %s",
    "Please confirm your DDL statement is correct and needed. For TiDB compatible DDL, see https://docs.pingcap.com/tidb/stable/mysql-compatibility#ddl-operations. You can use `handle-error` command to skip or replace the DDL or add a binlog filter rule to ignore it if the DDL is not needed.",
)
ErrSyncUnitDDLWrongSequence = _e(
    36008,
    C.SYNC_UNIT,
    _I,
    _HIGH,
    "detect inconsistent DDL sequence from source %s, right DDL sequence should be %s",
    "Please use `show-ddl-locks` command for more details.",
)
ErrSyncUnitDropSchemaTableInSharding = _e(
    36006,
    C.SYNC_UNIT,
    _I,
    _MED,
    "in sequence sharding try drop sources %v not supported, activeDDL: %s, sharding sequence: %s",
)
ErrSyncerUnitDDLOnMultipleTable = _e(
    36022,
    C.SYNC_UNIT,
    _I,
    _HIGH,
    "ddl on multiple table: %s not supported",
    "It is recommended to include only one DDL operation in a statement executed upstream. Please manually handle it using dmctl (skipping the DDL statement or replacing the DDL statement with a specified DDL statement). For details, see https://docs.pingcap.com/tidb-data-migration/stable/handle-failed-sql-statements",
)
ErrSyncerShardDDLConflict = _e(
    36062,
    C.SYNC_UNIT,
    _I,
    _HIGH,
    "fail to handle shard ddl %v in optimistic mode, because schema conflict detected, conflict error: %s",
    "Please use show-ddl-locks command for more details.",
)
ErrSyncerUnsupportedStmt = _e(36068, C.SYNC_UNIT, _I, _HIGH, "`%s` statement not supported in %s mode")
ErrSyncerGetEvent = _e(
    36069,
    C.SYNC_UNIT,
    _U,
    _HIGH,
    "get binlog event error: %v",
    "Please check if the binlog file could be parsed by `mysqlbinlog`.",
    resumable=True,
)
ErrSyncerDownstreamTableNotFound = _e(36070, C.SYNC_UNIT, _I, _HIGH, "downstream table %s not found")
ErrSyncerReprocessWithSafeModeFail = _e(
    36071,
    C.SYNC_UNIT,
    _I,
    _MED,
    "your `safe-mode-duration` in task.yaml is set to 0s, the task can't be re-processed without safe mode currently",
    "Please stop and re-start this task. If you want to start task successfully, you need set `safe-mode-duration` greater than `0s`.",
)
ErrMasterParseArgs = _e(38001, C.DM_MASTER, _I, _MED, "nil request not valid")
ErrMasterSQLOpNotSupport = _e(38002, C.DM_MASTER, _I, _MED, "op %s not supported")
ErrMasterGRPCRequestError = _e(38008, C.DM_MASTER, _I, _HIGH, "grpc request error")
ErrMasterHostPortNotValid = _e(
    38035,
    C.DM_MASTER,
    _I,
    _HIGH,
    "host:port '%s' not valid",
    "Please check the `master-addr` config in master configuration file.",
)
ErrMasterLockNotFound = _e(38019, C.DM_MASTER, _I, _HIGH, "lock with ID %s not found")
ErrMasterWorkerNotWaitLock = _e(38022, C.DM_MASTER, _I, _HIGH, "worker %s not waiting for DDL lock %s")
ErrMasterInvalidOperateOp = _e(38041, C.DM_MASTER, _I, _MED, "invalid op %s on %s")
ErrMasterOperRespNotSuccess = _e(
    38032,
    C.DM_MASTER,
    _I,
    _HIGH,
    "some error occurs in dm-worker: %s",
    "Please execute `query-status` to check status.",
)
ErrMasterWorkerArgsExtractor = _e(
    38029,
    C.DM_MASTER,
    _I,
    _HIGH,
    "",
    "Please use list-member command to see if the some workers are offline.",
)
ErrMasterRequestIsNotAsync = _e(
    38044, C.DM_MASTER, _I, _MED, "request %s is not an async one, needn't wait for ok"
)
ErrMasterFailToGetExpectResult = _e(38045, C.DM_MASTER, _I, _MED, "fail to get expected result")
ErrMasterStartTask = _e(38058, C.DM_MASTER, _I, _HIGH, "can not start task: %s reason: %s")
ErrWorkerUpdateSourceIDNotAllowed = _e(40059, C.DM_WORKER, _I, _HIGH, "update source ID is not allowed")
ErrWorkerNoAvailUnits = _e(40060, C.DM_WORKER, _I, _HIGH, "subtask %s has no dm units for mode %s")
ErrWorkerNeedSourceID = _e(
    40005,
    C.DM_WORKER,
    _I,
    _MED,
    "dm-worker should bind a non-empty source ID which represents a MySQL/MariaDB instance or a replica group. \n notice: if you use old version dm-ansible, please update to newest version.",
)
ErrWorkerTooLongSourceID = _e(
    40006, C.DM_WORKER, _I, _MED, "the length of source ID %s is more than max allowed value %d"
)
ErrWorkerRelayBinlogName = _e(40007, C.DM_WORKER, _I, _MED, "relay-binlog-name %s not valid")
ErrWorkerSubTaskNotFound = _e(40054, C.DM_WORKER, _I, _HIGH, "sub task with name %s not found")
ErrWorkerSubTaskExists = _e(40055, C.DM_WORKER, _I, _HIGH, "sub task %s already exists")
ErrWorkerNotPausedStage = _e(
    40067,
    C.DM_WORKER,
    _I,
    _HIGH,
    "current stage is %s but not paused, invalid",
    "Please use `pause-task` to pause the task first.",
)
ErrWorkerOperSyncUnitOnly = _e(
    40066, C.DM_WORKER, _I, _HIGH, "operation %s only supported by sync unit, but now is %s"
)
ErrWorkerNoStart = _e(40070, C.DM_WORKER, _I, _HIGH, "no mysql source is being handled in the worker")
ErrWorkerHostPortNotValid = _e(
    40069,
    C.DM_WORKER,
    _I,
    _HIGH,
    "host:port '%s' not valid",
    "Please check configs in worker configuration file.",
)
ErrWorkerJoinMaster = _e(
    40077,
    C.DM_WORKER,
    _I,
    _HIGH,
    "cannot join with master endpoints: %v, error: %v",
    "Please check network connection of worker and check worker name is unique.",
)
ErrWorkerRouteTableDupMatch = _e(
    40080,
    C.DM_WORKER,
    _I,
    _HIGH,
    "table %s.%s matches more than one rule",
    "please check the route rules in the task config",
)
ErrSchemaTrackerInvalidJSON = _e(
    44001, C.SCHEMA_TRACKER, _D, _HIGH, "saved schema of `%s`.`%s` is not proper JSON"
)
ErrSchemaTrackerCannotCreateSchema = _e(
    44002, C.SCHEMA_TRACKER, _I, _HIGH, "failed to create database for `%s` in schema tracker"
)
ErrSchemaTrackerCannotCreateTable = _e(
    44003, C.SCHEMA_TRACKER, _I, _HIGH, "failed to create table for %v in schema tracker"
)
ErrSchemaTrackerCannotGetTable = _e(
    44005, C.SCHEMA_TRACKER, _I, _HIGH, "cannot get table info for %v from schema tracker"
)
ErrSchemaTrackerCannotExecDDL = _e(
    44006,
    C.SCHEMA_TRACKER,
    _I,
    _HIGH,
    "cannot track DDL: %s",
    "You can use handle-error to replace or skip this DDL.",
)
ErrSchemaTrackerCannotFetchDownstreamTable = _e(
    44007,
    C.SCHEMA_TRACKER,
    _D,
    _MED,
    "cannot fetch downstream table schema of %v to initialize upstream schema %v in schema tracker",
)
ErrSchemaTrackerInvalidCreateTableStmt = _e(
    44009, C.SCHEMA_TRACKER, _I, _MED, "%s is not a valid `CREATE TABLE` statement"
)
ErrSchemaTrackerCannotDropTable = _e(
    44011, C.SCHEMA_TRACKER, _I, _HIGH, "failed to drop table for %v in schema tracker"
)
ErrSchedulerNotStarted = _e(46001, C.SCHEDULER, _I, _HIGH, "the scheduler has not started")
ErrSchedulerWorkerExist = _e(46003, C.SCHEDULER, _I, _MED, "dm-worker with name %s already exists")
ErrSchedulerWorkerNotExist = _e(46004, C.SCHEDULER, _I, _MED, "dm-worker with name %s not exists")
ErrSchedulerWorkerOnline = _e(
    46005, C.SCHEDULER, _I, _MED, "dm-worker with name %s is still online", "Please shut it down first."
)
ErrSchedulerWorkerInvalidTrans = _e(
    46006, C.SCHEDULER, _I, _MED, "invalid stage transformation for dm-worker %s, from %s to %s"
)
ErrSchedulerSourceCfgExist = _e(46007, C.SCHEDULER, _I, _MED, "source config with ID %s already exists")
ErrSchedulerSourceCfgNotExist = _e(46008, C.SCHEDULER, _I, _MED, "source config with ID %s not exists")
ErrSchedulerSourcesUnbound = _e(46009, C.DM_MASTER, _I, _MED, "sources %v have not bound")
ErrSchedulerSourceOpTaskExist = _e(
    46010,
    C.DM_MASTER,
    _I,
    _MED,
    "source with name %s need to operate has existing tasks %v",
    "Please `stop-task` first.",
)
ErrSchedulerRelayStageSourceNotExist = _e(
    46012, C.SCHEDULER, _I, _MED, "sources %v need to update expectant relay stage not exist"
)
ErrSchedulerSubTaskExist = _e(
    46014,
    C.SCHEDULER,
    _I,
    _MED,
    "subtasks with name %s for sources %v already exist",
    "Please use `query-status` command to see tasks.",
)
ErrSchedulerSubTaskOpTaskNotExist = _e(
    46016,
    C.DM_MASTER,
    _I,
    _MED,
    "subtasks with name %s need to be operate not exist",
    "Please use `query-status` command to see tasks.",
)
ErrSchedulerSubTaskOpSourceNotExist = _e(
    46017, C.DM_MASTER, _I, _MED, "sources %v need to be operate not exist"
)
ErrSchedulerTaskNotExist = _e(
    46018,
    C.SCHEDULER,
    _I,
    _MED,
    "task with name %s not exist",
    "Please use `query-status` command to see tasks.",
)
ErrSchedulerWorkersBoundForOtherSources = _e(
    46021,
    C.SCHEDULER,
    _I,
    _HIGH,
    "these workers %s have bound for another sources %s respectively",
    "Please `start-relay` on free or same source workers.",
)
ErrSchedulerStartRelayOnSpecified = _e(
    46028,
    C.SCHEDULER,
    _I,
    _LOW,
    "the source has `start-relay` with worker name for workers %v, so it can't `start-relay` without worker name now",
    "Please stop all relay workers first, or specify worker name for `start-relay`.",
)
ErrSchedulerStopRelayOnSpecified = _e(
    46029,
    C.SCHEDULER,
    _I,
    _LOW,
    "the source has `start-relay` with worker name for workers %v, so it can't `stop-relay` without worker name now",
    "Please specify worker names for `stop-relay`.",
)
ErrSchedulerStartRelayOnBound = _e(
    46030,
    C.SCHEDULER,
    _I,
    _LOW,
    "the source has `start-relay` automatically for bound worker, so it can't `start-relay` with worker name now",
    "Please stop relay by `stop-relay` without worker name first.",
)
ErrSchedulerStopRelayOnBound = _e(
    46031,
    C.SCHEDULER,
    _I,
    _LOW,
    "the source has `start-relay` automatically for bound worker, so it can't `stop-relay` with worker name now",
    "Please use `stop-relay` without worker name.",
)
ErrSchedulerWorkerNotFree = _e(46033, C.SCHEDULER, _I, _LOW, "dm-worker with name %s not free")
ErrSchedulerSubTaskNotExist = _e(
    46034,
    C.SCHEDULER,
    _I,
    _MED,
    "subtasks with name %s for sources %v not exist",
    "Please create this subtask first.",
)
ErrCtlGRPCCreateConn = _e(
    48001, C.DMCTL, _I, _HIGH, "can not create grpc connection", "Please check your network connection."
)
ErrCtlInvalidTLSCfg = _e(
    48002,
    C.DMCTL,
    _I,
    _MED,
    "invalid TLS config",
    "Please check the `ssl-ca`, `ssl-cert` and `ssl-key` config in command line.",
)
ErrCtlLoadTLSCfg = _e(
    48003,
    C.DMCTL,
    _I,
    _HIGH,
    "can not load tls config",
    "Please ensure that the tls certificate is accessible on the node currently running dmctl.",
)
ErrNotSet = _e(50000, C.NOT_SET, _N, _HIGH, "")


#: errors whose cause is transient: the task checker resumes the subtask automatically.
RESUMABLE_CODES = frozenset(c for c, e in CATALOG.items() if e.resumable)


#: DM's ``retry.ReplicationErrMsgs`` (and MariaDB's GTID variant): the upstream no longer has the
#: binlog the task needs; resuming can never help
BINLOG_PURGED_MSGS = (
    "could not find first log file name in binary log index file",
    "the master has purged binary logs containing gtids that the slave requires",
    "which is not in the master's binlog",
)
BINLOG_PURGED_WORKAROUND = (
    "The upstream has purged the binlog this task needs to continue; it will not be resumed "
    "automatically. Check `SHOW BINARY LOGS` on the upstream (and its expire_logs_days / "
    "binlog_expire_logs_seconds). To continue, re-migrate the data: `stop-task`, then `start-task "
    "--remove-meta` with task-mode `all` (or set `meta` to a position the upstream still has, "
    "accepting that the changes in between are lost)."
)


def pause_verdict(exc: BaseException) -> tuple[BaseException, bool]:
    """The error a subtask pauses with and whether the task checker may resume it (DM's
    ``isResumableError``): a resumable error whose cause says the upstream binlog is purged is not
    resumable, and gets a workaround saying what to do."""
    if not isinstance(exc, DMError) or not exc.resumable:
        return exc, False
    text = f"{exc.message} {exc.raw_cause}".lower()
    if any(m in text for m in BINLOG_PURGED_MSGS):
        return DMError(exc.entry, exc.message, exc.cause, BINLOG_PURGED_WORKAROUND), False
    return exc, True


def wrap(exc: BaseException, entry: ErrorCode = ErrNotSet) -> DMError:
    """Return ``exc`` itself when it is a DMError, else a DMError of ``entry`` caused by it."""
    if isinstance(exc, DMError):
        return exc
    if entry is ErrNotSet:
        return ErrNotSet(str(exc) or type(exc).__name__)
    return entry(cause=exc)


def with_scope(err: DMError, scope: Scope) -> DMError:
    """DM's ``terror.WithScope``: the same error reported for the upstream or the downstream."""
    return DMError(replace(err.entry, scope=scope), err.message, err.cause, err.workaround)
