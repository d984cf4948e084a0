"""Task prechecks (DM's ``checker`` package): ``check-task`` and the check before ``start-task``.

* :mod:`.result` — results in DM's JSON shape (id/name/desc/state/errors/instruction/extra, summary);
* :mod:`.items` — the check-item registry (:func:`check_item`) and the :class:`CheckContext` items
  run in (the task, its sources, shared database connections);
* :mod:`.connectivity` — the first items: every database of the task answers; and
  :func:`check_source`, the connection check before a source is saved;
* :mod:`.server` — the source server: version, ``server_id``, binlog on/format/row image, GTID,
  ``binlog_do_db``, the start position, dump connections; :func:`check_server`, the server items
  without a task (the TUI's new-source form);
* :mod:`.privilege` — dump, replication and target privileges from ``SHOW GRANTS``;
* :mod:`.tables` — table structures, shard consistency and auto-increment keys, online-DDL
  leftovers, the target's connections (facts from :mod:`.catalog`);
* :mod:`.runner` — :func:`check_task`, DM's ``CheckSyncConfig``: sources checked concurrently.

To add a check item, write ``fn(ctx, source_id) -> Result`` in a module of this package, decorate it
with :func:`check_item` (its DM name and description, the ``ignore-checking-items`` value that
turns it off, per source or per task, the task modes it applies to), and import that module below:
items run in registration order.
"""

# isort: off
# the item modules register their items on import, in the order they run
from dmshell.engine.checker import connectivity
from dmshell.engine.checker import server
from dmshell.engine.checker import privilege
from dmshell.engine.checker import tables

# isort: on
from dmshell.engine.checker.connectivity import check_source
from dmshell.engine.checker.items import REGISTRY, CheckContext, CheckItem, check_item
from dmshell.engine.checker.result import CheckError, Result, Results, State
from dmshell.engine.checker.runner import (
    CHECK_TASK_SUCCESS,
    DEFAULT_ERROR_COUNT,
    DEFAULT_WARN_COUNT,
    MSG_HEADER,
    check_task,
    selected_items,
)
from dmshell.engine.checker.server import check_server

__all__ = [
    "CHECK_TASK_SUCCESS",
    "DEFAULT_ERROR_COUNT",
    "DEFAULT_WARN_COUNT",
    "MSG_HEADER",
    "REGISTRY",
    "CheckContext",
    "CheckError",
    "CheckItem",
    "Result",
    "Results",
    "State",
    "check_item",
    "check_server",
    "check_source",
    "check_task",
    "connectivity",
    "privilege",
    "selected_items",
    "server",
    "tables",
]
