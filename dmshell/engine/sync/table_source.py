"""The structure of a table the schema tracker doesn't know yet (its first rows event or DDL
since the checkpoint): from the dump's schema files, else the upstream's ``SHOW CREATE TABLE``,
else the target's (the routed table). The tracker then follows the binlog's DDL from there."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pymysql

from dmshell.engine import db
from dmshell.engine.dump.files import DumpMetadata, read_metadata
from dmshell.engine.schema.tracker import SchemaTracker, TableInfo, table_from_create
from dmshell.engine.sync.location import LocationRecorder

log = logging.getLogger(__name__)

#: a target table's identifying keys: (primary key columns, [(unique key name, columns)])
TargetKeys = tuple[list[str], list[tuple[str, list[str]]]]


class TableSource:
    """Loads unknown tables into ``tracker``; ``route``: upstream (schema, table) -> target's."""

    def __init__(
        self,
        tracker: SchemaTracker,
        loc: LocationRecorder,
        upstream: Any,
        target: Any,
        route: Callable[[str, str], tuple[str, str]],
        dump_dir: Path,
    ) -> None:
        self.tracker = tracker
        self.loc = loc
        self.upstream = upstream  # connections
        self.target = target
        self.route = route
        self.dump_dir = dump_dir
        self._dump_meta: DumpMetadata | None = None
        self._dump_meta_loaded = False

    def tracked(self, schema: str, table: str) -> TableInfo | None:
        """The tracked structure, loaded (and tracked from the global point) when unknown."""
        info = self.tracker.get(schema, table)
        if info is None:
            info = self.load(schema, table)
            if info is not None:
                self.tracker.put(info)
                self.loc.table_points[(schema, table)] = self.loc.global_point
        return info

    def load(self, schema: str, table: str) -> TableInfo | None:
        """A table the tracker doesn't know: from the dump, else the upstream, else the target."""
        sql = self.dump_schema(schema, table)
        source = "dump"
        if sql is None:
            sql, source = show_create(self.upstream, schema, table), "upstream"
        if sql is None:
            sql, source = show_create(self.target, *self.route(schema, table)), "target"
        if sql is None:
            return None
        info = table_from_create(sql, schema)
        info.schema, info.name = schema, table
        log.info("schema tracker: `%s`.`%s` taken from the %s", schema, table, source)
        return info

    def target_keys(self, schema: str, table: str) -> TargetKeys | None:
        """The target table's primary key and unique keys (column names); None when it doesn't
        exist yet."""
        sql = (
            "SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s AND NON_UNIQUE = 0 AND COLUMN_NAME IS NOT NULL "
            "ORDER BY INDEX_NAME, SEQ_IN_INDEX"
        )
        try:
            with self.target.cursor() as cur:
                cur.execute(sql, (schema, table))
                found = cur.fetchall()
                if not found:
                    cur.execute("SHOW TABLES FROM " + db.quote_ident(schema) + " LIKE %s", (table,))
                    if not cur.fetchall():
                        return None
        except pymysql.MySQLError as exc:
            raise db.classify(exc, sql) from exc
        keys: dict[str, list[str]] = {}
        for name, column in found:
            keys.setdefault(name, []).append(column)
        primary = keys.pop("PRIMARY", [])
        return primary, sorted(keys.items())

    def dump_schema(self, schema: str, table: str) -> str | None:
        if not self._dump_meta_loaded:
            self._dump_meta_loaded = True
            try:
                self._dump_meta = read_metadata(self.dump_dir)
            except Exception as exc:  # the dump is only a hint here
                log.debug("no usable dump metadata: %s", exc)
        meta = self._dump_meta
        if meta is None:
            return None
        for tm in meta.tables:
            if tm.schema == schema and tm.table == table:
                try:
                    return (self.dump_dir / tm.schema_file).read_text(encoding="utf-8")
                except OSError:
                    return None
        return None


def show_create(conn: Any, schema: str, table: str) -> str | None:
    """``SHOW CREATE TABLE``'s statement; None when the table (or database) doesn't exist."""
    try:
        with conn.cursor() as cur:
            cur.execute(f"SHOW CREATE TABLE {db.quote_table(schema, table)}")
            row = cur.fetchone()
    except pymysql.MySQLError as exc:
        if db.errno_of(exc) in (1146, 1049):
            return None
        raise db.classify(exc, f"SHOW CREATE TABLE {db.quote_table(schema, table)}") from exc
    return str(row[1]) if row and len(row) > 1 else None
