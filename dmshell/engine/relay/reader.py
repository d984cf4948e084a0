"""Reading the relay files as if they were the replication stream (``binlogType: local``).

:class:`RelayBinlogReader` is a :class:`~dmshell.engine.binlog.reader.BinlogReader` whose events
come from the relay files instead of a socket: the same parsers, the same event objects, the same
upstream file names and positions, and the same artificial events the server sends — a rotation
naming the start file, a rotation when it moves on to the next file (or the next sub-directory
after an upstream switch), heartbeats when there is nothing new. A caught-up reader waits on the
relay's condition, which the writer notifies at every publish; it never reads past the published
end of the file being written.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from dmshell.engine import errors
from dmshell.engine.binlog.location import Location, file_index
from dmshell.engine.binlog.reader import (
    BinlogEvent,
    BinlogReader,
    FormatDescriptionEvent,
    HeartbeatLogEvent,
    RotateEvent,
)
from dmshell.engine.relay.layout import SubDir
from dmshell.engine.relay.recovery import HEADER_SIZE
from dmshell.engine.relay.relay import Relay

READ_SIZE = 1 << 20
ANNOTATE_ROWS = 160


class RelayBinlogReader(BinlogReader):
    """The relay of ``relay`` from ``start`` on; ``name`` holds the files its ``checkpoint`` needs."""

    def __init__(
        self,
        relay: Relay,
        start: Location,
        *,
        name: str = "",
        checkpoint: Callable[[], Location | None] | None = None,
        heartbeat: float = 1.0,
        on_idle: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(relay.source.from_db, 0, start, heartbeat=heartbeat, on_idle=on_idle)
        self._relay = relay
        self._name = name
        self._sub: SubDir | None = None
        self._file = start.file
        self._fd = -1
        self._read_off = 0  # file offset up to which self._buf holds the file
        self._queued: list[BinlogEvent] = []  # artificial events to hand out first
        if name:
            relay.holds.hold(name, checkpoint or (lambda: start))

    # -- opening files ------------------------------------------------------------------------
    def _open(self, sub: SubDir, file: str, pos: int) -> None:
        self._close_file()
        path = self._relay.dir.dir_of(sub) / file
        self._fd = os.open(path, os.O_RDONLY)
        self._sub, self._file = sub, file
        self._tables.clear()  # table ids are only valid within one binlog file
        self._buf, self._pos, self._read_off = b"", 0, 4
        self._queued = [self._fake_rotate(file, pos)]
        if pos > 4:
            # as the server does when a dump starts in the middle of a file: the file's format
            # description follows the rotation, as an artificial event (log_pos 0)
            while True:
                ev = self._next_in_file()
                if ev is None:
                    raise errors.ErrRelayWriterFileOperate(f"relay file {path} has no format description")
                if type(ev) is FormatDescriptionEvent:
                    ev.log_pos = 0
                    self._queued[0].event_size = 27 + len(file.encode()) + self._checksum
                    self._queued.append(ev)
                    break
            self._buf, self._pos, self._read_off = b"", 0, pos

    def _fake_rotate(self, file: str, pos: int) -> RotateEvent:
        ev = RotateEvent((0, 4, 0, 27 + len(file.encode()) + self._checksum, 0, 0x20))
        ev.next_binlog, ev.position = file, pos
        return ev

    def _make_heartbeat(self) -> HeartbeatLogEvent:
        ev = HeartbeatLogEvent((int(time.time()), 27, 0, 0, 0, 0))
        ev.ident = self._file
        return ev

    def _start_file(self) -> bool:
        """Open the start file once the relay has it; False while it doesn't yet."""
        start = self._start
        sub = self._relay.dir.locate(start.file)
        if sub is None:
            return False
        self._open(sub, start.file, start.pos)
        return True

    def _next_file(self) -> tuple[SubDir, str] | None:
        """The file after the current one: in the same sub-directory, else the first of the next."""
        rd, sub = self._relay.dir, self._sub
        assert sub is not None
        later = [f for f in rd.files(sub) if file_index(f)[1] > file_index(self._file)[1]]
        if later:
            return sub, later[0]
        nxt = rd.next_subdir(sub)
        while nxt is not None:
            files = rd.files(nxt)
            if files:
                return nxt, files[0]
            nxt = rd.next_subdir(nxt)
        return None

    # -- events -------------------------------------------------------------------------------
    def _next_in_file(self) -> BinlogEvent | None:
        """The next whole event readable now in the current file, else None."""
        while True:
            buf, p = self._buf, self._pos
            if len(buf) - p >= HEADER_SIZE:
                size = buf[p + 9] | buf[p + 10] << 8 | buf[p + 11] << 16 | buf[p + 12] << 24
                if len(buf) - p >= size:
                    self._pos = p + size
                    if buf[p + 4] == ANNOTATE_ROWS:
                        continue  # not in the stream unless asked for (see RawBinlogReader)
                    return self._event(b"\0" + buf[p : p + size])
            assert self._sub is not None
            limit = self._relay.readable_end(self._sub, self._file)
            if limit is None:
                limit = os.fstat(self._fd).st_size
            if limit <= self._read_off:
                return None
            chunk = os.pread(self._fd, min(READ_SIZE, limit - self._read_off), self._read_off)
            if not chunk:
                return None
            self._read_off += len(chunk)
            self._buf, self._pos = buf[p:] + chunk, 0

    def _next(self) -> BinlogEvent:
        relay = self._relay
        deadline = time.monotonic() + self._heartbeat_period
        while True:
            if self._interrupted:
                raise _Stop()
            if self._queued:
                return self._queued.pop(0)
            seen = relay.version
            if relay.closed:
                # (not a DMError: the subtask pauses with a resumable error and restarts remote)
                raise RuntimeError("the relay log of this source was stopped")
            if self._fd < 0:
                if self._start_file():
                    continue
            else:
                ev = self._next_in_file()
                if ev is not None:
                    return ev
                assert self._sub is not None
                if relay.active is not None and relay.active != (self._sub, self._file):
                    if len(self._buf) > self._pos:
                        raise errors.ErrRelayWriterFileOperate(
                            f"relay file {self._sub.name}/{self._file} ends inside an event"
                        )
                    nxt = self._next_file()
                    if nxt is not None:
                        self._open(nxt[0], nxt[1], 4)
                        continue
            # nothing new: wait for the writer (or send a heartbeat, as the server does)
            if self.on_idle is not None:
                self.on_idle()
            with relay.cond:
                while relay.version == seen and not self._interrupted:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    relay.cond.wait(left)
            if relay.version == seen and not self._interrupted:
                return self._make_heartbeat()

    def _format_description(self, header: tuple, data: bytes) -> FormatDescriptionEvent:
        # the file's checksum setting: the algorithm is the byte before the event's 4 checksum bytes
        self._checksum = 4 if data[-5] == 1 else 0
        return super()._format_description(header, data)

    # -- control ------------------------------------------------------------------------------
    def fetch(self) -> BinlogEvent | None:
        """The next event; None once :meth:`interrupt` was called."""
        try:
            return self._next()
        except _Stop:
            return None

    def interrupt(self) -> None:
        self._interrupted = True
        with self._relay.cond:
            self._relay.cond.notify_all()

    def _close_file(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def close(self) -> None:
        self._close_file()
        if self._name:
            self._relay.holds.unhold(self._name)
            self._name = ""


class _Stop(Exception):
    pass
