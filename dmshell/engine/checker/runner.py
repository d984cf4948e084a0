"""DM's ``CheckSyncConfig`` (``dm/checker/cmd.go``): run the task's check items, say whether it may start."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pymysql

from dmshell.engine import errors
from dmshell.engine.checker.items import REGISTRY, CheckContext, CheckItem
from dmshell.engine.checker.result import Result, Results
from dmshell.engine.config.checks import CHECKING_ITEMS
from dmshell.engine.config.source import SourceConfig
from dmshell.engine.config.task import TaskConfig
from dmshell.engine.db import classify

#: what a check without failures and warnings answers (``checker.CheckTaskSuccess``)
CHECK_TASK_SUCCESS = "pre-check is passed. "
#: the start of every check report (``checker.CheckTaskMsgHeader``); dmctl splices such reports unescaped
MSG_HEADER = "fail to check synchronization configuration with type"
#: how many failures/warnings ``start-task`` lists (``check-task --error/--warn`` choose for it)
DEFAULT_ERROR_COUNT = DEFAULT_WARN_COUNT = 10


def selected_items(task: TaskConfig, registry: list[CheckItem] = REGISTRY) -> list[CheckItem]:
    """The items for this task: those of its mode not named in ``ignore-checking-items``; none at all
    when every checking item is ignored (``all``), as in DM."""
    ignored = set(task.ignore_checking_items)
    if "all" in ignored or ignored >= set(CHECKING_ITEMS) - {"all"}:
        return []
    return [i for i in registry if task.task_mode in i.modes and not (i.ignore and i.ignore in ignored)]


def run_items(ctx: CheckContext, items: list[CheckItem]) -> Results:
    """Run ``items``: task items once, source items once per source of the task.

    ``init`` items run first, in order; then every source's items run in a thread of their own,
    the task items in another (DM checks sources concurrently). Results keep the order of the items
    and, for one item, of the sources. Raises the error of a failing ``init`` item, annotated as
    DM's ``fail to initialize checker``; a database error in any other item is that item's failure.
    """
    task_sources = ctx.task.source_ids if ctx.task is not None else list(ctx.sources)
    sources = [s for s in task_sources if s in ctx.sources]
    for item in (i for i in items if i.init):
        for source in [""] if item.per == "task" else sources:
            try:
                item.fn(ctx, source)
            except (errors.DMError, pymysql.err.MySQLError) as exc:
                err = exc if isinstance(exc, errors.DMError) else classify(exc, item.name)
                raise err.annotate("fail to initialize checker") from exc
    lanes: list[list[tuple[int, int, CheckItem, str]]] = [[] for _ in range(len(sources) + 1)]
    for n, item in enumerate(items):
        if item.init:
            continue
        if item.per == "task":
            lanes[-1].append((n, -1, item, ""))
        else:
            for k, source in enumerate(sources):
                lanes[k].append((n, k, item, source))
    lanes = [lane for lane in lanes if lane]
    with ThreadPoolExecutor(max_workers=max(1, len(lanes)), thread_name_prefix="check") as pool:
        done = [
            r for lane_results in pool.map(lambda lane: _run_lane(ctx, lane), lanes) for r in lane_results
        ]
    done.sort(key=lambda r: (r[0], r[1]))
    results = Results()
    for _n, _k, item, source, result in done:
        db = ctx.sources[source].from_db if source else ctx.cfg.target
        extra = f"address of db instance - {db.host}:{db.port}"
        results.all.append(result.named(len(results.all), item.name, item.desc, extra))
    return results


def _run_lane(
    ctx: CheckContext, lane: list[tuple[int, int, CheckItem, str]]
) -> list[tuple[int, int, CheckItem, str, Result]]:
    out: list[tuple[int, int, CheckItem, str, Result]] = []
    for n, k, item, source in lane:
        try:
            got = item.fn(ctx, source)
        except (errors.DMError, pymysql.err.MySQLError) as exc:
            err = exc if isinstance(exc, errors.DMError) else classify(exc, item.name)
            got = Result.fail(str(err))  # DM's markCheckError: the item failed
        out.extend((n, k, item, source, r) for r in (got if isinstance(got, list) else [got]))
    return out


def check_task(
    task: TaskConfig,
    sources: dict[str, SourceConfig],
    *,
    err_cnt: int = DEFAULT_ERROR_COUNT,
    warn_cnt: int = DEFAULT_WARN_COUNT,
    items: list[CheckItem] | None = None,
) -> str:
    """Check ``task`` against its databases.

    Returns :data:`CHECK_TASK_SUCCESS`, DM's "no errors but some warnings" report, or "" when every
    item is ignored. Raises ``DMError`` when the task must not start: an ``init`` item failed, or
    an item failed (``ErrTaskCheckSyncConfigError`` carrying the JSON report).
    """
    chosen = selected_items(task) if items is None else items
    if not chosen:
        return ""
    ctx = CheckContext(task, sources)
    try:
        results = run_items(ctx, chosen)
    finally:
        ctx.close()
    if not results.passed:
        detail = results.to_json(err_cnt, warn_cnt)
        raise errors.ErrTaskCheckSyncConfigError(MSG_HEADER, "check was failed, please see detail", detail)
    if not results.listed(err_cnt, warn_cnt):
        return CHECK_TASK_SUCCESS
    return f"{MSG_HEADER}: no errors but some warnings\n detail: {results.to_json(err_cnt, warn_cnt)}"
