from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TaskOp(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    InvalidOp: _ClassVar[TaskOp]
    Stop: _ClassVar[TaskOp]
    Pause: _ClassVar[TaskOp]
    Resume: _ClassVar[TaskOp]
    Start: _ClassVar[TaskOp]
    Update: _ClassVar[TaskOp]
    AutoResume: _ClassVar[TaskOp]
    Delete: _ClassVar[TaskOp]

class Stage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    InvalidStage: _ClassVar[Stage]
    New: _ClassVar[Stage]
    Running: _ClassVar[Stage]
    Paused: _ClassVar[Stage]
    Stopped: _ClassVar[Stage]
    Finished: _ClassVar[Stage]
    Pausing: _ClassVar[Stage]
    Resuming: _ClassVar[Stage]
    Stopping: _ClassVar[Stage]

class UnitType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    InvalidUnit: _ClassVar[UnitType]
    Check: _ClassVar[UnitType]
    Dump: _ClassVar[UnitType]
    Load: _ClassVar[UnitType]
    Sync: _ClassVar[UnitType]
    Relay: _ClassVar[UnitType]

class RelayOp(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    InvalidRelayOp: _ClassVar[RelayOp]
    StopRelay: _ClassVar[RelayOp]
    PauseRelay: _ClassVar[RelayOp]
    ResumeRelay: _ClassVar[RelayOp]

class SchemaOp(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    InvalidSchemaOp: _ClassVar[SchemaOp]
    GetSchema: _ClassVar[SchemaOp]
    SetSchema: _ClassVar[SchemaOp]
    RemoveSchema: _ClassVar[SchemaOp]
    ListSchema: _ClassVar[SchemaOp]
    ListTable: _ClassVar[SchemaOp]
    ListMigrateTargets: _ClassVar[SchemaOp]

class ErrorOp(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    InvalidErrorOp: _ClassVar[ErrorOp]
    Skip: _ClassVar[ErrorOp]
    Replace: _ClassVar[ErrorOp]
    Revert: _ClassVar[ErrorOp]
    Inject: _ClassVar[ErrorOp]
    List: _ClassVar[ErrorOp]

class ValidateErrorState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    InvalidErr: _ClassVar[ValidateErrorState]
    NewErr: _ClassVar[ValidateErrorState]
    IgnoredErr: _ClassVar[ValidateErrorState]
    ResolvedErr: _ClassVar[ValidateErrorState]
InvalidOp: TaskOp
Stop: TaskOp
Pause: TaskOp
Resume: TaskOp
Start: TaskOp
Update: TaskOp
AutoResume: TaskOp
Delete: TaskOp
InvalidStage: Stage
New: Stage
Running: Stage
Paused: Stage
Stopped: Stage
Finished: Stage
Pausing: Stage
Resuming: Stage
Stopping: Stage
InvalidUnit: UnitType
Check: UnitType
Dump: UnitType
Load: UnitType
Sync: UnitType
Relay: UnitType
InvalidRelayOp: RelayOp
StopRelay: RelayOp
PauseRelay: RelayOp
ResumeRelay: RelayOp
InvalidSchemaOp: SchemaOp
GetSchema: SchemaOp
SetSchema: SchemaOp
RemoveSchema: SchemaOp
ListSchema: SchemaOp
ListTable: SchemaOp
ListMigrateTargets: SchemaOp
InvalidErrorOp: ErrorOp
Skip: ErrorOp
Replace: ErrorOp
Revert: ErrorOp
Inject: ErrorOp
List: ErrorOp
InvalidErr: ValidateErrorState
NewErr: ValidateErrorState
IgnoredErr: ValidateErrorState
ResolvedErr: ValidateErrorState

class QueryStatusRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class CommonWorkerResponse(_message.Message):
    __slots__ = ("result", "msg", "source", "worker")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    WORKER_FIELD_NUMBER: _ClassVar[int]
    result: bool
    msg: str
    source: str
    worker: str
    def __init__(self, result: _Optional[bool] = ..., msg: _Optional[str] = ..., source: _Optional[str] = ..., worker: _Optional[str] = ...) -> None: ...

class QueryStatusResponse(_message.Message):
    __slots__ = ("result", "msg", "sourceStatus", "subTaskStatus")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    SOURCESTATUS_FIELD_NUMBER: _ClassVar[int]
    SUBTASKSTATUS_FIELD_NUMBER: _ClassVar[int]
    result: bool
    msg: str
    sourceStatus: SourceStatus
    subTaskStatus: _containers.RepeatedCompositeFieldContainer[SubTaskStatus]
    def __init__(self, result: _Optional[bool] = ..., msg: _Optional[str] = ..., sourceStatus: _Optional[_Union[SourceStatus, _Mapping]] = ..., subTaskStatus: _Optional[_Iterable[_Union[SubTaskStatus, _Mapping]]] = ...) -> None: ...

class CheckStatus(_message.Message):
    __slots__ = ("passed", "total", "successful", "failed", "warning", "detail")
    PASSED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    SUCCESSFUL_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    WARNING_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    passed: bool
    total: int
    successful: int
    failed: int
    warning: int
    detail: bytes
    def __init__(self, passed: _Optional[bool] = ..., total: _Optional[int] = ..., successful: _Optional[int] = ..., failed: _Optional[int] = ..., warning: _Optional[int] = ..., detail: _Optional[bytes] = ...) -> None: ...

class DumpStatus(_message.Message):
    __slots__ = ("totalTables", "completedTables", "finishedBytes", "finishedRows", "estimateTotalRows", "bps", "progress", "consistency", "load", "resumed")
    TOTALTABLES_FIELD_NUMBER: _ClassVar[int]
    COMPLETEDTABLES_FIELD_NUMBER: _ClassVar[int]
    FINISHEDBYTES_FIELD_NUMBER: _ClassVar[int]
    FINISHEDROWS_FIELD_NUMBER: _ClassVar[int]
    ESTIMATETOTALROWS_FIELD_NUMBER: _ClassVar[int]
    BPS_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_FIELD_NUMBER: _ClassVar[int]
    LOAD_FIELD_NUMBER: _ClassVar[int]
    RESUMED_FIELD_NUMBER: _ClassVar[int]
    totalTables: int
    completedTables: float
    finishedBytes: float
    finishedRows: float
    estimateTotalRows: float
    bps: int
    progress: str
    consistency: str
    load: LoadStatus
    resumed: str
    def __init__(self, totalTables: _Optional[int] = ..., completedTables: _Optional[float] = ..., finishedBytes: _Optional[float] = ..., finishedRows: _Optional[float] = ..., estimateTotalRows: _Optional[float] = ..., bps: _Optional[int] = ..., progress: _Optional[str] = ..., consistency: _Optional[str] = ..., load: _Optional[_Union[LoadStatus, _Mapping]] = ..., resumed: _Optional[str] = ...) -> None: ...

class LoadStatus(_message.Message):
    __slots__ = ("finishedBytes", "totalBytes", "progress", "metaBinlog", "metaBinlogGTID", "bps", "resumed")
    FINISHEDBYTES_FIELD_NUMBER: _ClassVar[int]
    TOTALBYTES_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    METABINLOG_FIELD_NUMBER: _ClassVar[int]
    METABINLOGGTID_FIELD_NUMBER: _ClassVar[int]
    BPS_FIELD_NUMBER: _ClassVar[int]
    RESUMED_FIELD_NUMBER: _ClassVar[int]
    finishedBytes: int
    totalBytes: int
    progress: str
    metaBinlog: str
    metaBinlogGTID: str
    bps: int
    resumed: str
    def __init__(self, finishedBytes: _Optional[int] = ..., totalBytes: _Optional[int] = ..., progress: _Optional[str] = ..., metaBinlog: _Optional[str] = ..., metaBinlogGTID: _Optional[str] = ..., bps: _Optional[int] = ..., resumed: _Optional[str] = ...) -> None: ...

class ShardingGroup(_message.Message):
    __slots__ = ("target", "DDLs", "firstLocation", "synced", "unsynced")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    DDLS_FIELD_NUMBER: _ClassVar[int]
    FIRSTLOCATION_FIELD_NUMBER: _ClassVar[int]
    SYNCED_FIELD_NUMBER: _ClassVar[int]
    UNSYNCED_FIELD_NUMBER: _ClassVar[int]
    target: str
    DDLs: _containers.RepeatedScalarFieldContainer[str]
    firstLocation: str
    synced: _containers.RepeatedScalarFieldContainer[str]
    unsynced: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, target: _Optional[str] = ..., DDLs: _Optional[_Iterable[str]] = ..., firstLocation: _Optional[str] = ..., synced: _Optional[_Iterable[str]] = ..., unsynced: _Optional[_Iterable[str]] = ...) -> None: ...

class SyncStatus(_message.Message):
    __slots__ = ("totalEvents", "totalTps", "recentTps", "masterBinlog", "masterBinlogGtid", "syncerBinlog", "syncerBinlogGtid", "blockingDDLs", "unresolvedGroups", "synced", "binlogType", "secondsBehindMaster", "blockDDLOwner", "conflictMsg", "totalRows", "totalRps", "recentRps", "ioTotalBytes", "dumpIOTotalBytes", "totalBinlogEvents", "recentEps", "recentBps", "queueDepths", "queueCapacity", "lastError", "lastErrorTime", "readBinlog", "readBinlogGtid", "executingDDL")
    TOTALEVENTS_FIELD_NUMBER: _ClassVar[int]
    TOTALTPS_FIELD_NUMBER: _ClassVar[int]
    RECENTTPS_FIELD_NUMBER: _ClassVar[int]
    MASTERBINLOG_FIELD_NUMBER: _ClassVar[int]
    MASTERBINLOGGTID_FIELD_NUMBER: _ClassVar[int]
    SYNCERBINLOG_FIELD_NUMBER: _ClassVar[int]
    SYNCERBINLOGGTID_FIELD_NUMBER: _ClassVar[int]
    BLOCKINGDDLS_FIELD_NUMBER: _ClassVar[int]
    UNRESOLVEDGROUPS_FIELD_NUMBER: _ClassVar[int]
    SYNCED_FIELD_NUMBER: _ClassVar[int]
    BINLOGTYPE_FIELD_NUMBER: _ClassVar[int]
    SECONDSBEHINDMASTER_FIELD_NUMBER: _ClassVar[int]
    BLOCKDDLOWNER_FIELD_NUMBER: _ClassVar[int]
    CONFLICTMSG_FIELD_NUMBER: _ClassVar[int]
    TOTALROWS_FIELD_NUMBER: _ClassVar[int]
    TOTALRPS_FIELD_NUMBER: _ClassVar[int]
    RECENTRPS_FIELD_NUMBER: _ClassVar[int]
    IOTOTALBYTES_FIELD_NUMBER: _ClassVar[int]
    DUMPIOTOTALBYTES_FIELD_NUMBER: _ClassVar[int]
    TOTALBINLOGEVENTS_FIELD_NUMBER: _ClassVar[int]
    RECENTEPS_FIELD_NUMBER: _ClassVar[int]
    RECENTBPS_FIELD_NUMBER: _ClassVar[int]
    QUEUEDEPTHS_FIELD_NUMBER: _ClassVar[int]
    QUEUECAPACITY_FIELD_NUMBER: _ClassVar[int]
    LASTERROR_FIELD_NUMBER: _ClassVar[int]
    LASTERRORTIME_FIELD_NUMBER: _ClassVar[int]
    READBINLOG_FIELD_NUMBER: _ClassVar[int]
    READBINLOGGTID_FIELD_NUMBER: _ClassVar[int]
    EXECUTINGDDL_FIELD_NUMBER: _ClassVar[int]
    totalEvents: int
    totalTps: int
    recentTps: int
    masterBinlog: str
    masterBinlogGtid: str
    syncerBinlog: str
    syncerBinlogGtid: str
    blockingDDLs: _containers.RepeatedScalarFieldContainer[str]
    unresolvedGroups: _containers.RepeatedCompositeFieldContainer[ShardingGroup]
    synced: bool
    binlogType: str
    secondsBehindMaster: int
    blockDDLOwner: str
    conflictMsg: str
    totalRows: int
    totalRps: int
    recentRps: int
    ioTotalBytes: int
    dumpIOTotalBytes: int
    totalBinlogEvents: int
    recentEps: int
    recentBps: int
    queueDepths: _containers.RepeatedScalarFieldContainer[int]
    queueCapacity: int
    lastError: str
    lastErrorTime: int
    readBinlog: str
    readBinlogGtid: str
    executingDDL: bool
    def __init__(self, totalEvents: _Optional[int] = ..., totalTps: _Optional[int] = ..., recentTps: _Optional[int] = ..., masterBinlog: _Optional[str] = ..., masterBinlogGtid: _Optional[str] = ..., syncerBinlog: _Optional[str] = ..., syncerBinlogGtid: _Optional[str] = ..., blockingDDLs: _Optional[_Iterable[str]] = ..., unresolvedGroups: _Optional[_Iterable[_Union[ShardingGroup, _Mapping]]] = ..., synced: _Optional[bool] = ..., binlogType: _Optional[str] = ..., secondsBehindMaster: _Optional[int] = ..., blockDDLOwner: _Optional[str] = ..., conflictMsg: _Optional[str] = ..., totalRows: _Optional[int] = ..., totalRps: _Optional[int] = ..., recentRps: _Optional[int] = ..., ioTotalBytes: _Optional[int] = ..., dumpIOTotalBytes: _Optional[int] = ..., totalBinlogEvents: _Optional[int] = ..., recentEps: _Optional[int] = ..., recentBps: _Optional[int] = ..., queueDepths: _Optional[_Iterable[int]] = ..., queueCapacity: _Optional[int] = ..., lastError: _Optional[str] = ..., lastErrorTime: _Optional[int] = ..., readBinlog: _Optional[str] = ..., readBinlogGtid: _Optional[str] = ..., executingDDL: _Optional[bool] = ...) -> None: ...

class SourceStatus(_message.Message):
    __slots__ = ("source", "worker", "result", "relayStatus")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    WORKER_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    RELAYSTATUS_FIELD_NUMBER: _ClassVar[int]
    source: str
    worker: str
    result: ProcessResult
    relayStatus: RelayStatus
    def __init__(self, source: _Optional[str] = ..., worker: _Optional[str] = ..., result: _Optional[_Union[ProcessResult, _Mapping]] = ..., relayStatus: _Optional[_Union[RelayStatus, _Mapping]] = ...) -> None: ...

class RelayStatus(_message.Message):
    __slots__ = ("masterBinlog", "masterBinlogGtid", "relaySubDir", "relayBinlog", "relayBinlogGtid", "relayCatchUpMaster", "stage", "result")
    MASTERBINLOG_FIELD_NUMBER: _ClassVar[int]
    MASTERBINLOGGTID_FIELD_NUMBER: _ClassVar[int]
    RELAYSUBDIR_FIELD_NUMBER: _ClassVar[int]
    RELAYBINLOG_FIELD_NUMBER: _ClassVar[int]
    RELAYBINLOGGTID_FIELD_NUMBER: _ClassVar[int]
    RELAYCATCHUPMASTER_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    masterBinlog: str
    masterBinlogGtid: str
    relaySubDir: str
    relayBinlog: str
    relayBinlogGtid: str
    relayCatchUpMaster: bool
    stage: Stage
    result: ProcessResult
    def __init__(self, masterBinlog: _Optional[str] = ..., masterBinlogGtid: _Optional[str] = ..., relaySubDir: _Optional[str] = ..., relayBinlog: _Optional[str] = ..., relayBinlogGtid: _Optional[str] = ..., relayCatchUpMaster: _Optional[bool] = ..., stage: _Optional[_Union[Stage, str]] = ..., result: _Optional[_Union[ProcessResult, _Mapping]] = ...) -> None: ...

class SubTaskStatus(_message.Message):
    __slots__ = ("name", "stage", "unit", "result", "unresolvedDDLLockID", "msg", "check", "dump", "load", "sync", "validation")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    UNRESOLVEDDDLLOCKID_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    CHECK_FIELD_NUMBER: _ClassVar[int]
    DUMP_FIELD_NUMBER: _ClassVar[int]
    LOAD_FIELD_NUMBER: _ClassVar[int]
    SYNC_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_FIELD_NUMBER: _ClassVar[int]
    name: str
    stage: Stage
    unit: UnitType
    result: ProcessResult
    unresolvedDDLLockID: str
    msg: str
    check: CheckStatus
    dump: DumpStatus
    load: LoadStatus
    sync: SyncStatus
    validation: ValidationStatus
    def __init__(self, name: _Optional[str] = ..., stage: _Optional[_Union[Stage, str]] = ..., unit: _Optional[_Union[UnitType, str]] = ..., result: _Optional[_Union[ProcessResult, _Mapping]] = ..., unresolvedDDLLockID: _Optional[str] = ..., msg: _Optional[str] = ..., check: _Optional[_Union[CheckStatus, _Mapping]] = ..., dump: _Optional[_Union[DumpStatus, _Mapping]] = ..., load: _Optional[_Union[LoadStatus, _Mapping]] = ..., sync: _Optional[_Union[SyncStatus, _Mapping]] = ..., validation: _Optional[_Union[ValidationStatus, _Mapping]] = ...) -> None: ...

class ProcessResult(_message.Message):
    __slots__ = ("isCanceled", "errors", "detail")
    ISCANCELED_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    isCanceled: bool
    errors: _containers.RepeatedCompositeFieldContainer[ProcessError]
    detail: bytes
    def __init__(self, isCanceled: _Optional[bool] = ..., errors: _Optional[_Iterable[_Union[ProcessError, _Mapping]]] = ..., detail: _Optional[bytes] = ...) -> None: ...

class ProcessError(_message.Message):
    __slots__ = ("ErrCode", "ErrClass", "ErrScope", "ErrLevel", "Message", "RawCause", "Workaround")
    ERRCODE_FIELD_NUMBER: _ClassVar[int]
    ERRCLASS_FIELD_NUMBER: _ClassVar[int]
    ERRSCOPE_FIELD_NUMBER: _ClassVar[int]
    ERRLEVEL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RAWCAUSE_FIELD_NUMBER: _ClassVar[int]
    WORKAROUND_FIELD_NUMBER: _ClassVar[int]
    ErrCode: int
    ErrClass: str
    ErrScope: str
    ErrLevel: str
    Message: str
    RawCause: str
    Workaround: str
    def __init__(self, ErrCode: _Optional[int] = ..., ErrClass: _Optional[str] = ..., ErrScope: _Optional[str] = ..., ErrLevel: _Optional[str] = ..., Message: _Optional[str] = ..., RawCause: _Optional[str] = ..., Workaround: _Optional[str] = ...) -> None: ...

class PurgeRelayRequest(_message.Message):
    __slots__ = ("inactive", "time", "filename", "subDir")
    INACTIVE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    SUBDIR_FIELD_NUMBER: _ClassVar[int]
    inactive: bool
    time: int
    filename: str
    subDir: str
    def __init__(self, inactive: _Optional[bool] = ..., time: _Optional[int] = ..., filename: _Optional[str] = ..., subDir: _Optional[str] = ...) -> None: ...

class OperateWorkerSchemaRequest(_message.Message):
    __slots__ = ("op", "task", "source", "database", "table", "schema", "flush", "sync", "fromSource", "fromTarget")
    OP_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    DATABASE_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    FLUSH_FIELD_NUMBER: _ClassVar[int]
    SYNC_FIELD_NUMBER: _ClassVar[int]
    FROMSOURCE_FIELD_NUMBER: _ClassVar[int]
    FROMTARGET_FIELD_NUMBER: _ClassVar[int]
    op: SchemaOp
    task: str
    source: str
    database: str
    table: str
    schema: str
    flush: bool
    sync: bool
    fromSource: bool
    fromTarget: bool
    def __init__(self, op: _Optional[_Union[SchemaOp, str]] = ..., task: _Optional[str] = ..., source: _Optional[str] = ..., database: _Optional[str] = ..., table: _Optional[str] = ..., schema: _Optional[str] = ..., flush: _Optional[bool] = ..., sync: _Optional[bool] = ..., fromSource: _Optional[bool] = ..., fromTarget: _Optional[bool] = ...) -> None: ...

class HandleWorkerErrorRequest(_message.Message):
    __slots__ = ("op", "task", "binlogPos", "sqls")
    OP_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    BINLOGPOS_FIELD_NUMBER: _ClassVar[int]
    SQLS_FIELD_NUMBER: _ClassVar[int]
    op: ErrorOp
    task: str
    binlogPos: str
    sqls: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, op: _Optional[_Union[ErrorOp, str]] = ..., task: _Optional[str] = ..., binlogPos: _Optional[str] = ..., sqls: _Optional[_Iterable[str]] = ...) -> None: ...

class GetWorkerCfgRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetWorkerCfgResponse(_message.Message):
    __slots__ = ("cfg",)
    CFG_FIELD_NUMBER: _ClassVar[int]
    cfg: str
    def __init__(self, cfg: _Optional[str] = ...) -> None: ...

class ValidationStatus(_message.Message):
    __slots__ = ("task", "source", "mode", "stage", "validatorBinlog", "validatorBinlogGtid", "result", "processedRowsStatus", "pendingRowsStatus", "errorRowsStatus", "cutoverBinlogPos", "cutoverBinlogGtid")
    TASK_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    VALIDATORBINLOG_FIELD_NUMBER: _ClassVar[int]
    VALIDATORBINLOGGTID_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    PROCESSEDROWSSTATUS_FIELD_NUMBER: _ClassVar[int]
    PENDINGROWSSTATUS_FIELD_NUMBER: _ClassVar[int]
    ERRORROWSSTATUS_FIELD_NUMBER: _ClassVar[int]
    CUTOVERBINLOGPOS_FIELD_NUMBER: _ClassVar[int]
    CUTOVERBINLOGGTID_FIELD_NUMBER: _ClassVar[int]
    task: str
    source: str
    mode: str
    stage: Stage
    validatorBinlog: str
    validatorBinlogGtid: str
    result: ProcessResult
    processedRowsStatus: str
    pendingRowsStatus: str
    errorRowsStatus: str
    cutoverBinlogPos: str
    cutoverBinlogGtid: str
    def __init__(self, task: _Optional[str] = ..., source: _Optional[str] = ..., mode: _Optional[str] = ..., stage: _Optional[_Union[Stage, str]] = ..., validatorBinlog: _Optional[str] = ..., validatorBinlogGtid: _Optional[str] = ..., result: _Optional[_Union[ProcessResult, _Mapping]] = ..., processedRowsStatus: _Optional[str] = ..., pendingRowsStatus: _Optional[str] = ..., errorRowsStatus: _Optional[str] = ..., cutoverBinlogPos: _Optional[str] = ..., cutoverBinlogGtid: _Optional[str] = ...) -> None: ...

class ValidationTableStatus(_message.Message):
    __slots__ = ("source", "srcTable", "dstTable", "stage", "message")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SRCTABLE_FIELD_NUMBER: _ClassVar[int]
    DSTTABLE_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    source: str
    srcTable: str
    dstTable: str
    stage: Stage
    message: str
    def __init__(self, source: _Optional[str] = ..., srcTable: _Optional[str] = ..., dstTable: _Optional[str] = ..., stage: _Optional[_Union[Stage, str]] = ..., message: _Optional[str] = ...) -> None: ...

class GetValidationStatusRequest(_message.Message):
    __slots__ = ("taskName", "filterStatus")
    TASKNAME_FIELD_NUMBER: _ClassVar[int]
    FILTERSTATUS_FIELD_NUMBER: _ClassVar[int]
    taskName: str
    filterStatus: Stage
    def __init__(self, taskName: _Optional[str] = ..., filterStatus: _Optional[_Union[Stage, str]] = ...) -> None: ...

class GetValidationStatusResponse(_message.Message):
    __slots__ = ("result", "msg", "validators", "tableStatuses")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    VALIDATORS_FIELD_NUMBER: _ClassVar[int]
    TABLESTATUSES_FIELD_NUMBER: _ClassVar[int]
    result: bool
    msg: str
    validators: _containers.RepeatedCompositeFieldContainer[ValidationStatus]
    tableStatuses: _containers.RepeatedCompositeFieldContainer[ValidationTableStatus]
    def __init__(self, result: _Optional[bool] = ..., msg: _Optional[str] = ..., validators: _Optional[_Iterable[_Union[ValidationStatus, _Mapping]]] = ..., tableStatuses: _Optional[_Iterable[_Union[ValidationTableStatus, _Mapping]]] = ...) -> None: ...

class GetValidationErrorRequest(_message.Message):
    __slots__ = ("errState", "taskName")
    ERRSTATE_FIELD_NUMBER: _ClassVar[int]
    TASKNAME_FIELD_NUMBER: _ClassVar[int]
    errState: ValidateErrorState
    taskName: str
    def __init__(self, errState: _Optional[_Union[ValidateErrorState, str]] = ..., taskName: _Optional[str] = ...) -> None: ...

class ValidationError(_message.Message):
    __slots__ = ("id", "source", "srcTable", "srcData", "dstTable", "dstData", "errorType", "status", "time", "message")
    ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SRCTABLE_FIELD_NUMBER: _ClassVar[int]
    SRCDATA_FIELD_NUMBER: _ClassVar[int]
    DSTTABLE_FIELD_NUMBER: _ClassVar[int]
    DSTDATA_FIELD_NUMBER: _ClassVar[int]
    ERRORTYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    id: str
    source: str
    srcTable: str
    srcData: str
    dstTable: str
    dstData: str
    errorType: str
    status: ValidateErrorState
    time: str
    message: str
    def __init__(self, id: _Optional[str] = ..., source: _Optional[str] = ..., srcTable: _Optional[str] = ..., srcData: _Optional[str] = ..., dstTable: _Optional[str] = ..., dstData: _Optional[str] = ..., errorType: _Optional[str] = ..., status: _Optional[_Union[ValidateErrorState, str]] = ..., time: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class GetValidationErrorResponse(_message.Message):
    __slots__ = ("result", "msg", "error")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    result: bool
    msg: str
    error: _containers.RepeatedCompositeFieldContainer[ValidationError]
    def __init__(self, result: _Optional[bool] = ..., msg: _Optional[str] = ..., error: _Optional[_Iterable[_Union[ValidationError, _Mapping]]] = ...) -> None: ...

class SubTaskSpec(_message.Message):
    __slots__ = ("name", "task", "expectStage", "startId", "removeMeta", "stageRevision", "metaBinlogName", "metaBinlogPos", "metaBinlogGTID", "startTime", "binlogOps")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    EXPECTSTAGE_FIELD_NUMBER: _ClassVar[int]
    STARTID_FIELD_NUMBER: _ClassVar[int]
    REMOVEMETA_FIELD_NUMBER: _ClassVar[int]
    STAGEREVISION_FIELD_NUMBER: _ClassVar[int]
    METABINLOGNAME_FIELD_NUMBER: _ClassVar[int]
    METABINLOGPOS_FIELD_NUMBER: _ClassVar[int]
    METABINLOGGTID_FIELD_NUMBER: _ClassVar[int]
    STARTTIME_FIELD_NUMBER: _ClassVar[int]
    BINLOGOPS_FIELD_NUMBER: _ClassVar[int]
    name: str
    task: str
    expectStage: Stage
    startId: str
    removeMeta: bool
    stageRevision: int
    metaBinlogName: str
    metaBinlogPos: int
    metaBinlogGTID: str
    startTime: str
    binlogOps: _containers.RepeatedCompositeFieldContainer[BinlogOperation]
    def __init__(self, name: _Optional[str] = ..., task: _Optional[str] = ..., expectStage: _Optional[_Union[Stage, str]] = ..., startId: _Optional[str] = ..., removeMeta: _Optional[bool] = ..., stageRevision: _Optional[int] = ..., metaBinlogName: _Optional[str] = ..., metaBinlogPos: _Optional[int] = ..., metaBinlogGTID: _Optional[str] = ..., startTime: _Optional[str] = ..., binlogOps: _Optional[_Iterable[_Union[BinlogOperation, _Mapping]]] = ...) -> None: ...

class BinlogOperation(_message.Message):
    __slots__ = ("op", "binlogPos", "sqls")
    OP_FIELD_NUMBER: _ClassVar[int]
    BINLOGPOS_FIELD_NUMBER: _ClassVar[int]
    SQLS_FIELD_NUMBER: _ClassVar[int]
    op: ErrorOp
    binlogPos: str
    sqls: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, op: _Optional[_Union[ErrorOp, str]] = ..., binlogPos: _Optional[str] = ..., sqls: _Optional[_Iterable[str]] = ...) -> None: ...

class WorkerState(_message.Message):
    __slots__ = ("source", "sourceConfig", "subtasks", "relay")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SOURCECONFIG_FIELD_NUMBER: _ClassVar[int]
    SUBTASKS_FIELD_NUMBER: _ClassVar[int]
    RELAY_FIELD_NUMBER: _ClassVar[int]
    source: str
    sourceConfig: str
    subtasks: _containers.RepeatedCompositeFieldContainer[SubTaskSpec]
    relay: RelaySpec
    def __init__(self, source: _Optional[str] = ..., sourceConfig: _Optional[str] = ..., subtasks: _Optional[_Iterable[_Union[SubTaskSpec, _Mapping]]] = ..., relay: _Optional[_Union[RelaySpec, _Mapping]] = ...) -> None: ...

class RelaySpec(_message.Message):
    __slots__ = ("enabled", "expectStage", "stageRevision")
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    EXPECTSTAGE_FIELD_NUMBER: _ClassVar[int]
    STAGEREVISION_FIELD_NUMBER: _ClassVar[int]
    enabled: bool
    expectStage: Stage
    stageRevision: int
    def __init__(self, enabled: _Optional[bool] = ..., expectStage: _Optional[_Union[Stage, str]] = ..., stageRevision: _Optional[int] = ...) -> None: ...
