"""The TUI's "new source" form data and its connection test (no Textual here).

:func:`check_source` runs the task checker's server items (:func:`dmshell.engine.checker.check_server`:
version, flavor, binlog on, ``binlog_format=ROW``, ``binlog_row_image=FULL``, a non-zero
``server_id``, GTID when ``enable-gtid`` is set, dump and replication privileges) against the
form's values, the checks ``check-task`` makes again for every task. The password is used to
connect and is never part of a result, a message or the masked YAML.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

#: "" lets the worker detect it (DM's default).
FLAVORS = ("", "mysql", "mariadb")
_SOURCE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: the form's line for each checker item (the privilege items share one line)
LINES = {
    "mysql_version": "version",
    "mysql_flavor": "flavor",
    "mysql_binlog_enable": "binlog",
    "mysql_binlog_format": "binlog_format",
    "mysql_binlog_row_image": "binlog_row_image",
    "mysql_server_id": "server_id",
    "mysql_gtid_mode": "GTID",
    "source db dump privilege checker": "privileges",
    "source db replication privilege checker": "privileges",
}


@dataclass(frozen=True, slots=True)
class SourceForm:
    """What the form collects: a DM source config."""

    source_id: str
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    flavor: str = ""
    enable_gtid: bool = False
    enable_relay: bool = False

    def problems(self) -> list[str]:
        """What is wrong with the form itself (before connecting)."""
        out = []
        if not self.source_id:
            out.append("source-id: required")
        elif not _SOURCE_ID.match(self.source_id):
            out.append("source-id: letters, digits, '-', '_' or '.', at most 64 characters")
        if not self.host:
            out.append("host: required")
        if not self.port:
            out.append("port: required")
        elif not 0 < self.port < 65536:
            out.append("port: 1-65535")
        if not self.user:
            out.append("user: required")
        if self.flavor not in FLAVORS:
            out.append("flavor: mysql, mariadb or empty (detected)")
        return out

    def yaml(self, *, mask_password: bool = True) -> str:
        """The source config YAML (DM's keys); the password is ``'******'`` unless asked for."""
        password = "'******'" if mask_password else json.dumps(self.password)
        flavor = f"flavor: {self.flavor}\n" if self.flavor else ""
        return (
            f"source-id: {json.dumps(self.source_id)}\n"
            f"enable-gtid: {str(self.enable_gtid).lower()}\n"
            f"enable-relay: {str(self.enable_relay).lower()}\n"
            f"{flavor}"
            "from:\n"
            f"  host: {json.dumps(self.host)}\n"
            f"  port: {self.port}\n"
            f"  user: {json.dumps(self.user)}\n"
            f"  password: {password}\n"
        )

    @property
    def key(self) -> tuple[object, ...]:
        """Everything the connection test depends on (a passed test is for these values only)."""
        return (self.host, self.port, self.user, self.password, self.flavor, self.enable_gtid)


@dataclass(frozen=True, slots=True)
class CheckItem:
    """One line of the connection test."""

    name: str
    ok: bool
    detail: str


def check_source(form: SourceForm, timeout: float = 5.0) -> list[CheckItem]:
    """Connect and check the upstream; a source that does not answer gives one failed line."""
    # imported when a test runs: keeps the TUI's start-up fast
    from dmshell.engine import checker, errors
    from dmshell.engine.config.load import load_source_config

    where = f"{form.user}@{form.host}:{form.port}"
    cfg = load_source_config(form.yaml(mask_password=False))
    try:
        version, results = checker.check_server(cfg, timeout)
    except errors.DMError as exc:
        return [CheckItem("connect", False, f"{where}: {exc.raw_cause or exc.message}")]
    server = f"{'MariaDB' if 'mariadb' in version.lower() else 'MySQL'} {version}"
    lines: dict[str, list[str]] = {}
    failed: set[str] = set()
    for r in results:
        line = LINES.get(r.name, r.name)
        if r.state == checker.State.FAIL:
            failed.add(line)
        text = "; ".join(e.short_error.rstrip("; ") for e in r.errors)
        if r.errors and r.instruction:
            text += f" ({r.instruction})"
        lines.setdefault(line, []).append(text or re.sub(r"^check (whether )?", "", r.desc))
    out = [CheckItem("connect", True, f"{where} ({server})")]
    out += [CheckItem(line, line not in failed, "; ".join(texts)) for line, texts in lines.items()]
    return out


def passed(items: list[CheckItem]) -> bool:
    return bool(items) and all(item.ok for item in items)
