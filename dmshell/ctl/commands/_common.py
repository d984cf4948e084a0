"""Helpers shared by the command handlers (DM's ``dm/ctl/common``)."""

from __future__ import annotations

import errno
import re
from typing import Any

from dmshell.ctl.errors import CtlError
from dmshell.ctl.flags import bool_flag, int_flag, string_flag

START_TIME_USAGE = (
    "specify the start time of binlog replication, e.g. '2021-10-21 00:01:00', "
    "'2021-10-21T00:01:00', or '2021-10-21T00:01:00+08:00'"
)
START_TIME_FORMAT_HINT = (
    "'2006-01-02 15:04:05', '2006-01-02T15:04:05', '2006-01-02 15:04:05+08:00', "
    "'2006-01-02T15:04:05+08:00', '2006-01-02 15:04:05+0800', or '2006-01-02T15:04:05+0800'"
)
SHARD_CONFLICT = (
    "The behaviour of `is-sharding` and `shard-mode` is conflicting. `is-sharding` is deprecated, "
    "please use `shard-mode` only."
)
NEED_SOURCE = "must specify at least one source (`-s` / `--source`)"
BINLOG_POS_USAGE = (
    "position used to match binlog event if matched the binlog operation will be applied. "
    'The format like "mysql-bin|000001.000003:3270"'
)

_START_TIME = r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:?\d{2})?$"


def flush_flag() -> Any:
    return bool_flag("flush", "flush the table info and checkpoint immediately", default=True)


def sync_flag() -> Any:
    return bool_flag(
        "sync",
        "sync the table info to master to resolve shard ddl lock, only for optimistic mode now",
        default=True,
    )


def batch_size_flag() -> Any:
    return int_flag("batch-size", "batch size when operating all (sub)tasks bound to a source", 5)


def start_time_flag(usage: str = START_TIME_USAGE) -> Any:
    return string_flag("start-time", usage)


def os_error_text(exc: OSError) -> str:
    """Go's syscall error text for ``exc`` (``no such file or directory``)."""
    import os

    text = os.strerror(exc.errno) if exc.errno else str(exc)
    return text[:1].lower() + text[1:]


def read_file(path: str) -> bytes:
    """DM's ``GetFileContent``: the file's bytes or ``error in get file content: open <f>: ...``."""
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except IsADirectoryError as exc:
        raise CtlError(f"error in get file content: read {path}: {os_error_text(exc)}") from None
    except OSError as exc:
        if exc.errno == errno.EISDIR:
            raise CtlError(f"error in get file content: read {path}: is a directory") from None
        raise CtlError(f"error in get file content: open {path}: {os_error_text(exc)}") from None


def load_yaml(content: bytes) -> Any:
    """Parse YAML; syntax errors read like go-yaml's (``yaml: line N: <problem>``)."""
    import yaml

    try:
        return yaml.safe_load(content)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f"line {mark.line + 1}: " if mark is not None else ""
        raise CtlError(f"yaml: {line}{exc.problem}") from None
    except yaml.YAMLError as exc:
        raise CtlError(f"yaml: {exc}") from None


def task_name(arg: str) -> str:
    """DM's ``GetTaskNameFromArgOrFile``: ``*.yaml``/``*.yml`` → the file's ``name``, else ``arg``."""
    if not arg.endswith((".yaml", ".yml")):
        return arg
    try:
        doc = load_yaml(read_file(arg))
    except CtlError:
        return arg
    if isinstance(doc, dict) and isinstance(doc.get("name"), str) and doc["name"]:
        return doc["name"]
    return arg


def shard_mode_conflict(content: bytes, doc: Any) -> bool:
    """``is-sharding`` and ``shard-mode`` both set and contradicting each other (DM's check)."""
    if not isinstance(doc, dict):
        return False
    lines = content.split(b"\n")
    is_sharding_set = any(line.startswith(b"is-sharding") for line in lines)
    shard_mode_set = any(line.startswith(b"shard-mode") for line in lines)
    is_sharding = doc.get("is-sharding") is True
    shard_mode = doc.get("shard-mode") or ""
    if is_sharding_set and not is_sharding and shard_mode != "":
        return True
    return shard_mode_set and shard_mode == "" and is_sharding


def valid_start_time(text: str) -> bool:
    """DM's ``ParseStartTime`` accepts ``text``."""
    from datetime import datetime

    if not re.match(_START_TIME, text):
        return False
    try:
        datetime.strptime(text[:19].replace("T", " "), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return False
    return True


def trim_quote_mark(s: str) -> str:
    """DM's ``utils.TrimQuoteMark``: drop one pair of surrounding double quotes."""
    return s[1:-1] if len(s) > 2 and s[0] == '"' and s[-1] == '"' else s


def verify_binlog_pos(pos: str) -> None:
    """DM's ``VerifyBinlogPos`` (``name:pos``, e.g. ``mysql-bin|000001.000003:3270``)."""
    from dmshell.engine.errors import ErrVerifyHandleErrorArgs

    text = trim_quote_mark(pos)
    parts = text.split(":")
    if len(parts) != 2:
        why = f"the format should be filename:pos, position string {text}"
    elif not re.fullmatch(r"\d+", parts[1]) or int(parts[1]) >= 2**32:
        why = f"the pos should be digital, position string {text}"
    else:
        return
    raise CtlError(
        str(ErrVerifyHandleErrorArgs(f"invalid --binlog-pos {text} in handle-error operation: {why}"))
    )


def verify_pos_str(text: str) -> None:
    """DM's ``PositionFromPosStr`` (``(mysql-bin.000001, 2345)``); raises its error text."""
    from dmshell.engine.errors import ErrBinlogParsePosFromStr

    s = text[1:-1] if len(text) > 2 and text[0] == "(" and text[-1] == ")" else text
    parts = s.split(", ")
    if len(parts) != 2:
        raise CtlError(
            str(
                ErrBinlogParsePosFromStr(
                    f"invalid binlog pos, should be like (mysql-bin.000001, 2345), got {text}"
                )
            )
        )
    if not re.fullmatch(r"\d+", parts[1]) or int(parts[1]) >= 2**32:
        raise CtlError(str(ErrBinlogParsePosFromStr(f"the pos should be digital, position string {text}")))


def extract_sqls(args: list[str]) -> list[str]:
    """DM's ``ExtractSQLsFromArgs``: the statements in the joined args, each with its own text."""
    if not args:
        raise CtlError("args is empty")
    concat = trim_quote_mark(" ".join(args).strip())
    try:
        statements = split_statements(concat)
    except ValueError as exc:
        raise CtlError(f"invalid sql '{concat}': {exc}") from None
    if not statements:
        raise CtlError("no valid SQLs")
    return statements


def split_statements(text: str) -> list[str]:
    """Split SQL at top-level ``;`` (kept, like the TiDB parser's ``node.Text()``)."""
    out: list[str] = []
    start = i = 0
    n = len(text)
    meaningful = False
    while i < n:
        c = text[i]
        if c in "'\"`":
            i = _skip_quoted(text, i)
            meaningful = True
            continue
        if c == "#" or (text.startswith("--", i) and (i + 2 == n or text[i + 2] in " \t\r\n")):
            nl = text.find("\n", i)
            i = n if nl < 0 else nl + 1
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise ValueError("unterminated comment")
            i = end + 2
            continue
        if c == ";":
            if meaningful:
                out.append(text[start : i + 1])
            start, meaningful = i + 1, False
        elif not c.isspace():
            meaningful = True
        i += 1
    if meaningful:
        out.append(text[start:])
    return out


def _skip_quoted(text: str, i: int) -> int:
    quote = text[i]
    j = i + 1
    while j < len(text):
        c = text[j]
        if c == "\\" and quote != "`":
            j += 2
            continue
        if c == quote:
            if j + 1 < len(text) and text[j + 1] == quote:
                j += 2
                continue
            return j + 1
        j += 1
    raise ValueError(f"unterminated quoted string near {text[i:i + 20]!r}")
