"""The master's shard DDL locks (DM-master's ``pessimism.Keeper``): ``Master.ReportShardDDL`` from
the workers, ``ShowDDLLocks`` and ``UnlockDDLLock`` for dmctl. The lock logic is
:mod:`dmshell.engine.shard.lock`; here it is persisted in the master's store (a kill -9 of the
daemon keeps every lock) and turned into DM's messages.

A lock waits for every source of its task (as DM). Locks of a task that is gone (stopped) are
dropped when next looked at.
"""

from __future__ import annotations

import json
import logging

from dmshell.daemon.store import Store
from dmshell.engine import errors
from dmshell.engine.shard.lock import EXEC, SKIP, Keeper, Lock, lock_id
from dmshell.engine.shard.optimism import Conflict, OptimisticKeeper
from dmshell.proto import dmmaster_pb2 as mpb

log = logging.getLogger(__name__)

#: DM's ShowDDLLocks message when nothing matches
NO_LOCK = "no DDL lock exists"


#: store keys of optimistic locks (the same task and table may have had a pessimistic lock)
OPTIMISTIC = "optimistic:"


class ShardLocks:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.keeper = Keeper(self._persist)
        self.optimist = OptimisticKeeper(lambda lid, text: self._persist(OPTIMISTIC + lid, text))
        texts = store.shard_locks()
        self.keeper.load([t for t in texts if '"shards"' not in t])
        self.optimist.load([t for t in texts if '"shards"' in t])

    def _persist(self, lock_id: str, text: str | None) -> None:
        if text is None:
            self.store.remove_shard_lock(lock_id)
        else:
            self.store.put_shard_lock(lock_id, text)

    def _prune(self) -> None:
        tasks = {r.task for r in self.store.subtasks()}
        for lock in self.keeper.snapshot():
            if lock.task not in tasks:
                log.info("shard DDL lock %s dropped: task %s is gone", lock.id, lock.task)
                self.keeper.remove_task(lock.task)
        for task in {lock["task"] for lock in self.optimist.locks.values()} - tasks:
            self.optimist.remove_task(task)

    # -- workers -------------------------------------------------------------------------------
    def report(self, req: mpb.ShardDDLReport) -> mpb.ShardDDLDecision:
        sources = sorted({r.source for r in self.store.subtasks(task=req.task)})
        if req.source not in sources:
            return mpb.ShardDDLDecision(msg=f"source {req.source} is not in task {req.task}")
        target = (req.targetSchema, req.targetTable)
        try:
            lid, action = self.keeper.report(req.task, req.source, target, list(req.DDLs), sources)
        except errors.DMError as err:
            return mpb.ShardDDLDecision(msg=err.message, errCode=err.code)
        if req.done:
            self.keeper.done(lid, req.source)
        return mpb.ShardDDLDecision(result=True, lockID=lid, action=action)

    def optimistic(self, req: mpb.OptimisticShardDDLRequest) -> mpb.ShardDDLDecision:
        sources = sorted({r.source for r in self.store.subtasks(task=req.task)})
        if req.source not in sources:
            return mpb.ShardDDLDecision(msg=f"source {req.source} is not in task {req.task}")
        target = (req.targetSchema, req.targetTable)
        lid = lock_id(req.task, *target)
        if req.shards:
            self.optimist.register(req.task, req.source, target, json.loads(req.shards))
            return mpb.ShardDDLDecision(result=True, lockID=lid)
        change = (req.kind, req.name, req.definition)
        try:
            action = self.optimist.decide(
                req.task, req.source, target, req.shard, change, json.loads(req.before), sources, req.strict
            )
        except Conflict as exc:
            code = errors.ErrSyncerShardDDLConflict.code
            return mpb.ShardDDLDecision(msg=str(exc), errCode=code, lockID=lid)
        return mpb.ShardDDLDecision(result=True, lockID=lid, action=action)

    # -- dmctl ---------------------------------------------------------------------------------
    def show(self, req: mpb.ShowDDLLocksRequest) -> mpb.ShowDDLLocksResponse:
        self._prune()
        resp = mpb.ShowDDLLocksResponse(result=True)
        wanted = set(req.sources)
        for lock in self.keeper.snapshot(req.task):
            if wanted and not wanted & set(lock.sources):
                continue
            resp.locks.append(to_pb(lock))
        for lid, task, synced, unsynced in self.optimist.pending(req.task):
            if not wanted or wanted & set(synced + unsynced):
                resp.locks.add(ID=lid, task=task, mode="optimistic", synced=synced, unsynced=unsynced)
        if not resp.locks:
            resp.msg = NO_LOCK
        return resp

    def unlock(self, req: mpb.UnlockDDLLockRequest) -> mpb.UnlockDDLLockResponse:
        if req.database or req.table or req.sources:
            return mpb.UnlockDDLLockResponse(
                msg="`--source`, `--database` and `--table` apply to optimistic locks only; "
                f"{req.ID} is a pessimistic lock: use `--owner`, `--action` or `--force-remove`"
            )
        action = EXEC if req.op == mpb.ExecLock else SKIP
        try:
            self.keeper.unlock(req.ID, req.replaceOwner, action, req.forceRemove)
        except errors.DMError as err:
            return mpb.UnlockDDLLockResponse(msg=str(err))
        return mpb.UnlockDDLLockResponse(result=True)


def to_pb(lock: Lock) -> mpb.DDLLock:
    return mpb.DDLLock(
        ID=lock.id,
        task=lock.task,
        mode=lock.mode,
        owner=lock.owner,
        DDLs=lock.ddls,
        synced=lock.synced,
        unsynced=lock.unsynced,
    )
