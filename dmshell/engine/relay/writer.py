"""Writing the replication stream into relay files (one session = one replication connection).

Each event goes to its binlog file as received (header, body and checksum), so a relay file is the
upstream's file byte for byte and an event's ``log_pos`` is its end offset in the relay file too;
the writer checks that for every event. Writes are buffered; :meth:`RelayFileWriter.flush` (when
the network has nothing more, every 64 KB, at a rotation) hands them to the OS and *publishes* the
new end: readers in the process never read past it, so they never see half an event. Every second
at most, and at rotations and stops, :meth:`RelayFileWriter.sync` also fsyncs the file and records
the position in ``relay.meta`` — the point recovery starts checking from after a crash.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import BinaryIO

from dmshell.engine import errors
from dmshell.engine.binlog.gtid import GtidSet
from dmshell.engine.binlog.location import Location
from dmshell.engine.binlog.reader import (
    BinlogEvent,
    BinlogReader,
    GtidEvent,
    HeartbeatLogEvent,
    MariadbGtidEvent,
    RotateEvent,
)
from dmshell.engine.relay.layout import BINLOG_MAGIC, RelayDir, SubDir

log = logging.getLogger(__name__)

FLUSH_BYTES = 64 * 1024
BINLOG_SEND_ANNOTATE_ROWS_EVENT = 0x02
SYNC_INTERVAL = 1.0


class RawBinlogReader(BinlogReader):
    """The replication stream with each event's bytes (``raw``: status byte + event of the last one)."""

    raw: bytes = b""
    # MariaDB leaves its annotate-rows events out of the stream unless asked: a relay file must
    # hold every event of the upstream's file, or the positions would not add up
    dump_flags = BINLOG_SEND_ANNOTATE_ROWS_EVENT

    def _event(self, data: bytes) -> BinlogEvent:
        ev = super()._event(data)
        self.raw = data
        return ev


class RelayFileWriter:
    """Appends the events of one sub-directory's stream; ``publish(file, end)`` tells the readers."""

    def __init__(
        self,
        relay_dir: RelayDir,
        sub: SubDir,
        start: Location,
        gtids: GtidSet,
        publish: Callable[[str, int], None],
    ) -> None:
        self.dir = relay_dir
        self.sub = sub
        self.gtids = gtids
        self._publish = publish
        self.file = start.file
        self.size = start.pos  # bytes in the file including buffered ones
        self._f: BinaryIO | None = None
        self._buffered = 0
        self._synced_at = 0.0
        self._meta = Location(start.file, start.pos, str(gtids))

    @property
    def location(self) -> Location:
        return Location(self.file, self.size, str(self.gtids))

    def write(self, ev: BinlogEvent, raw: bytes) -> None:
        kind = type(ev)
        if kind is HeartbeatLogEvent:
            return
        if ev.log_pos == 0:
            # artificial events: the rotation naming the file the stream continues in, and what a
            # reconnect re-sends (format description, MariaDB's GTID list) — none is in the file
            if kind is RotateEvent:
                assert isinstance(ev, RotateEvent)
                self._open(ev.next_binlog, ev.position)
            return
        f = self._f
        if f is None:
            raise errors.ErrRelayWriterFileOperate(
                f"event at {self.file}:{self.size} before its file was opened"
            )
        end = self.size + ev.event_size
        if ev.log_pos != end and end < 1 << 32:
            raise errors.ErrRelayWriterFileOperate(
                f"event of {ev.event_size} bytes at {self.file}:{self.size} says it ends at {ev.log_pos}"
            )
        f.write(memoryview(raw)[1:])
        self.size = end
        self._buffered += ev.event_size
        if kind is GtidEvent or kind is MariadbGtidEvent:
            self.gtids.add(ev.gtid)  # type: ignore[attr-defined]
        if kind is RotateEvent:
            self.sync()  # the file is complete: the next fake rotation opens the next one
            self._close()
        elif self._buffered >= FLUSH_BYTES:
            self.flush()

    def _open(self, name: str, pos: int) -> None:
        if self._f is not None and name == self.file:
            if pos != self.size:
                raise errors.ErrRelayWriterFileOperate(
                    f"stream continues at {name}:{pos}, relay file ends at {self.size}"
                )
            return
        self.sync()
        self._close()
        path = self.dir.dir_of(self.sub) / name
        try:
            size = path.stat().st_size if path.exists() else 0
            if size == 0:
                if pos != 4:
                    raise errors.ErrRelayWriterFileOperate(
                        f"new relay file {name} must start at 4, not {pos}"
                    )
                with open(path, "wb") as f:
                    f.write(BINLOG_MAGIC)
                size = 4
            if size != pos:
                raise errors.ErrRelayWriterFileOperate(
                    f"stream continues at {name}:{pos}, relay file has {size} bytes"
                )
            self._f = open(path, "ab", buffering=1 << 20)  # noqa: SIM115 - open until the file ends
        except OSError as exc:
            raise errors.ErrRelayWriterFileOperate(f"open {path}", cause=exc) from exc
        self.file, self.size = name, pos
        self._publish(name, pos)

    def flush(self) -> None:
        """Hand buffered events to the OS and let readers see them; sync at most once a second."""
        if self._f is not None and self._buffered:
            self._f.flush()
            self._buffered = 0
            self._publish(self.file, self.size)
        if time.monotonic() - self._synced_at >= SYNC_INTERVAL:
            self.sync()

    def sync(self) -> None:
        """Flush, fsync and record the position in ``relay.meta``."""
        f = self._f
        if f is not None:
            f.flush()
            os.fsync(f.fileno())
            self._buffered = 0
            self._publish(self.file, self.size)
        self._synced_at = time.monotonic()
        loc = self.location
        if loc != self._meta:
            self.dir.write_meta(self.sub, loc)
            self._meta = loc

    def _close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None

    def close(self) -> None:
        try:
            self.sync()
        finally:
            self._close()
