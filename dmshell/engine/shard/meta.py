"""Shard progress on the target: ``<meta-schema>.<task>_syncer_sharding_meta`` (DM's table).

One row per shard table of this source that has reached pending DDLs (``is_global = 0``) and one
row per target table with the group's pending sequence (``is_global = 1``, ``source_table_id``
empty); ``data`` holds DM's DDL items (``ddls``, ``first-location``, ``source``). Rows of a target
go when its DDLs are resolved. The table is written for inspection: a restart rebuilds the groups
by re-reading the binlog from the checkpoint (kept before the first pending DDL), so the rows of
this source are cleared when a run starts.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from dmshell.engine.db import classify, quote_ident, quote_table

CREATE_SQL = """CREATE TABLE IF NOT EXISTS {table} (
  `source_id` VARCHAR(32) NOT NULL COMMENT 'replication source id, can be mysql/mariadb instance id',
  `target_table_id` VARCHAR(144) NOT NULL COMMENT 'target table id',
  `source_table_id`  VARCHAR(144) NOT NULL COMMENT 'source table id',
  `active_index` INT(11),
  `is_global` BOOLEAN,
  `data` JSON,
  `create_time` timestamp DEFAULT CURRENT_TIMESTAMP,
  `update_time` timestamp DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  UNIQUE KEY `uk_source_id_table_id_source` (`source_id`, `target_table_id`,  `source_table_id`)
)"""


class ShardingMeta:
    """This source's rows of the table; ``conn``: the run's target connection (autocommit)."""

    def __init__(self, conn: Any, meta_schema: str, task: str, source_id: str) -> None:
        self.conn = conn
        self.source_id = source_id
        self.table = quote_table(meta_schema, f"{task}_syncer_sharding_meta")
        self._run(f"CREATE DATABASE IF NOT EXISTS {quote_ident(meta_schema)}")
        self._run(CREATE_SQL.format(table=self.table))
        self._run(f"DELETE FROM {self.table} WHERE source_id = %s", (source_id,))

    def _run(self, sql: str, args: tuple = ()) -> None:
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql, args)
        except Exception as exc:
            raise classify(exc, sql) from exc

    def save(self, target: str, sequence: list[list[str]], members: list[tuple[str, list[dict]]]) -> None:
        """Replace the rows of ``target``: the group's pending ``sequence`` and, per shard table,
        its DDL items (none: the target's rows are removed)."""
        insert = (
            f"INSERT INTO {self.table} (source_id, target_table_id, source_table_id, active_index, "
            "is_global, data) VALUES (%s, %s, %s, 0, %s, %s)"
        )
        rows = []
        if sequence:
            items = [{"ddls": ddls, "source": target} for ddls in sequence]
            rows.append((self.source_id, target, "", True, json.dumps(items)))
            rows += [(self.source_id, target, name, False, json.dumps(items)) for name, items in members]
        try:
            self.conn.begin()
            with self.conn.cursor() as cur:
                cur.execute(
                    f"DELETE FROM {self.table} WHERE source_id = %s AND target_table_id = %s",
                    (self.source_id, target),
                )
                cur.executemany(insert, rows)
            self.conn.commit()
        except Exception as exc:
            with contextlib.suppress(Exception):  # the connection may be broken; report the first error
                self.conn.rollback()
            raise classify(exc, f"save sharding meta into {self.table}") from exc
