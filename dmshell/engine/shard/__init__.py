"""Shard merging with DDL coordination (DM's ``shardddl``), issue 10.

Modules::

    lock        Lock and Keeper: DM-master's pessimistic DDL lock (ID ``<task>-`schema`.`table```),
                owner, DDLs, synced / unsynced sources; pure, persisted by its user
    client      how a worker's coordinator reaches the keeper: the master over gRPC, or an
                in-process keeper (a unit run without a daemon)
    pessimist   PessimisticCoordinator: the sync unit's ``DDLCoordinator`` for
                ``shard-mode: pessimistic`` — per-target shard groups of the source, held shards,
                the checkpoint kept before the first held DDL, the lock round trip
    meta        the groups' progress in ``<meta>.<task>_syncer_sharding_meta`` (DM's table)
    optimism    OptimisticKeeper: the joined structure per target table, its decisions; pure
    optimist    OptimisticCoordinator: ``shard-mode: optimistic`` on the worker

The master keeps its locks in :mod:`dmshell.daemon.shard_locks`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dmshell.engine.shard.client import LocalClient, LockClient, MasterClient, MasterOptimisticClient
from dmshell.engine.shard.optimism import LocalOptimisticClient
from dmshell.engine.shard.optimist import OptimisticClient, OptimisticCoordinator
from dmshell.engine.shard.pessimist import PessimisticCoordinator
from dmshell.engine.sync.coordinator import DDLCoordinator, DirectCoordinator

if TYPE_CHECKING:
    from dmshell.engine.unit import UnitContext


def coordinator_for(ctx: UnitContext) -> DDLCoordinator:
    """The coordinator a subtask asks for: pessimistic shard coordination through the master
    (``ctx.master_addr``; without one, the unit's source is the only one), optimistic merging with
    the master's joined structures, none without ``shard-mode``."""
    cfg = ctx.cfg
    mode = cfg.shard_mode or ("pessimistic" if cfg.is_sharding else "")
    if not mode:
        return DirectCoordinator()
    if mode == "optimistic":
        opt: OptimisticClient
        if ctx.master_addr:
            opt = MasterOptimisticClient(ctx.master_addr, cfg.name, cfg.source_id)
        else:
            opt = LocalOptimisticClient(cfg.name, cfg.source_id)
        return OptimisticCoordinator(cfg.name, cfg.source_id, opt, cfg.strict_optimistic_shard_mode)
    client: LockClient
    if ctx.master_addr:
        client = MasterClient(ctx.master_addr, cfg.name, cfg.source_id)
    else:
        client = LocalClient(cfg.name, cfg.source_id)
    return PessimisticCoordinator(cfg.name, cfg.source_id, client)
