"""The TUI's "new source" form data and its connection test (no Textual here).

:func:`check_source` connects to the upstream the way the worker will (PyMySQL) and checks what DM's
precheck checks for a source: binlog on, ``binlog_format=ROW``, ``binlog_row_image=FULL``, a non-zero
``server_id``, GTID support when ``enable-gtid`` is set, and the privileges (``REPLICATION SLAVE``,
``REPLICATION CLIENT``, ``RELOAD``, ``SELECT``). The password is used to connect and is never part
of a result, a message or the masked YAML.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

#: "" lets the worker detect it (DM's default).
FLAVORS = ("", "mysql", "mariadb")
REQUIRED_PRIVILEGES = ("REPLICATION SLAVE", "REPLICATION CLIENT", "RELOAD", "SELECT")
#: MariaDB 10.5 renamed REPLICATION CLIENT; SHOW GRANTS prints the new name.
PRIVILEGE_ALIASES = {"BINLOG MONITOR": "REPLICATION CLIENT"}
_SOURCE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_GRANT = re.compile(r"^GRANT\s+(.+?)\s+ON\s+(\S+)\s+TO\s", re.IGNORECASE)


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


def granted_privileges(grants: list[str]) -> tuple[set[str], bool]:
    """(privileges granted on ``*.*``, whether SELECT is granted on some database) from SHOW GRANTS."""
    global_privs: set[str] = set()
    some_select = False
    for grant in grants:
        m = _GRANT.match(grant.strip())
        if not m:
            continue
        privs = {PRIVILEGE_ALIASES.get(p.strip().upper(), p.strip().upper()) for p in m.group(1).split(",")}
        if "ALL PRIVILEGES" in privs or "ALL" in privs:
            privs |= set(REQUIRED_PRIVILEGES)
        if m.group(2) == "*.*":
            global_privs |= privs
        elif "SELECT" in privs:
            some_select = True
    return global_privs, some_select


def check_source(form: SourceForm, timeout: float = 5.0) -> list[CheckItem]:
    """Connect and check the upstream; the first failing step that blocks the rest ends the list."""
    import pymysql  # imported when a test runs: keeps the TUI's start-up fast

    items: list[CheckItem] = []
    where = f"{form.user}@{form.host}:{form.port}"
    try:
        conn = pymysql.connect(
            host=form.host,
            port=form.port,
            user=form.user,
            password=form.password,
            connect_timeout=timeout,
            read_timeout=timeout,
            write_timeout=timeout,
        )
    except pymysql.err.MySQLError as exc:
        return [CheckItem("connect", False, f"{where}: {_error_text(exc)}")]
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT @@version, @@log_bin, @@binlog_format, @@binlog_row_image, @@server_id")
            variables = cur.fetchone()
            assert variables is not None  # a SELECT of variables returns one row
            version, log_bin, binlog_format, row_image, server_id = variables
            is_mariadb = "mariadb" in str(version).lower()
            server = f"{'MariaDB' if is_mariadb else 'MySQL'} {version}"
            items.append(CheckItem("connect", True, f"{where} ({server})"))
            if form.flavor and (form.flavor == "mariadb") != is_mariadb:
                items.append(
                    CheckItem(
                        "flavor",
                        False,
                        f"flavor is {form.flavor} but the server is "
                        f"{'MariaDB' if is_mariadb else 'MySQL'}",
                    )
                )
            items.append(
                CheckItem(
                    "binlog",
                    bool(int(log_bin)),
                    "log_bin=ON"
                    if int(log_bin)
                    else "log_bin=OFF: enable the binary log (log_bin) and restart",
                )
            )
            row = str(binlog_format).upper() == "ROW"
            items.append(
                CheckItem(
                    "binlog_format", row, f"binlog_format={binlog_format}" + ("" if row else ": must be ROW")
                )
            )
            full = str(row_image).upper() == "FULL"
            items.append(
                CheckItem(
                    "binlog_row_image",
                    full,
                    f"binlog_row_image={row_image}" + ("" if full else ": must be FULL"),
                )
            )
            sid_ok = int(server_id) > 0
            items.append(
                CheckItem(
                    "server_id", sid_ok, f"server_id={server_id}" + ("" if sid_ok else ": must not be 0")
                )
            )
            items.append(_gtid_check(cur, form, is_mariadb))
            cur.execute("SHOW GRANTS")
            grants = [row[0] for row in cur.fetchall()]
        items.append(_privilege_check(grants))
    except pymysql.err.MySQLError as exc:
        items.append(CheckItem("query", False, _error_text(exc)))
    finally:
        conn.close()
    return items


def _gtid_check(cur, form: SourceForm, is_mariadb: bool) -> CheckItem:
    if is_mariadb:
        cur.execute("SELECT @@gtid_binlog_pos")
        pos = cur.fetchone()[0] or "(empty)"
        if form.enable_gtid:
            return CheckItem("GTID", True, f"MariaDB GTID, gtid_binlog_pos={pos}")
        return CheckItem("GTID", True, "off in this config: positions by binlog file:pos")
    cur.execute("SELECT @@gtid_mode")
    mode = str(cur.fetchone()[0]).upper()
    if form.enable_gtid:
        return CheckItem(
            "GTID",
            mode == "ON",
            f"gtid_mode={mode}" + ("" if mode == "ON" else ": enable-gtid needs gtid_mode=ON"),
        )
    return CheckItem("GTID", True, f"off in this config (gtid_mode={mode})")


def _privilege_check(grants: list[str]) -> CheckItem:
    # The grant lines themselves are never shown: they can carry a password hash.
    privs, some_select = granted_privileges(grants)
    missing = [p for p in REQUIRED_PRIVILEGES if p not in privs and not (p == "SELECT" and some_select)]
    if missing:
        return CheckItem("privileges", False, f"missing {', '.join(missing)} (GRANT ... ON *.* TO the user)")
    return CheckItem("privileges", True, ", ".join(REQUIRED_PRIVILEGES))


def _error_text(exc: Exception) -> str:
    if len(exc.args) >= 2:
        return f"Error {exc.args[0]}: {exc.args[1]}"
    return str(exc) or type(exc).__name__


def passed(items: list[CheckItem]) -> bool:
    return bool(items) and all(item.ok for item in items)
