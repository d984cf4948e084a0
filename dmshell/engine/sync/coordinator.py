"""Shard DDL coordination: the hook between routing a DDL and executing it.

For every DDL whose statements would reach the target (after the block-allow list, routing and the
binlog event filter), the DDL handler asks the run's :class:`DDLCoordinator`
``coordinate(job)`` and follows its :class:`Verdict`: ``EXECUTE`` runs the statements, ``SKIP``
doesn't (the schema tracker still follows the upstream). The coordinator also decides, whenever a
table's row plan is built (after every DDL, see :class:`dmshell.engine.sync.table_plan.RowFilters`),
whether the table's rows are held back (``holds``): DM's pessimistic mode holds a shard's DML
behind its DDL until every shard reached it; held rows are not applied, so a coordinator that holds
must have them replayed (DM re-reads the binlog from the DDL).

Until shard coordination exists (``dmshell/engine/shard/``, issue 10 adds ``WAIT``):

* :class:`DirectCoordinator` (no ``shard-mode``): every DDL executes as it comes;
* :class:`ShardModeGuard` (``shard-mode``, or the legacy ``is-sharding: true``): a DDL on a table
  that a route merges into a differently named target would need coordination, so the unit stops
  with ``ErrSyncerUnsupportedStmt`` (36068) naming ``shard-mode`` — except ``CREATE DATABASE`` and
  ``CREATE TABLE``, which DM too executes directly (idempotent: ``IF NOT EXISTS``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from dmshell.engine import errors
from dmshell.engine.binlog.location import Location
from dmshell.engine.config.subtask import SubTaskConfig
from dmshell.engine.ddl.statement import DDL, TableName


class Verdict(StrEnum):
    EXECUTE = "execute"  # run the DDL's statements on the target now
    SKIP = "skip"  # don't run them (the upstream's structure is still tracked)


@dataclass(frozen=True, slots=True)
class DDLJob:
    """One upstream DDL as the coordinator sees it."""

    ddl: DDL  # the upstream statement, analysed (kind, tables, sql)
    #: every upstream name the DDL touches that passed the block-allow list, with its routed target
    #: (schema-level DDL: table "")
    targets: list[tuple[TableName, tuple[str, str]]]
    statements: list[str]  # what would run on the target, in order
    start: Location  # where the DDL's event begins
    end: Location  # where it ends


class DDLCoordinator(Protocol):
    def coordinate(self, job: DDLJob) -> Verdict:
        """Called once per DDL, after routing, before execution (the DML before it is not drained
        yet). Raises a DMError to stop the unit."""
        ...

    def holds(self, schema: str, table: str) -> bool:
        """Whether the rows of upstream ``schema.table`` are held back (not applied) for now."""
        ...

    def hold(self, schema: str, table: str, replay: Callable[[], None]) -> None:
        """Rows of a held table: ``replay()`` applies them once the coordinator releases them."""
        ...

    def after(self, job: DDLJob) -> None:
        """The verdict on ``job`` was carried out (its statements executed, or skipped)."""
        ...


class DirectCoordinator:
    """No shard coordination: every DDL executes as it comes."""

    def coordinate(self, job: DDLJob) -> Verdict:
        return Verdict.EXECUTE

    def holds(self, schema: str, table: str) -> bool:
        return False

    def hold(self, schema: str, table: str, replay: Callable[[], None]) -> None:
        replay()  # (never asked: nothing is held)

    def after(self, job: DDLJob) -> None:
        return None  # nothing to release


#: DDL kinds that never need shard coordination: idempotent on a merged target (IF NOT EXISTS)
UNCOORDINATED_KINDS = frozenset({"create database", "create table"})


class ShardModeGuard(DirectCoordinator):
    """``shard-mode`` without a coordinator: stop at the first DDL on a merged table."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def coordinate(self, job: DDLJob) -> Verdict:
        if job.ddl.kind in UNCOORDINATED_KINDS:
            return Verdict.EXECUTE
        for name, target in job.targets:
            if target != (name.schema, name.table):
                raise self.error(job.ddl, name, target)
        return Verdict.EXECUTE

    def error(self, ddl: DDL, name: TableName, target: tuple[str, str]) -> errors.DMError:
        what = f"`{name.schema}`" + (f".`{name.table}`" if name.table else "")
        into = f"`{target[0]}`" + (f".`{target[1]}`" if target[1] else "")
        return errors.ErrSyncerUnsupportedStmt(
            ddl.kind.upper(),
            self.mode,
            workaround=f"dmshell does not coordinate shard DDL yet (`shard-mode: {self.mode}`): this DDL on "
            f"{what}, which a route merges into {into}, would need it. Either remove `shard-mode` from the "
            "task (each shard's DDL then reaches the merged table as it comes, made idempotent), or ignore "
            "this DDL with a binlog event filter rule and apply it on the target yourself; then start the "
            "task again.",
        )


def coordinator_for(cfg: SubTaskConfig) -> DDLCoordinator:
    """The coordinator a subtask's configuration asks for."""
    mode = cfg.shard_mode or ("pessimistic" if cfg.is_sharding else "")
    return ShardModeGuard(mode) if mode else DirectCoordinator()
