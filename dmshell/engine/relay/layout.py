"""The relay directory as DM lays it out.

::

    <relay-dir>/server-uuid.index          one sub-directory name a line, oldest first
    <relay-dir>/<server-uuid>.000001/      one sub-directory per upstream server (a switch adds one)
        mysql-bin.000001 ...               the upstream's binlog files, byte for byte
        relay.meta                         where the relay stopped writing (TOML, written atomically)

A binlog file in a sub-directory is the upstream's file from its 4-byte magic on, event by event,
checksums included; the artificial events of the replication stream (rotations to the next file,
heartbeats, format descriptions re-sent at a reconnect) are not written.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from dmshell.engine import errors
from dmshell.engine.binlog.location import Location, file_index

INDEX_FILE = "server-uuid.index"
META_FILE = "relay.meta"
BINLOG_MAGIC = b"\xfebin"


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a synced temporary file and a rename (never half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


@dataclass(frozen=True, slots=True)
class SubDir:
    """``<uuid>.<suffix>``: one upstream server's part of the relay."""

    uuid: str
    suffix: int

    @property
    def name(self) -> str:
        return f"{self.uuid}.{self.suffix:06d}"

    @staticmethod
    def parse(name: str) -> SubDir:
        uuid, _, suffix = name.rpartition(".")
        if not uuid or not suffix.isdigit():
            raise errors.ErrRelayParseUUIDSuffix(name)
        return SubDir(uuid, int(suffix))


class RelayDir:
    """Reads and changes the files of one relay directory (one writer; readers in the same process)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    # -- index -------------------------------------------------------------------------------
    def subdirs(self) -> list[SubDir]:
        index = self.path / INDEX_FILE
        if not index.exists():
            return []
        try:
            return [SubDir.parse(line.strip()) for line in index.read_text().splitlines() if line.strip()]
        except errors.DMError as exc:
            raise errors.ErrRelayParseUUIDIndex(cause=exc) from exc

    def add_subdir(self, uuid: str) -> SubDir:
        """A new sub-directory for server ``uuid`` (suffix one above the last), recorded in the index."""
        subs = self.subdirs()
        sub = SubDir(uuid, (subs[-1].suffix if subs else 0) + 1)
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / sub.name).mkdir(exist_ok=True)
        write_atomically(self.path / INDEX_FILE, "".join(f"{s.name}\n" for s in [*subs, sub]))
        return sub

    def dir_of(self, sub: SubDir) -> Path:
        return self.path / sub.name

    # -- files -------------------------------------------------------------------------------
    def files(self, sub: SubDir) -> list[str]:
        """The binlog files of ``sub``, oldest first."""
        d = self.dir_of(sub)
        if not d.is_dir():
            return []
        names = [
            p.name
            for p in d.iterdir()
            if p.is_file()
            and p.name != META_FILE
            and not p.name.endswith(".tmp")
            and file_index(p.name)[1] >= 0
        ]
        return sorted(names, key=lambda n: file_index(n)[::-1])

    def locate(self, file: str) -> SubDir | None:
        """The newest sub-directory holding binlog file ``file``."""
        for sub in reversed(self.subdirs()):
            if (self.dir_of(sub) / file).is_file():
                return sub
        return None

    def next_subdir(self, sub: SubDir) -> SubDir | None:
        subs = self.subdirs()
        later = [s for s in subs if s.suffix > sub.suffix]
        return later[0] if later else None

    # -- meta --------------------------------------------------------------------------------
    def read_meta(self, sub: SubDir) -> Location | None:
        path = self.dir_of(sub) / META_FILE
        if not path.exists():
            return None
        try:
            doc = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise errors.ErrRelayLoadMetaData(cause=exc) from exc
        name = str(doc.get("binlog-name", ""))
        if not name:
            return None
        return Location(name, int(doc.get("binlog-pos", 4)), str(doc.get("binlog-gtid", "")))

    def write_meta(self, sub: SubDir, loc: Location) -> None:
        # TOML basic strings take JSON's escapes
        text = (
            f"binlog-name = {json.dumps(loc.file)}\n"
            f"binlog-pos = {loc.pos}\n"
            f"binlog-gtid = {json.dumps(loc.gtid)}\n"
        )
        try:
            write_atomically(self.dir_of(sub) / META_FILE, text)
        except OSError as exc:
            raise errors.ErrRelayFlushLocalMeta(cause=exc) from exc
