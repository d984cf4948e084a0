"""Row images of binlog rows events, decoded fast: one generated function per table structure.

A ``TABLE_MAP`` event gives each column's binlog type and type metadata (and, with
``binlog_row_metadata=FULL``, signedness, charsets and ENUM/SET members); the schema tracker's
:class:`~dmshell.engine.schema.tracker.TableInfo` gives the rest. :func:`compile_decoder` turns
both into straight-line Python (one ``struct`` call for a run of fixed-width NOT NULL columns, no
per-column dispatch) compiled once per (table map, table structure); mysql-replication's
per-column interpretation costs several times more.

Values come out ready for the target (:mod:`dmshell.engine.sync.dml` writes them as they are):

==========================  ==================================================================
column                      value
==========================  ==================================================================
integers                    ``int`` with the column's signedness
FLOAT, DOUBLE               ``float``; DECIMAL: ``decimal.Decimal``
CHAR/VARCHAR/TEXT           ``str`` for the UTF-8 charsets, else ``bytes`` (written back as is)
BINARY/VARBINARY/BLOB       ``bytes``; GEOMETRY: ``bytes`` (WKB with SRID)
ENUM, SET                   the member(s) as ``str`` (``'a,b'``); a number the tracked
                            structure doesn't know stays the index / bit mask (``int``)
BIT                         ``int``
DATE, DATETIME, TIMESTAMP   ``datetime.date`` / ``datetime.datetime`` (TIMESTAMP in UTC);
                            zero and partly-zero dates as their text (``'0000-00-00'``)
TIME                        ``datetime.timedelta``; YEAR: ``int`` (``0`` for 0000)
JSON (MySQL binary)         its JSON text; MariaDB's JSON is LONGTEXT (``str``)
==========================  ==================================================================

Only ``binlog_row_image=FULL`` images are decoded by the generated code; images missing columns
(MINIMAL/NOBLOB) take a generic path that leaves the missing columns ``None``.
"""

from __future__ import annotations

import datetime as dt
import json
import struct
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from pymysqlreplication.constants import CHARSET

from dmshell.engine import errors

# binlog column types (include/mysql_com.h enum_field_types)
DECIMAL, TINY, SHORT, LONG, FLOAT, DOUBLE, NULL, TIMESTAMP, LONGLONG, INT24 = range(10)
DATE, TIME, DATETIME, YEAR, NEWDATE, VARCHAR, BIT, TIMESTAMP2, DATETIME2, TIME2 = range(10, 20)
JSON, NEWDECIMAL, ENUM, SET, TINY_BLOB, MEDIUM_BLOB, LONG_BLOB, BLOB, VAR_STRING, STRING, GEOMETRY = range(
    245, 256
)

_UTF8 = frozenset({"utf8mb4", "utf8mb3", "utf8"})
_NUMERIC = frozenset({TINY, SHORT, INT24, LONG, LONGLONG, NEWDECIMAL, FLOAT, DOUBLE, YEAR})
_INT_FORMATS = {TINY: "b", SHORT: "h", LONG: "i", LONGLONG: "q"}
_EPOCH = dt.datetime(1970, 1, 1)
_DIG2BYTES = (0, 1, 1, 2, 2, 3, 3, 4, 4, 4)
_FSP_BYTES = (0, 1, 1, 2, 2, 3, 3)
_FSP_SCALE = (0, 10000, 10000, 100, 100, 1, 1)  # stored fraction -> microseconds


# -- TABLE_MAP -------------------------------------------------------------------------------------
def _lenenc(b: bytes, p: int) -> tuple[int, int]:
    c = b[p]
    if c < 251:
        return c, p + 1
    if c == 252:
        return b[p + 1] | b[p + 2] << 8, p + 3
    if c == 253:
        return int.from_bytes(b[p + 1 : p + 4], "little"), p + 4
    return int.from_bytes(b[p + 1 : p + 9], "little"), p + 9


class TableMap:
    """The structure a ``TABLE_MAP`` event describes (shared by identical table map events)."""

    __slots__ = (
        "_decoders",
        "bound",
        "charsets",
        "column_count",
        "enum_values",
        "meta",
        "names",
        "nullable",
        "schema",
        "set_values",
        "table",
        "types",
        "unsigned",
    )

    def __init__(self, body: bytes, start: int, end: int, *, mariadb: bool = True) -> None:
        """Parse a table map body from ``start`` (the schema name length, after table id and
        flags) to ``end`` (before the checksum); ``mariadb``: the server's flavor (the optional
        metadata differ slightly)."""
        b = body
        p = start
        n = b[p]
        self.schema = b[p + 1 : p + 1 + n].decode("utf-8", "replace")
        p += n + 2
        n = b[p]
        self.table = b[p + 1 : p + 1 + n].decode("utf-8", "replace")
        p += n + 2
        count, p = _lenenc(b, p)
        self.column_count = count
        types = list(b[p : p + count])
        p += count
        meta_len, p = _lenenc(b, p)
        meta_end = p + meta_len
        metas: list[tuple[int, ...]] = []
        for i, t in enumerate(types):
            if t in (
                FLOAT,
                DOUBLE,
                BLOB,
                GEOMETRY,
                JSON,
                TIMESTAMP2,
                DATETIME2,
                TIME2,
                TINY_BLOB,
                MEDIUM_BLOB,
                LONG_BLOB,
            ):
                metas.append((b[p],))
                p += 1
            elif t in (VARCHAR, VAR_STRING):
                metas.append((b[p] | b[p + 1] << 8,))
                p += 2
            elif t == BIT:
                metas.append((b[p], b[p + 1]))  # bits in the last byte, whole bytes
                p += 2
            elif t == NEWDECIMAL:
                metas.append((b[p], b[p + 1]))  # precision, scale
                p += 2
            elif t in (STRING, ENUM, SET):
                real, low = b[p], b[p + 1]
                p += 2
                if real in (ENUM, SET):
                    types[i] = real
                    metas.append((low,))  # pack length of the index / bit mask
                else:
                    metas.append(((((real << 8 | low) >> 4) & 0x300 ^ 0x300) + low,))  # max length
            else:
                metas.append(())
        p = meta_end
        nbytes = (count + 7) // 8
        nulls = int.from_bytes(b[p : p + nbytes], "little")
        p += nbytes
        self.types = types
        self.meta = metas
        self.nullable = [bool(nulls >> i & 1) for i in range(count)]
        self.names: list[str] | None = None
        self.unsigned: list[bool] | None = None
        self.charsets: list[str | None] | None = None  # per column (None: not a text column)
        self.enum_values: list[list[str] | None] | None = None
        self.set_values: list[list[str] | None] | None = None
        if p < end:
            self._optional(b, p, end, mariadb)
        self.bound: Decoder | None = None
        self._decoders: dict[int, tuple[Any, Decoder]] = {}

    def _optional(self, b: bytes, p: int, end: int, mariadb: bool) -> None:
        """``binlog_row_metadata=FULL`` (or MINIMAL) fields: a TLV list."""
        types = self.types
        numeric = [i for i, t in enumerate(types) if t in _NUMERIC]
        text_types = {STRING, VAR_STRING, VARCHAR, BLOB, TINY_BLOB, MEDIUM_BLOB, LONG_BLOB}
        if mariadb:
            text_types.add(GEOMETRY)  # MariaDB logs a (binary) charset for geometry columns
        text = [i for i, t in enumerate(types) if t in text_types]
        enum_set = [i for i, t in enumerate(types) if t in (ENUM, SET)]
        charsets: list[str | None] = [None] * len(types)
        while p < end:
            kind = b[p]
            length, p = _lenenc(b, p + 1)
            q, stop = p, p + length
            if kind == 1:  # SIGNEDNESS: one bit per numeric column, most significant first
                unsigned = [False] * len(types)
                for j, i in enumerate(numeric):
                    unsigned[i] = bool(b[q + j // 8] & (0x80 >> (j % 8)))
                self.unsigned = unsigned
            elif kind in (2, 10):  # DEFAULT_CHARSET / ENUM_AND_SET_DEFAULT_CHARSET
                cols = text if kind == 2 else enum_set
                default, q = _lenenc(b, q)
                ids = dict.fromkeys(range(len(cols)), default)
                while q < stop:
                    idx, q = _lenenc(b, q)
                    coll, q = _lenenc(b, q)
                    ids[idx] = coll
                for j, i in enumerate(cols):
                    charsets[i] = _charset_name(ids[j])
            elif kind in (3, 11):  # COLUMN_CHARSET / ENUM_AND_SET_COLUMN_CHARSET
                cols = text if kind == 3 else enum_set
                j = 0
                while q < stop and j < len(cols):
                    coll, q = _lenenc(b, q)
                    charsets[cols[j]] = _charset_name(coll)
                    j += 1
            elif kind == 4:  # COLUMN_NAME
                names = []
                while q < stop:
                    n, q = _lenenc(b, q)
                    names.append(b[q : q + n].decode("utf-8", "replace"))
                    q += n
                self.names = names
            elif kind in (5, 6):  # SET_STR_VALUE / ENUM_STR_VALUE
                lists: list[list[str]] = []
                while q < stop:
                    count, q = _lenenc(b, q)
                    members = []
                    for _ in range(count):
                        n, q = _lenenc(b, q)
                        members.append(b[q : q + n].decode("utf-8", "replace"))
                        q += n
                    lists.append(members)
                per_col: list[list[str] | None] = [None] * len(types)
                wanted = SET if kind == 5 else ENUM
                for members, i in zip(lists, (i for i, t in enumerate(types) if t == wanted), strict=False):
                    per_col[i] = members
                if kind == 5:
                    self.set_values = per_col
                else:
                    self.enum_values = per_col
            p = stop
        if any(c is not None for c in charsets):
            self.charsets = charsets

    def bind(self, info) -> Decoder:
        """The decoder for rows of this table map as structured by ``info`` (a tracked
        ``TableInfo``, or None to rely on the binlog alone); remembered for rows events.

        Raises ``ErrSyncerUnitDMLColumnNotMatch`` when the column counts differ.
        """
        bound = self.bound
        if bound is not None and bound.info is info:
            return bound
        key = id(info)
        cached = self._decoders.get(key)
        if cached is not None and cached[0] is info:
            self.bound = cached[1]
            return cached[1]
        if info is not None and len(info.columns) != self.column_count:
            raise errors.ErrSyncerUnitDMLColumnNotMatch(len(info.columns), self.column_count)
        decoder = Decoder(self, info)
        if len(self._decoders) > 16:
            self._decoders.clear()
        self._decoders[key] = (info, decoder)
        self.bound = decoder
        return decoder


def _charset_name(collation_id: int) -> str | None:
    cs = CHARSET.charset_by_id(collation_id, "mariadb") or CHARSET.charset_by_id(collation_id, "mysql")
    if cs is None:
        return None
    return "binary" if collation_id == 63 else cs.name


# -- value readers for the less common types (called from the generated code) ---------------------
def _read_decimal(b: bytes, p: int, precision: int, scale: int) -> tuple[Decimal, int]:
    intg = precision - scale
    intg0, intg0x = divmod(intg, 9)
    frac0, frac0x = divmod(scale, 9)
    size = intg0 * 4 + _DIG2BYTES[intg0x] + frac0 * 4 + _DIG2BYTES[frac0x]
    raw = bytearray(b[p : p + size])
    negative = not raw[0] & 0x80
    raw[0] ^= 0x80
    if negative:
        raw = bytearray(x ^ 0xFF for x in raw)
    q = 0
    parts = ["-" if negative else ""]
    n = _DIG2BYTES[intg0x]
    if n:
        parts.append(str(int.from_bytes(raw[q : q + n], "big")))
        q += n
    for _ in range(intg0):
        parts.append(f"{int.from_bytes(raw[q:q + 4], 'big'):09d}")
        q += 4
    parts.append(".")
    for _ in range(frac0):
        parts.append(f"{int.from_bytes(raw[q:q + 4], 'big'):09d}")
        q += 4
    n = _DIG2BYTES[frac0x]
    if n:
        parts.append(f"{int.from_bytes(raw[q:q + n], 'big'):0{frac0x}d}")
    return Decimal("".join(parts)), p + size


def _read_fraction(b: bytes, p: int, fsp: int) -> tuple[int, int]:
    n = _FSP_BYTES[fsp]
    if not n:
        return 0, p
    return int.from_bytes(b[p : p + n], "big") * _FSP_SCALE[fsp], p + n


def _read_datetime2(b: bytes, p: int, fsp: int) -> tuple[Any, int]:
    v = int.from_bytes(b[p : p + 5], "big") - 0x8000000000
    us, q = _read_fraction(b, p + 5, fsp)
    ymd, hms = v >> 17, v % (1 << 17)
    ym = ymd >> 5
    year, month, day = ym // 13, ym % 13, ymd % 32
    hour, minute, second = hms >> 12, (hms >> 6) % 64, hms % 64
    try:
        return dt.datetime(year, month, day, hour, minute, second, us), q
    except ValueError:  # zero dates: their text
        frac = f".{us:06d}"[: fsp + 1] if fsp else ""
        return f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02d}{frac}", q


def _read_timestamp2(b: bytes, p: int, fsp: int) -> tuple[Any, int]:
    sec = int.from_bytes(b[p : p + 4], "big")
    us, q = _read_fraction(b, p + 4, fsp)
    if sec == 0 and us == 0:
        return "0000-00-00 00:00:00", q
    return _EPOCH + dt.timedelta(seconds=sec, microseconds=us), q


def _read_time2(b: bytes, p: int, fsp: int) -> tuple[dt.timedelta, int]:
    """MySQL's ``my_time_packed_from_binary``."""
    intpart = int.from_bytes(b[p : p + 3], "big") - 0x800000
    frac = 0
    q = p + 3
    if fsp in (1, 2):
        frac = b[q]
        if intpart < 0 and frac:
            intpart += 1
            frac -= 0x100
        frac *= 10000
        q += 1
    elif fsp in (3, 4):
        frac = b[q] << 8 | b[q + 1]
        if intpart < 0 and frac:
            intpart += 1
            frac -= 0x10000
        frac *= 100
        q += 2
    elif fsp in (5, 6):
        packed = int.from_bytes(b[p : p + 6], "big") - 0x800000000000
        intpart, frac = packed >> 24, packed % (1 << 24)
        q += 3
    packed = (intpart << 24) + frac
    sign = 1
    if packed < 0:
        sign, packed = -1, -packed
    hms, us = packed >> 24, packed % (1 << 24)
    value = dt.timedelta(hours=(hms >> 12) % 1024, minutes=(hms >> 6) % 64, seconds=hms % 64, microseconds=us)
    return (value if sign > 0 else -value), q


def _read_date(b: bytes, p: int) -> tuple[Any, int]:
    v = b[p] | b[p + 1] << 8 | b[p + 2] << 16
    year, month, day = v >> 9, (v >> 5) % 16, v % 32
    try:
        return dt.date(year, month, day), p + 3
    except ValueError:
        return f"{year:04d}-{month:02d}-{day:02d}", p + 3


def _read_datetime(b: bytes, p: int) -> tuple[Any, int]:
    """The pre-5.6 DATETIME: YYYYMMDDhhmmss as an 8-byte integer."""
    v = int.from_bytes(b[p : p + 8], "little")
    d, t = divmod(v, 1000000)
    year, month, day = d // 10000, d // 100 % 100, d % 100
    hour, minute, second = t // 10000, t // 100 % 100, t % 100
    try:
        return dt.datetime(year, month, day, hour, minute, second), p + 8
    except ValueError:
        return f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02d}", p + 8


def _read_timestamp(b: bytes, p: int) -> tuple[Any, int]:
    sec = int.from_bytes(b[p : p + 4], "little")
    if sec == 0:
        return "0000-00-00 00:00:00", p + 4
    return _EPOCH + dt.timedelta(seconds=sec), p + 4


def _read_time(b: bytes, p: int) -> tuple[dt.timedelta, int]:
    """The pre-5.6 TIME: [-]HHMMSS as a signed 3-byte integer."""
    v = int.from_bytes(b[p : p + 3], "little", signed=True)
    sign = -1 if v < 0 else 1
    v = abs(v)
    value = dt.timedelta(hours=v // 10000, minutes=v // 100 % 100, seconds=v % 100)
    return (value if sign > 0 else -value), p + 3


def _json_text(b: bytes) -> str | None:
    """MySQL's binary JSON as JSON text."""
    if not b:
        return None  # an empty binary JSON is how MySQL logs SQL NULL inside JSON columns
    from pymysqlreplication.json_binary import parse_json

    return json.dumps(_json_clean(parse_json(b[0], b[1:])), ensure_ascii=False)


def _json_clean(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, dict):
        return {_json_clean(k): _json_clean(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_json_clean(x) for x in v]
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, dt.datetime | dt.date | dt.time | dt.timedelta):
        return str(v)
    return v


def _enum_value(members: list[str]) -> Callable[[int], Any]:
    table = ["", *members]
    n = len(table)
    return lambda i: table[i] if i < n else i


def _set_value(members: list[str]) -> Callable[[int], Any]:
    known = (1 << len(members)) - 1

    def value(mask: int) -> Any:
        if mask & ~known:
            return mask  # a member the tracked structure doesn't know: the bit mask is exact
        return ",".join(m for i, m in enumerate(members) if mask >> i & 1)

    return value


# -- code generation -------------------------------------------------------------------------------
class _Column:
    """How one column is read: filled in by :meth:`Decoder._plan_column`."""

    __slots__ = ("fixed", "fmt", "kind", "size", "text")

    def __init__(self, kind: str, *, fmt: str = "", size: int = 0, text: str = "", fixed: bool = False):
        self.kind = kind  # "struct" | "code"
        self.fmt = fmt  # struct format char (kind struct)
        self.size = size
        self.text = text  # the statement(s) reading v{i} (kind code), "{v}"/"{i}" filled in
        self.fixed = fixed


class Decoder:
    """Decodes the row images of one table map with one table structure."""

    __slots__ = ("_full", "_generic", "_mask", "info", "map", "names", "namespace")

    def __init__(self, tm: TableMap, info) -> None:
        self.map = tm
        self.info = info
        self.namespace: dict[str, Any] = {"_D": Decimal}
        cols = [self._plan_column(i) for i in range(tm.column_count)]
        if info is not None:
            self.names = [c.name for c in info.columns]
        elif tm.names is not None:
            self.names = list(tm.names)
        else:
            self.names = [f"@{i + 1}" for i in range(tm.column_count)]
        self._full = self._compile(cols, [True] * tm.column_count)
        self._mask = (1 << tm.column_count) - 1
        self._generic: dict[int, Callable] = {}

    # -- per column --------------------------------------------------------------------------
    def _column_charset(self, i: int) -> str:
        tm, info = self.map, self.info
        if tm.charsets is not None and tm.charsets[i] is not None:
            return tm.charsets[i] or "binary"
        if info is not None:
            return info.column_charset(info.columns[i])
        return "utf8mb4"

    def _unsigned(self, i: int) -> bool:
        if self.map.unsigned is not None:
            return self.map.unsigned[i]
        return bool(self.info is not None and self.info.columns[i].unsigned)

    def _members(self, i: int, enum: bool) -> list[str]:
        tm, info = self.map, self.info
        lists = tm.enum_values if enum else tm.set_values
        members = lists[i] if lists is not None else None
        if members is not None:
            return members
        if info is not None:
            return list(info.columns[i].elements)
        return []

    def _fn(self, name: str, value: Any) -> str:
        self.namespace[name] = value
        return name

    def _plan_column(self, i: int) -> _Column:
        t, meta = self.map.types[i], self.map.meta[i]
        if t in _INT_FORMATS:
            f = _INT_FORMATS[t]
            fmt = f.upper() if self._unsigned(i) else f
            return _Column("struct", fmt=fmt, size=struct.calcsize("<" + fmt))
        if t == FLOAT:
            return _Column("struct", fmt="f", size=4)
        if t == DOUBLE:
            return _Column("struct", fmt="d", size=8)
        if t == INT24:
            signed = not self._unsigned(i)
            return _Column(
                "code", text=f"{{v}} = int.from_bytes(b[p:p + 3], 'little', signed={signed}); p += 3"
            )
        if t == YEAR:
            return _Column("code", text="{v} = b[p]; {v} = {v} + 1900 if {v} else 0; p += 1")
        if t in (VARCHAR, VAR_STRING, STRING):
            max_length = meta[0]
            head = "n = b[p] | b[p + 1] << 8; p += 2" if max_length > 255 else "n = b[p]; p += 1"
            return _Column("code", text=head + "; " + self._string_tail(i))
        if t in (BLOB, TINY_BLOB, MEDIUM_BLOB, LONG_BLOB, GEOMETRY, JSON):
            width = meta[0]
            head = f"n = int.from_bytes(b[p:p + {width}], 'little'); p += {width}"
            if t == GEOMETRY:
                return _Column("code", text=head + "; {v} = b[p:p + n]; p += n")
            if t == JSON:
                fn = self._fn("_json", _json_text)
                return _Column("code", text=head + f"; {{v}} = {fn}(b[p:p + n]); p += n")
            return _Column("code", text=head + "; " + self._string_tail(i))
        if t == NEWDECIMAL:
            precision, scale = meta
            fn = self._fn("_decimal", _read_decimal)
            return _Column("code", text=f"{{v}}, p = {fn}(b, p, {precision}, {scale})")
        if t in (TIMESTAMP2, DATETIME2, TIME2):
            fn = self._fn(
                f"_t{t}", {TIMESTAMP2: _read_timestamp2, DATETIME2: _read_datetime2, TIME2: _read_time2}[t]
            )
            return _Column("code", text=f"{{v}}, p = {fn}(b, p, {meta[0]})")
        if t in (DATE, NEWDATE):
            return _Column("code", text=f"{{v}}, p = {self._fn('_date', _read_date)}(b, p)")
        if t == DATETIME:
            return _Column("code", text=f"{{v}}, p = {self._fn('_datetime', _read_datetime)}(b, p)")
        if t == TIMESTAMP:
            return _Column("code", text=f"{{v}}, p = {self._fn('_timestamp', _read_timestamp)}(b, p)")
        if t == TIME:
            return _Column("code", text=f"{{v}}, p = {self._fn('_time', _read_time)}(b, p)")
        if t == BIT:
            bits, nbytes = meta
            size = (nbytes * 8 + bits + 7) // 8
            return _Column("code", text=f"{{v}} = int.from_bytes(b[p:p + {size}], 'big'); p += {size}")
        if t in (ENUM, SET):
            size = meta[0]
            members = self._members(i, t == ENUM)
            fn = self._fn(f"_m{i}", _enum_value(members) if t == ENUM else _set_value(members))
            return _Column(
                "code", text=f"{{v}} = {fn}(int.from_bytes(b[p:p + {size}], 'little')); " f"p += {size}"
            )
        if t == NULL:
            return _Column("code", text="{v} = None")
        raise errors.ErrSyncerUnitPanic(
            f"binlog column type {t} of `{self.map.schema}`.`{self.map.table}` " "is not supported"
        )

    def _string_tail(self, i: int) -> str:
        cs = self._column_charset(i)
        if cs in _UTF8:
            return "{v} = b[p:p + n].decode(); p += n"
        return "{v} = b[p:p + n]; p += n"  # binary, or another charset: written back byte for byte

    # -- code generation -----------------------------------------------------------------------
    def _compile(self, cols: list[_Column], present: list[bool]) -> Callable:
        """``row(b, p) -> (values, p)`` for images with the ``present`` columns."""
        nullable = self.map.nullable
        shown = [i for i, pr in enumerate(present) if pr]
        nbytes = (len(shown) + 7) // 8
        lines = ["def row(b, p):"]
        if nbytes == 1:
            lines.append(" nulls = b[p]; p += 1")
        elif nbytes:
            lines.append(f" nulls = int.from_bytes(b[p:p + {nbytes}], 'little'); p += {nbytes}")
        bit = {i: j for j, i in enumerate(shown)}
        k = 0
        count = len(cols)
        while k < count:
            if not present[k]:
                lines.append(f" v{k} = None")
                k += 1
                continue
            c = cols[k]
            if c.kind == "struct" and not nullable[k]:
                run = [k]
                while (
                    k + len(run) < count
                    and present[k + len(run)]
                    and not nullable[k + len(run)]
                    and cols[k + len(run)].kind == "struct"
                ):
                    run.append(k + len(run))
                fmt = "<" + "".join(cols[j].fmt for j in run)
                fn = self._fn(f"_s{k}", struct.Struct(fmt).unpack_from)
                targets = ", ".join(f"v{j}" for j in run)
                comma = "," if len(run) == 1 else ""
                lines.append(f" {targets}{comma} = {fn}(b, p); p += {struct.calcsize(fmt)}")
                k += len(run)
                continue
            if c.kind == "struct":
                fn = self._fn(f"_s{k}", struct.Struct("<" + c.fmt).unpack_from)
                body = f"v{k}, = {fn}(b, p); p += {c.size}"
            else:
                body = c.text.format(v=f"v{k}")
            if nullable[k]:
                lines.append(f" if nulls >> {bit[k]} & 1: v{k} = None")
                lines.append(" else:")
                lines.extend("  " + s.strip() for s in body.split("; "))
            else:
                lines.extend(" " + s.strip() for s in body.split("; "))
            k += 1
        lines.append(" return [" + ", ".join(f"v{i}" for i in range(count)) + "], p")
        code = "\n".join(lines)
        ns = dict(self.namespace)
        exec(compile(code, f"<rowdecode {self.map.schema}.{self.map.table}>", "exec"), ns)
        return ns["row"]

    def _row_fn(self, present: int) -> Callable:
        """The reader for images whose present-columns bitmap is ``present``."""
        fn = self._generic.get(present)
        if fn is None:
            flags = [bool(present >> i & 1) for i in range(self.map.column_count)]
            cols = [self._plan_column(i) for i in range(self.map.column_count)]
            fn = self._compile(cols, flags)
            self._generic[present] = fn
        return fn

    # -- public ----------------------------------------------------------------------------------
    def decode(self, b: bytes, p: int, end: int, present: int, present2: int | None = None) -> list[list]:
        """Every row image in ``b[p:end]``: for UPDATE (``present2`` given), before and after
        images alternate."""
        full = self._mask
        first = self._full if present == full else self._row_fn(present)
        out: list[list] = []
        append = out.append
        try:
            if present2 is None:
                while p < end:
                    values, p = first(b, p)
                    append(values)
            else:
                second = self._full if present2 == full else self._row_fn(present2)
                while p < end:
                    values, p = first(b, p)
                    append(values)
                    values, p = second(b, p)
                    append(values)
        except (IndexError, struct.error, UnicodeDecodeError, ValueError) as exc:
            raise errors.ErrSyncerUnitPanic(
                f"rows event of `{self.map.schema}`.`{self.map.table}` doesn't match its table "
                f"structure ({type(exc).__name__}: {exc})",
                cause=exc,
            ) from exc
        if p != end:
            raise errors.ErrSyncerUnitPanic(
                f"rows event of `{self.map.schema}`.`{self.map.table}` doesn't match its table structure "
                f"({end - p} bytes left over)"
            )
        return out
