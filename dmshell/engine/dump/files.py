"""The dump directory format shared by the dump and load units.

A dump directory holds (mydumper-like names, see :func:`schema_create_file` and friends):

* ``<db>-schema-create.sql`` — ``SHOW CREATE DATABASE`` output, one statement;
* ``<db>.<table>-schema.sql`` — ``SHOW CREATE TABLE`` output, one statement;
* ``<db>.<view>-schema-view.sql`` — ``SHOW CREATE VIEW`` output without its DEFINER (only with
  ``extra-args: --no-views=false``, as in DM);
* ``<db>.<table>.<NNNNNNNNN>.<PPPP>.csv`` — data: part ``PPPP`` of key-range chunk ``NNNNNNNNN``
  (a chunk is split into parts of at most ``chunk-filesize``), one record per row (format below);
  each file is the unit of loading and of the load checkpoint;
* ``metadata`` — JSON (:class:`DumpMetadata`), written last and atomically. Its presence means the
  dump is complete; every other file is only meaningful when listed in it.

Row format — one dialect that is both the body of a SQL ``VALUES (...)`` tuple and a record for
``LOAD DATA ... FIELDS TERMINATED BY ',' ENCLOSED BY '\\'' ESCAPED BY '\\\\' LINES TERMINATED BY
'\\0'``: fields separated by ``,``, every row ended by a NUL byte (``QUOTE()`` escapes the NULs
inside values, so a raw NUL only ever ends a row; newlines inside values stay as they are);
``NULL`` (unquoted) is NULL; each column is written by its *codec* (:data:`CODECS`), computed by the
source server itself (:func:`select_expression`):

* ``num`` — the server's numeric text (integers, DECIMAL, DOUBLE; FLOAT read as DOUBLE so every
  digit survives), unquoted;
* ``text`` — a ``QUOTE()``-escaped string literal of UTF-8 bytes (utf8mb3/utf8mb4/ascii text, JSON,
  dates and times, ENUM/SET labels);
* ``bit`` — BIT as an unsigned integer (loaded with ``CAST(@v AS UNSIGNED)``);
* ``hex`` — exact bytes as ``0x<hex>`` (``''`` when empty): binary strings, BLOBs, spatial values
  and text in any other character set (latin1, gbk, ...; loaded with ``UNHEX``).

Loading expects ``character_set_client = utf8mb4``, ``NO_BACKSLASH_ESCAPES`` off and
``time_zone = '+00:00'`` (the dump reads TIMESTAMPs in UTC).
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

from dmshell.engine import errors
from dmshell.engine.binlog.location import Location
from dmshell.engine.db import quote_ident

METADATA_FILE = "metadata"
#: the end of every row in a data file
ROW_END = b"\0"
FORMAT_VERSION = 2
#: target size of one INSERT statement (dumpling's default ``statement-size``)
STATEMENT_SIZE = 1_000_000

CODECS = ("num", "text", "bit", "hex")
#: character sets whose bytes are UTF-8 (written as text); everything else is written as hex
UTF8_CHARSETS = frozenset({"utf8mb4", "utf8mb3", "utf8", "ascii"})
_NUMERIC = frozenset(
    {
        "tinyint",
        "smallint",
        "mediumint",
        "int",
        "integer",
        "bigint",
        "decimal",
        "numeric",
        "double",
        "real",
        "double precision",
        "float",
    }
)
_BINARY = frozenset(
    {
        "binary",
        "varbinary",
        "tinyblob",
        "blob",
        "mediumblob",
        "longblob",
        "geometry",
        "point",
        "linestring",
        "polygon",
        "multipoint",
        "multilinestring",
        "multipolygon",
        "geometrycollection",
        "geomcollection",
    }
)
_TEXT = frozenset({"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set"})

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


def view_schema_file(schema: str, view: str) -> str:
    return f"{_fs_name(schema)}.{_fs_name(view)}-schema-view.sql"


def chunk_file(schema: str, table: str, index: int, part: int = 0) -> str:
    return f"{_fs_name(schema)}.{_fs_name(table)}.{index:09d}.{part:04d}.csv"


# -- columns and their encoding ----------------------------------------------------------------
@dataclass(slots=True)
class ColumnMeta:
    """A dumped column: its name, its type as ``information_schema.COLUMNS.COLUMN_TYPE`` shows it,
    and how its values are written (one of :data:`CODECS`)."""

    name: str
    type: str
    codec: str
    nullable: bool = True
    charset: str = ""


def codec_for(data_type: str, charset: str | None) -> str:
    """The codec of a column, from ``DATA_TYPE`` and ``CHARACTER_SET_NAME``."""
    data_type = data_type.lower()
    if data_type in _NUMERIC:
        return "num"
    if data_type == "bit":
        return "bit"
    if data_type in _BINARY:
        return "hex"
    if data_type in _TEXT:
        if data_type in ("enum", "set"):
            return "text"  # labels are converted to utf8mb4 (see select_expression)
        return "text" if (charset or "utf8mb4").lower() in UTF8_CHARSETS else "hex"
    if charset and charset.lower() not in UTF8_CHARSETS:
        return "hex"
    return "text"  # dates and times, JSON, INET6, UUID, ...: their text form


def select_expression(col: ColumnMeta, data_type: str) -> str:
    """The SQL expression that renders ``col`` in its codec on the source server (never NULL)."""
    q = quote_ident(col.name)
    data_type = data_type.lower()
    if col.codec == "num":
        expr = f"{q}*1e0" if data_type == "float" else q
        return f"IFNULL({expr},'NULL')" if col.nullable else expr
    if col.codec == "bit":
        return f"IFNULL({q}+0,'NULL')" if col.nullable else f"{q}+0"
    if col.codec == "hex":
        expr = f"IF(LENGTH({q})=0,'''''',CONCAT('0x',HEX({q})))"
        return f"IF({q} IS NULL,'NULL',{expr})" if col.nullable else expr
    # text: UTF-8 bytes (binary, so that no collation or character set mixes in CONCAT_WS)
    if data_type in ("enum", "set") and (col.charset or "utf8mb4").lower() not in UTF8_CHARSETS:
        value = f"CAST(CONVERT({q} USING utf8mb4) AS BINARY)"
    elif col.charset:
        value = f"CAST({q} AS BINARY)"
    else:
        value = q
    return f"QUOTE({value})"


def row_expression(columns: Sequence[ColumnMeta], data_types: Sequence[str]) -> str:
    """One row as one record of the dump format, without its NUL terminator (see the module doc)."""
    exprs = [select_expression(c, t) for c, t in zip(columns, data_types, strict=True)]
    return "CONCAT_WS(','," + ",".join(exprs) + ")"


# -- metadata ----------------------------------------------------------------------------------
@dataclass(slots=True)
class ChunkMeta:
    """One data file: rows of the key range ``where`` (empty: the whole table)."""

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
    columns: list[ColumnMeta]
    rows: int = 0
    bytes: int = 0
    chunks: list[ChunkMeta] = field(default_factory=list)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


@dataclass(slots=True)
class SchemaMeta:
    name: str
    file: str


@dataclass(slots=True)
class ViewMeta:
    schema: str
    name: str
    file: str


@dataclass(slots=True)
class DumpMetadata:
    """The ``metadata`` file: where the snapshot is in the binlog and what was dumped."""

    dump_id: str
    source_id: str
    flavor: str  # "mariadb" | "mysql"
    #: how the snapshot was taken (dumpling's names): "snapshot" (lock-free), "flush" (a short
    #: FLUSH TABLES WITH READ LOCK), "lock" (LOCK TABLES ... READ) or "none" (not consistent)
    consistency: str
    location: Location
    started_at: str
    finished_at: str
    schemas: list[SchemaMeta] = field(default_factory=list)
    tables: list[TableMeta] = field(default_factory=list)
    views: list[ViewMeta] = field(default_factory=list)

    def to_json(self) -> str:
        doc = {
            "version": FORMAT_VERSION,
            "dump_id": self.dump_id,
            "source_id": self.source_id,
            "flavor": self.flavor,
            "consistency": self.consistency,
            "location": {"file": self.location.file, "pos": self.location.pos, "gtid": self.location.gtid},
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "schemas": [asdict(s) for s in self.schemas],
            "tables": [asdict(t) for t in self.tables],
            "views": [asdict(v) for v in self.views],
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
            consistency=doc["consistency"],
            location=Location(loc["file"], int(loc["pos"]), loc["gtid"]),
            started_at=doc["started_at"],
            finished_at=doc["finished_at"],
            schemas=[SchemaMeta(**s) for s in doc["schemas"]],
            tables=[
                TableMeta(
                    **{
                        **t,
                        "columns": [ColumnMeta(**c) for c in t["columns"]],
                        "chunks": [ChunkMeta(**c) for c in t["chunks"]],
                    }
                )
                for t in doc["tables"]
            ],
            views=[ViewMeta(**v) for v in doc.get("views", [])],
        )

    @property
    def total_bytes(self) -> int:
        return sum(t.bytes for t in self.tables)

    @property
    def total_rows(self) -> int:
        return sum(t.rows for t in self.tables)


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


# -- reading rows back -------------------------------------------------------------------------
_FIELD = re.compile(rb"'(?:[^'\\]|\\.)*'|[^,]*", re.S)


def split_fields(line: bytes) -> list[bytes]:
    """The fields of one dumped row, as written (quoted text keeps its quotes)."""
    out, pos = [], 0
    while True:
        m = _FIELD.match(line, pos)
        assert m is not None  # the pattern matches the empty string
        out.append(m.group(0))
        pos = m.end()
        if pos >= len(line) or line[pos : pos + 1] != b",":
            return out
        pos += 1


def iter_rows(path: Path, block: int = 1 << 20) -> Iterator[bytes]:
    """The rows of a data file, each without its NUL terminator."""
    with open(path, "rb") as f:
        rest = b""
        while data := f.read(block):
            rows = (rest + data).split(ROW_END)
            rest = rows.pop()
            yield from rows
    if rest:
        raise ValueError(f"{path.name}: the last row has no terminator (truncated file?)")
