"""Relay purge (DM's ``dm/relay/purger``) and the holds that protect files subtasks still need.

A *hold* is a subtask's claim on the relay: the file its checkpoint is in (while it reads, asked
from the subtask each time; once it stops reading — paused, failed, worker stopping — frozen at
the last answer and kept in ``holds.json`` until the subtask is removed by ``stop-task``). With
the file being written they make the *needed* files; nothing at or after the earliest needed
file is ever removed.

Strategies as DM: ``purge-relay --filename [--sub-dir]`` (files before it; refused with
``ErrRelayPurgeIsForbidden`` naming the subtask when a needed file is before it), inactive, by
time, and in the background every ``purge.interval`` seconds by ``remain-space`` (GB free on the
relay's disk) then ``expires`` (hours since a file was last written).
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections.abc import Callable

from dmshell.engine import errors
from dmshell.engine.binlog.location import Location, file_index
from dmshell.engine.config.source import PurgeConfig
from dmshell.engine.relay.layout import RelayDir, SubDir, write_atomically
from dmshell.proto import dmworker_pb2 as pb

log = logging.getLogger(__name__)

HOLDS_FILE = "holds.json"
Needed = list[tuple[str, SubDir, str]]


def file_key(sub: SubDir, file: str) -> tuple[int, int, str]:
    """Order of relay files: sub-directory, then binlog file index."""
    base, index = file_index(file)
    return sub.suffix, index, base


class Holds:
    """Subtask name → the relay file it needs (live: a callable; frozen: a sub-directory and file)."""

    def __init__(self, relay_dir: RelayDir) -> None:
        self.dir = relay_dir
        self._lock = threading.Lock()
        self._live: dict[str, Callable[[], Location | None]] = {}
        self._frozen: dict[str, tuple[SubDir, str]] = {}
        self._loaded = False

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        path = self.dir.path / HOLDS_FILE
        if path.exists():
            try:
                for name, (sub, file) in json.loads(path.read_text()).items():
                    self._frozen.setdefault(name, (SubDir.parse(sub), file))
            except (ValueError, errors.DMError) as exc:
                log.warning("relay holds %s unreadable (ignored): %s", path, exc)

    def hold(self, name: str, need: Callable[[], Location | None]) -> None:
        with self._lock:
            self._load()
            self._live[name] = need

    def unhold(self, name: str) -> None:
        """``name`` stops reading: freeze its claim at what it needs now."""
        with self._lock:
            need = self._live.pop(name, None)
            frozen = self._resolve(need) if need is not None else None
            if frozen is not None:
                self._frozen[name] = frozen
        self.save()

    def release(self, name: str) -> None:
        """``name`` is gone (stop-task): its files may go."""
        with self._lock:
            self._load()
            self._live.pop(name, None)
            changed = self._frozen.pop(name, None) is not None
        if changed:
            self.save()

    def _resolve(self, need: Callable[[], Location | None]) -> tuple[SubDir, str] | None:
        loc = need()
        if loc is None:
            return None
        sub = self.dir.locate(loc.file)
        return (sub, loc.file) if sub is not None else None

    def needed(self) -> Needed:
        with self._lock:
            self._load()
            out: Needed = [
                (name, sub, file) for name, (sub, file) in self._frozen.items() if name not in self._live
            ]
            for name, need in self._live.items():
                got = self._resolve(need) or self._frozen.get(name)
                if got is not None:
                    out.append((name, *got))
        return out

    def save(self) -> None:
        with self._lock:
            doc = {name: [sub.name, file] for name, (sub, file) in sorted(self._frozen.items())}
        if self.dir.path.is_dir():
            write_atomically(self.dir.path / HOLDS_FILE, json.dumps(doc, indent=1) + "\n")


class Purger:
    """Removes relay files by DM's strategies, never one that is needed."""

    def __init__(self, relay_dir: RelayDir, cfg: PurgeConfig, needed: Callable[[], Needed]) -> None:
        self.dir = relay_dir
        self.cfg = cfg
        self.needed = needed
        self._purging = threading.Lock()
        self._strategy = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- background -------------------------------------------------------------------------
    def start(self) -> None:
        """DM: only with an interval and at least one of expires / remain-space."""
        cfg = self.cfg
        if self._thread is not None or cfg.interval <= 0 or (cfg.expires <= 0 and cfg.remain_space <= 0):
            return
        self._thread = threading.Thread(target=self._loop, name="relay-purger", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _loop(self) -> None:
        while not self._stop.wait(self.cfg.interval):
            try:
                self.check()
            except Exception:
                log.exception("relay purge in the background")

    def check(self) -> int:
        """One background round: by free space, else by age. Returns the files removed."""
        cfg = self.cfg
        if cfg.remain_space > 0:
            free = shutil.disk_usage(self.dir.path).free
            if free < cfg.remain_space * 1024**3:
                log.info("relay purge: %d bytes free < remain-space %d GB", free, cfg.remain_space)
                return self._do("space", lambda sub, file, mtime: True)
        if cfg.expires > 0:
            safe = time.time() - cfg.expires * 3600
            return self._do("time", lambda sub, file, mtime: mtime < safe)
        return 0

    # -- by request -------------------------------------------------------------------------
    def purge(self, req: pb.PurgeRelayRequest) -> int:
        """``purge-relay`` (DM's ``Purger.Do``). Returns the files removed; raises DMError."""
        if req.inactive:
            return self._do("inactive", lambda sub, file, mtime: True)
        if req.time > 0:
            return self._do("time", lambda sub, file, mtime: mtime < req.time)
        if req.filename:
            return self._by_filename(req.filename, req.subDir)
        raise errors.ErrRelayPurgeRequestNotValid(
            f"{{Inactive:{str(req.inactive).lower()} Time:{req.time} "
            f"Filename:{req.filename} SubDir:{req.subDir}}}"
        )

    def _by_filename(self, filename: str, sub_dir: str) -> int:
        subs = self.dir.subdirs()
        if sub_dir:
            sub = SubDir.parse(sub_dir)
            if sub not in subs:
                raise errors.ErrRelayPurgeRequestNotValid(
                    f"sub-dir {sub_dir} is not in {[s.name for s in subs]}"
                )
        elif subs:
            sub = subs[-1]
        else:
            raise errors.ErrRelayNoActiveRelayLog()
        if file_index(filename)[1] < 0:
            raise errors.ErrRelayPurgeRequestNotValid(f"filename {filename}")
        limit = file_key(sub, filename)
        for who, need_sub, need_file in sorted(self.needed(), key=lambda n: file_key(n[1], n[2])):
            if file_key(need_sub, need_file) < limit:
                what = "the relay writes it" if who == "relay" else f"subtask {who} still needs it"
                raise errors.ErrRelayPurgeIsForbidden(
                    f"relay log file {need_sub.name}/{need_file} is before {filename} and {what}"
                )
        return self._do("filename", lambda s, f, mtime: file_key(s, f) < limit)

    # -- removal ----------------------------------------------------------------------------
    def _do(self, strategy: str, wanted: Callable[[SubDir, str, float], bool]) -> int:
        if not self._purging.acquire(blocking=False):
            raise errors.ErrRelayOtherStrategyIsPurging(self._strategy)
        try:
            self._strategy = strategy
            needed = self.needed()
            if not needed:
                raise errors.ErrRelayNoActiveRelayLog()
            earliest = min(file_key(sub, file) for _who, sub, file in needed)
            removed = 0
            for sub in self.dir.subdirs():
                for file in self.dir.files(sub):
                    if file_key(sub, file) >= earliest:
                        break
                    path = self.dir.dir_of(sub) / file
                    try:
                        if not wanted(sub, file, path.stat().st_mtime):
                            continue
                        path.unlink()
                    except FileNotFoundError:
                        continue
                    except OSError as exc:
                        raise errors.ErrRelayRemoveFileFail(path, exc) from exc
                    removed += 1
                    log.info("relay purge (%s): removed %s", strategy, path)
            return removed
        finally:
            self._strategy = ""
            self._purging.release()
