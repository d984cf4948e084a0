from dmshell.proto import dmworker_pb2 as _dmworker_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UnlockDDLLockOp(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    InvalidLockOp: _ClassVar[UnlockDDLLockOp]
    SkipLock: _ClassVar[UnlockDDLLockOp]
    ExecLock: _ClassVar[UnlockDDLLockOp]

class SourceOp(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    InvalidSourceOp: _ClassVar[SourceOp]
    StartSource: _ClassVar[SourceOp]
    UpdateSource: _ClassVar[SourceOp]
    StopSource: _ClassVar[SourceOp]
    ShowSource: _ClassVar[SourceOp]

class LeaderOp(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    InvalidLeaderOp: _ClassVar[LeaderOp]
    EvictLeaderOp: _ClassVar[LeaderOp]
    CancelEvictLeaderOp: _ClassVar[LeaderOp]

class CfgType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    InvalidType: _ClassVar[CfgType]
    TaskType: _ClassVar[CfgType]
    MasterType: _ClassVar[CfgType]
    WorkerType: _ClassVar[CfgType]
    SourceType: _ClassVar[CfgType]
    TaskTemplateType: _ClassVar[CfgType]

class RelayOpV2(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    InvalidRelayOpV2: _ClassVar[RelayOpV2]
    StartRelayV2: _ClassVar[RelayOpV2]
    StopRelayV2: _ClassVar[RelayOpV2]

class ValidationErrOp(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    InvalidErrOp: _ClassVar[ValidationErrOp]
    IgnoreErrOp: _ClassVar[ValidationErrOp]
    ResolveErrOp: _ClassVar[ValidationErrOp]
    ClearErrOp: _ClassVar[ValidationErrOp]
InvalidLockOp: UnlockDDLLockOp
SkipLock: UnlockDDLLockOp
ExecLock: UnlockDDLLockOp
InvalidSourceOp: SourceOp
StartSource: SourceOp
UpdateSource: SourceOp
StopSource: SourceOp
ShowSource: SourceOp
InvalidLeaderOp: LeaderOp
EvictLeaderOp: LeaderOp
CancelEvictLeaderOp: LeaderOp
InvalidType: CfgType
TaskType: CfgType
MasterType: CfgType
WorkerType: CfgType
SourceType: CfgType
TaskTemplateType: CfgType
InvalidRelayOpV2: RelayOpV2
StartRelayV2: RelayOpV2
StopRelayV2: RelayOpV2
InvalidErrOp: ValidationErrOp
IgnoreErrOp: ValidationErrOp
ResolveErrOp: ValidationErrOp
ClearErrOp: ValidationErrOp

class Empty(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StartTaskRequest(_message.Message):
    __slots__ = ("task", "sources", "removeMeta", "startTime")
    TASK_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    REMOVEMETA_FIELD_NUMBER: _ClassVar[int]
    STARTTIME_FIELD_NUMBER: _ClassVar[int]
    task: str
    sources: _containers.RepeatedScalarFieldContainer[str]
    removeMeta: bool
    startTime: str
    def __init__(self, task: _Optional[str] = ..., sources: _Optional[_Iterable[str]] = ..., removeMeta: _Optional[bool] = ..., startTime: _Optional[str] = ...) -> None: ...

class StartTaskResponse(_message.Message):
    __slots__ = ("result", "msg", "sources", "checkResult")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    CHECKRESULT_FIELD_NUMBER: _ClassVar[int]
    result: bool
    msg: str
    sources: _containers.RepeatedCompositeFieldContainer[_dmworker_pb2.CommonWorkerResponse]
    checkResult: str
    def __init__(self, result: _Optional[bool] = ..., msg: _Optional[str] = ..., sources: _Optional[_Iterable[_Union[_dmworker_pb2.CommonWorkerResponse, _Mapping]]] = ..., checkResult: _Optional[str] = ...) -> None: ...

class OperateTaskRequest(_message.Message):
    __slots__ = ("op", "name", "sources")
    OP_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    op: _dmworker_pb2.TaskOp
    name: str
    sources: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, op: _Optional[_Union[_dmworker_pb2.TaskOp, str]] = ..., name: _Optional[str] = ..., sources: _Optional[_Iterable[str]] = ...) -> None: ...

class OperateTaskResponse(_message.Message):
    __slots__ = ("op", "result", "msg", "sources")
    OP_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    op: _dmworker_pb2.TaskOp
    result: bool
    msg: str
    sources: _containers.RepeatedCompositeFieldContainer[_dmworker_pb2.CommonWorkerResponse]
    def __init__(self, op: _Optional[_Union[_dmworker_pb2.TaskOp, str]] = ..., result: _Optional[bool] = ..., msg: _Optional[str] = ..., sources: _Optional[_Iterable[_Union[_dmworker_pb2.CommonWorkerResponse, _Mapping]]] = ...) -> None: ...

class UpdateTaskRequest(_message.Message):
    __slots__ = ("task", "sources")
    TASK_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    task: str
    sources: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, task: _Optional[str] = ..., sources: _Optional[_Iterable[str]] = ...) -> None: ...

class UpdateTaskResponse(_message.Message):
    __slots__ = ("result", "msg", "sources", "checkResult")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    CHECKRESULT_FIELD_NUMBER: _ClassVar[int]
    result: bool
    msg: str
    sources: _containers.RepeatedCompositeFieldContainer[_dmworker_pb2.CommonWorkerResponse]
    checkResult: str
    def __init__(self, result: _Optional[bool] = ..., msg: _Optional[str] = ..., sources: _Optional[_Iterable[_Union[_dmworker_pb2.CommonWorkerResponse, _Mapping]]] = ..., checkResult: _Optional[str] = ...) -> None: ...

class QueryStatusListRequest(_message.Message):
    __slots__ = ("name", "sources")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    name: str
    sources: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., sources: _Optional[_Iterable[str]] = ...) -> None: ...

class QueryStatusListResponse(_message.Message):
    __slots__ = ("result", "msg", "sources")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    result: bool
    msg: str
    sources: _containers.RepeatedCompositeFieldContainer[_dmworker_pb2.QueryStatusResponse]
    def __init__(self, result: _Optional[bool] = ..., msg: _Optional[str] = ..., sources: _Optional[_Iterable[_Union[_dmworker_pb2.QueryStatusResponse, _Mapping]]] = ...) -> None: ...

class ShowDDLLocksRequest(_message.Message):
    __slots__ = ("task", "sources")
    TASK_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    task: str
    sources: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, task: _Optional[str] = ..., sources: _Optional[_Iterable[str]] = ...) -> None: ...

class DDLLock(_message.Message):
    __slots__ = ("ID", "task", "mode", "owner", "DDLs", "synced", "unsynced")
    ID_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    DDLS_FIELD_NUMBER: _ClassVar[int]
    SYNCED_FIELD_NUMBER: _ClassVar[int]
    UNSYNCED_FIELD_NUMBER: _ClassVar[int]
    ID: str
    task: str
    mode: str
    owner: str
    DDLs: _containers.RepeatedScalarFieldContainer[str]
    synced: _containers.RepeatedScalarFieldContainer[str]
    unsynced: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ID: _Optional[str] = ..., task: _Optional[str] = ..., mode: _Optional[str] = ..., owner: _Optional[str] = ..., DDLs: _Optional[_Iterable[str]] = ..., synced: _Optional[_Iterable[str]] = ..., unsynced: _Optional[_Iterable[str]] = ...) -> None: ...

class ShowDDLLocksResponse(_message.Message):
    __slots__ = ("result", "msg", "locks")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    LOCKS_FIELD_NUMBER: _ClassVar[int]
    result: bool
    msg: str
    locks: _containers.RepeatedCompositeFieldContainer[DDLLock]
    def __init__(self, result: _Optional[bool] = ..., msg: _Optional[str] = ..., locks: _Optional[_Iterable[_Union[DDLLock, _Mapping]]] = ...) -> None: ...

class UnlockDDLLockRequest(_message.Message):
    __slots__ = ("ID", "replaceOwner", "forceRemove", "op", "sources", "database", "table")
    ID_FIELD_NUMBER: _ClassVar[int]
    REPLACEOWNER_FIELD_NUMBER: _ClassVar[int]
    FORCEREMOVE_FIELD_NUMBER: _ClassVar[int]
    OP_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    DATABASE_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    ID: str
    replaceOwner: str
    forceRemove: bool
    op: UnlockDDLLockOp
    sources: _containers.RepeatedScalarFieldContainer[str]
    database: str
    table: str
    def __init__(self, ID: _Optional[str] = ..., replaceOwner: _Optional[str] = ..., forceRemove: _Optional[bool] = ..., op: _Optional[_Union[UnlockDDLLockOp, str]] = ..., sources: _Optional[_Iterable[str]] = ..., database: _Optional[str] = ..., table: _Optional[str] = ...) -> None: ...

class UnlockDDLLockResponse(_message.Message):
    __slots__ = ("result", "msg")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    result: bool
    msg: str
    def __init__(self, result: _Optional[bool] = ..., msg: _Optional[str] = ...) -> None: ...

class OperateWorkerRelayRequest(_message.Message):
    __slots__ = ("op", "sources")
    OP_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    op: _dmworker_pb2.RelayOp
    sources: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, op: _Optional[_Union[_dmworker_pb2.RelayOp, str]] = ..., sources: _Optional[_Iterable[str]] = ...) -> None: ...

class OperateWorkerRelayResponse(_message.Message):
    __slots__ = ("op", "result", "msg", "sources")
    OP_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    op: _dmworker_pb2.RelayOp
    result: bool
    msg: str
    sources: _containers.RepeatedCompositeFieldContainer[_dmworker_pb2.CommonWorkerResponse]
    def __init__(self, op: _Optional[_Union[_dmworker_pb2.RelayOp, str]] = ..., result: _Optional[bool] = ..., msg: _Optional[str] = ..., sources: _Optional[_Iterable[_Union[_dmworker_pb2.CommonWorkerResponse, _Mapping]]] = ...) -> None: ...

class PurgeWorkerRelayRequest(_message.Message):
    __slots__ = ("sources", "inactive", "time", "filename", "subDir")
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    INACTIVE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    SUBDIR_FIELD_NUMBER: _ClassVar[int]
    sources: _containers.RepeatedScalarFieldContainer[str]
    inactive: bool
    time: int
    filename: str
    subDir: str
    def __init__(self, sources: _Optional[_Iterable[str]] = ..., inactive: _Optional[bool] = ..., time: _Optional[int] = ..., filename: _Optional[str] = ..., subDir: _Optional[str] = ...) -> None: ...

class PurgeWorkerRelayResponse(_message.Message):
    __slots__ = ("result", "msg", "sources")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    result: bool
    msg: str
    sources: _containers.RepeatedCompositeFieldContainer[_dmworker_pb2.CommonWorkerResponse]
    def __init__(self, result: _Optional[bool] = ..., msg: _Optional[str] = ..., sources: _Optional[_Iterable[_Union[_dmworker_pb2.CommonWorkerResponse, _Mapping]]] = ...) -> None: ...

class CheckTaskRequest(_message.Message):
    __slots__ = ("task", "errCnt", "warnCnt", "startTime")
    TASK_FIELD_NUMBER: _ClassVar[int]
    ERRCNT_FIELD_NUMBER: _ClassVar[int]
    WARNCNT_FIELD_NUMBER: _ClassVar[int]
    STARTTIME_FIELD_NUMBER: _ClassVar[int]
    task: str
    errCnt: int
    warnCnt: int
    startTime: str
    def __init__(self, task: _Optional[str] = ..., errCnt: _Optional[int] = ..., warnCnt: _Optional[int] = ..., startTime: _Optional[str] = ...) -> None: ...

class CheckTaskResponse(_message.Message):
    __slots__ = ("result", "msg")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    result: bool
    msg: str
    def __init__(self, result: _Optional[bool] = ..., msg: _Optional[str] = ...) -> None: ...

class OperateSourceRequest(_message.Message):
    __slots__ = ("op", "config", "sourceID", "workerName")
    OP_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    SOURCEID_FIELD_NUMBER: _ClassVar[int]
    WORKERNAME_FIELD_NUMBER: _ClassVar[int]
    op: SourceOp
    config: _containers.RepeatedScalarFieldContainer[str]
    sourceID: _containers.RepeatedScalarFieldContainer[str]
    workerName: str
    def __init__(self, op: _Optional[_Union[SourceOp, str]] = ..., config: _Optional[_Iterable[str]] = ..., sourceID: _Optional[_Iterable[str]] = ..., workerName: _Optional[str] = ...) -> None: ...

class OperateSourceResponse(_message.Message):
    __slots__ = ("result", "msg", "sources")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    result: bool
    msg: str
    sources: _containers.RepeatedCompositeFieldContainer[_dmworker_pb2.CommonWorkerResponse]
    def __init__(self, result: _Optional[bool] = ..., msg: _Optional[str] = ..., sources: _Optional[_Iterable[_Union[_dmworker_pb2.CommonWorkerResponse, _Mapping]]] = ...) -> None: ...

class RegisterWorkerRequest(_message.Message):
    __slots__ = ("name", "address")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    name: str
    address: str
    def __init__(self, name: _Optional[str] = ..., address: _Optional[str] = ...) -> None: ...

class RegisterWorkerResponse(_message.Message):
    __slots__ = ("result", "msg", "secretKey")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    SECRETKEY_FIELD_NUMBER: _ClassVar[int]
    result: bool
    msg: str
    secretKey: bytes
    def __init__(self, result: _Optional[bool] = ..., msg: _Optional[str] = ..., secretKey: _Optional[bytes] = ...) -> None: ...

class OfflineMemberRequest(_message.Message):
    __slots__ = ("type", "name")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    type: str
    name: str
    def __init__(self, type: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class OfflineMemberResponse(_message.Message):
    __slots__ = ("result", "msg")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    result: bool
    msg: str
    def __init__(self, result: _Optional[bool] = ..., msg: _Optional[str] = ...) -> None: ...

class OperateLeaderRequest(_message.Message):
    __slots__ = ("op",)
    OP_FIELD_NUMBER: _ClassVar[int]
    op: LeaderOp
    def __init__(self, op: _Optional[_Union[LeaderOp, str]] = ...) -> None: ...

class OperateLeaderResponse(_message.Message):
    __slots__ = ("result", "msg")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    result: bool
    msg: str
    def __init__(self, result: _Optional[bool] = ..., msg: _Optional[str] = ...) -> None: ...

class MasterInfo(_message.Message):
    __slots__ = ("name", "memberID", "alive", "peerURLs", "clientURLs")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MEMBERID_FIELD_NUMBER: _ClassVar[int]
    ALIVE_FIELD_NUMBER: _ClassVar[int]
    PEERURLS_FIELD_NUMBER: _ClassVar[int]
    CLIENTURLS_FIELD_NUMBER: _ClassVar[int]
    name: str
    memberID: int
    alive: bool
    peerURLs: _containers.RepeatedScalarFieldContainer[str]
    clientURLs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., memberID: _Optional[int] = ..., alive: _Optional[bool] = ..., peerURLs: _Optional[_Iterable[str]] = ..., clientURLs: _Optional[_Iterable[str]] = ...) -> None: ...

class WorkerInfo(_message.Message):
    __slots__ = ("name", "addr", "stage", "source")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ADDR_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    addr: str
    stage: str
    source: str
    def __init__(self, name: _Optional[str] = ..., addr: _Optional[str] = ..., stage: _Optional[str] = ..., source: _Optional[str] = ...) -> None: ...

class ListLeaderMember(_message.Message):
    __slots__ = ("msg", "name", "addr")
    MSG_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ADDR_FIELD_NUMBER: _ClassVar[int]
    msg: str
    name: str
    addr: str
    def __init__(self, msg: _Optional[str] = ..., name: _Optional[str] = ..., addr: _Optional[str] = ...) -> None: ...

class ListMasterMember(_message.Message):
    __slots__ = ("msg", "masters")
    MSG_FIELD_NUMBER: _ClassVar[int]
    MASTERS_FIELD_NUMBER: _ClassVar[int]
    msg: str
    masters: _containers.RepeatedCompositeFieldContainer[MasterInfo]
    def __init__(self, msg: _Optional[str] = ..., masters: _Optional[_Iterable[_Union[MasterInfo, _Mapping]]] = ...) -> None: ...

class ListWorkerMember(_message.Message):
    __slots__ = ("msg", "workers")
    MSG_FIELD_NUMBER: _ClassVar[int]
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    msg: str
    workers: _containers.RepeatedCompositeFieldContainer[WorkerInfo]
    def __init__(self, msg: _Optional[str] = ..., workers: _Optional[_Iterable[_Union[WorkerInfo, _Mapping]]] = ...) -> None: ...

class Members(_message.Message):
    __slots__ = ("leader", "master", "worker")
    LEADER_FIELD_NUMBER: _ClassVar[int]
    MASTER_FIELD_NUMBER: _ClassVar[int]
    WORKER_FIELD_NUMBER: _ClassVar[int]
    leader: ListLeaderMember
    master: ListMasterMember
    worker: ListWorkerMember
    def __init__(self, leader: _Optional[_Union[ListLeaderMember, _Mapping]] = ..., master: _Optional[_Union[ListMasterMember, _Mapping]] = ..., worker: _Optional[_Union[ListWorkerMember, _Mapping]] = ...) -> None: ...

class ListMemberRequest(_message.Message):
    __slots__ = ("leader", "master", "worker", "names")
    LEADER_FIELD_NUMBER: _ClassVar[int]
    MASTER_FIELD_NUMBER: _ClassVar[int]
    WORKER_FIELD_NUMBER: _ClassVar[int]
    NAMES_FIELD_NUMBER: _ClassVar[int]
    leader: bool
    master: bool
    worker: bool
    names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, leader: _Optional[bool] = ..., master: _Optional[bool] = ..., worker: _Optional[bool] = ..., names: _Optional[_Iterable[str]] = ...) -> None: ...

class ListMemberResponse(_message.Message):
    __slots__ = ("result", "msg", "members")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    result: bool
    msg: str
    members: _containers.RepeatedCompositeFieldContainer[Members]
    def __init__(self, result: _Optional[bool] = ..., msg: _Optional[str] = ..., members: _Optional[_Iterable[_Union[Members, _Mapping]]] = ...) -> None: ...

class OperateSchemaRequest(_message.Message):
    __slots__ = ("op", "task", "sources", "database", "table", "schema", "flush", "sync", "fromSource", "fromTarget")
    OP_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    DATABASE_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    FLUSH_FIELD_NUMBER: _ClassVar[int]
    SYNC_FIELD_NUMBER: _ClassVar[int]
    FROMSOURCE_FIELD_NUMBER: _ClassVar[int]
    FROMTARGET_FIELD_NUMBER: _ClassVar[int]
    op: _dmworker_pb2.SchemaOp
    task: str
    sources: _containers.RepeatedScalarFieldContainer[str]
    database: str
    table: str
    schema: str
    flush: bool
    sync: bool
    fromSource: bool
    fromTarget: bool
    def __init__(self, op: _Optional[_Union[_dmworker_pb2.SchemaOp, str]] = ..., task: _Optional[str] = ..., sources: _Optional[_Iterable[str]] = ..., database: _Optional[str] = ..., table: _Optional[str] = ..., schema: _Optional[str] = ..., flush: _Optional[bool] = ..., sync: _Optional[bool] = ..., fromSource: _Optional[bool] = ..., fromTarget: _Optional[bool] = ...) -> None: ...

class OperateSchemaResponse(_message.Message):
    __slots__ = ("result", "msg", "sources")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    result: bool
    msg: str
    sources: _containers.RepeatedCompositeFieldContainer[_dmworker_pb2.CommonWorkerResponse]
    def __init__(self, result: _Optional[bool] = ..., msg: _Optional[str] = ..., sources: _Optional[_Iterable[_Union[_dmworker_pb2.CommonWorkerResponse, _Mapping]]] = ...) -> None: ...

class GetSubTaskCfgRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetSubTaskCfgResponse(_message.Message):
    __slots__ = ("result", "msg", "cfgs")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    CFGS_FIELD_NUMBER: _ClassVar[int]
    result: bool
    msg: str
    cfgs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, result: _Optional[bool] = ..., msg: _Optional[str] = ..., cfgs: _Optional[_Iterable[str]] = ...) -> None: ...

class GetCfgRequest(_message.Message):
    __slots__ = ("type", "name")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    type: CfgType
    name: str
    def __init__(self, type: _Optional[_Union[CfgType, str]] = ..., name: _Optional[str] = ...) -> None: ...

class GetCfgResponse(_message.Message):
    __slots__ = ("result", "msg", "cfg")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    CFG_FIELD_NUMBER: _ClassVar[int]
    result: bool
    msg: str
    cfg: str
    def __init__(self, result: _Optional[bool] = ..., msg: _Optional[str] = ..., cfg: _Optional[str] = ...) -> None: ...

class GetMasterCfgRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetMasterCfgResponse(_message.Message):
    __slots__ = ("cfg",)
    CFG_FIELD_NUMBER: _ClassVar[int]
    cfg: str
    def __init__(self, cfg: _Optional[str] = ...) -> None: ...

class HandleErrorRequest(_message.Message):
    __slots__ = ("op", "task", "sources", "binlogPos", "sqls")
    OP_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    BINLOGPOS_FIELD_NUMBER: _ClassVar[int]
    SQLS_FIELD_NUMBER: _ClassVar[int]
    op: _dmworker_pb2.ErrorOp
    task: str
    sources: _containers.RepeatedScalarFieldContainer[str]
    binlogPos: str
    sqls: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, op: _Optional[_Union[_dmworker_pb2.ErrorOp, str]] = ..., task: _Optional[str] = ..., sources: _Optional[_Iterable[str]] = ..., binlogPos: _Optional[str] = ..., sqls: _Optional[_Iterable[str]] = ...) -> None: ...

class HandleErrorResponse(_message.Message):
    __slots__ = ("result", "msg", "sources")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    result: bool
    msg: str
    sources: _containers.RepeatedCompositeFieldContainer[_dmworker_pb2.CommonWorkerResponse]
    def __init__(self, result: _Optional[bool] = ..., msg: _Optional[str] = ..., sources: _Optional[_Iterable[_Union[_dmworker_pb2.CommonWorkerResponse, _Mapping]]] = ...) -> None: ...

class TransferSourceRequest(_message.Message):
    __slots__ = ("source", "worker")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    WORKER_FIELD_NUMBER: _ClassVar[int]
    source: str
    worker: str
    def __init__(self, source: _Optional[str] = ..., worker: _Optional[str] = ...) -> None: ...

class TransferSourceResponse(_message.Message):
    __slots__ = ("result", "msg")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    result: bool
    msg: str
    def __init__(self, result: _Optional[bool] = ..., msg: _Optional[str] = ...) -> None: ...

class OperateRelayRequest(_message.Message):
    __slots__ = ("op", "source", "worker")
    OP_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    WORKER_FIELD_NUMBER: _ClassVar[int]
    op: RelayOpV2
    source: str
    worker: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, op: _Optional[_Union[RelayOpV2, str]] = ..., source: _Optional[str] = ..., worker: _Optional[_Iterable[str]] = ...) -> None: ...

class OperateRelayResponse(_message.Message):
    __slots__ = ("result", "msg", "sources")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    result: bool
    msg: str
    sources: _containers.RepeatedCompositeFieldContainer[_dmworker_pb2.CommonWorkerResponse]
    def __init__(self, result: _Optional[bool] = ..., msg: _Optional[str] = ..., sources: _Optional[_Iterable[_Union[_dmworker_pb2.CommonWorkerResponse, _Mapping]]] = ...) -> None: ...

class StartValidationRequest(_message.Message):
    __slots__ = ("mode_value", "start_time_value", "sources", "taskName")
    MODE_VALUE_FIELD_NUMBER: _ClassVar[int]
    START_TIME_VALUE_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    TASKNAME_FIELD_NUMBER: _ClassVar[int]
    mode_value: str
    start_time_value: str
    sources: _containers.RepeatedScalarFieldContainer[str]
    taskName: str
    def __init__(self, mode_value: _Optional[str] = ..., start_time_value: _Optional[str] = ..., sources: _Optional[_Iterable[str]] = ..., taskName: _Optional[str] = ...) -> None: ...

class StartValidationResponse(_message.Message):
    __slots__ = ("result", "msg", "sources")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    result: bool
    msg: str
    sources: _containers.RepeatedCompositeFieldContainer[_dmworker_pb2.CommonWorkerResponse]
    def __init__(self, result: _Optional[bool] = ..., msg: _Optional[str] = ..., sources: _Optional[_Iterable[_Union[_dmworker_pb2.CommonWorkerResponse, _Mapping]]] = ...) -> None: ...

class StopValidationRequest(_message.Message):
    __slots__ = ("sources", "taskName")
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    TASKNAME_FIELD_NUMBER: _ClassVar[int]
    sources: _containers.RepeatedScalarFieldContainer[str]
    taskName: str
    def __init__(self, sources: _Optional[_Iterable[str]] = ..., taskName: _Optional[str] = ...) -> None: ...

class StopValidationResponse(_message.Message):
    __slots__ = ("result", "msg", "sources")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    result: bool
    msg: str
    sources: _containers.RepeatedCompositeFieldContainer[_dmworker_pb2.CommonWorkerResponse]
    def __init__(self, result: _Optional[bool] = ..., msg: _Optional[str] = ..., sources: _Optional[_Iterable[_Union[_dmworker_pb2.CommonWorkerResponse, _Mapping]]] = ...) -> None: ...

class OperateValidationErrorRequest(_message.Message):
    __slots__ = ("op", "isAllError", "taskName", "errId")
    OP_FIELD_NUMBER: _ClassVar[int]
    ISALLERROR_FIELD_NUMBER: _ClassVar[int]
    TASKNAME_FIELD_NUMBER: _ClassVar[int]
    ERRID_FIELD_NUMBER: _ClassVar[int]
    op: ValidationErrOp
    isAllError: bool
    taskName: str
    errId: int
    def __init__(self, op: _Optional[_Union[ValidationErrOp, str]] = ..., isAllError: _Optional[bool] = ..., taskName: _Optional[str] = ..., errId: _Optional[int] = ...) -> None: ...

class OperateValidationErrorResponse(_message.Message):
    __slots__ = ("result", "msg")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    result: bool
    msg: str
    def __init__(self, result: _Optional[bool] = ..., msg: _Optional[str] = ...) -> None: ...

class UpdateValidationRequest(_message.Message):
    __slots__ = ("taskName", "sources", "binlogPos", "binlogGTID")
    TASKNAME_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    BINLOGPOS_FIELD_NUMBER: _ClassVar[int]
    BINLOGGTID_FIELD_NUMBER: _ClassVar[int]
    taskName: str
    sources: _containers.RepeatedScalarFieldContainer[str]
    binlogPos: str
    binlogGTID: str
    def __init__(self, taskName: _Optional[str] = ..., sources: _Optional[_Iterable[str]] = ..., binlogPos: _Optional[str] = ..., binlogGTID: _Optional[str] = ...) -> None: ...

class UpdateValidationResponse(_message.Message):
    __slots__ = ("result", "msg", "sources")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    result: bool
    msg: str
    sources: _containers.RepeatedCompositeFieldContainer[_dmworker_pb2.CommonWorkerResponse]
    def __init__(self, result: _Optional[bool] = ..., msg: _Optional[str] = ..., sources: _Optional[_Iterable[_Union[_dmworker_pb2.CommonWorkerResponse, _Mapping]]] = ...) -> None: ...

class EncryptRequest(_message.Message):
    __slots__ = ("plaintext",)
    PLAINTEXT_FIELD_NUMBER: _ClassVar[int]
    plaintext: str
    def __init__(self, plaintext: _Optional[str] = ...) -> None: ...

class EncryptResponse(_message.Message):
    __slots__ = ("result", "msg", "ciphertext")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    CIPHERTEXT_FIELD_NUMBER: _ClassVar[int]
    result: bool
    msg: str
    ciphertext: str
    def __init__(self, result: _Optional[bool] = ..., msg: _Optional[str] = ..., ciphertext: _Optional[str] = ...) -> None: ...

class ListTaskConfigsResponse(_message.Message):
    __slots__ = ("result", "msg", "taskConfigs")
    class TaskConfigsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    TASKCONFIGS_FIELD_NUMBER: _ClassVar[int]
    result: bool
    msg: str
    taskConfigs: _containers.ScalarMap[str, str]
    def __init__(self, result: _Optional[bool] = ..., msg: _Optional[str] = ..., taskConfigs: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ListSourceConfigsResponse(_message.Message):
    __slots__ = ("result", "msg", "sourceConfigs")
    class SourceConfigsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    SOURCECONFIGS_FIELD_NUMBER: _ClassVar[int]
    result: bool
    msg: str
    sourceConfigs: _containers.ScalarMap[str, str]
    def __init__(self, result: _Optional[bool] = ..., msg: _Optional[str] = ..., sourceConfigs: _Optional[_Mapping[str, str]] = ...) -> None: ...

class StatusHistoryRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class StatusSample(_message.Message):
    __slots__ = ("unixMs", "status")
    UNIXMS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    unixMs: int
    status: QueryStatusListResponse
    def __init__(self, unixMs: _Optional[int] = ..., status: _Optional[_Union[QueryStatusListResponse, _Mapping]] = ...) -> None: ...

class StatusHistoryResponse(_message.Message):
    __slots__ = ("result", "msg", "samples", "intervalMs")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    INTERVALMS_FIELD_NUMBER: _ClassVar[int]
    result: bool
    msg: str
    samples: _containers.RepeatedCompositeFieldContainer[StatusSample]
    intervalMs: int
    def __init__(self, result: _Optional[bool] = ..., msg: _Optional[str] = ..., samples: _Optional[_Iterable[_Union[StatusSample, _Mapping]]] = ..., intervalMs: _Optional[int] = ...) -> None: ...

class TaskLogRequest(_message.Message):
    __slots__ = ("name", "sources", "lines")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    name: str
    sources: _containers.RepeatedScalarFieldContainer[str]
    lines: int
    def __init__(self, name: _Optional[str] = ..., sources: _Optional[_Iterable[str]] = ..., lines: _Optional[int] = ...) -> None: ...

class TaskLogLines(_message.Message):
    __slots__ = ("worker", "file", "lines", "msg")
    WORKER_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    worker: str
    file: str
    lines: _containers.RepeatedScalarFieldContainer[str]
    msg: str
    def __init__(self, worker: _Optional[str] = ..., file: _Optional[str] = ..., lines: _Optional[_Iterable[str]] = ..., msg: _Optional[str] = ...) -> None: ...

class TaskLogResponse(_message.Message):
    __slots__ = ("result", "msg", "workers")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    result: bool
    msg: str
    workers: _containers.RepeatedCompositeFieldContainer[TaskLogLines]
    def __init__(self, result: _Optional[bool] = ..., msg: _Optional[str] = ..., workers: _Optional[_Iterable[_Union[TaskLogLines, _Mapping]]] = ...) -> None: ...

class WatchStatusRequest(_message.Message):
    __slots__ = ("name", "sources", "intervalMs")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    INTERVALMS_FIELD_NUMBER: _ClassVar[int]
    name: str
    sources: _containers.RepeatedScalarFieldContainer[str]
    intervalMs: int
    def __init__(self, name: _Optional[str] = ..., sources: _Optional[_Iterable[str]] = ..., intervalMs: _Optional[int] = ...) -> None: ...

class ClusterInfo(_message.Message):
    __slots__ = ("masterAddr", "dataDir", "workersUp", "workersTotal", "version", "pid", "startTime")
    MASTERADDR_FIELD_NUMBER: _ClassVar[int]
    DATADIR_FIELD_NUMBER: _ClassVar[int]
    WORKERSUP_FIELD_NUMBER: _ClassVar[int]
    WORKERSTOTAL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    STARTTIME_FIELD_NUMBER: _ClassVar[int]
    masterAddr: str
    dataDir: str
    workersUp: int
    workersTotal: int
    version: str
    pid: int
    startTime: int
    def __init__(self, masterAddr: _Optional[str] = ..., dataDir: _Optional[str] = ..., workersUp: _Optional[int] = ..., workersTotal: _Optional[int] = ..., version: _Optional[str] = ..., pid: _Optional[int] = ..., startTime: _Optional[int] = ...) -> None: ...

class ListBinlogEventsRequest(_message.Message):
    __slots__ = ("source", "binlogPos", "count")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    BINLOGPOS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    source: str
    binlogPos: str
    count: int
    def __init__(self, source: _Optional[str] = ..., binlogPos: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class BinlogEventInfo(_message.Message):
    __slots__ = ("file", "pos", "type", "endPos", "info")
    FILE_FIELD_NUMBER: _ClassVar[int]
    POS_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ENDPOS_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    file: str
    pos: int
    type: str
    endPos: int
    info: str
    def __init__(self, file: _Optional[str] = ..., pos: _Optional[int] = ..., type: _Optional[str] = ..., endPos: _Optional[int] = ..., info: _Optional[str] = ...) -> None: ...

class ListBinlogEventsResponse(_message.Message):
    __slots__ = ("result", "msg", "events")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    result: bool
    msg: str
    events: _containers.RepeatedCompositeFieldContainer[BinlogEventInfo]
    def __init__(self, result: _Optional[bool] = ..., msg: _Optional[str] = ..., events: _Optional[_Iterable[_Union[BinlogEventInfo, _Mapping]]] = ...) -> None: ...

class ShardDDLReport(_message.Message):
    __slots__ = ("task", "source", "targetSchema", "targetTable", "DDLs", "done")
    TASK_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TARGETSCHEMA_FIELD_NUMBER: _ClassVar[int]
    TARGETTABLE_FIELD_NUMBER: _ClassVar[int]
    DDLS_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    task: str
    source: str
    targetSchema: str
    targetTable: str
    DDLs: _containers.RepeatedScalarFieldContainer[str]
    done: bool
    def __init__(self, task: _Optional[str] = ..., source: _Optional[str] = ..., targetSchema: _Optional[str] = ..., targetTable: _Optional[str] = ..., DDLs: _Optional[_Iterable[str]] = ..., done: _Optional[bool] = ...) -> None: ...

class ShardDDLDecision(_message.Message):
    __slots__ = ("result", "msg", "lockID", "action", "errCode")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    LOCKID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ERRCODE_FIELD_NUMBER: _ClassVar[int]
    result: bool
    msg: str
    lockID: str
    action: str
    errCode: int
    def __init__(self, result: _Optional[bool] = ..., msg: _Optional[str] = ..., lockID: _Optional[str] = ..., action: _Optional[str] = ..., errCode: _Optional[int] = ...) -> None: ...

class OptimisticShardDDLRequest(_message.Message):
    __slots__ = ("task", "source", "targetSchema", "targetTable", "shards", "shard", "kind", "name", "definition", "strict", "before")
    TASK_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TARGETSCHEMA_FIELD_NUMBER: _ClassVar[int]
    TARGETTABLE_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    SHARD_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    STRICT_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    task: str
    source: str
    targetSchema: str
    targetTable: str
    shards: str
    shard: str
    kind: str
    name: str
    definition: str
    strict: bool
    before: str
    def __init__(self, task: _Optional[str] = ..., source: _Optional[str] = ..., targetSchema: _Optional[str] = ..., targetTable: _Optional[str] = ..., shards: _Optional[str] = ..., shard: _Optional[str] = ..., kind: _Optional[str] = ..., name: _Optional[str] = ..., definition: _Optional[str] = ..., strict: _Optional[bool] = ..., before: _Optional[str] = ...) -> None: ...
