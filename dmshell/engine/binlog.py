"""Binlog locations (file/pos + GTID set) and upstream position queries."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Location:
    """A point in the upstream binlog: file name, position, and the GTID set executed up to it."""

    file: str
    pos: int
    gtid: str = ""

    def position_str(self) -> str:
        """DM's (go-mysql) rendering of a position: ``(mysql-bin.000003, 4)``."""
        return f"({self.file}, {self.pos})"

    def __str__(self) -> str:
        return f"position: {self.position_str()}, gtid-set: {self.gtid}"
