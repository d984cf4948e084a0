"""The DDL journal: a DDL interrupted at any point is neither lost nor run twice.

DDL is not transactional, so it can't record itself like the DML batches do. Before each target
statement of a DDL runs, a row ``ddl:<end file>:<end pos>#<n>`` (the n-th statement run at that
event: a DDL may have several, and ``binlog inject`` several DDLs) of the applied record
(:mod:`~.checkpoint`) says "started", with a fingerprint of the DDL's target tables (their
``SHOW CREATE``, ``AUTO_INCREMENT`` left out); after it ran, the row says "done". The checkpoint
flushed right after the DDL prunes the rows. A replay meeting the DDL again (the checkpoint is
flushed before a DDL, so a crash anywhere in it replays it):

* "done": the statement is skipped;
* "started": the statement ran iff the targets' fingerprint changed since (a statement that
  changes nothing visible — ``TRUNCATE``, a rebuild — is run again, harmlessly); so an unnamed
  ``ADD INDEX`` interrupted right after it ran does not make a second index;
* no row: it runs.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

import pymysql

from dmshell.engine import db
from dmshell.engine.binlog.location import Location
from dmshell.engine.sync.checkpoint import AppliedRecord

log = logging.getLogger(__name__)

_AUTO_INC = re.compile(r" AUTO_INCREMENT=\d+")
_NO_SUCH = frozenset({1049, 1146})  # unknown database, table doesn't exist


class DDLJournal:
    """Journals the statements of DDLs on the target (see the module docstring).

    ``conn``: the DDL connection (autocommit); ``record``: the applied record loaded at start.
    """

    def __init__(self, conn: Any, record: AppliedRecord) -> None:
        self.conn = conn
        self.record = record
        # statements journaled at the same end location (several DDLs injected at one event)
        self._end: tuple[str, int] | None = None
        self._count = 0

    def run(
        self,
        end: Location,
        targets: Sequence[tuple[str, str]],
        statements: Sequence[str],
        execute: Callable[[str], None],
    ) -> None:
        """Run ``statements`` (of the DDL ending at ``end``, changing ``targets``: routed
        ``(schema, table)``, table ``""`` for a schema) through ``execute``, journaled."""
        if self._end != (end.file, end.pos):
            self._end, self._count = (end.file, end.pos), 0
        for stmt in statements:
            key = f"ddl:{end.file}:{end.pos}#{self._count}"
            self._count += 1
            state, before = self.record.ddl.pop(key, (-1, ""))
            if state == 1:
                log.info("DDL journal: %s ran before the restart, skipped: %s", key, stmt)
                continue
            now = self.fingerprint(targets)
            if state == 0 and now != before:
                log.info("DDL journal: %s had run when the unit stopped, skipped: %s", key, stmt)
                self.write(key, 1, now)
                continue
            self.write(key, 0, now)
            execute(stmt)
            self.write(key, 1, "")

    def write(self, key: str, state: int, detail: str) -> None:
        rec = self.record
        sql = (
            f"INSERT INTO {rec.table} (id, txn, rows_done, detail) VALUES (%s, %s, %s, %s) "
            "ON DUPLICATE KEY UPDATE rows_done = VALUES(rows_done), detail = VALUES(detail)"
        )
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql, (rec.source_id, key, state, detail))
        except pymysql.MySQLError as exc:
            raise db.classify(exc, sql) from exc

    def fingerprint(self, targets: Sequence[tuple[str, str]]) -> str:
        """A digest of the targets' ``SHOW CREATE`` (absent ones count as absent)."""
        h = hashlib.sha1()
        for schema, table in sorted(set(targets)):
            if table:
                sql = f"SHOW CREATE TABLE {db.quote_table(schema, table)}"
            else:
                sql = f"SHOW CREATE DATABASE {db.quote_ident(schema)}"
            try:
                with self.conn.cursor() as cur:
                    cur.execute(sql)
                    row = cur.fetchone()
                text = _AUTO_INC.sub("", str(row[1])) if row else "-"
            except pymysql.MySQLError as exc:
                if db.errno_of(exc) not in _NO_SUCH:
                    raise db.classify(exc, sql) from exc
                text = "-"
            h.update(f"{schema}.{table}\0{text}\0".encode())
        return h.hexdigest()
