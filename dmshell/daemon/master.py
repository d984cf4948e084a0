"""The ``Master`` gRPC service (DM-master): sources, tasks, status, members.

RPCs follow DM's semantics and messages (``dm/master/server.go``). :class:`MasterServicer`
translates each RPC into calls on the :class:`Store` (desired state), the :class:`Scheduler` (which
pushes it to the workers), the task helpers of :mod:`.tasks`, the prechecks of
:mod:`dmshell.engine.checker` and :class:`WorkerQueries`. Like DM's ``waitOperationOk``, an
operation then polls the workers' ``QueryStatus`` (up to 10 times, 1 s apart) until the subtask or
source reaches the expected stage. Waits run in their own thread pool, so a slow operation never
blocks ``query-status`` (DM issue #5370).

Passwords: configurations are stored as given but never logged, and returned only masked.
RPCs not implemented yet are declared with :class:`Unsupported`: they abort with ``UNIMPLEMENTED``
and a DM-style message.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures
from pathlib import Path
from typing import TypeVar

import grpc

from dmshell import __version__
from dmshell.client.errors import status_text
from dmshell.daemon import configs, tasks
from dmshell.daemon.auth import Security, peer_identity
from dmshell.daemon.common import Unsupported, go_list
from dmshell.daemon.relays import RelayOps
from dmshell.daemon.scheduler import Scheduler, WorkerAgent
from dmshell.daemon.shard_locks import ShardLocks
from dmshell.daemon.status_history import StatusHistory
from dmshell.daemon.store import Store, StoreConflict
from dmshell.daemon.task_log import task_log
from dmshell.daemon.worker import no_subtask_msg
from dmshell.engine import checker, errors, names
from dmshell.engine.config import encrypt
from dmshell.engine.config.load import load_source_config
from dmshell.engine.config.task import TaskConfig
from dmshell.proto import dmmaster_pb2 as mpb
from dmshell.proto import dmmaster_pb2_grpc
from dmshell.proto import dmworker_pb2 as pb

log = logging.getLogger(__name__)

NO_FREE_WORKER = "source is added but there is no free worker to bound"
STOPPED_UNBOUND = "source is stopped and hasn't bound to worker before being stopped"
WORKER_RPC_TIMEOUT = 10.0
#: at most this many ``WatchStatus`` streams at once: each holds a thread of the master's gRPC pool
#: (``process.GRPC_THREADS``), which must keep threads for every other call
MAX_WATCHERS = 16
#: the largest task or source configuration the master parses (DM's are a few KiB)
MAX_CONFIG_BYTES = 1024 * 1024
#: a live stream or a history sample waits less for a worker: a hung worker then shows up as its
#: own "deadline exceeded" within a few seconds instead of stalling every source's status
WATCH_WORKER_TIMEOUT = 3.0
_T = TypeVar("_T")
_R = TypeVar("_R")


def check_config_size(text: str, what: str) -> None:
    """Refuse a configuration too large to be one (before YAML sees it)."""
    if len(text) > MAX_CONFIG_BYTES:
        raise errors.ErrConfigYamlTransform(
            f"the {what} configuration is {len(text)} bytes; at most {MAX_CONFIG_BYTES} are accepted"
        )


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


class _Refused(Exception):
    """StartTask/CheckTask stop here; ``precheck`` tells whether the precheck said so."""

    def __init__(self, why: str | errors.DMError, precheck: bool = False) -> None:
        super().__init__(str(why))
        self.text = str(why)
        self.precheck = precheck


class WorkerQueries:
    """The master's questions to the workers: statuses, and waiting for an operation to take effect."""

    def __init__(self, store: Store, scheduler: Scheduler, wait_retries: int, wait_interval: float) -> None:
        self.store = store
        self.scheduler = scheduler
        self.wait_retries = wait_retries
        self.wait_interval = wait_interval
        # separate pools: operations waiting for workers never delay a status query (DM #5370)
        self._wait_pool = futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="master-wait")
        self._status_pool = futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="master-status")

    def close(self) -> None:
        self._wait_pool.shutdown(wait=False, cancel_futures=True)
        self._status_pool.shutdown(wait=False, cancel_futures=True)

    def parallel(
        self, fn: Callable[[_T], _R], items: Iterable[_T], pool: futures.Executor | None = None
    ) -> list[_R]:
        todo = list(items)
        if len(todo) <= 1:
            return [fn(i) for i in todo]
        return list((pool or self._wait_pool).map(fn, todo))

    # -- waiting for operations ------------------------------------------------------------------
    def source_responses(
        self, ids: Iterable[str], expect: pb.Stage, no_worker_msg: str
    ) -> list[pb.CommonWorkerResponse]:
        """Each source's answer once its worker has (un)bound it; ``no_worker_msg`` without a worker."""
        out, to_check = [], []
        for sid in dict.fromkeys(ids):
            agent = self.scheduler.agent_for_source(sid)
            if agent is None:
                out.append(common_resp(True, no_worker_msg, sid))
            else:
                to_check.append((sid, agent))
        out.extend(self.parallel(lambda item: self.wait_source(item[1], item[0], expect), to_check))
        return sorted(out, key=lambda r: r.source)

    def wait_source(
        self, agent: WorkerAgent | None, source: str, expect: pb.Stage
    ) -> pb.CommonWorkerResponse:
        if agent is None:
            return common_resp(False, f"{source} relevant worker-client not found", source)

        def done(qs: pb.QueryStatusResponse) -> tuple[bool, str] | None:
            reached = (qs.sourceStatus.source == source) == (expect == pb.Running)
            if reached:
                status = qs.sourceStatus
                return True, worker_error_msg(status.result if status.HasField("result") else None)
            return None

        return self._wait(agent, source, "", done, keep_source=expect == pb.Stopped)

    def task_responses(
        self,
        task: str,
        sources: list[str],
        expect: pb.Stage | None,
        workers: dict[str, WorkerAgent | None] | None = None,
        delete: bool = False,
    ) -> list[pb.CommonWorkerResponse]:
        """Each source's answer once its subtask reached ``expect`` (or is gone, for ``delete``)."""

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
                    gone = st.WhichOneof("status") == "msg" and st.msg == no_subtask_msg(task)
                    return (True, "") if gone else None
                reached = st.stage == expect or (expect == pb.Running and st.stage == pb.Finished)
                ok = st.name == task and reached
                return (ok, msg) if ok or msg else None

            return self._wait(agent, source, task, done)

        return sorted(self.parallel(one, sources), key=lambda r: r.source)

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

    # -- status ----------------------------------------------------------------------------------
    def status_list(
        self, name: str = "", sources: list[str] | None = None, timeout: float = WORKER_RPC_TIMEOUT
    ) -> mpb.QueryStatusListResponse:
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
        resps = self.parallel(lambda s: self._source_status(s, name, timeout), targets, self._status_pool)
        if not name:
            resps.extend(self._fake_status(resps, targets if specified else None))
        resps.sort(key=lambda r: r.sourceStatus.source)
        return mpb.QueryStatusListResponse(result=True, sources=resps)

    def _source_status(self, source: str, name: str, timeout: float) -> pb.QueryStatusResponse:
        agent = self.scheduler.agent_for_source(source)
        if agent is None or not agent.online:
            msg = str(errors.ErrMasterWorkerArgsExtractor(f"{source} relevant worker-client not found"))
            resp = pb.QueryStatusResponse(result=False, msg=msg)
            resp.sourceStatus.source = source
            return resp
        try:
            resp = agent.stub.QueryStatus(pb.QueryStatusRequest(name=name), timeout=timeout)
        except (grpc.RpcError, ValueError) as exc:
            resp = pb.QueryStatusResponse(
                result=False, msg=rpc_error_text(exc) if isinstance(exc, grpc.RpcError) else str(exc)
            )
            resp.sourceStatus.worker = agent.name
        if not resp.sourceStatus.worker:
            resp.sourceStatus.worker = agent.name
        resp.sourceStatus.source = source
        return resp

    def _fake_status(
        self, resps: list[pb.QueryStatusResponse], only: list[str] | None
    ) -> list[pb.QueryStatusResponse]:
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

    def worker_config(self, worker: str) -> tuple[str | None, str]:
        """(the worker's configuration, "") or (None, why not)."""
        agent = self.scheduler.agent(worker)
        if agent is None:
            return None, "worker not found"
        try:
            return agent.stub.GetWorkerCfg(pb.GetWorkerCfgRequest(), timeout=WORKER_RPC_TIMEOUT).cfg, ""
        except grpc.RpcError as exc:
            return None, rpc_error_text(exc)


class MasterServicer(dmmaster_pb2_grpc.MasterServicer):
    """DM-master's service over the :class:`Store`, the :class:`Scheduler` and the checker."""

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
        security: Security | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self.store = store
        self.security = security or Security()
        self._watchers = threading.BoundedSemaphore(MAX_WATCHERS)
        self.scheduler = scheduler
        self.workers = WorkerQueries(store, scheduler, wait_retries, wait_interval)
        self.shard_locks = ShardLocks(store)
        self.master_addr = master_addr
        self.data_dir = data_dir
        self.name = name or f"dm-master-{socket.gethostname()}"
        #: True while an embedded worker may still come up for an unbound source (auto mode)
        self.binding_wait = binding_wait or (lambda: False)
        self.started_at = int(time.time())
        self._task_locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        self.relays = RelayOps(store, scheduler, self.workers._wait, rpc_error_text)
        #: where embedded workers log (``TaskLog``)
        self.log_dir = log_dir
        #: the last minutes of status (``StatusHistory``); sampling starts with :meth:`start_history`
        self.history = StatusHistory(lambda: self.workers.status_list(timeout=WATCH_WORKER_TIMEOUT))

    def start_history(self) -> None:
        self.history.start()

    def close(self) -> None:
        self.history.stop()
        self.workers.close()

    def _task_lock(self, task: str) -> threading.Lock:
        with self._locks_lock:
            return self._task_locks.setdefault(task, threading.Lock())

    # ======================================================================================
    # sources
    # ======================================================================================
    def OperateSource(
        self, request: mpb.OperateSourceRequest, context: grpc.ServicerContext
    ) -> mpb.OperateSourceResponse:
        resp = mpb.OperateSourceResponse()
        if request.op not in (mpb.StartSource, mpb.UpdateSource, mpb.StopSource, mpb.ShowSource):
            resp.msg = str(errors.ErrMasterInvalidOperateOp(mpb.SourceOp.Name(request.op), "source"))
            return resp
        try:
            for text in request.config:
                check_config_size(text, "source")
            cfgs = [load_source_config(text) for text in request.config]
            if request.op in (mpb.StartSource, mpb.UpdateSource):
                for cfg in cfgs:  # DM connects to every source before changing anything
                    checker.check_source(cfg)
        except errors.DMError as exc:
            resp.msg = str(exc)
            return resp
        ids = [*request.sourceID, *(c.source_id for c in cfgs)]
        if request.op == mpb.StartSource:
            texts = dict(zip((c.source_id for c in cfgs), request.config, strict=True))
            return self._start_sources(resp, texts, request.workerName)
        if request.op == mpb.UpdateSource:
            resp.msg = "Update worker config is not supported by dm-ha now"
            return resp
        if request.op == mpb.StopSource:
            return self._stop_sources(resp, ids)
        resp.result = True
        resp.sources.extend(
            self.workers.source_responses(ids or list(self.store.sources()), pb.Running, NO_FREE_WORKER)
        )
        return resp

    def _start_sources(
        self, resp: mpb.OperateSourceResponse, texts: dict[str, str], worker: str
    ) -> mpb.OperateSourceResponse:
        added: list[str] = []
        error = ""
        for sid, text in texts.items():
            try:
                self.store.add_source(sid, text)
            except StoreConflict:
                error = str(errors.ErrSchedulerSourceCfgExist(sid))
                break
            added.append(sid)
            if worker:
                error = self.scheduler.bind(sid, worker)
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
        resp.sources.extend(self.workers.source_responses(added, pb.Running, NO_FREE_WORKER))
        return resp

    def _stop_sources(self, resp: mpb.OperateSourceResponse, ids: list[str]) -> mpb.OperateSourceResponse:
        bound: dict[str, str] = {}
        for sid in ids:
            if self.store.get_source(sid) is None:
                resp.msg = str(errors.ErrSchedulerSourceCfgNotExist(sid))
                return resp
            tasks_ = sorted({r.task for r in self.store.subtasks(source=sid)})
            if tasks_:
                resp.msg = str(errors.ErrSchedulerSourceOpTaskExist(sid, go_list(tasks_)))
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
        resp.sources.extend(
            self.workers.parallel(
                lambda sid: self.workers.wait_source(self.scheduler.agent(bound[sid]), sid, pb.Stopped),
                sorted(bound),
            )
        )
        resp.sources.sort(key=lambda r: r.source)
        return resp

    # ======================================================================================
    # tasks
    # ======================================================================================
    def _check_task(self, text: str, start_time: str, err_cnt: int, warn_cnt: int) -> tuple[TaskConfig, str]:
        """The start StartTask and CheckTask share: ``--start-time``, the task against the known
        sources, the precheck. Returns the task and the precheck's text; raises :class:`_Refused`."""
        if bad := tasks.start_time_error(start_time):
            raise _Refused(bad)
        try:
            check_config_size(text, "task")
            cfg = tasks.parse_task(self.store, text)
        except errors.DMError as exc:
            raise _Refused(with_class(exc)) from exc
        try:
            sources = tasks.source_configs(self.store, cfg.source_ids)
            return cfg, checker.check_task(cfg, sources, err_cnt=err_cnt, warn_cnt=warn_cnt)
        except errors.DMError as exc:
            raise _Refused(with_class(exc), precheck=True) from exc

    def StartTask(
        self, request: mpb.StartTaskRequest, context: grpc.ServicerContext
    ) -> mpb.StartTaskResponse:
        resp = mpb.StartTaskResponse()
        try:
            cfg, resp.checkResult = self._check_task(
                request.task, request.startTime, checker.DEFAULT_ERROR_COUNT, checker.DEFAULT_WARN_COUNT
            )
            missing = [s for s in request.sources if s not in cfg.source_ids]
            if missing:
                resp.sources.extend(
                    common_resp(False, "source not found in task's config", s) for s in sorted(missing)
                )
                return resp
            sources = [s for s in cfg.source_ids if not request.sources or s in request.sources]
            new = self._add_subtasks(cfg, request, sources)
        except _Refused as refused:
            if refused.precheck:
                resp.checkResult = refused.text
            else:
                resp.msg = refused.text
            return resp
        log.info("start task %s on sources %s (remove-meta: %s)", cfg.name, new, request.removeMeta)
        self.scheduler.kick_sources(new)
        resp.result = True
        if cfg.remove_meta:
            resp.msg = (
                "`remove-meta` in task config is deprecated, "
                "please use `start-task ... --remove-meta` instead"
            )
        resp.sources.extend(self.workers.task_responses(cfg.name, new, pb.Running))
        return resp

    def _add_subtasks(self, cfg: TaskConfig, request: mpb.StartTaskRequest, sources: list[str]) -> list[str]:
        """Record the subtasks of the sources that have none yet; returns those sources."""
        with self._task_lock(cfg.name):
            existing = {r.source for r in self.store.subtasks(task=cfg.name)}
            if request.removeMeta and existing:
                err = errors.ErrSchedulerSubTaskExist(cfg.name, go_list(sorted(existing)))
                raise _Refused(err.annotate("while remove-meta is true"))
            if request.removeMeta:
                try:
                    tasks.remove_meta(self.store, cfg)
                except errors.DMError as exc:
                    raise _Refused(exc.annotate("while removing metadata")) from exc
            new = [s for s in sources if s not in existing]
            if not new:
                dup = go_list(sorted(existing & set(sources)))
                raise _Refused(errors.ErrSchedulerSubTaskExist(cfg.name, dup))
            bindings = self.store.bindings()
            unbound = [s for s in new if s not in bindings]
            if unbound:
                raise _Refused(errors.ErrSchedulerSourcesUnbound(go_list(unbound)))
            try:
                self.store.add_subtasks(
                    tasks.subtask_records(
                        self.store, cfg, request.task, new, request.removeMeta, request.startTime
                    )
                )
            except errors.DMError as exc:
                raise _Refused(exc) from exc
            except StoreConflict as exc:
                raise _Refused(errors.ErrSchedulerSubTaskExist(cfg.name, go_list(new))) from exc
        return new

    def CheckTask(
        self, request: mpb.CheckTaskRequest, context: grpc.ServicerContext
    ) -> mpb.CheckTaskResponse:
        try:
            _, msg = self._check_task(request.task, request.startTime, request.errCnt, request.warnCnt)
        except _Refused as refused:
            return mpb.CheckTaskResponse(msg=refused.text)
        return mpb.CheckTaskResponse(result=True, msg=msg)

    def OperateTask(
        self, request: mpb.OperateTaskRequest, context: grpc.ServicerContext
    ) -> mpb.OperateTaskResponse:
        resp = mpb.OperateTaskResponse(op=request.op)
        sources = list(request.sources) or sorted({r.source for r in self.store.subtasks(task=request.name)})
        if not sources:
            resp.msg = (
                f"task {request.name} has no source or not exist, please check the task name and status"
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
            if expect is None:  # Delete
                self.store.remove_subtasks(request.name, sources)
            else:
                self.store.set_expect_stage(request.name, sources, expect)
        log.info("operate task %s: %s on %s", request.name, pb.TaskOp.Name(request.op), sources)
        self.scheduler.kick_sources(sources)
        resp.result = True
        resp.sources.extend(
            self.workers.task_responses(request.name, sources, expect, workers, delete=expect is None)
        )
        return resp

    # ======================================================================================
    # relay
    # ======================================================================================
    def OperateRelay(
        self, request: mpb.OperateRelayRequest, context: grpc.ServicerContext
    ) -> mpb.OperateRelayResponse:
        return self.relays.operate(request)

    def OperateWorkerRelayTask(
        self, request: mpb.OperateWorkerRelayRequest, context: grpc.ServicerContext
    ) -> mpb.OperateWorkerRelayResponse:
        return self.relays.pause_resume(request)

    def PurgeWorkerRelay(
        self, request: mpb.PurgeWorkerRelayRequest, context: grpc.ServicerContext
    ) -> mpb.PurgeWorkerRelayResponse:
        return self.relays.purge(request)

    # ======================================================================================
    # status
    # ======================================================================================
    def QueryStatus(
        self, request: mpb.QueryStatusListRequest, context: grpc.ServicerContext
    ) -> mpb.QueryStatusListResponse:
        return self.workers.status_list(request.name, list(request.sources))

    def WatchStatus(
        self, request: mpb.WatchStatusRequest, context: grpc.ServicerContext
    ) -> Iterator[mpb.QueryStatusListResponse]:
        interval = max(100, request.intervalMs or 1000) / 1000.0
        if not self._watchers.acquire(blocking=False):
            context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"too many status watchers (at most {MAX_WATCHERS}); use query-status or close one",
            )
        try:
            gone = threading.Event()
            context.add_callback(gone.set)
            while context.is_active() and not gone.is_set():
                yield self.workers.status_list(request.name, list(request.sources), WATCH_WORKER_TIMEOUT)
                gone.wait(interval)
        finally:
            self._watchers.release()

    def StatusHistory(
        self, request: mpb.StatusHistoryRequest, context: grpc.ServicerContext
    ) -> mpb.StatusHistoryResponse:
        return self.history.response(request.name)

    def TaskLog(self, request: mpb.TaskLogRequest, context: grpc.ServicerContext) -> mpb.TaskLogResponse:
        sources = list(request.sources) or sorted({r.source for r in self.store.subtasks(task=request.name)})
        if not sources:
            return mpb.TaskLogResponse(msg=str(errors.ErrSchedulerSubTaskOpTaskNotExist(request.name)))
        workers = {s: a.name for s in sources if (a := self.scheduler.agent_for_source(s)) is not None}
        return task_log(self.log_dir, request.name, workers, request.lines)

    # ======================================================================================
    # shard DDL locks (dmshell.daemon.shard_locks)
    # ======================================================================================
    def ShowDDLLocks(
        self, request: mpb.ShowDDLLocksRequest, context: grpc.ServicerContext
    ) -> mpb.ShowDDLLocksResponse:
        return self.shard_locks.show(request)

    def UnlockDDLLock(
        self, request: mpb.UnlockDDLLockRequest, context: grpc.ServicerContext
    ) -> mpb.UnlockDDLLockResponse:
        return self.shard_locks.unlock(request)

    def ReportShardDDL(
        self, request: mpb.ShardDDLReport, context: grpc.ServicerContext
    ) -> mpb.ShardDDLDecision:
        return self.shard_locks.report(request)

    def OptimisticShardDDL(
        self, request: mpb.OptimisticShardDDLRequest, context: grpc.ServicerContext
    ) -> mpb.ShardDDLDecision:
        return self.shard_locks.optimistic(request)

    # ======================================================================================
    # members, configs, cluster
    # ======================================================================================
    def RegisterWorker(
        self, request: mpb.RegisterWorkerRequest, context: grpc.ServicerContext
    ) -> mpb.RegisterWorkerResponse:
        if not request.name or not request.address:
            return mpb.RegisterWorkerResponse(msg=str(errors.ErrMasterParseArgs()))
        if bad := names.name_error("worker name", request.name):
            return mpb.RegisterWorkerResponse(msg=bad)
        # the Guard let only members through; which one it is decides who may use the name
        identity = peer_identity(context, self.security) or ""
        msg = self.scheduler.register_worker(request.name, request.address, identity)
        return mpb.RegisterWorkerResponse(result=not msg, msg=msg)

    def ListMember(
        self, request: mpb.ListMemberRequest, context: grpc.ServicerContext
    ) -> mpb.ListMemberResponse:
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

    def GetCfg(self, request: mpb.GetCfgRequest, context: grpc.ServicerContext) -> mpb.GetCfgResponse:
        try:
            if request.type == mpb.TaskType:
                cfg, msg = configs.task_config(self.store, request.name), "task not found"
            elif request.type == mpb.SourceType:
                cfg, msg = configs.source_config(self.store, request.name), "source not found"
            elif request.type == mpb.MasterType:
                cfg, msg = (self.master_config() if request.name == self.name else None), "master not found"
            elif request.type == mpb.WorkerType:
                cfg, msg = self.workers.worker_config(request.name)
            elif request.type == mpb.TaskTemplateType:
                cfg, msg = None, "task not found"
            else:
                cfg, msg = None, f"invalid config op '{mpb.CfgType.Name(request.type)}'"
        except errors.DMError as exc:
            return mpb.GetCfgResponse(msg=str(exc))
        return mpb.GetCfgResponse(msg=msg) if cfg is None else mpb.GetCfgResponse(result=True, cfg=cfg)

    def GetMasterCfg(
        self, request: mpb.GetMasterCfgRequest, context: grpc.ServicerContext
    ) -> mpb.GetMasterCfgResponse:
        return mpb.GetMasterCfgResponse(cfg=self.master_config())

    def master_config(self) -> str:
        return configs.master_config(self.name, self.master_addr, self.data_dir)

    def ListTaskConfigs(
        self, request: mpb.Empty, context: grpc.ServicerContext
    ) -> mpb.ListTaskConfigsResponse:
        resp = mpb.ListTaskConfigsResponse(result=True)
        for r in self.store.subtasks():
            if r.task in resp.taskConfigs:
                continue
            try:
                resp.taskConfigs[r.task] = configs.export_task(r.task_yaml)
            except errors.DMError as exc:
                return mpb.ListTaskConfigsResponse(msg=f"failed to marshal task config of {r.task}: {exc}")
        return resp

    def ListSourceConfigs(
        self, request: mpb.Empty, context: grpc.ServicerContext
    ) -> mpb.ListSourceConfigsResponse:
        resp = mpb.ListSourceConfigsResponse(result=True)
        for sid, text in self.store.sources().items():
            try:
                resp.sourceConfigs[sid] = configs.export_source(text)
            except errors.DMError as exc:
                return mpb.ListSourceConfigsResponse(msg=f"fail to marshal source config of {sid}: {exc}")
        return resp

    def GetSubTaskCfg(
        self, request: mpb.GetSubTaskCfgRequest, context: grpc.ServicerContext
    ) -> mpb.GetSubTaskCfgResponse:
        try:
            cfgs = configs.subtask_configs(self.store, request.name)
        except errors.DMError as exc:
            return mpb.GetSubTaskCfgResponse(msg=str(exc))
        if not cfgs:
            return mpb.GetSubTaskCfgResponse(msg="task not found")
        return mpb.GetSubTaskCfgResponse(result=True, cfgs=cfgs)

    def Encrypt(self, request: mpb.EncryptRequest, context: grpc.ServicerContext) -> mpb.EncryptResponse:
        try:
            return mpb.EncryptResponse(result=True, ciphertext=encrypt.encrypt(request.plaintext))
        except errors.DMError as exc:
            return mpb.EncryptResponse(msg=str(exc))

    def GetClusterInfo(self, request: mpb.Empty, context: grpc.ServicerContext) -> mpb.ClusterInfo:
        up, total = self.scheduler.counts()
        return mpb.ClusterInfo(
            masterAddr=self.master_addr,
            dataDir=self.data_dir,
            workersUp=up,
            workersTotal=total,
            version=__version__,
            pid=os.getpid(),
            startTime=self.started_at,
        )

    # ======================================================================================
    # binlog operations
    # ======================================================================================
    def HandleError(
        self, request: mpb.HandleErrorRequest, context: grpc.ServicerContext
    ) -> mpb.HandleErrorResponse:
        # imported on first use: it pulls in the binlog reader and the DDL parser (start-up time)
        from dmshell.daemon.error_ops import ErrorOperations

        with self._task_lock(request.task):
            return ErrorOperations(self.store, self.scheduler).handle(request)

    def OperateSchema(
        self, request: mpb.OperateSchemaRequest, context: grpc.ServicerContext
    ) -> mpb.OperateSchemaResponse:
        from dmshell.daemon.error_ops import SchemaOperations  # (first use: start-up time)

        with self._task_lock(request.task):
            return SchemaOperations(self.store, self.scheduler).handle(request)

    def ListBinlogEvents(
        self, request: mpb.ListBinlogEventsRequest, context: grpc.ServicerContext
    ) -> mpb.ListBinlogEventsResponse:
        from dmshell.daemon.error_ops import list_binlog_events  # (first use: start-up time)

        return list_binlog_events(self.store, request)

    # ======================================================================================
    # not implemented yet: the dmctl command users know each RPC by
    # ======================================================================================
    UpdateTask = Unsupported("update-task")
    OfflineMember = Unsupported("offline-member")
    OperateLeader = Unsupported("operate-leader")
    TransferSource = Unsupported("transfer-source")
    StartValidation = Unsupported("validation start")
    StopValidation = Unsupported("validation stop")
    GetValidationStatus = Unsupported("validation status")
    GetValidationError = Unsupported("validation show-error")
    OperateValidationError = Unsupported("validation ignore-error/resolve-error/clear-error")
    UpdateValidation = Unsupported("validation update")


#: RPCs dmshell does not implement yet → the dmctl command users know them by
UNSUPPORTED = {
    name: attr.command for name, attr in vars(MasterServicer).items() if isinstance(attr, Unsupported)
}
