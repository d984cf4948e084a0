"""A task's tables in the target's meta schema (``dm_meta`` by default), and their removal.

DM keeps a task's checkpoints and bookkeeping in ``<meta-schema>.<task>_<what>`` tables
(``_syncer_checkpoint``, ``_loader_checkpoint``, ``_lightning_checkpoint_list``,
``_syncer_sharding_meta``, ``_onlineddl``, ``_validator_*``). ``start-task --remove-meta`` drops
them so the task starts from scratch.
"""

from __future__ import annotations

from collections.abc import Iterable

from dmshell.engine.db import classify, quote_table


def task_meta_tables(conn, meta_schema: str, task: str, other_tasks: Iterable[str] = ()) -> list[str]:
    """Names of the ``<task>_*`` tables in ``meta_schema`` (empty when the schema does not exist).

    A table that belongs to another task whose name extends this one (task ``t`` vs ``t_2``: the
    table ``t_2_syncer_checkpoint`` starts with ``t_``) is left out when that task is listed in
    ``other_tasks``.
    """
    prefix = task + "_"
    longer = [o + "_" for o in other_tasks if o != task and (o + "_").startswith(prefix)]
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (meta_schema,)
            )
            names = [row[0] for row in cur.fetchall()]
    except Exception as exc:
        raise classify(exc, f"list tables of meta schema {meta_schema}") from exc
    return sorted(n for n in names if n.startswith(prefix) and not any(n.startswith(p) for p in longer))


def remove_task_meta(conn, meta_schema: str, task: str, other_tasks: Iterable[str] = ()) -> list[str]:
    """Drop every ``<meta_schema>.<task>_*`` table; returns the dropped names.

    ``conn`` is an open connection to the target. Raises :class:`dmshell.engine.errors.DMError`.
    """
    dropped = []
    for name in task_meta_tables(conn, meta_schema, task, other_tasks):
        sql = f"DROP TABLE IF EXISTS {quote_table(meta_schema, name)}"
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
        except Exception as exc:
            raise classify(exc, sql) from exc
        dropped.append(name)
    return dropped
