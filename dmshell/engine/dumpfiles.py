"""The dump directory format shared by the dump and load units.

A dump directory holds (mydumper-like names, see :func:`schema_create_file` and friends):

* ``<db>-schema-create.sql`` — ``SHOW CREATE DATABASE`` output, one statement;
* ``<db>.<table>-schema.sql`` — ``SHOW CREATE TABLE`` output, one statement;
* ``<db>.<table>.<NNNNNNNNN>.sql`` — one data chunk: a sequence of multi-row
  ``INSERT INTO `<table>` (`c1`,...) VALUES (...),(...);`` statements, **one statement per line**
  (values never contain a raw newline: text is backslash-escaped, binary is hex), so a reader can
  stream a chunk line by line and re-target each statement by swapping its fixed prefix;
* ``metadata`` — JSON (:class:`DumpMetadata`), written last and atomically. Its presence means the
  dump is complete; every other file is only meaningful when listed in it.

Values are written exactly: text as backslash-escaped utf8mb4 string literals, numbers (integers,
DECIMAL, DOUBLE, FLOAT read as double) as the server's own text rendering, binary strings (BINARY,
VARBINARY, BLOB, BIT, GEOMETRY) as hex literals, NULL as ``NULL``. Loading expects a session with
``NO_BACKSLASH_ESCAPES`` off and ``time_zone='+00:00'`` (the dump reads TIMESTAMPs in UTC).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pymysql.constants import FIELD_TYPE
from pymysql.converters import escape_string

from dmshell.engine import errors
from dmshell.engine.binlog import Location
from dmshell.engine.db import quote_ident

METADATA_FILE = "metadata"
FORMAT_VERSION = 1
#: target size of one INSERT statement in a chunk file
STATEMENT_SIZE = 1 << 20

#: column types whose text rendering is a numeric literal that can be written unquoted
NUMERIC_TYPES = frozenset({
    FIELD_TYPE.DECIMAL, FIELD_TYPE.NEWDECIMAL, FIELD_TYPE.TINY, FIELD_TYPE.SHORT, FIELD_TYPE.LONG,
    FIELD_TYPE.INT24, FIELD_TYPE.LONGLONG, FIELD_TYPE.FLOAT, FIELD_TYPE.DOUBLE,
})

_SAFE_NAME = re.compile(r"[A-Za-z0-9_$-]+")


# -- file names --------------------------------------------------------------------------------
def _fs_name(name: str) -> str:
    """A file-name-safe, unique rendering of an identifier (readable when the name is plain)."""
    if _SAFE_NAME.fullmatch(name) and len(name) <= 64:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:10]
    return re.sub(r"[^A-Za-z0-9_$-]", "_", name)[:48] + "~" + digest


def schema_create_file(schema: str) -> str:
    return f"{_fs_name(schema)}-schema-create.sql"


def table_schema_file(schema: str, table: str) -> str:
    return f"{_fs_name(schema)}.{_fs_name(table)}-schema.sql"


def chunk_file(schema: str, table: str, index: int) -> str:
    return f"{_fs_name(schema)}.{_fs_name(table)}.{index:09d}.sql"


# -- metadata ----------------------------------------------------------------------------------
@dataclass(slots=True)
class ChunkMeta:
    """One data file: the rows of ``where`` (a primary-key range, or empty for the whole table)."""

    file: str
    rows: int = 0
    bytes: int = 0
    where: str = ""


@dataclass(slots=True)
class TableMeta:
    schema: str
    table: str
    schema_file: str
    #: the dumped columns, in table order (generated columns excluded)
    columns: list[str]
    rows: int = 0
    bytes: int = 0
    chunks: list[ChunkMeta] = field(default_factory=list)


@dataclass(slots=True)
class SchemaMeta:
    name: str
    file: str


@dataclass(slots=True)
class DumpMetadata:
    """The ``metadata`` file: where the snapshot is in the binlog and what was dumped."""

    dump_id: str
    source_id: str
    flavor: str  # "mariadb" | "mysql"
    #: how the consistent snapshot was taken: "consistent-snapshot" (lock-free, MariaDB) or
    #: "flush-tables-with-read-lock"
    method: str
    location: Location
    started_at: str
    finished_at: str
    schemas: list[SchemaMeta] = field(default_factory=list)
    tables: list[TableMeta] = field(default_factory=list)

    def to_json(self) -> str:
        doc = {
            "version": FORMAT_VERSION,
            "dump_id": self.dump_id,
            "source_id": self.source_id,
            "flavor": self.flavor,
            "method": self.method,
            "location": {"file": self.location.file, "pos": self.location.pos, "gtid": self.location.gtid},
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "schemas": [asdict(s) for s in self.schemas],
            "tables": [asdict(t) for t in self.tables],
        }
        return json.dumps(doc, indent=1, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> DumpMetadata:
        doc = json.loads(text)
        if doc.get("version") != FORMAT_VERSION:
            raise ValueError(f"unsupported dump format version {doc.get('version')!r}")
        loc = doc["location"]
        return cls(
            dump_id=doc["dump_id"],
            source_id=doc["source_id"],
            flavor=doc["flavor"],
            method=doc["method"],
            location=Location(loc["file"], int(loc["pos"]), loc["gtid"]),
            started_at=doc["started_at"],
            finished_at=doc["finished_at"],
            schemas=[SchemaMeta(**s) for s in doc["schemas"]],
            tables=[TableMeta(**{**t, "chunks": [ChunkMeta(**c) for c in t["chunks"]]})
                    for t in doc["tables"]],
        )

    @property
    def total_bytes(self) -> int:
        return sum(t.bytes for t in self.tables)


def write_metadata(dump_dir: Path, meta: DumpMetadata) -> None:
    """Write ``metadata`` atomically and durably (tmp file + fsync + rename + fsync of the dir)."""
    tmp = dump_dir / (METADATA_FILE + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(meta.to_json())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, dump_dir / METADATA_FILE)
    fsync_dir(dump_dir)


def read_metadata(dump_dir: Path) -> DumpMetadata | None:
    """The dump's metadata, or None when the dump is absent or incomplete.

    Raises ``ErrParseMydumperMeta`` when the file exists but can't be understood.
    """
    path = dump_dir / METADATA_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return DumpMetadata.from_json(text)
    except (ValueError, KeyError, TypeError) as exc:
        raise errors.ErrParseMydumperMeta(exc, str(path)) from exc


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):  # not every file system can fsync a directory
            os.fsync(fd)
    finally:
        os.close(fd)


# -- values and statements ---------------------------------------------------------------------
def insert_prefix(table: str, columns: Sequence[str]) -> str:
    """The fixed start of every INSERT statement of a chunk file (the table name unqualified)."""
    return f"INSERT INTO {quote_ident(table)} ({','.join(quote_ident(c) for c in columns)}) VALUES "


def numeric_flags(description: Sequence[Sequence]) -> list[bool]:
    """Per column of a cursor description: may its (text protocol) value be written unquoted?"""
    return [d[1] in NUMERIC_TYPES for d in description]


def encode_row(row: Sequence[str | bytes | None], numeric: Sequence[bool]) -> str:
    """One row as ``(v1,v2,...)``; ``row`` holds raw text-protocol values (str, bytes or None)."""
    out = []
    for value, is_num in zip(row, numeric, strict=True):
        if value is None:
            out.append("NULL")
        elif type(value) is bytes:
            out.append("0x" + value.hex() if value else "''")
        elif is_num:
            out.append(value)
        else:
            out.append("'" + escape_string(value) + "'")
    return "(" + ",".join(out) + ")"


def iter_statements(path: Path) -> Iterator[bytes]:
    """The statements of a chunk file, each without its trailing newline."""
    with open(path, "rb") as f:
        for line in f:
            line = line.rstrip(b"\n")
            if line:
                yield line
