"""The master's relay RPCs (DM's ``OperateRelay``, ``OperateWorkerRelayTask``, ``PurgeWorkerRelay``).

The relay of a source runs on the worker the source is bound to. It is on when the source's
configuration says ``enable-relay: true`` or after ``start-relay`` (stored as a
:class:`RelayRecord`, with the worker names when given — they must be the bound worker); its
expected stage (``pause-relay``/``resume-relay``) travels to the worker in ``WorkerState.relay``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import grpc

from dmshell.daemon.common import go_list
from dmshell.daemon.scheduler import Scheduler, WorkerAgent
from dmshell.daemon.store import RelayRecord, Store
from dmshell.engine import errors
from dmshell.engine.config.load import load_source_config
from dmshell.proto import dmmaster_pb2 as mpb
from dmshell.proto import dmworker_pb2 as pb

log = logging.getLogger(__name__)

WORKER_RPC_TIMEOUT = 10.0
#: (agent, source, task, done) -> response: the master's ``waitOperationOk``
Waiter = Callable[..., pb.CommonWorkerResponse]


class RelayOps:
    """Relay operations over the store and the scheduler; ``wait`` polls a worker's status."""

    def __init__(
        self, store: Store, scheduler: Scheduler, wait: Waiter, rpc_error: Callable[[grpc.RpcError], str]
    ):
        self.store = store
        self.scheduler = scheduler
        self.wait = wait
        self.rpc_error = rpc_error

    def enabled_by_config(self, source: str) -> bool:
        text = self.store.get_source(source)
        if not text:
            return False
        try:
            return load_source_config(text).enable_relay
        except errors.DMError:
            return False

    def enabled(self, source: str) -> bool:
        return self.store.relay(source) is not None or self.enabled_by_config(source)

    # -- start-relay / stop-relay -----------------------------------------------------------
    def operate(self, req: mpb.OperateRelayRequest) -> mpb.OperateRelayResponse:
        resp = mpb.OperateRelayResponse()
        source, workers = req.source, tuple(dict.fromkeys(req.worker))
        if self.store.get_source(source) is None:
            resp.msg = str(errors.ErrSchedulerSourceCfgNotExist(source))
            return resp
        if req.op not in (mpb.StartRelayV2, mpb.StopRelayV2):
            resp.msg = str(errors.ErrMasterInvalidOperateOp(mpb.RelayOpV2.Name(req.op), "relay"))
            return resp
        record = self.store.relay(source)
        start = req.op == mpb.StartRelayV2
        by_config = self.enabled_by_config(source)
        try:
            if workers:
                if by_config or (record is not None and not record.workers):
                    raise (
                        errors.ErrSchedulerStartRelayOnBound if start else errors.ErrSchedulerStopRelayOnBound
                    )()
                self._check_workers(source, workers)
                have = record.workers if record is not None else ()
                left = (
                    tuple(dict.fromkeys((*have, *workers)))
                    if start
                    else tuple(w for w in have if w not in workers)
                )
                if left:
                    stage = record.expect_stage if record is not None else pb.Running
                    self.store.put_relay(RelayRecord(source, left, stage))
                else:
                    self.store.remove_relay(source)
            else:
                if record is not None and record.workers:
                    err = (
                        errors.ErrSchedulerStartRelayOnSpecified
                        if start
                        else errors.ErrSchedulerStopRelayOnSpecified
                    )
                    raise err(go_list(record.workers))
                if start:
                    self.store.put_relay(
                        RelayRecord(source, (), record.expect_stage if record else pb.Running)
                    )
                else:
                    self.store.remove_relay(source)
        except errors.DMError as exc:
            resp.msg = str(exc)
            return resp
        log.info(
            "relay of %s: %s %s", source, "start" if start else "stop", list(workers) or "(bound worker)"
        )
        self.scheduler.kick_sources([source])
        resp.result = True
        return resp

    def _check_workers(self, source: str, workers: tuple[str, ...]) -> None:
        known = self.store.workers()
        bindings = self.store.bindings()
        bound_to = {w: s for s, w in bindings.items()}
        others = [(w, bound_to[w]) for w in workers if w in bound_to and bound_to[w] != source]
        if others:
            raise errors.ErrSchedulerWorkersBoundForOtherSources(
                go_list(w for w, _ in others), go_list(s for _, s in others)
            )
        for w in workers:
            if w not in known:
                raise errors.ErrSchedulerWorkerNotExist(w)
            if bindings.get(source) != w:
                # dmshell runs a source's relay on the worker the source is bound to (docs/decisions.md)
                raise errors.ErrSchedulerWorkerNotFree(w)

    # -- pause-relay / resume-relay ---------------------------------------------------------
    def pause_resume(self, req: mpb.OperateWorkerRelayRequest) -> mpb.OperateWorkerRelayResponse:
        resp = mpb.OperateWorkerRelayResponse(op=req.op)
        expect = {pb.PauseRelay: pb.Paused, pb.ResumeRelay: pb.Running}.get(req.op)
        if expect is None:
            resp.msg = str(errors.ErrMasterInvalidOperateOp(pb.RelayOp.Name(req.op), "relay"))
            return resp
        sources = list(dict.fromkeys(req.sources))
        missing = [s for s in sources if not self.enabled(s)]
        if missing:
            resp.msg = str(errors.ErrSchedulerRelayStageSourceNotExist(go_list(missing)))
            return resp
        for s in sources:
            record = self.store.relay(s) or RelayRecord(s)
            self.store.put_relay(RelayRecord(s, record.workers, expect))
        self.scheduler.kick_sources(sources)
        resp.result = True
        resp.sources.extend(sorted((self._wait_stage(s, expect) for s in sources), key=lambda r: r.source))
        return resp

    def _wait_stage(self, source: str, expect: int) -> pb.CommonWorkerResponse:
        agent = self.scheduler.agent_for_source(source)
        if agent is None:
            return pb.CommonWorkerResponse(msg=f"{source} relevant worker-client not found", source=source)

        def done(qs: pb.QueryStatusResponse) -> tuple[bool, str] | None:
            st = qs.sourceStatus.relayStatus if qs.sourceStatus.HasField("relayStatus") else None
            if st is None:
                return None
            if st.stage == expect:
                return True, ""
            if st.result.errors:
                return False, str(errors.ErrMasterOperRespNotSuccess(st.result.errors[0].Message))
            return None

        return self.wait(agent, source, "", done)

    # -- purge-relay ------------------------------------------------------------------------
    def purge(self, req: mpb.PurgeWorkerRelayRequest) -> mpb.PurgeWorkerRelayResponse:
        resp = mpb.PurgeWorkerRelayResponse(result=True)
        worker_req = pb.PurgeRelayRequest(
            inactive=req.inactive, time=req.time, filename=req.filename, subDir=req.subDir
        )
        for source in dict.fromkeys(req.sources):
            agent = self.scheduler.agent_for_source(source) if self.enabled(source) else None
            if agent is None:
                resp.sources.append(
                    pb.CommonWorkerResponse(
                        msg=f"relay worker for source {source} not found, please `start-relay` first",
                        source=source,
                    )
                )
                continue
            resp.sources.append(self._purge_one(agent, source, worker_req))
        resp.sources.sort(key=lambda r: r.source)
        return resp

    def _purge_one(
        self, agent: WorkerAgent, source: str, req: pb.PurgeRelayRequest
    ) -> pb.CommonWorkerResponse:
        try:
            out = agent.stub.PurgeRelay(req, timeout=WORKER_RPC_TIMEOUT)
        except grpc.RpcError as exc:
            return pb.CommonWorkerResponse(msg=self.rpc_error(exc), source=source, worker=agent.name)
        out.source, out.worker = source, out.worker or agent.name
        return out
