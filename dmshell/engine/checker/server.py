"""Check items on the source server itself (DM's ``mysql_server.go`` and ``binlog.go``): version,
``server_id``, the binary log and its format, GTID mode, ``binlog_do_db``/``binlog_ignore_db``, the
task's start position still in the binlog, and enough connections for the dump.

:func:`check_server` runs the ``server`` items on one source without a task: the TUI's new-source
form shows them before the source is created.
"""

from __future__ import annotations

import re

from dmshell.engine import errors
from dmshell.engine.binlog.gtid import resolve_gtid_start
from dmshell.engine.binlog.location import file_index
from dmshell.engine.checker import catalog
from dmshell.engine.checker.items import CONNECT_TIMEOUT, REGISTRY, CheckContext, check_item, query
from dmshell.engine.checker.result import Result
from dmshell.engine.checker.runner import run_items
from dmshell.engine.config.source import SourceConfig
from dmshell.engine.config.subtask import MODE_ALL, MODE_DUMP, MODE_FULL, MODE_INCREMENTAL

#: modes that read the binlog (DM's ``HasSync``) and modes that dump (``HasDump``)
SYNC_MODES = frozenset({MODE_ALL, MODE_INCREMENTAL})
DUMP_MODES = frozenset({MODE_ALL, MODE_FULL, MODE_DUMP})
_VARIABLES = (
    "version",
    "server_id",
    "log_bin",
    "binlog_format",
    "binlog_row_image",
    "gtid_mode",
    "enforce_gtid_consistency",
    "max_connections",
)
#: DM's supported versions (``SupportedVersion``); MariaDB's from the DM manual (>= 10.1.2)
MYSQL_MIN, MYSQL_MAX, MARIADB_MIN = (5, 6, 0), (8, 0, 0), (10, 1, 2)
#: ``binlog_row_image`` exists since MySQL 5.6.2 / MariaDB 10.1.6 (before, images are always full)
ROW_IMAGE_SINCE = {"mysql": (5, 6, 2), "mariadb": (10, 1, 6)}


def variables(ctx: CheckContext, source: str) -> dict[str, str]:
    """The source's global variables the items read, fetched once."""

    def fetch() -> dict[str, str]:
        marks = ", ".join(["%s"] * len(_VARIABLES))
        rows = query(
            ctx.source(source), f"SHOW GLOBAL VARIABLES WHERE Variable_name IN ({marks})", _VARIABLES
        )
        return {str(k).lower(): str(v) for k, v in rows}

    return ctx.memo(("variables", source), fetch)


def flavor_and_version(ctx: CheckContext, source: str) -> tuple[str, tuple[int, int, int]]:
    text = variables(ctx, source).get("version", "")
    m = re.match(r"(\d+)\.(\d+)\.(\d+)", text)
    version = (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else (0, 0, 0)
    return ("mariadb" if "mariadb" in text.lower() else "mysql"), version


def _dotted(v: tuple[int, int, int]) -> str:
    return ".".join(map(str, v))


@check_item("mysql_version", "check whether mysql version is satisfied", ignore="version", server=True)
def version(ctx: CheckContext, source: str) -> Result:
    flavor, got = flavor_and_version(ctx, source)
    low = MARIADB_MIN if flavor == "mariadb" else MYSQL_MIN
    if got < low:
        return Result.warn(f"version suggested at least {_dotted(low)} but got {_dotted(got)}")
    if flavor == "mysql" and got >= MYSQL_MAX:
        return Result.warn(f"version suggested less than {_dotted(MYSQL_MAX)} but got {_dotted(got)}")
    return Result.success()


@check_item(
    "mysql_server_id",
    "check whether mysql server_id has been greater than 0",
    ignore="server_id",
    modes=SYNC_MODES,
    server=True,
)
def server_id(ctx: CheckContext, source: str) -> Result:
    value = variables(ctx, source).get("server_id")
    if value is None:
        return Result.fail("server_id not set", "please set server_id in your database")
    if int(value) == 0:
        return Result.fail("server_id is 0", "please set server_id greater than 0")
    return Result.success()


@check_item(
    "mysql_binlog_enable",
    "check whether mysql binlog is enabled",
    ignore="binlog_enable",
    modes=SYNC_MODES,
    server=True,
)
def binlog_enable(ctx: CheckContext, source: str) -> Result:
    value = variables(ctx, source).get("log_bin", "OFF")
    if value.upper() != "ON":
        return Result.fail(
            f"log_bin is {value}, and should be ON",
            "ref document: https://dev.mysql.com/doc/refman/5.7/en/replication-howto-masterbaseconfig.html",
        )
    return Result.success()


@check_item(
    "mysql_binlog_format",
    "check whether mysql binlog_format is ROW",
    ignore="binlog_format",
    modes=SYNC_MODES,
    server=True,
)
def binlog_format(ctx: CheckContext, source: str) -> Result:
    value = variables(ctx, source).get("binlog_format", "")
    if value.upper() != "ROW":
        return Result.fail(
            f"binlog_format is {value}, and should be ROW", "please execute 'set global binlog_format=ROW;'"
        )
    return Result.success()


@check_item(
    "mysql_binlog_row_image",
    "check whether mysql binlog_row_image is FULL",
    ignore="binlog_row_image",
    modes=SYNC_MODES,
    server=True,
)
def binlog_row_image(ctx: CheckContext, source: str) -> Result:
    flavor, got = flavor_and_version(ctx, source)
    if got < ROW_IMAGE_SINCE[flavor]:
        return Result.success()
    value = variables(ctx, source).get("binlog_row_image", "")
    if value.upper() != "FULL":
        return Result.fail(
            f"binlog_row_image is {value}, and should be FULL",
            "please execute 'set global binlog_row_image = FULL;'",
        )
    return Result.success()


@check_item(
    "mysql_gtid_mode",
    "check whether GTID is usable when enable-gtid is true",
    modes=SYNC_MODES,
    server=True,
)
def gtid_mode(ctx: CheckContext, source: str) -> Result:
    # DM checks this when the source is created (ErrSourceCheckGTID); a task checks it again since
    # the server may have changed since. MariaDB always logs GTIDs.
    if not ctx.sources[source].enable_gtid or flavor_and_version(ctx, source)[0] == "mariadb":
        return Result.success()
    v = variables(ctx, source)
    problems = [
        f"{name.upper()} = {v.get(name, 'OFF')} instead of ON"
        for name in ("gtid_mode", "enforce_gtid_consistency")
        if v.get(name, "OFF").upper() != "ON"
    ]
    if problems:
        return Result.fail(
            "; ".join(problems),
            "set gtid_mode=ON and enforce_gtid_consistency=ON, or enable-gtid: false in the source",
        )
    return Result.success()


@check_item(
    "mysql_flavor",
    "check whether the source's flavor is the server's",
    modes=frozenset(),  # a source's own setting: checked when the source is created
    server=True,
)
def flavor(ctx: CheckContext, source: str) -> Result:
    configured = ctx.sources[source].flavor
    actual = flavor_and_version(ctx, source)[0]
    if configured and configured != actual:
        return Result.fail(
            f"flavor is {configured} but the server is {'MariaDB' if actual == 'mariadb' else 'MySQL'}",
            "leave flavor empty to detect it",
        )
    return Result.success()


@check_item(
    "binlog_do_db/binlog_ignore_db check",
    "check whether migrated dbs are in binlog_do_db/binlog_ignore_db",
    ignore="binlog_db",
    modes=SYNC_MODES,
)
def binlog_db(ctx: CheckContext, source: str) -> Result:
    rows = query(ctx.source(source), "SHOW MASTER STATUS")
    if not rows:
        return Result.success()  # no binlog: mysql_binlog_enable says so
    do_db, ignore_db = (str(v or "") for v in rows[0][2:4])
    fold = (lambda s: s) if ctx.subtask(source).case_sensitive else str.lower
    wanted = {fold(s) for s in catalog.schemas(ctx, source)}
    do_dbs = {fold(s.strip()) for s in do_db.split(",") if s.strip()}
    ignore_dbs = {fold(s.strip()) for s in ignore_db.split(",") if s.strip()}
    # MySQL applies binlog-do-db when set and then ignores binlog-ignore-db
    if do_dbs:
        if missing := sorted(wanted - do_dbs):
            return Result.fail(
                f"these dbs [{','.join(missing)}] are not in binlog_do_db[{do_db}]",
                "Ensure that the do_dbs contains the dbs you want to migrate",
            )
    elif ignored := sorted(wanted & ignore_dbs):
        return Result.fail(
            f"these dbs [{','.join(ignored)}] are in binlog_ignore_db[{ignore_db}]",
            "Ensure that the ignore_dbs does not contain the dbs you want to migrate",
        )
    return Result.success()


@check_item(
    "meta position check",
    "check whether meta position is valid for db",
    ignore="meta_position",
    modes=frozenset({MODE_INCREMENTAL}),
)
def meta_position(ctx: CheckContext, source: str) -> Result:
    sub = ctx.subtask(source)
    meta = sub.meta
    if meta is None or sub.use_relay:
        return Result.success()  # DM checks only a position given in the task, read from the source
    conn = ctx.source(source)
    if sub.enable_gtid and meta.binlog_gtid:
        flavor = flavor_and_version(ctx, source)[0]
        try:
            resolve_gtid_start(conn, meta.binlog_gtid, flavor)
        except errors.DMError as exc:
            return Result.fail(exc.message, "start the task from a position the source still has")
        return Result.success()
    if not meta.binlog_name:
        return Result.success()
    logs = {str(name): int(size) for name, size, *_ in query(conn, "SHOW BINARY LOGS")}
    size = logs.get(meta.binlog_name)
    if size is None or meta.binlog_pos > size:
        have = sorted(logs, key=file_index)
        span = f"{have[0]} .. {have[-1]}:{logs[have[-1]]}" if have else "none"
        return Result.fail(
            f"binlog position ({meta.binlog_name}, {meta.binlog_pos}) is not in the source's binary logs "
            f"({span})",
            "start the task from a position the source still has",
        )
    return Result.success()


@check_item(
    "dumper_conn_amount_checker",
    "check if user-specified amount of connection exceeds downstream's maximum",
    ignore="conn_number",
    modes=frozenset({MODE_ALL, MODE_FULL}),
)
def dumper_connections(ctx: CheckContext, source: str) -> Result:
    need = ctx.subtask(source).mydumper.threads + 2  # one for generating SQL, one for consistency
    return connection_amount(int(variables(ctx, source).get("max_connections", "0")), "dumper", need)


def connection_amount(max_conn: int, who: str, need: int) -> Result:
    """DM's ``connAmountChecker`` verdict (its message says "downstream's" also for the source)."""
    if need > max_conn:
        return Result.fail(
            f"downstream's max_connections: {max_conn} is less than the amount {who} needs: {need}",
            "set larger max_connections or reduce the pool size of dm",
        )
    return Result.success()


def check_server(cfg: SourceConfig, timeout: float = CONNECT_TIMEOUT) -> tuple[str, list[Result]]:
    """The server's version and the ``server`` items' results on one source, without a task: what
    the TUI's new-source form shows.

    Raises ``ErrTaskCheckFailedOpenDB`` when the source does not answer.
    """
    ctx = CheckContext(None, {cfg.source_id: cfg}, timeout)
    try:
        ctx.source(cfg.source_id)  # raises when it does not answer, before any item runs
        results = run_items(ctx, [item for item in REGISTRY if item.server]).all
        return variables(ctx, cfg.source_id).get("version", ""), results
    finally:
        ctx.close()
