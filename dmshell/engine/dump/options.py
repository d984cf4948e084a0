"""The dump unit's settings: the ``mydumpers`` config plus the dumpling flags DM accepts in ``extra-args``.

DM (``dm/pkg/dumpling/utils.go: ParseExtraArgs``) understands ``--threads/-t``, ``--filesize/-F``,
``--statement-size/-s``, ``--consistency``, ``--no-views/-W``, ``--rows/-r``, ``--where``,
``--database/-B``, ``--tables-list/-T``, ``--filter/-f`` and ``--no-locks``; a table list or filter
replaces the block-allow list; so does dmshell. ``--escape-backslash`` and
``--transactional-consistency`` are accepted as ``true`` (what the dump always does). Every other
flag is refused with an error naming it — ``--snapshot`` (a TiDB snapshot), ``--ca/--cert/--key``
(TLS for the dump's connections) and any flag dumpling does not have — rather than ignored.
"""

from __future__ import annotations

import fnmatch
import logging
import shlex
from dataclasses import dataclass, field

from dmshell.engine import errors
from dmshell.engine.config.units import MydumperConfig, parse_file_size
from dmshell.engine.dump.files import STATEMENT_SIZE
from dmshell.engine.dump.plan import DEFAULT_CHUNK_ROWS
from dmshell.engine.dump.snapshot import AUTO, CONSISTENCIES, NONE

log = logging.getLogger(__name__)

_TRUE = {"true", "1", "t", "yes"}
_FALSE = {"false", "0", "f", "no"}
_VALUE_FLAGS = {
    "-t": "--threads",
    "-F": "--filesize",
    "-s": "--statement-size",
    "-r": "--rows",
    "-B": "--database",
    "-T": "--tables-list",
    "-f": "--filter",
}
_LONG_VALUE = {
    "--threads",
    "--filesize",
    "--statement-size",
    "--rows",
    "--database",
    "--tables-list",
    "--filter",
    "--consistency",
    "--where",
}
#: dumpling's flags that dmshell does not do (refused by name)
_REFUSED = {
    "--snapshot": "a TiDB snapshot to dump",
    "--ca": "TLS for the dump's connections",
    "--cert": "TLS for the dump's connections",
    "--key": "TLS for the dump's connections",
}
#: flags accepted only with the value the dump always has
_ALWAYS_TRUE = {"--escape-backslash", "--transactional-consistency"}
_BOOL_FLAGS = {
    "-W": "--no-views",
    "--no-views": "--no-views",
    "--no-locks": "--no-locks",
    "--escape-backslash": "--escape-backslash",
    "--transactional-consistency": "--transactional-consistency",
}


@dataclass(slots=True)
class DumpOptions:
    threads: int = 4
    rows: int = DEFAULT_CHUNK_ROWS
    #: maximum size of one data file (``chunk-filesize`` / ``--filesize``)
    filesize: int = 64 << 20
    statement_size: int = STATEMENT_SIZE
    where: str = ""
    consistency: str = AUTO
    no_views: bool = True
    databases: list[str] = field(default_factory=list)
    tables: list[tuple[str, str]] = field(default_factory=list)
    filters: list[str] = field(default_factory=list)

    def table_filter(self) -> TableFilter | None:
        """The table filter that replaces the block-allow list, if ``-T`` / ``-f`` were given."""
        if self.tables or self.filters:
            return TableFilter(self.tables, self.filters)
        return None


class TableFilter:
    """Dumpling's ``--tables-list`` (exact ``db.table`` names) or ``--filter`` rules (``db.table``
    wildcards; ``!`` excludes; the last matching rule wins)."""

    def __init__(self, tables: list[tuple[str, str]], rules: list[str]) -> None:
        self.tables = {(s.lower(), t.lower()) for s, t in tables}
        self.rules: list[tuple[bool, str, str]] = []
        for rule in rules:
            negate = rule.startswith("!")
            schema, _, table = rule.lstrip("!").partition(".")
            self.rules.append((negate, schema.lower(), (table or "*").lower()))

    def allow_table(self, schema: str, table: str) -> bool:
        if self.tables:
            return (schema.lower(), table.lower()) in self.tables
        verdict = False
        for negate, sp, tp in self.rules:
            if fnmatch.fnmatchcase(schema.lower(), sp) and fnmatch.fnmatchcase(table.lower(), tp):
                verdict = not negate
        return verdict

    def allow_schema(self, schema: str) -> bool:
        if self.tables:
            return any(s == schema.lower() for s, _ in self.tables)
        return any(
            not negate and fnmatch.fnmatchcase(schema.lower(), sp) and tp == "*"
            for negate, sp, tp in self.rules
        )


def dump_options(cfg: MydumperConfig) -> DumpOptions:
    """The effective settings; raises ``ErrDumpUnitRuntime`` for an invalid value in ``extra-args``."""
    opts = DumpOptions(
        threads=cfg.threads or 4,
        rows=cfg.rows or DEFAULT_CHUNK_ROWS,
        filesize=parse_file_size(cfg.chunk_filesize) or 64 << 20,
        statement_size=cfg.statement_size or STATEMENT_SIZE,
        where=cfg.where,
    )
    if cfg.extra_args.strip():
        _apply_extra_args(opts, cfg.extra_args)
    return opts


def _apply_extra_args(opts: DumpOptions, text: str) -> None:
    try:
        args = shlex.split(text)
    except ValueError as exc:
        raise _bad(text, str(exc)) from exc
    no_locks = False
    consistency_set = False
    i = 0
    while i < len(args):
        arg = args[i]
        name, eq, value = arg.partition("=")
        name = _VALUE_FLAGS.get(name, name) if name.startswith("-") and not name.startswith("--") else name
        if name in _BOOL_FLAGS.values() or name in _BOOL_FLAGS:
            flag = _BOOL_FLAGS.get(name, name)
            on = True
            if eq:
                if value.lower() not in _TRUE | _FALSE:
                    raise _bad(text, f"invalid boolean {value!r} for {flag}")
                on = value.lower() in _TRUE
            if flag == "--no-views":
                opts.no_views = on
            elif flag == "--no-locks":
                no_locks = on
            elif flag in _ALWAYS_TRUE and not on:
                raise _bad(text, f"{flag}=false is not supported (the dump always does {flag})")
            i += 1
            continue
        if name in _REFUSED:
            raise _bad(text, f"{name} ({_REFUSED[name]}) is not supported")
        if name not in _LONG_VALUE:
            raise _bad(text, f"unsupported flag {arg}")
        if not eq:
            if i + 1 >= len(args):
                raise _bad(text, f"flag needs an argument: {arg}")
            value = args[i + 1]
            i += 1
        i += 1
        try:
            if name == "--threads":
                opts.threads = max(1, int(value))
            elif name == "--rows":
                opts.rows = int(value)
            elif name == "--statement-size":
                opts.statement_size = int(value)
            elif name == "--filesize":
                size = parse_file_size(value)
                if size is None:
                    raise ValueError(value)
                opts.filesize = size
            elif name == "--where":
                opts.where = value
            elif name == "--consistency":
                if value not in CONSISTENCIES:
                    raise ValueError(f"{value} (want one of {', '.join(CONSISTENCIES)})")
                opts.consistency = value
                consistency_set = True
            elif name == "--database":
                opts.databases.extend(v for v in value.split(",") if v)
            elif name == "--tables-list":
                for item in value.split(","):
                    schema, dot, table = item.partition(".")
                    if not dot:
                        raise ValueError(f"{item} is not a qualified table name")
                    opts.tables.append((schema, table))
            elif name == "--filter":
                opts.filters.append(value)
        except ValueError as exc:
            raise _bad(text, f"invalid value for {name}: {exc}") from exc
    if no_locks:
        if consistency_set and opts.consistency != NONE:
            raise _bad(text, "cannot both specify `--no-locks` and `--consistency` other than `none`")
        opts.consistency = NONE
    if opts.databases and not opts.tables and not opts.filters:
        opts.filters = [f"{d}.*" for d in opts.databases]


def _bad(text: str, why: str) -> errors.DMError:
    return errors.ErrDumpUnitRuntime(
        f"parse extra-args {text!r}: {why}",
        workaround="Please check the `extra-args` of `mydumpers` in the task " "configuration file.",
    )
