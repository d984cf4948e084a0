"""The ``Master`` gRPC service (DM-master): sources, tasks, status, members.

RPCs follow DM's semantics and messages (``dm/master/server.go``). Operations change the desired
state in the store, the scheduler pushes it to the workers, and then — like DM's
``waitOperationOk`` — the master polls the worker's ``QueryStatus`` (up to 10 times, 1 s apart)
until the subtask or source reaches the expected stage. Waits run in the gRPC thread pool, so a
slow operation never blocks ``query-status`` (DM issue #5370).

Passwords: configurations are stored as given but never logged, and returned only masked.
RPCs not implemented yet abort with ``UNIMPLEMENTED`` and a DM-style message.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent import futures

import grpc

from dmshell.client.errors import status_text
from dmshell.daemon.common import go_list, not_supported
from dmshell.daemon.scheduler import Scheduler, WorkerAgent
from dmshell.daemon.store import Store, StoreConflict, SubTaskRecord
from dmshell.engine import errors
from dmshell.proto import dmmaster_pb2 as mpb
from dmshell.proto import dmmaster_pb2_grpc
from dmshell.proto import dmworker_pb2 as pb

log = logging.getLogger(__name__)

CHECK_TASK_SUCCESS = "pre-check is passed. "
NO_FREE_WORKER = "source is added but there is no free worker to bound"
STOPPED_UNBOUND = "source is stopped and hasn't bound to worker before being stopped"
WORKER_RPC_TIMEOUT = 10.0

#: RPCs dmshell does not implement yet → the dmctl command users know them by
UNSUPPORTED = {
    "UpdateTask": "update-task",
    "ShowDDLLocks": "shard-ddl-lock",
    "UnlockDDLLock": "shard-ddl-lock unlock",
    "OperateWorkerRelayTask": "pause-relay/resume-relay",
    "PurgeWorkerRelay": "purge-relay",
    "OfflineMember": "offline-member",
    "OperateLeader": "operate-leader",
    "OperateSchema": "binlog-schema",
    "HandleError": "binlog",
    "TransferSource": "transfer-source",
    "OperateRelay": "start-relay/stop-relay",
    "StartValidation": "validation start",
    "StopValidation": "validation stop",
    "GetValidationStatus": "validation status",
    "GetValidationError": "validation show-error",
    "OperateValidationError": "validation ignore-error/resolve-error/clear-error",
    "UpdateValidation": "validation update",
}


def with_class(
    err: errors.DMError, cls: errors.ErrClass = errors.ErrClass.DM_MASTER, scope: errors.Scope | None = None
) -> errors.DMError:
    """DM's ``terror.WithClass``/``WithScope``: the same error reported under another class/scope."""
    entry = dataclasses.replace(err.entry, cls=cls, scope=scope or err.entry.scope)
    return errors.DMError(entry, err.message, err.cause, err.workaround)


def rpc_error_text(exc: grpc.RpcError) -> str:
    """A worker RPC failure as DM prints it (``ErrMasterGRPCRequestError`` with Go's status text)."""
    return str(errors.ErrMasterGRPCRequestError(cause=status_text(exc)))


def gogo_string(err: pb.ProcessError) -> str:
    """gogo-proto's compact text of a ProcessError (what DM's ``JoinProcessErrors`` prints)."""
    import json

    out = []
    for field, value in err.ListFields():
        text = json.dumps(value, ensure_ascii=False) if isinstance(value, str) else value
        out.append(f"{field.name}:{text} ")
    return "".join(out)


def worker_error_msg(result: pb.ProcessResult | None) -> str:
    """DM's ``extractWorkerError``: non-empty when the result carries errors."""
    if result is None or not result.errors:
        return ""
    return str(errors.ErrMasterOperRespNotSuccess(", ".join(gogo_string(e) for e in result.errors)))


def common_resp(result: bool, msg: str, source: str, worker: str = "") -> pb.CommonWorkerResponse:
    return pb.CommonWorkerResponse(result=result, msg=msg, source=source, worker=worker)


class MasterServicer(dmmaster_pb2_grpc.MasterServicer):
    """DM-master's service over the :class:`Store` and the :class:`Scheduler`."""

    def __init__(
        self,
        store: Store,
        scheduler: Scheduler,
        *,
        master_addr: str,
        data_dir: str = "",
        name: str = "",
        wait_retries: int = 10,
        wait_interval: float = 1.0,
        binding_wait: Callable[[], bool] | None = None,
        version: str = "",
    ) -> None:
        self.store = store
        self.scheduler = scheduler
        self.master_addr = master_addr
        self.data_dir = data_dir
        self.name = name or f"dm-master-{socket.gethostname()}"
        self.wait_retries = wait_retries
        self.wait_interval = wait_interval
        #: True while an embedded worker may still come up for an unbound source (auto mode)
        self.binding_wait = binding_wait or (lambda: False)
        self.version = version
        self.started_at = int(time.time())
        # separate pools: operations waiting for workers never delay a status query (DM #5370)
        self._wait_pool = futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="master-wait")
        self._status_pool = futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="master-status")
        self._task_locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def close(self) -> None:
        self._wait_pool.shutdown(wait=False, cancel_futures=True)
        self._status_pool.shutdown(wait=False, cancel_futures=True)

    def _task_lock(self, task: str) -> threading.Lock:
        with self._locks_lock:
            return self._task_locks.setdefault(task, threading.Lock())

    # ======================================================================================
    # sources
    # ======================================================================================
    def OperateSource(self, request, context):
        from dmshell.engine.config.task import load_source_config

        resp = mpb.OperateSourceResponse()
        if request.op not in (mpb.StartSource, mpb.UpdateSource, mpb.StopSource, mpb.ShowSource):
            resp.msg = str(errors.ErrMasterInvalidOperateOp(mpb.SourceOp.Name(request.op), "source"))
            return resp
        cfgs = []
        try:
            for text in request.config:
                cfgs.append(load_source_config(text))
        except errors.DMError as exc:
            resp.msg = str(exc)
            return resp
        if request.op in (mpb.StartSource, mpb.UpdateSource):
            for cfg in cfgs:  # DM connects to every source before changing anything
                err = check_source_connection(cfg)
                if err is not None:
                    resp.msg = str(err)
                    return resp
        if request.op == mpb.StartSource:
            return self._start_sources(resp, request, cfgs)
        if request.op == mpb.UpdateSource:
            resp.msg = "Update worker config is not supported by dm-ha now"
            return resp
        if request.op == mpb.StopSource:
            return self._stop_sources(resp, [*request.sourceID, *(c.source_id for c in cfgs)])
        ids = [*request.sourceID, *(c.source_id for c in cfgs)] or list(self.store.sources())
        resp.result = True
        resp.sources.extend(self._source_responses(ids, pb.Running, NO_FREE_WORKER))
        return resp

    def _start_sources(self, resp, request, cfgs) -> mpb.OperateSourceResponse:
        texts = dict(zip((c.source_id for c in cfgs), request.config, strict=True))
        added: list[str] = []
        error = ""
        for cfg in cfgs:
            try:
                self.store.add_source(cfg.source_id, texts[cfg.source_id])
            except StoreConflict:
                error = str(errors.ErrSchedulerSourceCfgExist(cfg.source_id))
                break
            added.append(cfg.source_id)
            if request.workerName:
                error = self.scheduler.bind(cfg.source_id, request.workerName)
                if error:
                    break
        if error:  # revert, so the same command can be run again after fixing it
            for sid in added:
                self.store.remove_source(sid)
            resp.msg = error
            return resp
        log.info("added sources %s", added)
        self.scheduler.sources_changed()
        deadline = time.monotonic() + 15
        while (
            time.monotonic() < deadline
            and self.binding_wait()
            and any(s not in self.store.bindings() for s in added)
        ):
            time.sleep(0.1)
        resp.result = True
        resp.sources.extend(self._source_responses(added, pb.Running, NO_FREE_WORKER))
        return resp

    def _stop_sources(self, resp, ids: list[str]) -> mpb.OperateSourceResponse:
        bound: dict[str, str] = {}
        for sid in ids:
            if self.store.get_source(sid) is None:
                resp.msg = str(errors.ErrSchedulerSourceCfgNotExist(sid))
                return resp
            tasks = sorted({r.task for r in self.store.subtasks(source=sid)})
            if tasks:
                resp.msg = str(errors.ErrSchedulerSourceOpTaskExist(sid, go_list(tasks)))
                return resp
            worker = self.scheduler.unbind(sid)
            self.store.remove_source(sid)
            log.info("removed source %s", sid)
            if worker:
                bound[sid] = worker
        self.scheduler.sources_changed()
        resp.result = True
        for sid in ids:
            if sid not in bound:
                resp.sources.append(common_resp(True, STOPPED_UNBOUND, sid))
        checked = self._parallel(
            lambda sid: self._wait_source(self.scheduler.agent(bound[sid]), sid, pb.Stopped), sorted(bound)
        )
        resp.sources.extend(checked)
        resp.sources.sort(key=lambda r: r.source)
        return resp

    def _source_responses(self, ids: Iterable[str], expect: int, no_worker_msg: str) -> list:
        out, to_check = [], []
        for sid in dict.fromkeys(ids):
            agent = self.scheduler.agent_for_source(sid)
            if agent is None:
                out.append(common_resp(True, no_worker_msg, sid))
            else:
                to_check.append((sid, agent))
        out.extend(self._parallel(lambda item: self._wait_source(item[1], item[0], expect), to_check))
        return sorted(out, key=lambda r: r.source)

    def _wait_source(self, agent: WorkerAgent | None, source: str, expect: int) -> pb.CommonWorkerResponse:
        if agent is None:
            return common_resp(False, f"{source} relevant worker-client not found", source)

        def done(qs: pb.QueryStatusResponse) -> tuple[bool, str] | None:
            reached = (qs.sourceStatus.source == source) == (expect == pb.Running)
            if reached:
                status = qs.sourceStatus
                return True, worker_error_msg(status.result if status.HasField("result") else None)
            return None

        return self._wait(agent, source, "", done, keep_source=expect == pb.Stopped)

    # ======================================================================================
    # tasks
    # ======================================================================================
    def StartTask(self, request, context):
        resp = mpb.StartTaskResponse()
        if bad := start_time_error(request.startTime):
            resp.msg = bad
            return resp
        try:
            cfg = self._parse_task(request.task)
        except errors.DMError as exc:
            resp.msg += str(exc)
            return resp
        err = precheck(cfg, self._source_cfgs(cfg.source_ids))
        if err is not None:
            resp.checkResult = str(err)
            return resp
        resp.checkResult = CHECK_TASK_SUCCESS
        sources = list(cfg.source_ids)
        if request.sources:
            missing = [s for s in request.sources if s not in sources]
            if missing:
                resp.sources.extend(
                    sorted(
                        (common_resp(False, "source not found in task's config", s) for s in missing),
                        key=lambda r: r.source,
                    )
                )
                return resp
            sources = [s for s in sources if s in request.sources]
        with self._task_lock(cfg.name):
            existing = {r.source for r in self.store.subtasks(task=cfg.name)}
            if request.removeMeta:
                if existing:
                    err = errors.ErrSchedulerSubTaskExist(cfg.name, go_list(sorted(existing)))
                    resp.msg += str(err.annotate("while remove-meta is true"))
                    return resp
                try:
                    self._remove_meta(cfg)
                except errors.DMError as exc:
                    resp.msg += str(exc.annotate("while removing metadata"))
                    return resp
            new = [s for s in sources if s not in existing]
            if not new:
                dup = go_list(sorted(existing & set(sources)))
                resp.msg += str(errors.ErrSchedulerSubTaskExist(cfg.name, dup))
                return resp
            bindings = self.store.bindings()
            unbound = [s for s in new if s not in bindings]
            if unbound:
                resp.msg += str(errors.ErrSchedulerSourcesUnbound(go_list(unbound)))
                return resp
            try:
                records = self._subtask_records(cfg, request.task, new, request.removeMeta, request.startTime)
                self.store.add_subtasks(records)
            except errors.DMError as exc:
                resp.msg += str(exc)
                return resp
            except StoreConflict:
                resp.msg += str(errors.ErrSchedulerSubTaskExist(cfg.name, go_list(new)))
                return resp
        log.info("start task %s on sources %s (remove-meta: %s)", cfg.name, new, request.removeMeta)
        self.scheduler.kick_sources(new)
        resp.result = True
        if cfg.remove_meta:
            resp.msg = (
                "`remove-meta` in task config is deprecated, "
                "please use `start-task ... --remove-meta` instead"
            )
        resp.sources.extend(self._task_responses(cfg.name, new, pb.Running))
        return resp

    def _parse_task(self, text: str):
        """Parse a task and check its sources exist (errors reported with class dm-master, as DM)."""
        from dmshell.engine.config.task import load_task_config

        try:
            cfg = load_task_config(text)
        except errors.DMError as exc:
            raise with_class(exc) from exc
        known = self.store.sources()
        for sid in cfg.source_ids:
            if sid not in known:
                raise with_class(errors.ErrConfigSourceIDNotFound(sid))
        return cfg

    def _source_cfgs(self, ids: Iterable[str]) -> dict:
        from dmshell.engine.config.task import load_source_config

        return {sid: load_source_config(self.store.get_source(sid) or "") for sid in ids}

    def _remove_meta(self, cfg) -> None:
        from dmshell.engine.db import connect
        from dmshell.engine.meta import remove_task_meta

        others = {r.task for r in self.store.subtasks()} - {cfg.name}
        conn = connect(cfg.target, connect_timeout=10)
        try:
            dropped = remove_task_meta(conn, cfg.meta_schema, cfg.name, others)
        finally:
            conn.close()
        log.info("remove-meta of task %s: dropped %s", cfg.name, dropped)

    def _subtask_records(
        self, cfg, text: str, sources: list[str], remove_meta: bool, start_time: str = ""
    ) -> list[SubTaskRecord]:
        start_id = uuid.uuid4().hex
        records = []
        for sid in sources:
            meta_name, meta_pos, meta_gtid = "", 0, ""
            if cfg.task_mode == "incremental" and cfg.subtask(sid).meta is None:
                meta_name, meta_pos, meta_gtid = latest_meta(self._source_cfgs([sid])[sid])
            records.append(
                SubTaskRecord(
                    task=cfg.name,
                    source=sid,
                    task_yaml=text,
                    expect_stage=pb.Running,
                    start_id=start_id,
                    remove_meta=remove_meta,
                    meta_binlog_name=meta_name,
                    meta_binlog_pos=meta_pos,
                    meta_binlog_gtid=meta_gtid,
                    start_time=start_time,
                )
            )
        return records

    def OperateTask(self, request, context):
        resp = mpb.OperateTaskResponse(op=request.op)
        sources = list(request.sources) or sorted({r.source for r in self.store.subtasks(task=request.name)})
        if not sources:
            resp.msg = (
                f"task {request.name} has no source or not exist, " "please check the task name and status"
            )
            return resp
        expect = {pb.Pause: pb.Paused, pb.Resume: pb.Running, pb.Stop: pb.Stopped}.get(request.op)
        if expect is None and request.op != pb.Delete:
            resp.msg = str(errors.ErrMasterInvalidOperateOp(pb.TaskOp.Name(request.op), "task"))
            return resp
        with self._task_lock(request.name):
            existing = {r.source for r in self.store.subtasks(task=request.name)}
            if not existing:
                resp.msg = str(errors.ErrSchedulerSubTaskOpTaskNotExist(request.name))
                return resp
            missing = sorted(set(sources) - existing)
            if missing:
                resp.msg = str(errors.ErrSchedulerSubTaskOpSourceNotExist(go_list(missing)))
                return resp
            # remember the workers first: after Delete the subtasks are gone from the store
            workers = {s: self.scheduler.agent_for_source(s) for s in sources}
            if request.op == pb.Delete:
                self.store.remove_subtasks(request.name, sources)
            else:
                self.store.set_expect_stage(request.name, sources, expect)
        log.info("operate task %s: %s on %s", request.name, pb.TaskOp.Name(request.op), sources)
        self.scheduler.kick_sources(sources)
        resp.result = True
        resp.sources.extend(
            self._task_responses(request.name, sources, expect, workers, delete=request.op == pb.Delete)
        )
        return resp

    def _task_responses(
        self,
        task: str,
        sources: list[str],
        expect: int | None,
        workers: dict[str, WorkerAgent | None] | None = None,
        delete: bool = False,
    ) -> list:
        def one(source: str) -> pb.CommonWorkerResponse:
            agent = workers.get(source) if workers is not None else self.scheduler.agent_for_source(source)
            if agent is None:
                return common_resp(False, f"{source} relevant worker-client not found", source)

            def done(qs: pb.QueryStatusResponse) -> tuple[bool, str] | None:
                if delete and not qs.subTaskStatus:
                    return True, ""
                if len(qs.subTaskStatus) != 1:
                    return None
                st = qs.subTaskStatus[0]
                msg = worker_error_msg(st.result if st.HasField("result") else None)
                if delete:
                    from dmshell.daemon.worker import no_subtask_msg

                    gone = st.WhichOneof("status") == "msg" and st.msg == no_subtask_msg(task)
                    return (True, "") if gone else None
                reached = st.stage == expect or (expect == pb.Running and st.stage == pb.Finished)
                ok = st.name == task and reached
                return (ok, msg) if ok or msg else None

            return self._wait(agent, source, task, done)

        return sorted(self._parallel(one, sources), key=lambda r: r.source)

    def _wait(
        self,
        agent: WorkerAgent,
        source: str,
        task: str,
        done: Callable[[pb.QueryStatusResponse], tuple[bool, str] | None],
        keep_source: bool = False,
    ) -> pb.CommonWorkerResponse:
        """DM's ``waitOperationOk`` + ``handleOperationResult``."""
        tries = self.wait_retries if agent.online else 1
        for i in range(tries):
            if i:
                time.sleep(self.wait_interval)
            try:
                qs = agent.stub.QueryStatus(pb.QueryStatusRequest(name=task), timeout=WORKER_RPC_TIMEOUT)
            except (grpc.RpcError, ValueError) as exc:
                log.info(
                    "wait for %s/%s on %s (try %d): %s", task or "source", source, agent.name, i + 1, exc
                )
                if i == tries - 1 and isinstance(exc, grpc.RpcError) and not agent.online:
                    return common_resp(False, rpc_error_text(exc), source, agent.name)
                continue
            outcome = done(qs)
            if outcome is not None:
                ok, msg = outcome
                return common_resp(
                    ok,
                    msg,
                    source if keep_source else qs.sourceStatus.source or source,
                    qs.sourceStatus.worker or agent.name,
                )
        return common_resp(False, str(errors.ErrMasterFailToGetExpectResult()), source, agent.name)

    # ======================================================================================
    # status
    # ======================================================================================
    def QueryStatus(self, request, context):
        return self.status_list(request.name, list(request.sources))

    def status_list(self, name: str = "", sources: list[str] | None = None) -> mpb.QueryStatusListResponse:
        """DM-master's ``QueryStatus``: every relevant worker's status, sorted by source ID."""
        sources = sources or []
        known = self.store.sources()
        specified = bool(sources)
        if sources:
            invalid = [s for s in sources if s not in known]
            if invalid:
                return mpb.QueryStatusListResponse(msg=f"sources {go_list(invalid)} haven't been added")
            targets = list(dict.fromkeys(sources))
        elif name:
            targets = sorted({r.source for r in self.store.subtasks(task=name)})
            if not targets:
                return mpb.QueryStatusListResponse(msg=f"task {name} has no source or not exist")
        else:  # every source bound to a live worker (DM's BoundSources)
            targets = [
                s
                for s in self.store.bindings()
                if (a := self.scheduler.agent_for_source(s)) is not None and a.online
            ]
        resps = self._parallel(lambda s: self._source_status(s, name), targets, self._status_pool)
        if not name:
            resps.extend(self._fake_status(resps, targets if specified else None))
        resps.sort(key=lambda r: r.sourceStatus.source)
        return mpb.QueryStatusListResponse(result=True, sources=resps)

    def _source_status(self, source: str, name: str) -> pb.QueryStatusResponse:
        agent = self.scheduler.agent_for_source(source)
        if agent is None or not agent.online:
            msg = str(errors.ErrMasterWorkerArgsExtractor(f"{source} relevant worker-client not found"))
            resp = pb.QueryStatusResponse(result=False, msg=msg)
            resp.sourceStatus.source = source
            return resp
        try:
            resp = agent.stub.QueryStatus(pb.QueryStatusRequest(name=name), timeout=WORKER_RPC_TIMEOUT)
        except (grpc.RpcError, ValueError) as exc:
            resp = pb.QueryStatusResponse(
                result=False, msg=rpc_error_text(exc) if isinstance(exc, grpc.RpcError) else str(exc)
            )
            resp.sourceStatus.worker = agent.name
        if not resp.sourceStatus.worker:
            resp.sourceStatus.worker = agent.name
        resp.sourceStatus.source = source
        return resp

    def _fake_status(self, resps: list, only: list[str] | None) -> list:
        """DM (#3348): list every task even when the worker of one of its sources is offline."""
        have = {r.sourceStatus.source for r in resps}
        fakes: dict[str, pb.QueryStatusResponse] = {}
        for r in self.store.subtasks():
            if r.source in have or (only is not None and r.source not in only):
                continue
            fake = fakes.get(r.source)
            if fake is None:
                fake = fakes[r.source] = pb.QueryStatusResponse(
                    result=False,
                    msg=(
                        f"can't find task={r.task} from dm-worker for source={r.source}, please use dmctl "
                        "list-member to check if worker is offline."
                    ),
                )
                fake.sourceStatus.source = r.source
                fake.sourceStatus.worker = "source not bound"
            fake.subTaskStatus.append(pb.SubTaskStatus(name=r.task))
        return list(fakes.values())

    def WatchStatus(self, request, context):
        interval = max(100, request.intervalMs or 1000) / 1000.0
        gone = threading.Event()
        context.add_callback(gone.set)
        while context.is_active() and not gone.is_set():
            yield self.status_list(request.name, list(request.sources))
            gone.wait(interval)

    # ======================================================================================
    # members, configs, cluster
    # ======================================================================================
    def RegisterWorker(self, request, context):
        if not request.name or not request.address:
            return mpb.RegisterWorkerResponse(msg=str(errors.ErrMasterParseArgs()))
        msg = self.scheduler.register_worker(request.name, request.address)
        return mpb.RegisterWorkerResponse(result=not msg, msg=msg)

    def ListMember(self, request, context):
        want_leader, want_master, want_worker = request.leader, request.master, request.worker
        if not (want_leader or want_master or want_worker):
            want_leader = want_master = want_worker = True
        names = set(request.names)
        resp = mpb.ListMemberResponse(result=True)
        if want_leader:
            leader = mpb.ListLeaderMember()
            if not names or self.name in names:
                leader.name, leader.addr = self.name, self.master_addr
            resp.members.add().leader.CopyFrom(leader)
        if want_master:
            masters = mpb.ListMasterMember()
            if not names or self.name in names:
                member_id = int.from_bytes(hashlib.sha256(self.name.encode()).digest()[:8], "big")
                masters.masters.add(
                    name=self.name, memberID=member_id, alive=True, clientURLs=[f"http://{self.master_addr}"]
                )
            resp.members.add().master.CopyFrom(masters)
        if want_worker:
            workers = mpb.ListWorkerMember()
            for w in self.scheduler.workers_info():
                if not names or w.name in names:
                    workers.workers.add(name=w.name, addr=w.addr, stage=w.stage, source=w.source)
            resp.members.add().worker.CopyFrom(workers)
        return resp

    def GetCfg(self, request, context):
        from dmshell.engine.config.task import (
            dump_source_config,
            dump_task_config,
            load_source_config,
            load_task_config,
        )

        resp = mpb.GetCfgResponse()
        try:
            if request.type == mpb.TaskType:
                records = self.store.subtasks(task=request.name)
                if not records:
                    resp.msg = "task not found"
                    return resp
                resp.cfg = dump_task_config(load_task_config(records[0].task_yaml), mask_password=True)
            elif request.type == mpb.SourceType:
                text = self.store.get_source(request.name)
                if text is None:
                    resp.msg = "source not found"
                    return resp
                resp.cfg = dump_source_config(load_source_config(text), mask_password=True)
            elif request.type == mpb.MasterType:
                if request.name != self.name:
                    resp.msg = "master not found"
                    return resp
                resp.cfg = self.master_config()
            elif request.type == mpb.WorkerType:
                agent = self.scheduler.agent(request.name)
                if agent is None:
                    resp.msg = "worker not found"
                    return resp
                try:
                    req = pb.GetWorkerCfgRequest()
                    resp.cfg = agent.stub.GetWorkerCfg(req, timeout=WORKER_RPC_TIMEOUT).cfg
                except grpc.RpcError as exc:
                    resp.msg = rpc_error_text(exc)
                    return resp
            elif request.type == mpb.TaskTemplateType:
                resp.msg = "task not found"
                return resp
            else:
                resp.msg = f"invalid config op '{mpb.CfgType.Name(request.type)}'"
                return resp
        except errors.DMError as exc:
            resp.msg = str(exc)
            return resp
        resp.result = True
        return resp

    def GetMasterCfg(self, request, context):
        return mpb.GetMasterCfgResponse(cfg=self.master_config())

    def master_config(self) -> str:
        return (
            f'name = "{self.name}"\nmaster-addr = "{self.master_addr}"\n'
            f'advertise-addr = "{self.master_addr}"\ndata-dir = "{self.data_dir}"\n'
        )

    def ListTaskConfigs(self, request, context):
        from dmshell.engine.config.task import dump_task_config, load_task_config

        resp = mpb.ListTaskConfigsResponse(result=True)
        for r in self.store.subtasks():
            if r.task in resp.taskConfigs:
                continue
            try:
                resp.taskConfigs[r.task] = dump_task_config(
                    for_export(load_task_config(r.task_yaml)), mask_password=False
                )
            except errors.DMError as exc:
                return mpb.ListTaskConfigsResponse(msg=f"failed to marshal task config of {r.task}: {exc}")
        return resp

    def ListSourceConfigs(self, request, context):
        from dmshell.engine.config.task import dump_source_config, load_source_config

        resp = mpb.ListSourceConfigsResponse(result=True)
        for sid, text in self.store.sources().items():
            try:
                resp.sourceConfigs[sid] = dump_source_config(
                    for_export(load_source_config(text)), mask_password=False
                )
            except errors.DMError as exc:
                return mpb.ListSourceConfigsResponse(msg=f"fail to marshal source config of {sid}: {exc}")
        return resp

    def GetSubTaskCfg(self, request, context):
        from dmshell.engine.config.task import dump_task_config, load_task_config

        records = self.store.subtasks(task=request.name)
        if not records:
            return mpb.GetSubTaskCfgResponse(msg="task not found")
        resp = mpb.GetSubTaskCfgResponse(result=True)
        for r in records:
            try:
                resp.cfgs.append(dump_task_config(load_task_config(r.task_yaml), mask_password=True))
            except errors.DMError as exc:
                return mpb.GetSubTaskCfgResponse(msg=str(exc))
        return resp

    def CheckTask(self, request, context):
        resp = mpb.CheckTaskResponse()
        if bad := start_time_error(request.startTime):
            resp.msg = bad
            return resp
        try:
            cfg = self._parse_task(request.task)
        except errors.DMError as exc:
            resp.msg = str(exc)
            return resp
        err = precheck(cfg, self._source_cfgs(cfg.source_ids))
        if err is not None:
            resp.msg = str(err)
            return resp
        resp.result = True
        resp.msg = CHECK_TASK_SUCCESS
        return resp

    def Encrypt(self, request, context):
        from dmshell.engine.config import encrypt

        try:
            return mpb.EncryptResponse(result=True, ciphertext=encrypt.encrypt(request.plaintext))
        except errors.DMError as exc:
            return mpb.EncryptResponse(msg=str(exc))

    def GetClusterInfo(self, request, context):
        up, total = self.scheduler.counts()
        return mpb.ClusterInfo(
            masterAddr=self.master_addr,
            dataDir=self.data_dir,
            workersUp=up,
            workersTotal=total,
            version=self.version,
            pid=os.getpid(),
            startTime=self.started_at,
        )

    # ======================================================================================
    def _parallel(self, fn: Callable, items: Iterable, pool: futures.Executor | None = None) -> list:
        items = list(items)
        if len(items) <= 1:
            return [fn(i) for i in items]
        return list((pool or self._wait_pool).map(fn, items))


def _unsupported_handler(method: str, command: str):
    def handler(self, request, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED, not_supported(method, command))

    handler.__name__ = method
    return handler


for _method, _command in UNSUPPORTED.items():
    setattr(MasterServicer, _method, _unsupported_handler(_method, _command))


# ==========================================================================================
# checks against the databases
# ==========================================================================================
def check_source_connection(cfg) -> errors.DMError | None:
    """Connect to a source before saving it (DM's ``parseAndAdjustSourceConfig``)."""
    from dmshell.engine.db import connect

    try:
        connect(cfg.from_db, connect_timeout=5).close()
    except errors.DMError as exc:
        return errors.ErrDBDriverError(cause=exc.__cause__ or exc.cause or exc)
    return None


#: DM's hint for ``--start-time`` (``utils.StartTimeFormatHint``)
START_TIME_FORMAT_HINT = (
    "'2006-01-02 15:04:05', '2006-01-02T15:04:05', '2006-01-02 15:04:05+08:00', "
    "'2006-01-02T15:04:05+08:00', '2006-01-02 15:04:05+0800', or "
    "'2006-01-02T15:04:05+0800'"
)


def start_time_error(start_time: str) -> str:
    """DM's message for a malformed ``--start-time`` ("" when it is empty or well-formed)."""
    if not start_time:
        return ""
    from dmshell.engine.binlog.start_time import parse_start_time

    try:
        parse_start_time(start_time, 0)
    except ValueError as exc:
        return f"error while parse start-time, expected in the format like {START_TIME_FORMAT_HINT}: {exc}"
    return ""


def for_export(cfg):
    """A copy of a source or task config whose passwords are DM-encrypted, as DM's
    ``ListSourceConfigs``/``ListTaskConfigs`` return them, so ``config export`` + ``config import``
    round-trips without printing a plaintext password."""
    from dmshell.engine.config.encrypt import encrypt_or_plaintext

    cfg = dataclasses.replace(cfg)
    for attr in ("from_db", "target"):
        db = getattr(cfg, attr, None)
        if db is not None and db.password:
            setattr(cfg, attr, dataclasses.replace(db, password=encrypt_or_plaintext(db.password)))
    return cfg


def precheck(cfg, sources: dict) -> errors.DMError | None:
    """The part of DM's precheck dmshell does now: every database of the task answers."""
    from dmshell.engine.db import connect

    dbs = [(cfg.target, errors.Scope.DOWNSTREAM)]
    dbs += [(sources[s].from_db, errors.Scope.UPSTREAM) for s in cfg.source_ids if s in sources]
    for db, scope in dbs:
        try:
            connect(db, connect_timeout=5).close()
        except errors.DMError as exc:
            err = errors.ErrTaskCheckFailedOpenDB(db.user, db.host, db.port, cause=exc.__cause__ or exc.cause)
            return with_class(err.annotate("fail to initialize checker"), scope=scope)
    return None


def latest_meta(source_cfg) -> tuple[str, int, str]:
    """DM's ``GetLatestMeta``: the upstream's current binlog file, position and GTID set."""
    from dmshell.engine.binlog.location import master_status
    from dmshell.engine.db import classify, connect

    conn = connect(source_cfg.from_db, connect_timeout=10)
    try:
        try:
            loc = master_status(conn, source_cfg.flavor or None)
        except errors.DMError:
            raise
        except Exception as exc:
            raise classify(exc, "SHOW MASTER STATUS") from exc
    finally:
        with contextlib.suppress(Exception):
            conn.close()
    return loc.file, loc.pos, loc.gtid
