"""Reading the upstream binlog over the replication protocol (``COM_BINLOG_DUMP``): the one way
dmshell reads a binlog — the sync unit's stream (:class:`BinlogReader`) and the one-off reads that
find a start point (:func:`read_events`: the GTID state at a position, the location of a GTID set
or of a time).

PyMySQL does the handshake (authentication, TLS); after the dump request this module reads the
event packets straight from the connection's buffered socket and parses only what the syncer uses:
event headers, rotations, GTIDs, XIDs, query text, table maps (shared between identical table
maps, see :class:`dmshell.engine.binlog.rowdecode.TableMap`) and rows events, whose row images are decoded
lazily by the table map's bound decoder (:meth:`TableMapEvent.bind`, :meth:`RowsEvent.decode`).
mysql-replication parses every event and every column in Python objects; this reader is several
times cheaper per event, which is what the sync unit's throughput is made of.

The stream always starts at a binlog file/position, also for MariaDB (GTID-only start points are
turned into file/positions beforehand, :func:`dmshell.engine.binlog.gtid.resolve_gtid_start`);
``@mariadb_slave_capability=4`` makes MariaDB send its GTID events, and annotate-rows events are
not requested. The master sends a heartbeat every ``heartbeat`` seconds when it has nothing to
send, so an idle reader still wakes up. :meth:`BinlogReader.interrupt` (from another thread) shuts
the socket down, which makes a blocked :meth:`BinlogReader.fetch` return None promptly. A reader
made ``to_end`` asks for a non-blocking dump instead: the server ends the stream at the end of its
binlog as it is then.

Event classes keep mysql-replication's names and the attributes the syncer reads (``timestamp``,
``event_size``, ``log_pos``, ``next_binlog``/``position``, ``gtid``, ``query``/``schema``,
``table_id``/``schema``/``table``).
"""

from __future__ import annotations

import logging
import select
import socket
import struct
from collections.abc import Callable, Iterator

from pymysql import err as pymysql_err

from dmshell.engine import db, errors
from dmshell.engine.binlog.location import Location
from dmshell.engine.binlog.rowdecode import Decoder, TableMap
from dmshell.engine.config.database import DBConfig

log = logging.getLogger(__name__)

COM_BINLOG_DUMP = 0x12
BINLOG_DUMP_NON_BLOCK = 0x01
_HEADER = struct.Struct("<IBIIIH").unpack_from  # timestamp, type, server id, size, log pos, flags
_U64 = struct.Struct("<Q").unpack_from
_MARIADB_GTID = struct.Struct("<QIB").unpack_from  # sequence number, domain, flags
_TABLE_ID = struct.Struct("<IH").unpack_from  # 6 bytes: low 32 bits, high 16 bits
_MAX_PACKET = 0xFFFFFF
_RECV_SIZE = 256 * 1024
#: table map bodies remembered (identical table maps share one parsed TableMap and its decoders)
MAX_TABLE_MAPS = 4096


class BinlogEvent:
    """Any event: the common header."""

    __slots__ = ("event_size", "flags", "log_pos", "server_id", "timestamp", "type_code")
    timestamp: int
    type_code: int
    server_id: int
    event_size: int
    log_pos: int  # where the next event starts (0: an event the server made up, not in the file)
    flags: int

    def __init__(self, header: tuple[int, int, int, int, int, int]) -> None:
        self.timestamp, self.type_code, self.server_id, self.event_size, self.log_pos, self.flags = header


class RotateEvent(BinlogEvent):
    __slots__ = ("next_binlog", "position")
    next_binlog: str
    position: int


class FormatDescriptionEvent(BinlogEvent):
    __slots__ = ("server_version",)
    server_version: str


class HeartbeatLogEvent(BinlogEvent):
    __slots__ = ("ident",)
    ident: str


class XidEvent(BinlogEvent):
    __slots__ = ("xid",)
    xid: int


class GtidEvent(BinlogEvent):
    """MySQL ``uuid:gno``."""

    __slots__ = ("gtid",)
    gtid: str


class MariadbGtidEvent(BinlogEvent):
    """MariaDB ``domain-server-seq``; ``standalone``: no BEGIN/XID around it (DDL)."""

    __slots__ = ("gtid", "standalone")
    gtid: str
    standalone: bool


class MariadbGtidListEvent(BinlogEvent):
    """MariaDB's ``Gtid_list`` at the start of each binlog file: the GTID position before the file."""

    __slots__ = ("gtids",)
    gtids: str


class PreviousGtidsEvent(BinlogEvent):
    """MySQL's ``Previous_gtids`` at the start of each binlog file: the GTID set before the file."""

    __slots__ = ("gtids",)
    gtids: str


class QueryEvent(BinlogEvent):
    __slots__ = ("query", "schema")
    query: str
    schema: str


class TableMapEvent(BinlogEvent):
    __slots__ = ("map", "table_id")
    map: TableMap
    table_id: int

    @property
    def schema(self) -> str:
        return self.map.schema

    @property
    def table(self) -> str:
        return self.map.table

    @property
    def column_count(self) -> int:
        return self.map.column_count

    def bind(self, info) -> Decoder:
        """Decode this table's rows with the tracked structure ``info`` (see ``TableMap.bind``)."""
        return self.map.bind(info)


class RowsEvent(BinlogEvent):
    """WRITE/UPDATE/DELETE rows; :meth:`decode` gives the row images."""

    __slots__ = ("_data", "_end", "_present", "_present2", "_start", "map", "table_id")
    _data: bytes
    _start: int
    _end: int
    _present: int  # bitmap of the columns in each (before) image
    _present2: int | None  # UPDATE: bitmap of the columns in each after image
    map: TableMap | None  # None: no table map for its table id (an error when decoded)
    table_id: int

    def decode(self) -> list[list]:
        """The row images (UPDATE: before and after images alternate), as values by column
        position, decoded with the structure bound to the table map (``TableMapEvent.bind``)."""
        tm = self.map
        if tm is None:
            raise errors.ErrSyncerUnitPanic(f"rows event for table id {self.table_id} without its table map")
        decoder = tm.bound or tm.bind(None)
        return decoder.decode(self._data, self._start, self._end, self._present, self._present2)

    @property
    def rows(self) -> list[dict]:
        """mysql-replication's shape: ``[{"values": {name: value}}]`` (UPDATE:
        ``before_values``/``after_values``), names from the bound structure."""
        images = self.decode()
        tm = self.map
        assert tm is not None  # (decode() raised otherwise)
        names = (tm.bound or tm.bind(None)).names
        if self._present2 is None:
            return [{"values": dict(zip(names, v, strict=True))} for v in images]
        return [
            {
                "before_values": dict(zip(names, images[i], strict=True)),
                "after_values": dict(zip(names, images[i + 1], strict=True)),
            }
            for i in range(0, len(images), 2)
        ]


class WriteRowsEvent(RowsEvent):
    __slots__ = ()


class UpdateRowsEvent(RowsEvent):
    __slots__ = ()


class DeleteRowsEvent(RowsEvent):
    __slots__ = ()


class OtherEvent(BinlogEvent):
    """An event the syncer only counts (FORMAT_DESCRIPTION's siblings, GTID lists, ...)."""

    __slots__ = ()


_ROWS = {
    23: WriteRowsEvent,
    24: UpdateRowsEvent,
    25: DeleteRowsEvent,  # v1 (MariaDB)
    30: WriteRowsEvent,
    31: UpdateRowsEvent,
    32: DeleteRowsEvent,
}  # v2 (MySQL 5.6+)
_UNSUPPORTED = {
    39: "PARTIAL_UPDATE_ROWS_EVENT (binlog_row_value_options=PARTIAL_JSON)",
    40: "TRANSACTION_PAYLOAD_EVENT (binlog_transaction_compression=ON)",
    165: "QUERY_COMPRESSED_EVENT (log_bin_compress=ON)",
    166: "WRITE_ROWS_COMPRESSED_EVENT_V1 (log_bin_compress=ON)",
    167: "UPDATE_ROWS_COMPRESSED_EVENT_V1 (log_bin_compress=ON)",
    168: "DELETE_ROWS_COMPRESSED_EVENT_V1 (log_bin_compress=ON)",
    169: "WRITE_ROWS_COMPRESSED_EVENT (log_bin_compress=ON)",
    170: "UPDATE_ROWS_COMPRESSED_EVENT (log_bin_compress=ON)",
    171: "DELETE_ROWS_COMPRESSED_EVENT (log_bin_compress=ON)",
}


class _Interrupted(Exception):
    pass


class _EndOfBinlog(Exception):
    pass


def _lost(detail: str = "") -> pymysql_err.OperationalError:
    return pymysql_err.OperationalError(
        2013, "Lost connection to MySQL server during query" + (f" ({detail})" if detail else "")
    )


class BinlogReader:
    """One replication connection, from ``start`` on (connects at the first :meth:`fetch`).

    ``on_idle`` is called (from :meth:`fetch`) when everything received so far has been handed
    out and the reader is about to wait for the network: the caller's chance to flush buffers.
    """

    #: more ``COM_BINLOG_DUMP`` flags (the relay asks for MariaDB's annotate-rows events)
    dump_flags = 0

    def __init__(
        self,
        source: DBConfig,
        server_id: int,
        start: Location,
        *,
        heartbeat: float = 1.0,
        read_timeout: float = 60.0,
        on_idle: Callable[[], None] | None = None,
        to_end: bool = False,
    ) -> None:
        self._source = source
        self._server_id = server_id
        self._start = start
        self._heartbeat_period = heartbeat
        self._read_timeout = read_timeout
        self.on_idle = on_idle
        self._interrupted = False  # set (only ever to True) by interrupt(), from any thread
        self._to_end = to_end
        self._ended = False  # to_end: the server said the binlog ends here
        self._broken = False  # the connection failed after it was established
        self._conn: db.Connection | None = None
        self._sock: socket.socket | None = None
        self._buf = b""
        self._pos = 0
        self._checksum = 0  # bytes of checksum after each event
        self._mariadb = True
        self._rows_post_header: dict[int, int] = {}  # event type -> post-header length
        self._wide_map = True  # 6-byte table ids (every server since MySQL 5.1)
        self._tables: dict[int, TableMap] = {}  # table id -> its current table map
        self._maps: dict[bytes, TableMap] = {}  # table map body -> parsed (shared)
        parsers = {
            2: self._query,
            4: self._rotate,
            15: self._format_description,
            16: self._xid,
            19: self._table_map,
            27: self._heartbeat,
            33: self._mysql_gtid,
            35: self._previous_gtids,
            41: self._heartbeat,
            162: self._mariadb_gtid,
            163: self._mariadb_gtid_list,
        }
        parsers.update(dict.fromkeys(_ROWS, self._rows))
        parsers.update(dict.fromkeys(_UNSUPPORTED, self._unsupported))
        self._parsers = parsers

    # -- connection ------------------------------------------------------------------------------
    def _connect(self) -> None:
        if self._interrupted:
            raise _Interrupted()
        conn = db.connect(self._source, read_timeout=self._read_timeout)
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW GLOBAL VARIABLES LIKE 'BINLOG_CHECKSUM'")
                row = cur.fetchone()
                checksum = row is not None and str(row[1]).upper() != "NONE"
                if checksum:
                    cur.execute("SET @master_binlog_checksum = @@global.binlog_checksum")
                cur.execute(
                    "SET @master_heartbeat_period = %s",
                    (int(min(self._heartbeat_period, self._read_timeout / 2) * 1_000_000_000),),
                )
                cur.execute("SET @mariadb_slave_capability = 4")
                cur.execute("SELECT VERSION()")
                self._mariadb = "mariadb" in str((cur.fetchone() or ("",))[0]).lower()
            start = self._start
            flags = (BINLOG_DUMP_NON_BLOCK if self._to_end else 0) | self.dump_flags
            payload = struct.pack("<IHI", start.pos, flags, self._server_id) + start.file.encode()
            conn._execute_command(COM_BINLOG_DUMP, payload)
        except BaseException:
            conn.close()
            raise
        self._checksum = 4 if checksum else 0
        self._conn = conn
        sock = conn._sock  # the server sends nothing before the dump request: no buffered bytes
        assert sock is not None  # (connected)
        self._sock = sock
        self._poll = select.poll()
        self._poll.register(sock, select.POLLIN)
        self._buf, self._pos = b"", 0
        self._tables.clear()

    # -- packets -------------------------------------------------------------------------------
    def _fill(self, need: int) -> None:
        """Make at least ``need`` bytes available from ``self._pos`` (blocking)."""
        buf = self._buf[self._pos :]
        sock = self._sock
        assert sock is not None  # (connected)
        while len(buf) < need:
            if self.on_idle is not None and not self._poll.poll(0):
                self.on_idle()  # nothing received yet: the next recv waits for the network
            chunk = sock.recv(max(_RECV_SIZE, need - len(buf)))
            if not chunk:
                raise _lost()
            buf = buf + chunk if buf else chunk
        self._buf, self._pos = buf, 0

    def _payload(self) -> bytes:
        """One protocol packet's payload (packets of 16 MB - 1 are followed by their rest)."""
        if len(self._buf) - self._pos < 4:
            self._fill(4)
        buf, p = self._buf, self._pos
        n = buf[p] | buf[p + 1] << 8 | buf[p + 2] << 16
        if len(buf) - p < 4 + n:
            self._fill(4 + n)
            buf, p = self._buf, self._pos
        data = buf[p + 4 : p + 4 + n]
        self._pos = p + 4 + n
        if n == _MAX_PACKET:
            data = data + self._payload()
        return data

    def fetch(self) -> BinlogEvent | None:
        """The next event; None once :meth:`interrupt` was called (``to_end``: also at the end of
        the binlog). Raises on connection errors (and keeps raising: a reader doesn't resume by
        itself — its consumer restarts from its own checkpoint)."""
        if self._interrupted or self._ended:
            return None
        try:
            if self._conn is None:
                if self._broken:
                    raise _lost("the replication connection broke earlier")
                self._connect()
            return self._next()
        except _Interrupted:
            return None
        except _EndOfBinlog:
            self._ended = True
            self._drop()
            return None
        except errors.DMError:
            raise
        except Exception:
            if self._interrupted:
                return None
            self._drop()
            raise

    def _drop(self) -> None:
        self._broken = self._broken or self._conn is not None
        conn, self._conn, self._sock = self._conn, None, None
        self._buf, self._pos = b"", 0
        if conn is not None:
            try:
                conn.close()
            except Exception:  # already broken
                pass

    def _next(self) -> BinlogEvent:
        buf, p = self._buf, self._pos
        if (
            len(buf) - p >= 4
            and (n := buf[p] | buf[p + 1] << 8 | buf[p + 2] << 16) < _MAX_PACKET
            and len(buf) - p >= 4 + n
        ):
            data = buf[p + 4 : p + 4 + n]
            self._pos = p + 4 + n
        else:
            data = self._payload()
        return self._event(data)

    def _event(self, data: bytes) -> BinlogEvent:
        """One packet's payload (a status byte, then the event with its header) as an event."""
        if data[0]:
            if data[0] == 0xFF:
                pymysql_err.raise_mysql_exception(data)
            if self._to_end and data[0] == 0xFE:
                raise _EndOfBinlog()  # the non-blocking dump's EOF
            raise _lost()  # EOF without a non-blocking dump: the server is going away
        header = _HEADER(data, 1)
        kind = header[1]
        # the events of every transaction first, without a dispatch call
        if kind == 16:
            xid = XidEvent(header)
            xid.xid = _U64(data, 20)[0]
            return xid
        if kind == 162:
            gtid = MariadbGtidEvent(header)
            seq, domain, flags = _MARIADB_GTID(data, 20)
            gtid.gtid = f"{domain}-{header[2]}-{seq}"
            gtid.standalone = bool(flags & 1)
            return gtid
        if kind == 19:
            return self._table_map(header, data)
        parse = self._parsers.get(kind)
        return OtherEvent(header) if parse is None else parse(header, data)

    def _xid(self, header: tuple, data: bytes) -> XidEvent:
        ev = XidEvent(header)
        ev.xid = _U64(data, 20)[0]
        return ev

    def _mariadb_gtid(self, header: tuple, data: bytes) -> MariadbGtidEvent:
        ev = MariadbGtidEvent(header)
        seq, domain, flags = _MARIADB_GTID(data, 20)
        ev.gtid = f"{domain}-{header[2]}-{seq}"
        ev.standalone = bool(flags & 1)
        return ev

    def _rotate(self, header: tuple, data: bytes) -> RotateEvent:
        ev = RotateEvent(header)
        ev.position = int.from_bytes(data[20:28], "little")
        ev.next_binlog = data[28 : len(data) - self._checksum].decode("utf-8", "replace")
        self._tables.clear()  # table ids are only valid within one binlog file
        return ev

    def _heartbeat(self, header: tuple, data: bytes) -> HeartbeatLogEvent:
        ev = HeartbeatLogEvent(header)
        ev.ident = data[20 : len(data) - self._checksum].decode("utf-8", "replace") if header[1] == 27 else ""
        return ev

    def _mysql_gtid(self, header: tuple, data: bytes) -> GtidEvent:
        ev = GtidEvent(header)
        sid = data[21:37].hex()
        gno = int.from_bytes(data[37:45], "little")
        ev.gtid = f"{sid[:8]}-{sid[8:12]}-{sid[12:16]}-{sid[16:20]}-{sid[20:]}:{gno}"
        return ev

    def _mariadb_gtid_list(self, header: tuple, data: bytes) -> MariadbGtidListEvent:
        ev = MariadbGtidListEvent(header)
        ev.gtids = parse_mariadb_gtid_list(data[20 : len(data) - self._checksum])
        return ev

    def _previous_gtids(self, header: tuple, data: bytes) -> PreviousGtidsEvent:
        ev = PreviousGtidsEvent(header)
        ev.gtids = parse_previous_gtids(data[20 : len(data) - self._checksum])
        return ev

    def _unsupported(self, header: tuple, data: bytes) -> BinlogEvent:
        raise errors.ErrSyncerUnitPanic(
            f"binlog event {_UNSUPPORTED[header[1]]} is not supported; " "turn the option off on the upstream"
        )

    def _format_description(self, header: tuple, data: bytes) -> FormatDescriptionEvent:
        ev = FormatDescriptionEvent(header)
        ev.server_version = data[22:72].split(b"\0", 1)[0].decode("ascii", "replace")
        self._mariadb = "mariadb" in ev.server_version.lower()
        lengths = data[77:]  # post-header length per event type, from type 1
        for kind in (19, *_ROWS):
            if kind - 1 < len(lengths):
                self._rows_post_header[kind] = lengths[kind - 1]
        self._wide_map = self._rows_post_header.get(19, 8) != 6
        return ev

    def _query(self, header: tuple, data: bytes) -> QueryEvent:
        ev = QueryEvent(header)
        end = len(data) - self._checksum
        schema_len = data[28]
        status_len = data[31] | data[32] << 8
        p = 33 + status_len
        ev.schema = data[p : p + schema_len].decode("utf-8", "replace")
        ev.query = data[p + schema_len + 1 : end].decode("utf-8", "backslashreplace")
        return ev

    def _table_map(self, header: tuple, data: bytes) -> TableMapEvent:
        ev = TableMapEvent(header)
        if self._wide_map:
            low, high = _TABLE_ID(data, 20)
            ev.table_id = low | high << 32
            body = data[28 : len(data) - self._checksum]
        else:
            ev.table_id = int.from_bytes(data[20:24], "little")
            body = data[26 : len(data) - self._checksum]
        tm = self._maps.get(body)
        if tm is None:
            if len(self._maps) >= MAX_TABLE_MAPS:
                self._maps.clear()
            tm = TableMap(body, 0, len(body), mariadb=self._mariadb)
            self._maps[body] = tm
        ev.map = tm
        self._tables[ev.table_id] = tm
        return ev

    def _rows(self, header: tuple, data: bytes) -> RowsEvent:
        kind = header[1]
        cls = _ROWS[kind]
        ev = cls(header)
        post = self._rows_post_header.get(kind, 8 if kind < 30 else 10)
        if post != 6:
            low, high = _TABLE_ID(data, 20)
            ev.table_id = low | high << 32
        else:
            ev.table_id = int.from_bytes(data[20:24], "little")
        p = 20 + post
        if kind >= 30:  # v2: variable-size extra data, its length included
            extra = data[p - 2] | data[p - 1] << 8
            p += extra - 2
        c = data[p]
        if c < 251:
            count, p = c, p + 1
        elif c == 252:
            count, p = data[p + 1] | data[p + 2] << 8, p + 3
        else:
            count, p = int.from_bytes(data[p + 1 : p + 4], "little"), p + 4
        if count <= 8:
            ev._present = data[p]
            p += 1
            if cls is UpdateRowsEvent:
                ev._present2 = data[p]
                p += 1
            else:
                ev._present2 = None
        else:
            nbytes = (count + 7) // 8
            ev._present = int.from_bytes(data[p : p + nbytes], "little")
            p += nbytes
            if cls is UpdateRowsEvent:
                ev._present2 = int.from_bytes(data[p : p + nbytes], "little")
                p += nbytes
            else:
                ev._present2 = None
        ev._data, ev._start, ev._end = data, p, len(data) - self._checksum
        ev.map = self._tables.get(ev.table_id)
        return ev

    # -- control -------------------------------------------------------------------------------
    def interrupt(self) -> None:
        """Make a blocked :meth:`fetch` return None (thread-safe)."""
        self._interrupted = True
        conn = self._conn
        sock = getattr(conn, "_sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        self._drop()


def read_events(
    source: DBConfig, start: Location, *, server_id: int = 0, one_file: bool = False
) -> Iterator[tuple[str, BinlogEvent]]:
    """The events from ``start`` to the end of the binlog as it is now (``one_file``: to the end of
    ``start.file``), each with the name of its file; rotations and heartbeats are not yielded.

    A one-off read, as ``mysqlbinlog --read-from-remote-server`` does it: with server id 0 (its
    default) the server stops no other replication connection, whatever id that one uses.
    Stopping the iteration early closes the connection.
    """
    reader = BinlogReader(source, server_id, start, to_end=True)
    file = start.file
    try:
        while (ev := reader.fetch()) is not None:
            if isinstance(ev, RotateEvent):
                if ev.next_binlog != file:
                    if one_file:
                        return
                    file = ev.next_binlog
                continue  # (the first one only names the file being read)
            if not isinstance(ev, HeartbeatLogEvent):
                yield file, ev
    finally:
        reader.close()


def parse_mariadb_gtid_list(body: bytes) -> str:
    """A ``Gtid_list`` event's body as a GTID position text (``domain-server-seq,...``)."""
    count = int.from_bytes(body[0:4], "little") & 0x0FFFFFFF  # (the top 4 bits are flags)
    gtids = []
    for i in range(count):
        domain, server, seq = struct.unpack_from("<IIQ", body, 4 + 16 * i)
        gtids.append(f"{domain}-{server}-{seq}")
    return ",".join(gtids)


def parse_previous_gtids(body: bytes) -> str:
    """A ``Previous_gtids`` event's body as a MySQL GTID set text (``uuid:1-5:7,uuid2:1-3``)."""
    head = int.from_bytes(body[0:8], "little")
    if head >> 56:
        raise errors.ErrSyncerUnitPanic("tagged GTIDs (MySQL 8.3+ gtid format 1) are not supported")
    parts = []
    p = 8
    for _ in range(head):
        sid = body[p : p + 16].hex()
        count = int.from_bytes(body[p + 16 : p + 24], "little")
        p += 24
        ranges = []
        for _ in range(count):
            lo, end = struct.unpack_from("<QQ", body, p)  # [lo, end): the end is exclusive
            p += 16
            ranges.append(f"{lo}" if end == lo + 1 else f"{lo}-{end - 1}")
        uuid = f"{sid[:8]}-{sid[8:12]}-{sid[12:16]}-{sid[16:20]}-{sid[20:]}"
        parts.append(":".join([uuid, *ranges]))
    return ",".join(parts)
