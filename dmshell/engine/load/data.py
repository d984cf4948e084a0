"""Writing dump files into the target: ``LOAD DATA LOCAL INFILE`` (fast) or multi-row INSERTs (fallback).

Both read the same files (format: :mod:`dmshell.engine.dump.files`) and end with the statement's
warnings checked, so that nothing is silently truncated or dropped:

* ``LOAD DATA LOCAL`` is spoken directly on the protocol: the server's request for a file is
  answered with the chunk's bytes (whatever file name it asks for — a server can never read other
  local files) in pieces that respect its ``max_allowed_packet``, with progress reported per piece.
  Targets that refuse it (``local_infile=OFF``, error 1148/3948) get the fallback.
* INSERT statements of ``statement-size`` bytes at most, and never more than the target's
  ``max_allowed_packet``.

The session runs with a non-strict ``sql_mode`` — ``LOAD DATA LOCAL`` turns data errors into
warnings on every server anyway — and every warning is an error, except the ones that reproduce
the source exactly (an invalid ENUM value ``''`` written back as ``''``) and, with
``on-duplicate-logical: ignore``, duplicate keys.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pymysql
from pymysql.constants import COMMAND
from pymysql.converters import escape_string
from pymysql.protocol import OKPacketWrapper

from dmshell.engine import db, errors
from dmshell.engine.config.database import DBConfig
from dmshell.engine.db import quote_ident, quote_table
from dmshell.engine.dump import files as dumpfiles
from dmshell.engine.dump.files import ColumnMeta

#: the target session: TIMESTAMPs in UTC like the dump; AUTO_INCREMENT keeps a 0; no strict mode
#: (warnings are checked instead); every warning visible
SESSION_SQL = (
    "SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION', time_zone = '+00:00', "
    "foreign_key_checks = 0, max_error_count = 65535"
)
#: errors meaning "LOAD DATA LOCAL is not allowed here"
LOCAL_INFILE_REFUSED = frozenset({1148, 3948, 2068, 4166})
_PIECE = 1 << 20
_WARNING = re.compile(r"(?:for|in) column '((?:[^']|'')*)' at row (\d+)")
_VERBS = {"replace": "REPLACE", "ignore": "IGNORE", "error": ""}


def connect(cfg: DBConfig) -> db.Connection:
    """A target connection that may run ``LOAD DATA LOCAL`` through :func:`load_data_local` only
    (PyMySQL's own file sending stays disabled), set up by :data:`SESSION_SQL`."""
    conn = db.connect(cfg, load_data_local=True, max_allowed_packet=1 << 30)
    try:
        with conn.cursor() as cur:
            cur.execute(SESSION_SQL)
    except pymysql.err.MySQLError as exc:
        conn.close()
        raise db.classify(exc, "set load session") from exc
    return conn


def server_max_packet(conn: db.Connection) -> int:
    with conn.cursor() as cur:
        cur.execute("SELECT @@max_allowed_packet")
        return int(db.one_row(cur)[0])


@dataclass(slots=True)
class Outcome:
    """What one statement did: affected rows, warnings count, the server's info text."""

    affected: int
    warnings: int
    info: str


@dataclass(slots=True)
class Target:
    """Where a data file goes and how its columns are written."""

    schema: str
    table: str
    columns: Sequence[ColumnMeta]
    #: (column, value) pairs added to every row (routes' extract-table/schema/source)
    extra: Sequence[tuple[str, str]]
    on_duplicate: str  # replace | ignore | error

    @property
    def name(self) -> str:
        return quote_table(self.schema, self.table)


def load_data_sql(t: Target) -> str:
    # With a SET clause, MariaDB generates an AUTO_INCREMENT value for a 0 read straight into the
    # column despite NO_AUTO_VALUE_ON_ZERO; set through a variable it stays 0. So either every
    # column goes through a variable or none does.
    via_vars = bool(t.extra) or any(c.codec in ("hex", "bit") for c in t.columns)
    targets, sets = [], []
    for i, col in enumerate(t.columns):
        q = quote_ident(col.name)
        if not via_vars:
            targets.append(q)
            continue
        targets.append(f"@v{i}")
        if col.codec == "hex":
            sets.append(f"{q} = UNHEX(SUBSTRING(@v{i}, 3))")
        elif col.codec == "bit":
            sets.append(f"{q} = CAST(@v{i} AS UNSIGNED)")
        else:
            sets.append(f"{q} = @v{i}")
    sets += [f"{quote_ident(c)} = '{escape_string(v)}'" for c, v in t.extra]
    sql = (
        f"LOAD DATA LOCAL INFILE 'dmshell-chunk' {_VERBS.get(t.on_duplicate, 'REPLACE')} "
        f"INTO TABLE {t.name} CHARACTER SET utf8mb4 "
        "FIELDS TERMINATED BY ',' ENCLOSED BY '\\'' ESCAPED BY '\\\\' LINES TERMINATED BY '\\0' "
        f"({','.join(targets)})"
    )
    return sql + (" SET " + ", ".join(sets) if sets else "")


def load_data_local(
    conn: db.Connection, sql: str, path: Path, piece: int, on_bytes: Callable[[int], None]
) -> Outcome:
    """Run a ``LOAD DATA LOCAL`` statement, answering the server's file request with ``path``.

    An OSError while reading the file leaves the connection unusable: close it.
    """
    conn._execute_command(COMMAND.COM_QUERY, sql)
    packet = conn._read_packet()  # raises the server's error (e.g. 1148 when not allowed)
    if packet.is_load_local_packet():
        with open(path, "rb") as f:
            while data := f.read(piece):
                conn.write_packet(data)
                on_bytes(len(data))
        conn.write_packet(b"")
        packet = conn._read_packet()
    ok = OKPacketWrapper(packet)
    return Outcome(ok.affected_rows, ok.warning_count, ok.message.decode("utf-8", "replace"))


def execute(conn: db.Connection, sql: bytes) -> Outcome:
    conn.query(sql)
    result = conn._result
    if result is None:
        return Outcome(0, 0, "")
    message = result.message or b""
    return Outcome(
        result.affected_rows or 0,
        result.warning_count or 0,
        message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message),
    )


def insert_statements(t: Target, path: Path, limit: int) -> Iterator[tuple[bytes, list[bytes]]]:
    """The INSERTs of one data file, each at most ``limit`` bytes (one row may exceed it alone),
    with the rows each one holds."""
    verb = {"replace": "REPLACE INTO", "ignore": "INSERT IGNORE INTO"}.get(t.on_duplicate, "INSERT INTO")
    columns = ",".join(quote_ident(c) for c in [*(c.name for c in t.columns), *(c for c, _ in t.extra)])
    prefix = f"{verb} {t.name} ({columns}) VALUES ".encode()
    suffix = "".join(",'" + escape_string(v) + "'" for _, v in t.extra).encode()
    rows: list[bytes] = []
    size = len(prefix)
    for line in dumpfiles.iter_rows(path):
        if rows and size + len(line) + len(suffix) + 3 > limit:
            yield _statement(prefix, suffix, rows), rows
            rows, size = [], len(prefix)
        rows.append(line)
        size += len(line) + len(suffix) + 3
    if rows:
        yield _statement(prefix, suffix, rows), rows


def _statement(prefix: bytes, suffix: bytes, rows: list[bytes]) -> bytes:
    return prefix + b"(" + (suffix + b"),(").join(rows) + suffix + b")"


def show_warnings(conn: db.Connection) -> list[tuple[str, int, str]]:
    with conn.cursor() as cur:
        cur.execute("SHOW WARNINGS")
        return [(str(level), int(code), str(msg)) for level, code, msg in cur.fetchall()]


def check_warnings(
    conn: db.Connection,
    outcome: Outcome,
    t: Target,
    row_line: Callable[[int], bytes | None],
    what: str,
) -> None:
    """Raise unless every warning of the last statement reproduces the source exactly.

    ``row_line(n)`` returns the dumped line of the statement's n-th row (1-based).
    """
    if outcome.warnings == 0:
        return
    warnings = [w for w in show_warnings(conn) if w[0] != "Note"]
    enum_columns = {c.name.lower(): i for i, c in enumerate(t.columns) if c.type.lower().startswith("enum(")}
    bad = []
    for level, code, message in warnings:
        if code == 1062 and t.on_duplicate == "ignore":
            continue
        m = _WARNING.search(message)
        if code == 1265 and m and m.group(1).replace("''", "'").lower() in enum_columns:
            line = row_line(int(m.group(2)))
            index = enum_columns[m.group(1).replace("''", "'").lower()]
            fields = dumpfiles.split_fields(line) if line is not None else []
            if index < len(fields) and fields[index] == b"''":
                continue  # the source held the invalid ENUM value '' and so does the target now
        bad.append((level, code, message))
    if len(warnings) < outcome.warnings and not bad:
        bad.append(("Warning", 0, f"{outcome.warnings} warnings, too many to check"))
    if bad:
        level, code, message = bad[0]
        raise errors.ErrDBExecuteFailed(
            what,
            cause=f"Error {code}: {message}" + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""),
            workaround="The target changed a value while loading it (or refused a row): make the target "
            "table's definition match the source, then `resume-task`.",
        )


def read_line(path: Path, number: int) -> bytes | None:
    """Row ``number`` (1-based) of a data file."""
    with contextlib.suppress(OSError, ValueError):
        for i, line in enumerate(dumpfiles.iter_rows(path), 1):
            if i == number:
                return line
    return None
