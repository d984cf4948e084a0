"""The DDL recorded for ghost tables, in ``<meta-schema>.<task>_onlineddl`` on the target (DM's
``onlineddl.Storage``: the same table, one row per source and ghost table, ``ddls`` as DM's JSON
``{"schema": ..., "table": ..., "ddls": [...]}``)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import pymysql

from dmshell.engine import db, errors
from dmshell.engine.db import quote_ident, quote_table

log = logging.getLogger(__name__)
Conn = db.Connection


@dataclass(slots=True)
class GhostDDLs:
    """What was run on one ghost table: the real table it stands for and the statements, in order
    (each naming the ghost table as `` `schema`.`ghost` ``)."""

    schema: str
    table: str
    ddls: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps({"schema": self.schema, "table": self.table, "ddls": self.ddls})

    @classmethod
    def from_json(cls, text: str) -> GhostDDLs:
        try:
            doc = json.loads(text)
            return cls(str(doc["schema"]), str(doc["table"]), [str(d) for d in doc.get("ddls") or []])
        except (ValueError, KeyError, TypeError) as exc:
            raise errors.ErrSyncerUnitOnlineDDLInvalidMeta(cause=exc) from exc


class Storage:
    """The records of one source of a task, loaded once and written through to the target."""

    def __init__(self, connect: Callable[[], Conn], meta_schema: str, task: str, source_id: str) -> None:
        self._connect = connect
        self._conn: Conn | None = None
        self.schema = meta_schema
        self.table = quote_table(meta_schema, f"{task}_onlineddl")
        self.source_id = source_id
        self.records: dict[tuple[str, str], GhostDDLs] = {}

    def prepare(self) -> None:
        """Create the table if needed and load this source's records."""
        self._exec(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(self.schema)}")
        self._exec(
            f"CREATE TABLE IF NOT EXISTS {self.table} ("
            "id VARCHAR(32) NOT NULL, "
            "ghost_schema VARCHAR(128) NOT NULL, "
            "ghost_table VARCHAR(128) NOT NULL, "
            "ddls text, "
            "update_time timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, "
            "UNIQUE KEY uk_id_schema_table (id, ghost_schema, ghost_table))"
        )
        rows = self._exec(
            f"SELECT ghost_schema, ghost_table, ddls FROM {self.table} WHERE id = %s", (self.source_id,)
        )
        self.records = {(str(s), str(t)): GhostDDLs.from_json(str(d or "{}")) for s, t, d in rows}
        for schema, table in self.records:
            log.info("online DDL: loaded the record of ghost table `%s`.`%s`", schema, table)

    def get(self, schema: str, ghost: str) -> GhostDDLs | None:
        return self.records.get((schema, ghost))

    def save(self, schema: str, ghost: str, real_table: str, ddl: str) -> None:
        """Append ``ddl`` to the ghost table's record (a replayed last statement is not repeated)."""
        info = self.records.get((schema, ghost)) or GhostDDLs(schema, real_table)
        if info.ddls and info.ddls[-1] == ddl:
            log.warning("online DDL: %s was recorded before, not again", ddl)
            return
        info.ddls.append(ddl)
        self._exec(
            f"REPLACE INTO {self.table} (id, ghost_schema, ghost_table, ddls) VALUES (%s, %s, %s, %s)",
            (self.source_id, schema, ghost, info.to_json()),
        )
        self.records[(schema, ghost)] = info

    def delete(self, schema: str, ghost: str) -> None:
        if (schema, ghost) not in self.records:
            return
        self._exec(
            f"DELETE FROM {self.table} WHERE id = %s AND ghost_schema = %s AND ghost_table = %s",
            (self.source_id, schema, ghost),
        )
        del self.records[(schema, ghost)]

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _exec(self, sql: str, args: tuple[object, ...] | None = None) -> list[tuple[object, ...]]:
        for attempt in (1, 2):  # one reconnect: the connection may have been idle for hours
            try:
                if self._conn is None:
                    self._conn = self._connect()
                with self._conn.cursor() as cur:
                    cur.execute(sql, args)
                    return list(cur.fetchall())
            except pymysql.MySQLError as exc:
                if db.is_connection_error(exc):
                    self.close()
                    if attempt == 1:
                        continue
                raise errors.with_scope(db.classify(exc, sql), errors.Scope.DOWNSTREAM) from exc
        raise AssertionError("unreachable")
