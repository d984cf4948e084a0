"""Every Master RPC is either implemented or refused with a DM-style UNIMPLEMENTED message."""

from __future__ import annotations

from dmshell.daemon.common import Unsupported
from dmshell.daemon.master import UNSUPPORTED, MasterServicer, gogo_string, worker_error_msg
from dmshell.daemon.worker import WorkerServicer
from dmshell.proto import dmmaster_pb2, dmworker_pb2
from dmshell.proto import dmworker_pb2 as pb

IMPLEMENTED = {
    "StatusHistory",
    "TaskLog",
    "StartTask",
    "OperateTask",
    "QueryStatus",
    "CheckTask",
    "OperateSource",
    "RegisterWorker",
    "ListMember",
    "GetSubTaskCfg",
    "GetCfg",
    "GetMasterCfg",
    "Encrypt",
    "ListTaskConfigs",
    "ListSourceConfigs",
    "WatchStatus",
    "GetClusterInfo",
    "OperateRelay",
    "OperateWorkerRelayTask",
    "PurgeWorkerRelay",
    "HandleError",
    "OperateSchema",
    "ListBinlogEvents",
    "ShowDDLLocks",
    "UnlockDDLLock",
    "ReportShardDDL",
    "OptimisticShardDDL",
}


def test_every_rpc_is_implemented_or_refused():
    methods = {m.name for m in dmmaster_pb2.DESCRIPTOR.services_by_name["Master"].methods}
    assert methods == IMPLEMENTED | set(UNSUPPORTED)
    assert not IMPLEMENTED & set(UNSUPPORTED)
    for name in methods:  # defined by dmshell, not grpc's "Method not implemented!" default
        assert name in MasterServicer.__dict__, name


def test_every_worker_rpc_is_implemented_or_refused():
    methods = {m.name for m in dmworker_pb2.DESCRIPTOR.services_by_name["Worker"].methods}
    assert all(name in WorkerServicer.__dict__ for name in methods)
    refused = {name for name, attr in vars(WorkerServicer).items() if isinstance(attr, Unsupported)}
    assert refused == set()


def test_worker_errors_are_reported_like_dm():
    err = pb.ProcessError(
        ErrCode=10006,
        ErrClass="database",
        ErrScope="not-set",
        ErrLevel="high",
        Message='execute statement failed: "x"',
        RawCause="Error 1146: no table",
    )
    assert gogo_string(err) == (
        'ErrCode:10006 ErrClass:"database" ErrScope:"not-set" ErrLevel:"high" '
        'Message:"execute statement failed: \\"x\\"" RawCause:"Error 1146: no table" '
    )
    msg = worker_error_msg(pb.ProcessResult(errors=[err]))
    assert msg.startswith(
        "[code=38032:class=dm-master:scope=internal:level=high], Message: some error occurs "
        "in dm-worker: ErrCode:10006 "
    )
    assert msg.endswith(", Workaround: Please execute `query-status` to check status.")
    assert worker_error_msg(pb.ProcessResult()) == ""
