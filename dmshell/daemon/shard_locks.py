"""The master's shard DDL locks (DM-master's ``pessimism.Keeper``): ``Master.ReportShardDDL`` from
the workers, ``ShowDDLLocks`` and ``UnlockDDLLock`` for dmctl. The lock logic is
:mod:`dmshell.engine.shard.lock`; here it is persisted in the master's store (a kill -9 of the
daemon keeps every lock) and turned into DM's messages.

A lock waits for every source of its task (as DM). Locks of a task that is gone (stopped) are
dropped when next looked at.
"""

from __future__ import annotations

import logging

from dmshell.daemon.store import Store
from dmshell.engine import errors
from dmshell.engine.shard.lock import EXEC, SKIP, Keeper, Lock
from dmshell.proto import dmmaster_pb2 as mpb

log = logging.getLogger(__name__)

#: DM's ShowDDLLocks message when nothing matches
NO_LOCK = "no DDL lock exists"


class ShardLocks:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.keeper = Keeper(self._persist)
        self.keeper.load(store.shard_locks())

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

    # -- dmctl ---------------------------------------------------------------------------------
    def show(self, req: mpb.ShowDDLLocksRequest) -> mpb.ShowDDLLocksResponse:
        self._prune()
        resp = mpb.ShowDDLLocksResponse(result=True)
        wanted = set(req.sources)
        for lock in self.keeper.snapshot(req.task):
            if wanted and not wanted & set(lock.sources):
                continue
            resp.locks.append(to_pb(lock))
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
