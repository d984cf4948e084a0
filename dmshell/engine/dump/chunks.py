"""Writing one chunk: a key range's rows streamed from a snapshot connection into part files.

Used by the dump unit's threads and by its worker processes (:mod:`dmshell.engine.dump.proc`) alike:
the same function, the same files, the same errors.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

import pymysql

from dmshell.engine import db, errors
from dmshell.engine.dump import files as dumpfiles
from dmshell.engine.dump.rowstream import NullValue, stream_rows


class Stopped(Exception):
    """The chunk was abandoned because the dump is stopping; its connection is closed."""


def dump_chunk(
    conn: db.Connection,
    sql: str,
    where: str,
    dump_dir: Path,
    part_name: Callable[[int], str],
    filesize: int,
    should_stop: Callable[[], bool],
    on_block: Callable[[int, int], None],
    what: str,
) -> list[dumpfiles.ChunkMeta]:
    """Stream the rows of ``sql`` into files of at most ``filesize`` bytes (``part_name(n)`` names
    part ``n``), each written durably; ``on_block(rows, bytes)`` reports progress.

    Raises :class:`Stopped` when ``should_stop()`` turns true (the connection is then closed, as it
    is left in the middle of a result), else DM errors (``ErrDumpUnitRuntime`` & co.).
    """
    files: list[dumpfiles.ChunkMeta] = []
    f = None
    try:
        block_size = min(1 << 20, max(4096, filesize // 8))
        for block, rows in stream_rows(conn, sql, block_size):
            if should_stop():
                raise Stopped
            if f is None or files[-1].bytes >= filesize:
                if f is not None:
                    close_durably(f)
                name = part_name(len(files))
                files.append(dumpfiles.ChunkMeta(name, where=where))
                f = open(dump_dir / name, "wb")  # noqa: SIM115 - closed below
            f.write(block)
            files[-1].rows += rows
            files[-1].bytes += len(block)
            on_block(rows, len(block))
        if f is not None:
            close_durably(f)
            f = None
    except Stopped:
        conn.close()  # abandon the unread result; this connection is not used again
        raise
    except NullValue as exc:
        raise errors.ErrDumpUnitRuntime(
            f"{what}: row {exc.row_number} is larger than the source's max_allowed_packet once "
            "encoded for the dump",
            workaround="Raise `max_allowed_packet` on the source (SET GLOBAL max_allowed_packet = ...), "
            "then `resume-task`.",
        ) from exc
    except pymysql.err.MySQLError as exc:
        raise dump_error(exc, what) from exc
    except OSError as exc:
        raise file_error(what, exc) from exc
    finally:
        if f is not None:
            f.close()
    return files


def close_durably(f) -> None:
    f.flush()
    os.fsync(f.fileno())
    f.close()


def dump_error(exc: BaseException, what: str) -> errors.DMError:
    code = db.errno_of(exc)
    if db.is_connection_error(exc) and not (code is not None and code >= 3000):
        return db.classify(exc, what)
    return errors.ErrDumpUnitRuntime(what, cause=exc)


def file_error(what: str, exc: OSError) -> errors.DMError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        workaround = (
            "The dump directory is out of space: free disk space there (or move the worker's "
            "data directory to a larger disk), then `resume-task`."
        )
    else:
        workaround = "Please check the dump directory (it must be writable), then `resume-task`."
    return errors.ErrDumpUnitRuntime(what, cause=exc, workaround=workaround)
