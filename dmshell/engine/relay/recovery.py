"""Finding where a relay file's good events end, and cutting off what follows (a torn write).

The writer appends whole events, but a kill -9 can land in the middle of a buffered write: the file
then ends with part of an event. :func:`valid_end` walks the event headers from a known-good
offset: an event is good when it fits in the file, its ``log_pos`` is where it ends and (when the
file has checksums) its CRC32 matches. :func:`recover_files` truncates the last file at the end of
its good events, and drops files that follow a damaged one, before the relay reconnects from there.
"""

from __future__ import annotations

import logging
import mmap
import os
import struct
import zlib
from pathlib import Path

from dmshell.engine.binlog.gtid import GtidSet
from dmshell.engine.relay.layout import BINLOG_MAGIC

log = logging.getLogger(__name__)

_HEADER = struct.Struct("<IBIIIH").unpack_from  # timestamp, type, server id, size, log pos, flags
HEADER_SIZE = 19
_FDE = 15
_MYSQL_GTID = 33
_MARIADB_GTID = 162


def file_checksum(data: bytes | mmap.mmap) -> int:
    """Bytes of checksum after each event of a binlog file, from its format description (at 4)."""
    if len(data) < 4 + HEADER_SIZE or data[:4] != BINLOG_MAGIC:
        return 0
    _ts, kind, _sid, size, _pos, _flags = _HEADER(data, 4)
    if kind != _FDE or len(data) < 4 + size:
        return 0
    # since MySQL 5.6.1 / MariaDB 5.3 the format description ends with the algorithm and 4 bytes
    return 4 if data[4 + size - 5] == 1 else 0


def event_gtid(data: bytes | mmap.mmap, off: int, kind: int, server_id: int) -> str:
    """The GTID of a GTID event starting at ``off`` (MySQL ``uuid:gno``, MariaDB ``d-s-n``)."""
    body = off + HEADER_SIZE
    if kind == _MARIADB_GTID:
        seq, domain = struct.unpack_from("<QI", data, body)
        return f"{domain}-{server_id}-{seq}"
    sid = data[body + 1 : body + 17].hex()
    gno = int.from_bytes(data[body + 17 : body + 25], "little")
    return f"{sid[:8]}-{sid[8:12]}-{sid[12:16]}-{sid[16:20]}-{sid[20:]}:{gno}"


def valid_end(data: bytes | mmap.mmap, start: int, checksum: int, gtids: GtidSet | None = None) -> int:
    """The offset after the last good event from ``start`` on (GTIDs of the good events go to ``gtids``)."""
    off, end = start, len(data)
    while off + HEADER_SIZE <= end:
        _ts, kind, server_id, size, log_pos, _flags = _HEADER(data, off)
        if size < HEADER_SIZE or off + size > end or (log_pos != off + size and off + size < 1 << 32):
            break
        if checksum and zlib.crc32(data[off : off + size - 4]) != int.from_bytes(
            data[off + size - 4 : off + size], "little"
        ):
            break
        if gtids is not None and kind in (_MYSQL_GTID, _MARIADB_GTID):
            gtids.add(event_gtid(data, off, kind, server_id))
        off += size
    return off


def _check(path: Path, start: int, gtids: GtidSet) -> tuple[int, int]:
    """(file size, end of its good data); mapped, not read: a binlog file can be a gigabyte."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size < 4:
            return size, 0
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            if data[:4] != BINLOG_MAGIC:
                return size, 0
            return size, valid_end(data, max(start, 4), file_checksum(data), gtids)


def recover_files(
    directory: Path, files: list[str], first: str, first_pos: int, gtids: GtidSet
) -> tuple[str, int]:
    """Check ``files`` (oldest first) from ``first:first_pos`` on; return where the good data ends.

    The file holding a torn or corrupt event is truncated after its last good event; the files after
    it are removed (they were written after data that is now gone, which a sequential writer cannot
    have done unless the disk lied).
    """
    todo = files[files.index(first) :] if first in files else files
    last, last_end = first, first_pos
    for i, name in enumerate(todo):
        path = directory / name
        size, good = _check(path, first_pos if name == first else 4, gtids)
        if good < size:
            log.warning(
                "relay file %s: cutting %d bytes of torn data after offset %d", path, size - good, good
            )
            with open(path, "r+b") as f:
                f.truncate(good)
                if good < 4:
                    f.seek(0)
                    f.write(BINLOG_MAGIC)
                    f.truncate(4)
                    good = 4
                f.flush()
                os.fsync(f.fileno())
            for later in todo[i + 1 :]:
                log.warning("relay file %s follows a damaged file: removed", directory / later)
                (directory / later).unlink()
            return name, good
        last, last_end = name, good
    return last, last_end
