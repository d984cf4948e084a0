"""The worker process (DM-worker): a ``Worker`` gRPC service plus the subtasks of one source.

Started by the daemon's worker host (embedded) or by hand on another machine (``dmshell worker
--name W --join MASTER --worker-addr HOST:PORT``). It binds its port, registers with the master
(``RegisterWorker``, retried until the master answers) and then follows the master's pushes: every
``ApplyState`` carries the whole desired state (bound source and subtasks with expected stages) and
:class:`SubTaskManager` reconciles the running subtasks to it in a background thread.

SIGTERM (and SIGINT when run by hand) stops every subtask at a consistent point (units flush their
checkpoints) and exits; the master's expected stages are untouched, so a restarted worker resumes.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import logging
import os
import shutil
import signal
import socket
import sys
import threading
import time
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import grpc

from dmshell.client.defaults import DEFAULT_MASTER_ADDR, MASTER_ADDR_ENV
from dmshell.daemon.auth import (
    SECRET_FILE,
    Guard,
    Security,
    add_port,
    add_security_arguments,
    check_listen_address,
    peer_channel,
    read_secret,
    security_from_args,
)
from dmshell.daemon.common import (
    GRPC_OPTIONS,
    SERVER_OPTIONS,
    RPCLogger,
    add_log_arguments,
    dial_host,
    harden_process,
    private_dir,
    setup_logging,
    split_addr,
)
from dmshell.engine import errors
from dmshell.engine.names import inside, name_error
from dmshell.proto import dmmaster_pb2, dmmaster_pb2_grpc, dmworker_pb2_grpc
from dmshell.proto import dmworker_pb2 as pb

if TYPE_CHECKING:  # the engine (config, units, drivers) is imported only once a subtask starts,
    # which keeps an idle worker small
    from dmshell.engine.binlog.location import Location
    from dmshell.engine.config.source import SourceConfig
    from dmshell.engine.relay.relay import Relay
    from dmshell.engine.subtask import AutoResume, SubTask

log = logging.getLogger(__name__)

START_ID_FILE = ".start-id"
#: DM's task checker interval (auto-resume of subtasks paused by resumable errors)
CHECK_INTERVAL = 5.0
#: re-register when the master has not pushed anything for this long (it may have lost us)
REREGISTER_AFTER = 10.0


def no_subtask_msg(name: str) -> str:
    """DM's ``common.NoSubTaskMsg``."""
    return f"no sub task with name {name} has started"


def process_error(exc: BaseException) -> pb.ProcessError:
    from dmshell.engine.subtask import process_error as convert

    return convert(exc)


class BrokenSubTask:
    """Stands in for a subtask whose configuration could not be turned into units: Paused with the error."""

    def __init__(self, name: str, exc: BaseException) -> None:
        self.name = name
        self._result = pb.ProcessResult(errors=[process_error(exc)])

    stage = pb.Paused

    def status(self) -> pb.SubTaskStatus:
        st = pb.SubTaskStatus(name=self.name, stage=pb.Paused)
        st.result.CopyFrom(self._result)
        return st

    def run(self, expect: int = pb.Running) -> None:
        pass

    def pause(self, wait: bool = True) -> bool:
        self._result.isCanceled = True
        return True

    def resume(self) -> bool:
        return False

    def stop(self, wait: bool = True, timeout: float | None = None) -> None:
        pass

    def join(self, timeout: float | None = None) -> None:
        pass

    def check_auto_resume(self, now: float | None = None) -> bool:
        return False


@dataclass(slots=True)
class _Entry:
    subtask: SubTask | BrokenSubTask
    start_id: str
    revision: int


class SubTaskManager:
    """The subtasks of this worker, reconciled to the master's desired :class:`pb.WorkerState`."""

    def __init__(self, worker_name: str, data_dir: Path, auto_resume: AutoResume | None = None) -> None:
        self.worker_name = worker_name
        self.base_dir = Path(data_dir) / "workers" / worker_name
        self.auto_resume = auto_resume
        #: the master's address, for the sync units' shard DDL locks (set by ``main``)
        self.master_addr = ""
        self._check_interval = auto_resume.check_interval if auto_resume else CHECK_INTERVAL
        self._lock = threading.Lock()
        self._desired: pb.WorkerState | None = None
        self._source_id = ""
        self._source_text = ""
        self._source_cfg: SourceConfig | None = None
        self._source_error: pb.ProcessError | None = None
        self._entries: dict[str, _Entry] = {}
        self._relay: Relay | None = None
        self._relay_revision = -1
        #: each task's registered binlog operations (an engine OperationBook), kept across its runs
        self._books: dict[str, Any] = {}
        self._kick = threading.Event()
        self._closing = threading.Event()
        self.last_apply = time.monotonic()
        self._threads = [
            threading.Thread(target=self._reconcile_loop, name="reconcile", daemon=True),
            threading.Thread(target=self._checker_loop, name="task-checker", daemon=True),
        ]
        for t in self._threads:
            t.start()

    # -- called by the gRPC service ----------------------------------------------------------
    def apply(self, state: pb.WorkerState) -> None:
        """Record the desired state; the reconcile thread acts on it (never blocks the caller)."""
        with self._lock:
            self._desired = state
            self.last_apply = time.monotonic()
        self._kick.set()

    def query_status(self, name: str = "") -> pb.QueryStatusResponse:
        """DM-worker's ``QueryStatus``."""
        with self._lock:
            source = self._source_id
            entries = dict(self._entries)
            source_error = self._source_error
            relay = self._relay
        resp = pb.QueryStatusResponse(result=True)
        resp.sourceStatus.source = source
        resp.sourceStatus.worker = self.worker_name
        if relay is not None:
            resp.sourceStatus.relayStatus.CopyFrom(relay.status())
        if source_error is not None:
            resp.sourceStatus.result.errors.append(source_error)
        if not source:
            resp.result = False
            resp.msg = str(errors.ErrWorkerNoStart())
            return resp
        if entries:
            for n in [name] if name else sorted(entries):
                entry = entries.get(n)
                if entry is None:
                    resp.subTaskStatus.append(pb.SubTaskStatus(name=n, msg=no_subtask_msg(n)))
                else:
                    resp.subTaskStatus.append(entry.subtask.status())
        if not resp.subTaskStatus:
            resp.msg = "no sub task started"
        return resp

    def purge_relay(self, req: pb.PurgeRelayRequest) -> pb.CommonWorkerResponse:
        """DM-worker's ``PurgeRelay``."""
        with self._lock:
            relay, source = self._relay, self._source_id
        resp = pb.CommonWorkerResponse(source=source, worker=self.worker_name)
        if relay is None:
            resp.msg = str(errors.ErrRelayNoActiveRelayLog())
            return resp
        try:
            relay.purger.purge(req)
        except errors.DMError as exc:
            resp.msg = str(exc)
            return resp
        resp.result = True
        return resp

    @property
    def source_id(self) -> str:
        with self._lock:
            return self._source_id

    def shutdown(self, timeout: float = 60.0) -> None:
        """Stop every subtask at a consistent point (in parallel) and the background threads."""
        self._closing.set()
        self._kick.set()
        for t in self._threads:
            t.join(5)
        with self._lock:
            entries = list(self._entries.values())
        self._stop_all([e.subtask for e in entries], timeout)
        self._stop_relay()

    # -- reconciliation ----------------------------------------------------------------------
    def _reconcile_loop(self) -> None:
        while not self._closing.is_set():
            self._kick.wait()
            self._kick.clear()
            if self._closing.is_set():
                return
            with self._lock:
                desired = self._desired
            if desired is None:
                continue
            try:
                self._reconcile(desired)
            except Exception:
                log.exception("reconcile to the desired state failed")

    def _reconcile(self, desired: pb.WorkerState) -> None:
        if desired.source != self._source_id or desired.sourceConfig != self._source_text:
            self._switch_source(desired)
        self._reconcile_relay(desired)
        wanted = {spec.name: spec for spec in desired.subtasks} if self._source_id else {}
        with self._lock:
            current = dict(self._entries)
        gone = [e.subtask for n, e in current.items() if n not in wanted]
        if gone:
            self._stop_all(gone)
            with self._lock:
                for n in list(self._entries):
                    if n not in wanted:
                        del self._entries[n]
                        if self._relay is not None:
                            self._relay.holds.release(n)  # stop-task: its relay files may go
        for name, spec in wanted.items():
            if self._closing.is_set() or self._kick.is_set():
                return  # a newer state arrived: start over with it
            entry = current.get(name)
            if entry is not None and entry.start_id != spec.startId:
                entry.subtask.stop(wait=True)  # a new run of the task (stop-task + start-task)
                entry = None
            fresh = self._sync_ops(spec)
            if entry is None:
                self._create(spec)
            elif entry.revision != spec.stageRevision:
                self._operate(entry, spec)
            elif fresh:
                self._resume_on_operation(entry, fresh)
        for name in set(self._books) - set(wanted):
            del self._books[name]

    # -- binlog operations -------------------------------------------------------------------
    def _book(self, name: str) -> Any:
        # (the engine is imported only once a subtask needs it: an idle worker stays small)
        from dmshell.engine.sync.operations import OperationBook

        book = self._books.get(name)
        if book is None:
            book = self._books[name] = OperationBook()
        return book

    def _sync_ops(self, spec: pb.SubTaskSpec) -> set[tuple[str, int]]:
        """Install the spec's operations; returns the positions that are new or changed."""
        if not spec.binlogOps and spec.name not in self._books:
            return set()
        from dmshell.engine.sync.operator import Action

        actions = {pb.Skip: Action.SKIP, pb.Replace: Action.REPLACE, pb.Inject: Action.INJECT}
        ops = [(o.binlogPos, actions[o.op], list(o.sqls)) for o in spec.binlogOps if o.op in actions]
        try:
            fresh: set[tuple[str, int]] = self._book(spec.name).replace_all(ops)
        except ValueError:
            log.exception("subtask %s: bad binlog operations from the master", spec.name)
            return set()
        return fresh

    def _resume_on_operation(self, entry: _Entry, fresh: set[tuple[str, int]]) -> None:
        """DM: an operation on a paused subtask's current error resumes it (once); a subtask the
        DBA paused (canceled) stays paused."""
        where = self.current_error(entry.subtask)
        if where is not None and where[0] in fresh:
            log.info("subtask %s: binlog operation at %s:%s, resuming", entry.subtask.name, *where[0])
            entry.subtask.resume()

    @staticmethod
    def current_error(st: SubTask | BrokenSubTask) -> tuple[tuple[str, int], bool] | None:
        """((file, pos), is-DDL) of the error a subtask paused at; None without one."""
        if st.stage != pb.Paused:
            return None
        status = st.status()
        result = status.result
        if result.isCanceled:
            return None
        from dmshell.engine.sync.operations import error_location

        for e in result.errors:
            where = error_location(e.Message)
            if where is not None:
                return where
        return None

    def operate_schema(self, req: pb.OperateWorkerSchemaRequest) -> pb.CommonWorkerResponse:
        """``binlog-schema list|update|delete`` on a paused subtask (its checkpoint's table rows)."""
        with self._lock:
            entry = self._entries.get(req.task)
            source = self._source_id
        resp = pb.CommonWorkerResponse(source=source, worker=self.worker_name)
        if entry is None or isinstance(entry.subtask, BrokenSubTask):
            resp.msg = str(errors.ErrWorkerSubTaskNotFound(req.task))
            return resp
        st = entry.subtask
        if st.stage != pb.Paused:
            resp.msg = str(errors.ErrWorkerNotPausedStage(pb.Stage.Name(st.stage)))
            return resp
        if req.op == pb.SetSchema and not req.flush:
            # the tracker of a paused subtask is rebuilt from the checkpoint: an unflushed schema
            # would be lost at the resume, so it is refused rather than ignored
            resp.msg = "--flush=false is not supported: the schema of a paused task is kept in its checkpoint"
            return resp
        from dmshell.engine.sync.schema_ops import SchemaRequest, TrackedSchemas

        schemas = TrackedSchemas(st.ctx.cfg, st.ctx.source, st.ctx.dump_dir)
        sreq = SchemaRequest(req.database, req.table, req.schema, req.fromSource, req.fromTarget)
        try:
            if req.op == pb.GetSchema:
                resp.msg = schemas.get(sreq)
            elif req.op == pb.SetSchema:
                schemas.set(sreq)
            elif req.op == pb.RemoveSchema:
                schemas.remove(sreq)
            else:
                resp.msg = f"invalid operate '{pb.SchemaOp.Name(req.op)}' on schema"
                return resp
        except errors.DMError as exc:
            resp.msg = str(exc)
            return resp
        except Exception as exc:
            resp.msg = str(errors.ErrNotSet(f"{type(exc).__name__}: {exc}"))
            return resp
        resp.result = True
        return resp

    def error_position(self, req: pb.HandleWorkerErrorRequest) -> pb.CommonWorkerResponse:
        """The position of the current error of ``req.task`` for the master's ``HandleError``
        without ``-b`` (msg: ``<file>:<pos>``), or why there is none (result false)."""
        with self._lock:
            entry = self._entries.get(req.task)
            source = self._source_id
        resp = pb.CommonWorkerResponse(source=source, worker=self.worker_name)
        if entry is None:
            resp.msg = str(errors.ErrWorkerSubTaskNotFound(req.task))
            return resp
        status = entry.subtask.status()
        if status.unit != pb.Sync:
            op = pb.ErrorOp.Name(req.op)
            resp.msg = str(errors.ErrWorkerOperSyncUnitOnly(op, pb.UnitType.Name(status.unit)))
            return resp
        where = self.current_error(entry.subtask)
        if where is None:
            resp.msg = f"source '{source}' has no error"
            return resp
        (file, pos), is_ddl = where
        if not is_ddl and req.op != pb.Revert:
            resp.msg = (
                f"source '{source}': the current error is not a DDL's: only DDL errors can be handled "
                "without --binlog-pos; resolve it on the target and resume-task, or use "
                "`binlog skip -b <file>:<pos>` for the event"
            )
            return resp
        resp.result, resp.msg = True, f"{file}:{pos}"
        return resp

    def _switch_source(self, desired: pb.WorkerState) -> None:
        with self._lock:
            entries = list(self._entries.values())
        if entries:
            log.info(
                "source changes from %r to %r: stopping %d subtasks",
                self._source_id,
                desired.source,
                len(entries),
            )
            self._stop_all([e.subtask for e in entries])
        self._stop_relay()
        with self._lock:
            self._entries.clear()
            self._source_id = desired.source
            self._source_text = desired.sourceConfig
            self._source_cfg = None  # parsed when the first subtask needs it
            self._source_error = None
        log.info("bound source: %r", desired.source)

    # -- relay -------------------------------------------------------------------------------
    def _reconcile_relay(self, desired: pb.WorkerState) -> None:
        """Start, pause, resume or stop the source's relay as the master (or enable-relay) wants."""
        spec = desired.relay
        want = bool(self._source_id) and spec.enabled
        if self._source_id and not want:
            try:
                want = self._source_config().enable_relay
            except Exception:  # a bad configuration: the source status shows the error
                want = False
        stage = spec.expectStage if spec.enabled else pb.Running
        if not want:
            self._stop_relay()
            return
        relay = self._relay
        if relay is None:
            from dmshell.engine.relay.relay import Relay

            cfg = self._source_config()
            base = Path(cfg.relay_dir or "relay-dir")
            relay = Relay(
                cfg, (base if base.is_absolute() else self.base_dir / base) / cfg.source_id, self._earliest
            )
            log.info("relay of %s in %s: %s", cfg.source_id, relay.dir.path, pb.Stage.Name(stage))
            relay.start(stage)
            with self._lock:
                self._relay, self._relay_revision = relay, spec.stageRevision
            return
        if spec.stageRevision == self._relay_revision:
            return
        self._relay_revision = spec.stageRevision
        log.info("relay: expect %s (revision %d)", pb.Stage.Name(stage), spec.stageRevision)
        if stage == pb.Paused:
            relay.pause()
        else:
            relay.resume()

    def _stop_relay(self) -> None:
        with self._lock:
            relay, self._relay, self._relay_revision = self._relay, None, -1
        if relay is not None:
            log.info("relay of %s: stopping", relay.source.source_id)
            relay.stop()

    def _earliest(self) -> Location | None:
        """Where a new relay starts without relay-binlog-name/gtid: the earliest subtask position."""
        from dmshell.engine.binlog.location import Location, parse_position

        with self._lock:
            subtasks = [e.subtask for e in self._entries.values()]
        points = []
        for st in subtasks:
            status = st.status()
            if status.WhichOneof("status") == "sync" and status.sync.syncerBinlog:
                file, pos = parse_position(status.sync.syncerBinlog)
                points.append(Location(file, pos))
        return min(points) if points else None

    def _source_config(self) -> SourceConfig:
        """The bound source's parsed configuration (errors also shown in the source status)."""
        with self._lock:
            if self._source_cfg is not None:
                return self._source_cfg
            text, source = self._source_text, self._source_id
        if not source:
            raise errors.ErrWorkerNoStart()
        from dmshell.engine.config.load import load_source_config

        try:
            cfg = load_source_config(text)
        except Exception as exc:
            log.error("source %s: bad configuration: %s", source, exc)
            with self._lock:
                self._source_error = process_error(exc)
            raise
        with self._lock:
            if self._source_text == text:
                self._source_cfg, self._source_error = cfg, None
        return cfg

    def _create(self, spec: pb.SubTaskSpec) -> None:
        subtask: SubTask | BrokenSubTask
        try:
            subtask = self._build(spec)
        except Exception as exc:
            log.error("subtask %s: cannot start: %s", spec.name, exc)
            subtask = BrokenSubTask(spec.name, exc)
        with self._lock:
            self._entries[spec.name] = _Entry(subtask, spec.startId, spec.stageRevision)
        log.info("subtask %s (start %s): expect %s", spec.name, spec.startId, pb.Stage.Name(spec.expectStage))
        subtask.run(spec.expectStage)

    def _build(self, spec: pb.SubTaskSpec) -> SubTask:
        from dmshell.engine.config.load import load_task_config
        from dmshell.engine.config.task import Meta
        from dmshell.engine.subtask import SubTask
        from dmshell.engine.unit import UnitContext

        source_cfg = self._source_config()
        cfg = load_task_config(spec.task).subtask(self._source_id, source_cfg)
        if cfg.meta is None and (spec.metaBinlogName or spec.metaBinlogGTID):
            cfg.meta = Meta(
                binlog_name=spec.metaBinlogName,
                binlog_pos=spec.metaBinlogPos or 4,
                binlog_gtid=spec.metaBinlogGTID,
            )
        work_dir = subtask_dir(self.base_dir, spec.name, self._source_id)
        prepare_work_dir(work_dir, spec.startId, spec.removeMeta)
        ctx = UnitContext(
            cfg=cfg,
            source=source_cfg,
            work_dir=work_dir,
            worker_name=self.worker_name,
            relay=self._relay,
            master_addr=self.master_addr,
        )
        ctx.operator = self._book(spec.name)
        if spec.startTime:
            ctx.use_start_time(spec.startTime, spec.startId)
        return SubTask(ctx, auto_resume=self.auto_resume)

    def _operate(self, entry: _Entry, spec: pb.SubTaskSpec) -> None:
        st = entry.subtask
        log.info(
            "subtask %s: expect %s (revision %d)",
            spec.name,
            pb.Stage.Name(spec.expectStage),
            spec.stageRevision,
        )
        if spec.expectStage == pb.Running:
            if isinstance(st, BrokenSubTask) or (st.stage == pb.Stopped):
                st.stop(wait=True)
                with self._lock:
                    self._entries.pop(spec.name, None)
                self._create(spec)
                return
            st.resume()
        elif spec.expectStage == pb.Paused:
            st.pause(wait=True)
        elif spec.expectStage == pb.Stopped:
            st.stop(wait=True)
        entry.revision = spec.stageRevision

    def _stop_all(self, subtasks: list, timeout: float = 60.0) -> None:
        for st in subtasks:
            st.stop(wait=False)
        deadline = time.monotonic() + timeout
        for st in subtasks:
            st.join(max(0.0, deadline - time.monotonic()))

    def _checker_loop(self) -> None:
        """DM's task checker: auto-resume subtasks paused by resumable errors."""
        while not self._closing.wait(self._check_interval):
            with self._lock:
                subtasks = [e.subtask for e in self._entries.values()]
            for st in subtasks:
                try:
                    st.check_auto_resume()
                except Exception:
                    log.exception("auto-resume check of %s", st.name)


def subtask_dir(base_dir: Path, task: str, source_id: str) -> Path:
    """``<base>/<task>.<source-id>``, both names checked and the result inside ``base_dir``: nothing a
    task or source is called reaches (or, with ``--remove-meta``, deletes) files elsewhere."""
    for kind, name in (("task name", task), ("source-id", source_id)):
        if bad := name_error(kind, name):
            raise errors.ErrConfigUnsafeName(bad)
    base_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        return inside(base_dir, f"{task}.{source_id}")
    except ValueError as exc:
        raise errors.ErrConfigUnsafeName(str(exc)) from None


def prepare_work_dir(work_dir: Path, start_id: str, remove_meta: bool) -> None:
    """Create the subtask's directory; on a new ``startId`` with ``removeMeta``, wipe it first (once)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    marker = work_dir / START_ID_FILE
    previous = marker.read_text().strip() if marker.exists() else ""
    if previous == start_id:
        return
    if remove_meta:
        log.info("start-task --remove-meta: removing local files in %s", work_dir)
        for child in work_dir.iterdir():
            if child.name == START_ID_FILE:
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(start_id + "\n")
    os.replace(tmp, marker)


class WorkerServicer(dmworker_pb2_grpc.WorkerServicer):
    """The ``Worker`` gRPC service."""

    def __init__(self, manager: SubTaskManager, config_text: str) -> None:
        self.manager = manager
        self.config_text = config_text

    def QueryStatus(
        self, request: pb.QueryStatusRequest, context: grpc.ServicerContext
    ) -> pb.QueryStatusResponse:
        return self.manager.query_status(request.name)

    def ApplyState(self, request: pb.WorkerState, context: grpc.ServicerContext) -> pb.CommonWorkerResponse:
        self.manager.apply(request)
        return pb.CommonWorkerResponse(result=True, source=request.source, worker=self.manager.worker_name)

    def GetWorkerCfg(
        self, request: pb.GetWorkerCfgRequest, context: grpc.ServicerContext
    ) -> pb.GetWorkerCfgResponse:
        return pb.GetWorkerCfgResponse(cfg=self.config_text)

    def PurgeRelay(
        self, request: pb.PurgeRelayRequest, context: grpc.ServicerContext
    ) -> pb.CommonWorkerResponse:
        return self.manager.purge_relay(request)

    def HandleError(
        self, request: pb.HandleWorkerErrorRequest, context: grpc.ServicerContext
    ) -> pb.CommonWorkerResponse:
        """dmshell: the master asks where the current error is (it stores the operation and pushes
        it with the desired state)."""
        return self.manager.error_position(request)

    def OperateSchema(
        self, request: pb.OperateWorkerSchemaRequest, context: grpc.ServicerContext
    ) -> pb.CommonWorkerResponse:
        return self.manager.operate_schema(request)


class DirLock:
    """An exclusive ``flock`` on ``<base>/.lock``: two processes never run the same worker's subtasks."""

    def __init__(self, base: Path) -> None:
        base.mkdir(parents=True, exist_ok=True)
        self.path = base / ".lock"
        self._fd: int | None = None

    def acquire(self, stop: threading.Event) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        attempts = 0
        while not stop.is_set():
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._fd = fd
                return True
            except BlockingIOError:
                if attempts % 20 == 0:
                    log.warning("another process holds %s; waiting for it to exit", self.path)
                attempts += 1
                time.sleep(0.25)
        os.close(fd)
        return False

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
            self._fd = None


def register(join: str, name: str, address: str, stop: threading.Event, sec: Security | None = None) -> bool:
    """``Master.RegisterWorker`` until the master accepts (or ``stop`` is set)."""
    last_msg = None
    with peer_channel(join, sec or Security(), GRPC_OPTIONS) as channel:
        stub = dmmaster_pb2_grpc.MasterStub(channel)
        while not stop.is_set():
            try:
                resp = stub.RegisterWorker(
                    dmmaster_pb2.RegisterWorkerRequest(name=name, address=address), timeout=3
                )
                if resp.result:
                    log.info("registered with master %s as %s at %s", join, name, address)
                    return True
                msg = resp.msg
            except grpc.RpcError as exc:
                msg = f"master {join} unavailable: {exc.code().name}"
            if msg != last_msg:
                log.warning("register with master: %s (retrying)", msg)
                last_msg = msg
            stop.wait(0.5)
    return False


def advertise_host(listen_host: str, join: str) -> str:
    """The host the master should dial: the listen host, or for a wildcard the local address of
    the route to the master (loopback when the master is local)."""
    if listen_host not in ("", "0.0.0.0", "::"):
        return listen_host
    try:
        master_host, master_port = split_addr(join)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect((dial_host(master_host), master_port))  # UDP: no packet is sent
            return probe.getsockname()[0]
    except (OSError, ValueError):
        return dial_host(listen_host)


def _worker_security(args: argparse.Namespace) -> Security:
    """TLS flags and the cluster secret; the name checked; the password key loaded. ValueError
    when the worker could not prove to be one, or has a bad name."""
    from dmshell.engine.config import encrypt  # loads `cryptography`: only here, at start-up
    from dmshell.engine.errors import DMError

    if bad := name_error("worker name", args.name):
        raise ValueError(bad)
    data_dir = Path(args.data_dir).resolve()
    secret = Path(args.cluster_secret) if args.cluster_secret else data_dir / SECRET_FILE
    token = ""
    if args.cluster_secret or secret.exists():
        try:
            token = read_secret(secret)
        except OSError as exc:
            raise ValueError(f"cannot read the cluster secret {secret}: {exc.strerror}") from None
    sec = security_from_args(args, token)
    if not sec.tls_on and not token:
        raise ValueError(
            f"no TLS and no cluster secret ({secret}): the master would refuse this worker. Give "
            "--ssl-ca/--ssl-cert/--ssl-key, or --cluster-secret with a copy of the master's "
            f"<data-dir>/{SECRET_FILE}"
        )
    key_path = Path(args.secret_key_path) if args.secret_key_path else data_dir / "secret.key"
    if args.secret_key_path or key_path.exists():
        try:
            encrypt.init_cipher(encrypt.load_secret_key(key_path))
        except DMError as exc:
            raise ValueError(str(exc)) from None
    return sec


def main(argv: list[str] | None = None) -> int:
    """``dmshell worker``."""
    parser = argparse.ArgumentParser(prog="dmshell worker", description="Run a dmshell worker (DM-worker).")
    parser.add_argument("--name", required=True, help="worker name, unique in the cluster")
    parser.add_argument(
        "--join",
        default=os.environ.get(MASTER_ADDR_ENV, DEFAULT_MASTER_ADDR),
        help=f"master address HOST:PORT (default: ${MASTER_ADDR_ENV} or {DEFAULT_MASTER_ADDR})",
    )
    parser.add_argument(
        "--worker-addr",
        default="0.0.0.0:8262",
        help="address to listen on, HOST:PORT (port 0 = any free port)",
    )
    parser.add_argument(
        "--advertise-addr",
        default="",
        help="address the master uses to reach this worker (default: --worker-addr)",
    )
    parser.add_argument(
        "--data-dir",
        default="./dmshell-worker-data",
        help="directory for the subtasks' local files (dump files)",
    )
    parser.add_argument(
        "--cluster-secret",
        default="",
        help=f"the master's cluster secret file (default: <data-dir>/{SECRET_FILE}); "
        "without TLS a worker needs it to register and to accept the master's calls",
    )
    parser.add_argument(
        "--secret-key-path",
        default="",
        help="the master's key for encrypted passwords (default: <data-dir>/secret.key if present, "
        "else DM's built-in key)",
    )
    add_security_arguments(parser)
    add_log_arguments(parser)
    parser.add_argument("--parent-pid", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    harden_process()
    setup_logging(args.log_level, args.log_file, args.name, args.log_max_size, args.log_max_backups)
    try:
        sec = _worker_security(args)
    except ValueError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    embedded = args.parent_pid > 0
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    # embedded: Ctrl-C in the daemon's terminal reaches the whole process group; the daemon stops us
    signal.signal(signal.SIGINT, signal.SIG_IGN if embedded else on_signal)

    def watch_parent() -> None:
        # an orphan must not keep running subtasks next to the workers of a restarted daemon
        while not stop.wait(0.5):
            if os.getppid() != args.parent_pid:
                log.warning("the daemon (pid %d) is gone; shutting down", args.parent_pid)
                stop.set()

    if embedded:
        threading.Thread(target=watch_parent, name="parent-watch", daemon=True).start()

    try:
        host, _ = split_addr(args.worker_addr)
    except ValueError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    if refusal := check_listen_address(host, sec, args.insecure, "worker"):
        print(f"Error: {refusal}", file=sys.stderr)
        return 2
    data_dir = private_dir(Path(args.data_dir).resolve())
    lock = DirLock(data_dir / "workers" / args.name)
    if not lock.acquire(stop):
        return 0

    manager = SubTaskManager(args.name, data_dir)
    manager.master_addr = args.join  # shard DDL locks are kept by the master
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="worker-grpc"),
        # every worker RPC is the master's: a stranger can neither push state nor read config;
        # knowing the secret, the worker takes nothing less (a CA-signed dmctl certificate included)
        interceptors=[RPCLogger(), Guard(sec, lambda method: True, secret_only=bool(sec.token))],
        options=SERVER_OPTIONS,
    )
    config_text = (
        f'name = "{args.name}"\njoin = "{args.join}"\nworker-addr = "{args.worker_addr}"\n'
        f'advertise-addr = "{args.advertise_addr}"\ndata-dir = "{data_dir}"\n'
    )
    dmworker_pb2_grpc.add_WorkerServicer_to_server(WorkerServicer(manager, config_text), server)
    try:
        port = add_port(server, args.worker_addr, sec)
    except RuntimeError as exc:
        print(f"Error: cannot listen on {args.worker_addr}: {exc}", file=sys.stderr)
        return 1
    server.start()
    address = args.advertise_addr or f"{advertise_host(host, args.join)}:{port}"
    log.info(
        "worker %s listening on %s (advertised %s), data dir %s",
        args.name,
        args.worker_addr,
        address,
        data_dir,
    )

    def keep_registered() -> None:
        registered = register(args.join, args.name, address, stop, sec)
        while registered and not stop.wait(1.0):
            if time.monotonic() - manager.last_apply > REREGISTER_AFTER:
                log.warning("no state from the master for %.0fs; registering again", REREGISTER_AFTER)
                register(args.join, args.name, address, stop, sec)
                manager.last_apply = time.monotonic()

    manager.last_apply = time.monotonic()
    threading.Thread(target=keep_registered, name="register", daemon=True).start()
    while not stop.wait(1.0):
        pass
    server.stop(grace=1)
    manager.shutdown()
    lock.release()
    log.info("worker %s stopped", args.name)
    return 0
