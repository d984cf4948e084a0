"""What the sync unit does with the rows of one upstream table, decided once per table structure
(in DM's ``handleRowsEvent`` order):

1. block-allow list and online-DDL ghost/trash tables (the caller: a filtered table never gets a
   plan);
2. route: the target table; rows the shard coordinator holds back are not applied (verdict
   ``Hold``, :mod:`dmshell.engine.sync.coordinator`);
3. binlog event filter: ``insert`` / ``update`` / ``delete`` events dropped as a whole, or an
   ``Error`` rule that stops the task;
4. expression filters, row by row (:mod:`dmshell.engine.filters.expression`);
5. ``extract-table`` / ``extract-schema`` / ``extract-source``: the route's extracted values are
   appended to every row image as extra (string) columns of the target table. They also join the
   row's identity (primary key and unique keys, hence the WHERE clauses and the causality keys):
   rows of shards merged into one table are told apart by them;
6. a table routed to another name (merged shards) is identified by the *target* table's primary
   and unique keys, as DM 5.3+ does: the manual's recipe for colliding auto-increment IDs (drop the
   primary key downstream, add a unique key over the shard columns) makes UPDATE and DELETE touch
   only their shard's row. Keys over columns the rows don't carry are left out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dmshell.engine import errors
from dmshell.engine.ddl.statement import ColumnDef
from dmshell.engine.filters.expression import ExpressionFilters, TableExprs
from dmshell.engine.filters.rules import EventFilter, TableRouter
from dmshell.engine.schema.tracker import TableInfo
from dmshell.engine.sync.coordinator import DDLCoordinator, DirectCoordinator
from dmshell.engine.sync.dml import DELETE, INSERT, UPDATE
from dmshell.engine.sync.table_source import TargetKeys

#: the verdict of rows the shard coordinator holds back
HOLD = "Hold"


@dataclass(slots=True)
class TablePlan:
    """How the rows of one upstream table (as structured by ``source``) are replicated."""

    source: TableInfo  # the tracked upstream structure the rows are decoded with
    info: TableInfo  # what the DML layer sees: ``source`` plus the extracted columns
    target: tuple[str, str]
    verdict: dict[str, str]  # op -> the binlog event filter's "Do" / "Ignore" / "Error", or HOLD
    exprs: TableExprs | None
    extra: list[str]  # values of the extracted columns, appended to every row image

    @property
    def simple(self) -> bool:
        """No per-row work: rows go to the target as decoded."""
        return self.exprs is None and not self.extra


def with_extracted(info: TableInfo, columns: list[tuple[str, str]]) -> TableInfo:
    """``info`` plus NOT NULL string columns for the extracted values, joined to every key.

    Raises ``ErrSyncerUnitGenTableRouter`` when the upstream table already has such a column.
    """
    new = info.clone()
    names = [n for n, _v in columns]
    for name in names:
        if new.index_of(name) >= 0:
            raise errors.ErrSyncerUnitGenTableRouter(
                cause=f"extract target column `{name}` already exists in `{info.schema}`.`{info.name}`"
            )
        new.columns.append(ColumnDef(name, "varchar(255)", "varchar", nullable=False))
    if new.primary_key:
        new.primary_key = [*new.primary_key, *names]
    new.unique_keys = [(k, [*cols, *names]) for k, cols in new.unique_keys]
    return new


def with_target_keys(info: TableInfo, keys: TargetKeys) -> TableInfo:
    """``info`` identified by the target table's ``keys`` (those whose columns ``info`` has)."""
    names = {c.name.lower() for c in info.columns}

    def usable(cols: list[str]) -> bool:
        return bool(cols) and all(c.lower() in names for c in cols)

    primary, uniques = keys
    new = info.clone()
    new.primary_key = list(primary) if usable(primary) else []
    new.unique_keys = [(n, list(cols)) for n, cols in uniques if usable(cols)]
    return new


class RowFilters:
    """Plans for every table of a subtask; :meth:`plan` is cached per table structure."""

    def __init__(
        self,
        router: TableRouter,
        event_filter: EventFilter,
        exprs: ExpressionFilters,
        source_id: str,
        *,
        coordinator: DDLCoordinator | None = None,
    ) -> None:
        self.router = router
        self.event_filter = event_filter
        self.exprs = exprs
        self.source_id = source_id
        self.coordinator = coordinator or DirectCoordinator()
        self._plans: dict[tuple[str, str], TablePlan] = {}
        #: the target's keys of a routed table (set once the run has its target connection)
        self.target_keys: Callable[[str, str], TargetKeys | None] | None = None
        self._target_keys: dict[tuple[str, str], TargetKeys | None] = {}

    def plan(self, schema: str, table: str, info: TableInfo) -> TablePlan:
        """The plan for rows of ``schema.table`` decoded with ``info`` (raises the router's DMError)."""
        cached = self._plans.get((schema, table))
        if cached is not None and cached.source is info:
            return cached
        target = self.router.route(schema, table)
        if self.coordinator.holds(schema, table):
            verdict = dict.fromkeys((INSERT, UPDATE, DELETE), HOLD)
        else:
            verdict = {op: self.event_filter.action(schema, table, op) for op in (INSERT, UPDATE, DELETE)}
        exprs = self.exprs.for_table(schema, table, info) if self.exprs else None
        extracted = []
        if self.router.has_extractors:
            extracted = self.router.extract_columns(schema, table, self.source_id)
        dml_info = with_extracted(info, extracted) if extracted else info
        if target != (schema, table) and self.target_keys is not None:
            if target not in self._target_keys:
                self._target_keys[target] = self.target_keys(*target)
            keys = self._target_keys[target]
            if keys is not None:
                dml_info = with_target_keys(dml_info, keys)
        plan = TablePlan(info, dml_info, target, verdict, exprs, [v for _n, v in extracted])
        self._plans[(schema, table)] = plan
        return plan

    def forget_tables(self) -> None:
        """Drop every plan (after a DDL)."""
        self._plans.clear()
        self._target_keys.clear()
