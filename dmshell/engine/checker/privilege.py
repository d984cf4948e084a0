"""Privilege check items (DM's ``privilege.go``): what the dump, the binlog reader and the writes to
the target need, read from ``SHOW GRANTS`` of the configured users.

A privilege is needed either globally (``RELOAD``, ``REPLICATION ...``: only ``ON *.*`` grants
them) or on objects: on every table of the task for the dump's ``SELECT``/``LOCK TABLES``, on every
target schema for the target's writes. A grant on ``*.*``, on a database (MariaDB's ``LIKE``
patterns included) or on the table satisfies an object; ``SELECT`` on some columns only does not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dmshell.engine.checker import catalog
from dmshell.engine.checker.items import CheckContext, check_item, query
from dmshell.engine.checker.result import Result
from dmshell.engine.checker.server import DUMP_MODES, SYNC_MODES
from dmshell.engine.config.subtask import MODE_ALL, MODE_FULL, MODE_INCREMENTAL, MODE_LOAD
from dmshell.engine.db import Connection
from dmshell.engine.dump.options import dump_options

#: names MariaDB prints for privileges DM knows under another name
ALIASES = {"BINLOG MONITOR": "REPLICATION CLIENT", "REPLICATION REPLICA": "REPLICATION SLAVE"}
GLOBAL_ONLY = frozenset({"RELOAD", "REPLICATION CLIENT", "REPLICATION SLAVE"})
TARGET_PRIVILEGES = ("CREATE", "SELECT", "INSERT", "UPDATE", "DELETE", "ALTER", "DROP", "INDEX")
INSTRUCTION = "Grant the required privileges to the account."
_GRANT = re.compile(
    r"^GRANT\s+(?P<privs>.+?)\s+ON\s+(?:(?:TABLE|FUNCTION|PROCEDURE|PACKAGE(?:\s+BODY)?)\s+)?"
    r"(?P<level>(?:`(?:[^`]|``)*`|[^\s.`]+|\*)(?:\.(?:`(?:[^`]|``)*`|[^\s`]+|\*))?)\s+TO\s",
    re.IGNORECASE | re.DOTALL,
)
_ROUTINE = re.compile(r"^GRANT\s+.+?\s+ON\s+(?:FUNCTION|PROCEDURE|PACKAGE)\s", re.IGNORECASE | re.DOTALL)


@dataclass(slots=True)
class Grants:
    """A user's privileges: global ones, by database pattern, by table."""

    on_global: set[str] = field(default_factory=set)
    on_db: list[tuple[str, set[str]]] = field(default_factory=list)  # (LIKE pattern, privileges)
    on_table: dict[tuple[str, str], set[str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, lines: list[str]) -> Grants:
        out = cls()
        for line in lines:
            m = _GRANT.match(line.strip())
            if not m or _ROUTINE.match(line.strip()):
                continue  # roles, PROXY, routines
            privs = _privileges(m.group("privs"))
            db, _, table = m.group("level").partition(".")
            if db == "*":
                out.on_global |= privs
            elif table == "*":
                out.on_db.append((_unquote(db), privs))
            else:
                out.on_table.setdefault((_unquote(db), _unquote(table)), set()).update(privs)
        return out

    def has_global(self, priv: str) -> bool:
        if "ALL PRIVILEGES" in self.on_global or priv in self.on_global:
            return True
        # SHOW MASTER STATUS needs "SUPER or REPLICATION CLIENT" (DM counts SUPER)
        return priv == "REPLICATION CLIENT" and "SUPER" in self.on_global

    def has_db(self, priv: str, db: str) -> bool:
        return self.has_global(priv) or any(
            ("ALL PRIVILEGES" in privs or priv in privs) and _like(pattern, db)
            for pattern, privs in self.on_db
        )

    def has_table(self, priv: str, db: str, table: str) -> bool:
        privs = self.on_table.get((db, table), set())
        return self.has_db(priv, db) or "ALL PRIVILEGES" in privs or priv in privs


def _privileges(text: str) -> set[str]:
    # "SELECT (`a`, `b`), INSERT": split on commas outside parentheses; column grants are left out
    out, depth, word = set(), 0, ""
    for ch in text + ",":
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            name = " ".join(word.split()).upper()
            if name and "(" not in name:
                out.add(ALIASES.get(name, "ALL PRIVILEGES" if name == "ALL" else name))
            word = ""
        else:
            word += ch
    return out


def _unquote(name: str) -> str:
    return name[1:-1].replace("``", "`") if name.startswith("`") else name


def _like(pattern: str, name: str) -> bool:
    """MariaDB's database-level grant match: ``_``/``%`` wildcards unless escaped."""
    regex = "".join(
        "." if part == "_" else ".*" if part == "%" else re.escape(part[-1])
        for part in re.findall(r"\\.|.", pattern, re.DOTALL)
    )
    return re.fullmatch(regex, name, re.IGNORECASE | re.DOTALL) is not None


def lack_message(lacking: dict[str, list[str]]) -> str:
    """DM's message: ``lack of X privilege; lack of Y privilege: {`db`.`t1`, `db`.`t2`}; ``."""
    parts = []
    for priv, objects in lacking.items():
        parts.append(f"lack of {priv} privilege" + (": {" + ", ".join(objects) + "}" if objects else ""))
    return "".join(p + "; " for p in parts)


def _verdict(lacking: dict[str, list[str]]) -> Result:
    return Result.fail(lack_message(lacking), INSTRUCTION) if lacking else Result.success()


def _grants(conn: Connection) -> Grants:
    return Grants.parse([str(row[0]) for row in query(conn, "SHOW GRANTS")])


def _dump_needs(ctx: CheckContext, source: str) -> list[str]:
    if ctx.task is None:
        return ["SELECT", "RELOAD"]  # the dump's default consistency (flush) without a task
    opts = dump_options(ctx.subtask(source).mydumper)
    extra = {"auto": ["RELOAD"], "flush": ["RELOAD"], "lock": ["LOCK TABLES"]}.get(opts.consistency, [])
    return ["SELECT", *extra]


@check_item(
    "source db dump privilege checker",
    "check dump privileges of source DB",
    ignore="dump_privilege",
    modes=DUMP_MODES,
    server=True,
)
def dump_privilege(ctx: CheckContext, source: str) -> Result:
    grants = _grants(ctx.source(source))
    tables = (
        [t for ts in catalog.task_tables(ctx, source).values() for t in ts] if ctx.task is not None else []
    )
    lacking: dict[str, list[str]] = {}
    for priv in _dump_needs(ctx, source):
        if priv in GLOBAL_ONLY or ctx.task is None:
            if not grants.has_global(priv) and not (
                priv == "SELECT" and (grants.on_db or grants.on_table) and ctx.task is None
            ):
                lacking[priv] = []
            continue
        missing = [catalog.quoted(t) for t in sorted(tables) if not grants.has_table(priv, *t)]
        if missing:
            lacking[priv] = missing
    return _verdict(lacking)


@check_item(
    "source db replication privilege checker",
    "check replication privileges of source DB",
    ignore="replication_privilege",
    modes=SYNC_MODES,
    server=True,
)
def replication_privilege(ctx: CheckContext, source: str) -> Result:
    grants = _grants(ctx.source(source))
    needed = ("REPLICATION CLIENT", "REPLICATION SLAVE")
    return _verdict({p: [] for p in needed if not grants.has_global(p)})


@check_item(
    "target db privilege checker",
    "check privileges of target DB",
    ignore="target_privilege",
    per="task",
    modes=frozenset({MODE_ALL, MODE_FULL, MODE_INCREMENTAL, MODE_LOAD}),
)
def target_privilege(ctx: CheckContext, source: str) -> Result:
    task = ctx.cfg
    schemas = {task.meta_schema}
    for sid in task.source_ids:
        schemas |= {target[0] for target in catalog.task_tables(ctx, sid)}
    grants = _grants(ctx.target())
    lacking: dict[str, list[str]] = {}
    for priv in TARGET_PRIVILEGES:
        missing = [f"`{s}`" for s in sorted(schemas) if not grants.has_db(priv, s)]
        if missing:
            lacking[priv] = missing
    return _verdict(lacking)
