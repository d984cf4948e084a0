"""The first check items: every database of the task answers.

DM opens the databases in its checker's ``Init``; a database that does not answer aborts the check
with ``fail to initialize checker`` instead of being reported as a result, so these are ``init``
items. The connections they open are the ones later items use.
"""

from __future__ import annotations

from dmshell.engine import errors
from dmshell.engine.checker.items import CONNECT_TIMEOUT, CheckContext, check_item
from dmshell.engine.checker.result import Result
from dmshell.engine.config.source import SourceConfig
from dmshell.engine.db import connect


@check_item("target_db_connection", "check whether the target database answers", per="task", init=True)
def target_connection(ctx: CheckContext, source: str) -> Result:
    ctx.target()
    return Result.success()


@check_item("source_db_connection", "check whether the source database answers", init=True)
def source_connection(ctx: CheckContext, source: str) -> Result:
    ctx.source(source)
    return Result.success()


def check_source(cfg: SourceConfig) -> None:
    """Connect to a source before it is saved (DM's ``parseAndAdjustSourceConfig``); raises
    ``ErrDBDriverError`` when it does not answer."""
    try:
        connect(cfg.from_db, connect_timeout=CONNECT_TIMEOUT).close()
    except errors.DMError as exc:
        raise errors.ErrDBDriverError(cause=exc.__cause__ or exc.cause or exc) from exc
