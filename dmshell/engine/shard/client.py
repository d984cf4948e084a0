"""How a worker's shard coordinator reaches the lock keeper.

* :class:`MasterClient`: the daemon's master, over gRPC (``Master.ReportShardDDL``);
* :class:`LocalClient`: an in-process :class:`~.lock.Keeper` whose only source is the unit's own
  (a sync unit run without a daemon: its shards are all in one source).
"""

from __future__ import annotations

import json
from typing import Protocol

import grpc

from dmshell.engine import errors
from dmshell.engine.shard.lock import Keeper
from dmshell.engine.shard.optimism import Conflict, Structure
from dmshell.proto import dmmaster_pb2 as mpb
from dmshell.proto import dmmaster_pb2_grpc

#: seconds one report may take before it is retried
RPC_TIMEOUT = 5.0


class LockClient(Protocol):
    def report(self, target: tuple[str, str], ddls: list[str]) -> tuple[str, str]:
        """This source reached ``ddls`` on ``target``: (lock ID, ``wait`` / ``exec`` / ``skip``).
        Raises a DMError (inconsistent DDLs), or ``ConnectionError`` when the keeper is away."""
        ...

    def done(self, target: tuple[str, str], ddls: list[str]) -> None:
        """This source executed or skipped ``ddls`` (raises ``ConnectionError``)."""
        ...


class LocalClient:
    """An in-process keeper; ``sources``: the task's (default: this one), ``keeper``: shared by the
    units of several sources run in one process."""

    def __init__(
        self, task: str, source: str, keeper: Keeper | None = None, sources: list[str] | None = None
    ) -> None:
        self.task, self.source = task, source
        self.keeper = keeper or Keeper()
        self.sources = sources or [source]

    def report(self, target: tuple[str, str], ddls: list[str]) -> tuple[str, str]:
        return self.keeper.report(self.task, self.source, target, ddls, self.sources)

    def done(self, target: tuple[str, str], ddls: list[str]) -> None:
        lid, _action = self.report(target, ddls)
        self.keeper.done(lid, self.source)


class MasterClient:
    """The master at ``addr`` (the worker's ``--join``)."""

    def __init__(self, addr: str, task: str, source: str) -> None:
        self.task, self.source = task, source
        self.channel = grpc.insecure_channel(addr)
        self.stub = dmmaster_pb2_grpc.MasterStub(self.channel)

    def _call(self, target: tuple[str, str], ddls: list[str], done: bool) -> mpb.ShardDDLDecision:
        req = mpb.ShardDDLReport(
            task=self.task,
            source=self.source,
            targetSchema=target[0],
            targetTable=target[1],
            DDLs=ddls,
            done=done,
        )
        try:
            resp = self.stub.ReportShardDDL(req, timeout=RPC_TIMEOUT)
        except grpc.RpcError as exc:
            raise ConnectionError(f"master unreachable: {exc.code()}") from exc
        if not resp.result:
            if resp.errCode == errors.ErrSyncUnitDDLWrongSequence.code:
                raise errors.DMError(errors.ErrSyncUnitDDLWrongSequence, resp.msg)
            raise ConnectionError(resp.msg)
        return resp

    def report(self, target: tuple[str, str], ddls: list[str]) -> tuple[str, str]:
        resp = self._call(target, ddls, False)
        return resp.lockID, resp.action

    def done(self, target: tuple[str, str], ddls: list[str]) -> None:
        self._call(target, ddls, True)

    def close(self) -> None:
        self.channel.close()


class MasterOptimisticClient:
    """The master's optimistic keeper (``Master.OptimisticShardDDL``)."""

    def __init__(self, addr: str, task: str, source: str) -> None:
        self.task, self.source = task, source
        self.channel = grpc.insecure_channel(addr)
        self.stub = dmmaster_pb2_grpc.MasterStub(self.channel)

    def _call(self, req: mpb.OptimisticShardDDLRequest) -> mpb.ShardDDLDecision:
        req.task, req.source = self.task, self.source
        try:
            resp = self.stub.OptimisticShardDDL(req, timeout=RPC_TIMEOUT)
        except grpc.RpcError as exc:
            raise ConnectionError(f"master unreachable: {exc.code()}") from exc
        if not resp.result:
            if resp.errCode == errors.ErrSyncerShardDDLConflict.code:
                raise Conflict(resp.msg)
            raise ConnectionError(resp.msg)
        return resp

    def register(self, target: tuple[str, str], shards: list[str]) -> None:
        self._call(
            mpb.OptimisticShardDDLRequest(
                targetSchema=target[0], targetTable=target[1], shards=json.dumps(shards)
            )
        )

    def decide(
        self,
        target: tuple[str, str],
        shard: str,
        change: tuple[str, str, str],
        before: Structure,
        strict: bool,
    ) -> str:
        kind, name, definition = change
        req = mpb.OptimisticShardDDLRequest(
            targetSchema=target[0],
            targetTable=target[1],
            shard=shard,
            kind=kind,
            name=name,
            definition=definition,
            strict=strict,
            before=json.dumps(before),
        )
        return self._call(req).action
