"""The master's ``HandleError`` (``binlog skip|replace|inject|revert|list``, ``handle-error``).

The store holds the registered operations (durable across restarts of the daemon and the
workers); the scheduler pushes them with each subtask's desired state, and the worker's
:class:`~dmshell.engine.sync.operations.OperationBook` hands them to the sync unit. Without ``-b``
the master asks the subtask's worker where its current error is (``Worker.HandleError``) and
registers the operation there; once the worker has the operation it resumes the subtask (DM).
"""

from __future__ import annotations

import json
import logging
import re

import grpc

from dmshell.daemon.common import go_list
from dmshell.daemon.scheduler import Scheduler, WorkerAgent
from dmshell.daemon.store import BinlogOpRecord, Store
from dmshell.engine import errors
from dmshell.engine.sync.operations import format_pos, parse_pos, validate_statements
from dmshell.proto import dmmaster_pb2 as mpb
from dmshell.proto import dmworker_pb2 as pb

log = logging.getLogger(__name__)

WORKER_RPC_TIMEOUT = 10.0
_REGISTER = (pb.Skip, pb.Replace, pb.Inject)
#: ``syncerBinlog`` of a sync status: ``(<file>, <pos>)``
_POSITION = re.compile(r"\((.+), (\d+)\)")


def describe(rec: BinlogOpRecord) -> str:
    """One operation as ``binlog list`` prints it (gogo's compact text of the worker request)."""
    out = f'op:{pb.ErrorOp.Name(rec.op)} task:"{rec.task}" binlogPos:"{rec.binlog_pos}"'
    return out + "".join(f" sqls:{json.dumps(s, ensure_ascii=False)}" for s in rec.sqls)


class ErrorOperations:
    """``HandleError`` over the store, the scheduler and the workers."""

    def __init__(self, store: Store, scheduler: Scheduler) -> None:
        self.store = store
        self.scheduler = scheduler

    def handle(self, req: mpb.HandleErrorRequest) -> mpb.HandleErrorResponse:
        resp = mpb.HandleErrorResponse()
        existing = sorted({r.source for r in self.store.subtasks(task=req.task)})
        if not existing:
            resp.msg = f"task {req.task} has no source or not exist, please check the task name and status"
            return resp
        sources = list(dict.fromkeys(req.sources)) or existing
        missing = [s for s in sources if s not in existing]
        if missing:
            resp.msg = str(errors.ErrSchedulerSubTaskOpSourceNotExist(go_list(missing)))
            return resp
        if req.op not in (*_REGISTER, pb.Revert, pb.List):
            resp.msg = f"invalid operation '{pb.ErrorOp.Name(req.op)}'"
            return resp
        sqls: list[str] = []
        if req.op in (pb.Replace, pb.Inject):
            try:
                sqls = validate_statements(req.sqls)
            except ValueError as exc:
                resp.msg = f"invalid {pb.ErrorOp.Name(req.op).lower()} statements: {exc}"
                return resp
        elif req.sqls:
            resp.msg = f"sqls can not be used for '{pb.ErrorOp.Name(req.op).lower()}' operation"
            return resp
        given = None
        if req.binlogPos:
            try:
                given = parse_pos(req.binlogPos)
            except ValueError as exc:
                resp.msg = f"invalid --binlog-pos {req.binlogPos} in handle-error operation: {exc}"
                return resp
        resp.result = True
        for source in sources:
            resp.sources.append(self._one(req, source, given, sqls))
        return resp

    def _one(
        self, req: mpb.HandleErrorRequest, source: str, given: tuple[str, int] | None, sqls: list[str]
    ) -> pb.CommonWorkerResponse:
        agent = self.scheduler.agent_for_source(source)
        worker = agent.name if agent is not None else ""
        out = pb.CommonWorkerResponse(source=source, worker=worker)
        if agent is not None:
            self._prune(req.task, source, agent)
        if req.op == pb.List:
            ops = self.store.binlog_ops(req.task, source)
            if given is not None:  # at or after the position
                ops = [o for o in ops if _after(parse_pos(o.binlog_pos), given)]
            out.result, out.msg = True, "\n".join(describe(o) for o in ops)
            return out
        if given is None:
            if agent is None:
                out.msg = f"{source} relevant worker-client not found"
                return out
            try:
                where = agent.stub.HandleError(
                    pb.HandleWorkerErrorRequest(op=req.op, task=req.task), timeout=WORKER_RPC_TIMEOUT
                )
            except grpc.RpcError as exc:
                out.msg = str(errors.ErrMasterGRPCRequestError(cause=str(exc.details() or exc.code())))
                return out
            if not where.result:
                out.msg = where.msg
                return out
            pos = format_pos(parse_pos(where.msg))
        else:
            pos = format_pos(given)
        if req.op == pb.Revert:
            if not self.store.remove_binlog_op(req.task, source, pos):
                out.msg = f"source '{source}' has no binlog operation at position {pos}"
                return out
        else:
            self.store.put_binlog_op(BinlogOpRecord(req.task, source, pos, req.op, tuple(sqls)))
        log.info("binlog %s for %s/%s at %s", pb.ErrorOp.Name(req.op), req.task, source, pos)
        if agent is not None:
            agent.push()  # the worker has it (and, on its current error, resumes) before we answer
        out.result = True
        return out

    def _prune(self, task: str, source: str, agent: WorkerAgent) -> None:
        """Forget the operations whose event is before the subtask's flushed checkpoint: no run
        can meet them again (DM's ``RemoveOutdated``)."""
        try:
            qs = agent.stub.QueryStatus(pb.QueryStatusRequest(name=task), timeout=WORKER_RPC_TIMEOUT)
        except grpc.RpcError:
            return  # the worker is away: keep everything
        flushed = next(
            (st.sync.syncerBinlog for st in qs.subTaskStatus if st.name == task and st.HasField("sync")), ""
        )
        m = _POSITION.fullmatch(flushed)
        if m is None:
            return
        point = (m.group(1), int(m.group(2)))
        for o in self.store.binlog_ops(task, source):
            if parse_pos(o.binlog_pos) < point:
                log.info(
                    "binlog operation of %s/%s at %s is behind the checkpoint", task, source, o.binlog_pos
                )
                self.store.remove_binlog_op(task, source, o.binlog_pos)


def _after(pos: tuple[str, int], start: tuple[str, int]) -> bool:
    """Binlog file names sort in order (``mysql-bin.000002`` after ``.000001``)."""
    return pos >= start


class SchemaOperations:
    """``OperateSchema``: each source's worker answers for its subtask (DM's master forwards)."""

    def __init__(self, store: Store, scheduler: Scheduler) -> None:
        self.store = store
        self.scheduler = scheduler

    def handle(self, req: mpb.OperateSchemaRequest) -> mpb.OperateSchemaResponse:
        resp = mpb.OperateSchemaResponse()
        if not req.sources:
            resp.msg = "must specify at least one source"
            return resp
        existing = {r.source for r in self.store.subtasks(task=req.task)}
        if not existing:
            resp.msg = f"task {req.task} has no source or not exist, please check the task name and status"
            return resp
        missing = [s for s in req.sources if s not in existing]
        if missing:
            resp.msg = str(errors.ErrSchedulerSubTaskOpSourceNotExist(go_list(missing)))
            return resp
        resp.result = True
        for source in dict.fromkeys(req.sources):
            agent = self.scheduler.agent_for_source(source)
            if agent is None:
                resp.sources.append(
                    pb.CommonWorkerResponse(source=source, msg=f"{source} relevant worker-client not found")
                )
                continue
            wreq = pb.OperateWorkerSchemaRequest(
                op=req.op,
                task=req.task,
                source=source,
                database=req.database,
                table=req.table,
                schema=req.schema,
                flush=req.flush,
                sync=req.sync,
                fromSource=req.fromSource,
                fromTarget=req.fromTarget,
            )
            try:
                resp.sources.append(agent.stub.OperateSchema(wreq, timeout=WORKER_RPC_TIMEOUT))
            except grpc.RpcError as exc:
                msg = str(errors.ErrMasterGRPCRequestError(cause=str(exc.details() or exc.code())))
                resp.sources.append(pb.CommonWorkerResponse(source=source, worker=agent.name, msg=msg))
        return resp


def list_binlog_events(store: Store, req: mpb.ListBinlogEventsRequest) -> mpb.ListBinlogEventsResponse:
    """``SHOW BINLOG EVENTS IN <file> FROM <pos> LIMIT <count>`` on the source's upstream: the
    positions it prints are the ones ``binlog ... -b`` takes."""
    from dmshell.engine import db  # (the database driver: on first use, start-up time)
    from dmshell.engine.config.load import load_source_config

    resp = mpb.ListBinlogEventsResponse()
    text = store.get_source(req.source)
    if text is None:
        resp.msg = f"sources {go_list([req.source])} haven't been added"
        return resp
    try:
        file, pos = parse_pos(req.binlogPos)
    except ValueError as exc:
        resp.msg = str(exc)
        return resp
    try:
        cfg = load_source_config(text)
        conn = db.connect(cfg.from_db)
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW BINLOG EVENTS IN %s FROM %s LIMIT %s", (file, pos, req.count or 20))
                rows = cur.fetchall()
        finally:
            conn.close()
    except Exception as exc:  # the upstream's error, as it said it
        resp.msg = str(errors.wrap(exc))
        return resp
    resp.result = True
    for name, start, kind, _server, end, info in rows:
        resp.events.add(file=name, pos=int(start), type=str(kind), endPos=int(end), info=str(info or ""))
    return resp
