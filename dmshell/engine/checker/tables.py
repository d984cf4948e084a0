"""Check items on the task's tables (DM's ``table_structure.go`` and ``onlineddl.go``) and the
target's connection limit (``conn_checker.go``).

* ``table structure compatibility check`` — every table has a primary or unique key (without one,
  an UPDATE or DELETE downstream matches rows by every column and duplicates are ambiguous), its
  character sets exist on the target, foreign keys are reported (their cascades are not in the
  binlog).
* ``sharding table <target> consistency checking`` — the shards merged into one target table have
  the same columns and keys (pessimistic mode) or columns of the same name with the same type
  (optimistic mode), and, unless ``auto_increment_ID`` is ignored, no auto-increment key that
  would collide in the merged table. Only for a task that has not started yet, as in DM.
* ``online ddl checker`` — no gh-ost/pt-osc ghost table of a task table is in the middle of a copy.
"""

from __future__ import annotations

from dmshell.engine.checker import catalog
from dmshell.engine.checker.catalog import Shape, Table, quoted
from dmshell.engine.checker.items import CheckContext, check_item, query
from dmshell.engine.checker.result import CheckError, Result, State
from dmshell.engine.checker.server import SYNC_MODES, connection_amount
from dmshell.engine.config.subtask import MODE_ALL, MODE_DUMP, MODE_FULL, MODE_LOAD
from dmshell.engine.config.task import SHARD_OPTIMISTIC
from dmshell.engine.filters.rules import BAListFilter
from dmshell.engine.onlineddl import Rules, TableKind

#: checkpoint tables whose presence means the task ran before (DM's ``IsFreshTask``)
CHECKPOINTS = ("loader_checkpoint", "lightning_checkpoint_list", "syncer_checkpoint")
AUTO_INCREMENT_INSTRUCTION = (
    "If happen conflict, please handle it by yourself. You can refer to https://docs.pingcap.com/"
    "tidb-data-migration/stable/shard-merge-best-practices/"
    "#handle-conflicts-between-primary-keys-or-unique-indexes-across-multiple-sharded-tables"
)


def target_charsets(ctx: CheckContext) -> set[str]:
    return ctx.memo(
        ("target-charsets",), lambda: {str(r[0]).lower() for r in query(ctx.target(), "SHOW CHARACTER SET")}
    )


@check_item(
    "table structure compatibility check", "check compatibility of table structure", ignore="table_schema"
)
def table_structure(ctx: CheckContext, source: str) -> Result:
    supported = target_charsets(ctx)
    problems: list[CheckError] = []
    for table, shape in sorted(catalog.shapes(ctx, source).items()):
        name = f"table {quoted(table)} "
        if not shape.primary and not shape.uniques:
            problems.append(
                CheckError(
                    State.FAIL,
                    name + "primary/unique key does not exist",
                    instruction="please set primary/unique key for the table",
                )
            )
        for fk in shape.foreign_keys:
            problems.append(
                CheckError(
                    State.WARN,
                    name + f"Foreign Key {fk}: the changes of its ON DELETE/UPDATE actions are not logged",
                    instruction="create the same foreign key on the target table, or drop it upstream",
                )
            )
        for cs in sorted(shape.charsets - supported - {"binary"}):
            problems.append(
                CheckError(
                    State.FAIL,
                    name + f"unsupport charset {cs}",
                    instruction="use a character set the target supports",
                )
            )
    return Result.of(problems)


def _is_fresh(ctx: CheckContext) -> bool:
    task = ctx.cfg
    names = [f"{task.name}_{suffix}" for suffix in CHECKPOINTS]
    rows = query(
        ctx.target(),
        "SELECT COUNT(*) FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = %s AND TABLE_NAME IN (%s, %s, %s)",
        (task.meta_schema, *names),
    )
    return not rows[0][0]


def _describe(source: str, table: Table) -> str:
    return f"sourceID {source} table {quoted(table)}"


def _column_list(shape: Shape) -> str:
    return "[" + " ".join(name for name, _ in shape.columns) + "]"


def _pessimistic(first: tuple[str, Table, Shape], other: tuple[str, Table, Shape]) -> CheckError | None:
    (s1, t1, a), (s2, t2, b) = first, other
    if len(a.columns) != len(b.columns):
        return CheckError(
            State.FAIL,
            f"column length mismatch (self: {len(a.columns)} vs other: {len(b.columns)})",
            self=f"{_describe(s1, t1)} columns {_column_list(a)}",
            other=f"{_describe(s2, t2)} columns {_column_list(b)}",
        )
    for ca, cb in zip(a.columns, b.columns, strict=True):
        if ca != cb:
            return CheckError(
                State.FAIL,
                "different column definition",
                self=f"{_describe(s1, t1)} column {' '.join(ca)}",
                other=f"{_describe(s2, t2)} column {' '.join(cb)}",
            )
    return _keys(first, other)


def _optimistic(first: tuple[str, Table, Shape], other: tuple[str, Table, Shape]) -> CheckError | None:
    (s1, t1, a), (s2, t2, b) = first, other
    types = dict(a.columns)
    for name, ctype in b.columns:
        if name in types and types[name] != ctype:
            return CheckError(
                State.FAIL,
                "different column definition",
                self=f"{_describe(s1, t1)} column {name} {types[name]}",
                other=f"{_describe(s2, t2)} column {name} {ctype}",
            )
    return _keys(first, other)


def _keys(first: tuple[str, Table, Shape], other: tuple[str, Table, Shape]) -> CheckError | None:
    (s1, t1, a), (s2, t2, b) = first, other
    if a.primary != b.primary:
        return CheckError(
            State.FAIL,
            "different primary key",
            self=f"{_describe(s1, t1)} primary key ({', '.join(a.primary)})",
            other=f"{_describe(s2, t2)} primary key ({', '.join(b.primary)})",
        )
    if a.uniques != b.uniques:
        return CheckError(
            State.FAIL,
            "different unique keys",
            self=f"{_describe(s1, t1)} unique keys {sorted(a.uniques)}",
            other=f"{_describe(s2, t2)} unique keys {sorted(b.uniques)}",
        )
    return None


def _auto_increment_conflict(shape: Shape) -> bool:
    """An auto-increment column that alone is the primary or a unique key: every shard counts from
    1, so the merged table gets the same key from several shards."""
    col = shape.auto_increment
    return bool(col) and ((col,) == shape.primary or (col,) in shape.uniques)


@check_item(
    "sharding table consistency checking",
    "check consistency of sharding table structures",
    ignore="schema_of_shard_tables",
    per="task",
    modes=frozenset({MODE_ALL, MODE_FULL, MODE_DUMP, MODE_LOAD}),
)
def sharding_tables(ctx: CheckContext, source: str) -> list[Result]:
    task = ctx.cfg
    if not task.shard_mode or not _is_fresh(ctx):
        return []  # DM checks shards of a fresh task only: later, SHOW CREATE TABLE is not the binlog's
    groups: dict[Table, list[tuple[str, Table, Shape]]] = {}
    for sid in task.source_ids:
        shapes = catalog.shapes(ctx, sid)
        for target, tables in catalog.task_tables(ctx, sid).items():
            groups.setdefault(target, []).extend((sid, t, shapes[t]) for t in tables)
    optimistic = task.shard_mode == SHARD_OPTIMISTIC
    compare = _optimistic if optimistic else _pessimistic
    check_ids = "auto_increment_ID" not in task.ignore_checking_items
    out = []
    for target, members in sorted(groups.items()):
        if len(members) <= 1:
            continue
        name = ("optimistic " if optimistic else "") + f"sharding table {quoted(target)} consistency checking"
        problems: list[CheckError] = []
        instruction, extra = "", f"sourceID {members[0][0]} on sharding {quoted(target)}"
        if check_ids:
            for sid, table, shape in members:
                if _auto_increment_conflict(shape):
                    problems.append(
                        CheckError(
                            State.FAIL,
                            f"sourceID {sid} table {quoted(table)} of sharding {quoted(target)} have "
                            "auto-increment key, please make sure them don't conflict in target table!",
                        )
                    )
                    instruction, extra = AUTO_INCREMENT_INSTRUCTION, "auto-increment key checking"
                    break
        for member in members[1:]:
            if (err := compare(members[0], member)) is not None:
                problems.append(err)
                instruction = "please set same table structure for sharding tables"
                extra = f"error on sharding {quoted(target)}"
                break
        out.append(
            Result.of(problems, instruction, extra).called(
                name, "check consistency of sharding table structures"
            )
        )
    return out


@check_item("online ddl checker", "check if in online ddl phase", ignore="online_ddl", modes=SYNC_MODES)
def online_ddl(ctx: CheckContext, source: str) -> Result:
    sub = ctx.subtask(source)
    if not sub.online_ddl:
        return Result.success(extra="online ddl")
    rules = Rules.of(sub)
    ba = BAListFilter(sub.block_allow_list, sub.case_sensitive)
    rows = query(
        ctx.source(source),
        "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE'",
    )
    for schema, table in rows:
        if rules.kind(table) == TableKind.GHOST and ba.allow_table(schema, rules.real_name(table)):
            return Result.fail("your ddl is in pt/ghost online-ddl", extra="please wait the online-ddl over")
    return Result.success(extra="online ddl")


@check_item(
    "loader_conn_amount_checker",
    "check if user-specified amount of connection exceeds downstream's maximum",
    ignore="conn_number",
    per="task",
    modes=frozenset({MODE_ALL, MODE_FULL}),
)
def loader_connections(ctx: CheckContext, source: str) -> Result:
    # the loader's workers and its checkpoint connection, for every source
    need = sum(ctx.subtask(sid).loader.pool_size + 1 for sid in ctx.cfg.source_ids if sid in ctx.sources)
    rows = query(ctx.target(), "SHOW GLOBAL VARIABLES LIKE 'max_connections'")
    return connection_amount(int(rows[0][1]) if rows else 0, "loader", need)
