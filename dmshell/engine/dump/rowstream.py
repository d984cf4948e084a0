"""Fast streaming of a one-column result set, straight from the MySQL protocol.

The dump asks the source server to render each row as one record of the dump format
(:func:`dmshell.engine.dump.files.row_expression`), so the client only has to cut the values out
of the row packets and end each with the row terminator. PyMySQL's row decoding (a Python object per field)
would cost several times more than the server's own work; this reader touches each row once, reads
through PyMySQL's buffered socket file and leaves the connection usable afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

from pymysql import err
from pymysql.constants import CR

from dmshell.engine import db

_MAX_PACKET = 0xFFFFFF


class NullValue(Exception):
    """A row value was NULL (the server could not render the row, e.g. it exceeded max_allowed_packet)."""

    def __init__(self, row_number: int) -> None:
        super().__init__(f"row {row_number} rendered as NULL")
        self.row_number = row_number


def _lost() -> err.OperationalError:
    return err.OperationalError(CR.CR_SERVER_LOST, "Lost connection to MySQL server during query")


def stream_rows(
    conn: db.Connection, sql: str, block_bytes: int = 1 << 20, end: bytes = b"\0"
) -> Iterator[tuple[bytes, int]]:
    """Run ``sql`` (one column, never NULL) and yield ``(block, rows)``: ``block`` is about
    ``block_bytes`` of values, each followed by ``end``.

    If the caller stops iterating before the end, or anything fails, the connection is closed (it
    is left in the middle of a result). Raises PyMySQL errors (server errors, lost connection) and
    :class:`NullValue`.
    """
    conn.query(sql, unbuffered=True)
    result = conn._result
    if result is None or not result.unbuffered_active:
        return
    if result.field_count != 1:
        raise err.ProgrammingError(f"expected one column, got {result.field_count}")
    try:
        yield from _rows(conn, result, block_bytes, end)
    except BaseException:
        result.unbuffered_active = False
        conn.close()
        raise


def _rows(conn: db.Connection, result, block_bytes: int, end: bytes) -> Iterator[tuple[bytes, int]]:
    read = conn._rfile.read
    seq = conn._next_seq_id
    parts: list[bytes] = []
    size = count = total = 0
    while True:
        header = read(4)
        if len(header) < 4:
            raise _lost()
        length = header[0] | (header[1] << 8) | (header[2] << 16)
        if header[3] != seq:
            raise err.InternalError(f"Packet sequence number wrong - got {header[3]} expected {seq}")
        seq = (seq + 1) & 0xFF
        data = read(length)
        if len(data) < length:
            raise _lost()
        if length == _MAX_PACKET:  # a row of 16 MiB or more spans several packets
            pieces = [data]
            while length == _MAX_PACKET:
                header = read(4)
                if len(header) < 4:
                    raise _lost()
                length = header[0] | (header[1] << 8) | (header[2] << 16)
                seq = (seq + 1) & 0xFF
                data = read(length)
                if len(data) < length:
                    raise _lost()
                pieces.append(data)
            data = b"".join(pieces)
        first = data[0]
        if first < 0xFB:
            value = data[1:]
        elif first == 0xFC:
            value = data[3:]
        elif first == 0xFD:
            value = data[4:]
        elif first == 0xFE and len(data) >= 9:
            value = data[9:]
        elif first == 0xFE:  # EOF: the end of the rows
            break
        elif first == 0xFF:
            conn._next_seq_id = seq
            result.unbuffered_active = False
            err.raise_mysql_exception(data)
        else:  # 0xFB: NULL
            raise NullValue(total + count + 1)
        parts.append(value)
        count += 1
        size += len(value) + 1
        if size >= block_bytes:
            parts.append(b"")
            yield end.join(parts), count
            total += count
            parts, size, count = [], 0, 0
    conn._next_seq_id = seq
    result.unbuffered_active = False
    result.connection = None
    if parts:
        parts.append(b"")
        yield end.join(parts), count
