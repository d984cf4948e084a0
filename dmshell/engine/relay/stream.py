"""Where a subtask's binlog events come from: the relay (``local``) or the upstream (``remote``)."""

from __future__ import annotations

from collections.abc import Callable

from dmshell.engine.binlog.location import Location, file_index
from dmshell.engine.binlog.reader import BinlogReader
from dmshell.engine.config.database import DBConfig
from dmshell.engine.relay.reader import RelayBinlogReader
from dmshell.engine.relay.relay import Relay


def relay_covers(relay: Relay, start: Location) -> bool:
    """Whether the relay has ``start`` or will have it (a file at or after the one it writes)."""
    if relay.closed:
        return False
    if relay.dir.locate(start.file) is not None:
        return True
    active = relay.active
    if active is None:
        return False
    base, index = file_index(start.file)
    active_base, active_index = file_index(active[1])
    return base == active_base and index > active_index


def open_binlog_stream(
    relay: Relay | None,
    source: DBConfig,
    server_id: int,
    start: Location,
    *,
    heartbeat: float,
    on_idle: Callable[[], None] | None,
    name: str = "",
    checkpoint: Callable[[], Location | None] | None = None,
) -> tuple[BinlogReader, str]:
    """(the event source, ``"local"`` or ``"remote"``): the relay when the source has one that
    holds ``start`` — a start before the relay's first file reads the upstream for this run."""
    if relay is not None and relay_covers(relay, start):
        reader: BinlogReader = RelayBinlogReader(
            relay, start, name=name, checkpoint=checkpoint, heartbeat=heartbeat, on_idle=on_idle
        )
        return reader, "local"
    return BinlogReader(source, server_id, start, heartbeat=heartbeat, on_idle=on_idle), "remote"
