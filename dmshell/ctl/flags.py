"""Command-line flags that behave like spf13/pflag v1.0.10, the flag library under DM's dmctl.

Parsing accepts what pflag accepts (``--name value``, ``--name=value``, ``-n value``, ``-nvalue``,
``-n=value``, grouped boolean shorthands ``-lmw``, ``--`` to end flags, flags anywhere between
positional arguments) and fails with pflag's exact messages. :func:`flag_usages` prints the
``Flags:`` block of cobra's usage text byte for byte.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

#: value kinds and the type name pflag prints in usage text
_TYPE_NAMES = {"bool": "", "string": "string", "int": "int", "int64": "int", "strings": "strings"}


class FlagError(Exception):
    """A flag could not be parsed; ``str()`` is pflag's message."""


@dataclass(frozen=True)
class Flag:
    """One flag definition (``kind``: ``bool``, ``string``, ``int``, ``int64`` or ``strings``)."""

    name: str
    kind: str
    default: object
    usage: str
    shorthand: str = ""
    hidden: bool = False

    def __post_init__(self) -> None:
        if self.kind not in _TYPE_NAMES:
            raise ValueError(f"unknown flag kind {self.kind!r}")

    @property
    def takes_value(self) -> bool:
        """False for booleans, which pflag sets to true when given without ``=value``."""
        return self.kind != "bool"

    @property
    def def_value(self) -> str:
        """pflag's ``DefValue`` string."""
        if self.kind == "bool":
            return "true" if self.default else "false"
        if self.kind == "strings":
            return "[" + _write_csv(_strings(self.default)) + "]"
        return str(self.default)

    def label(self) -> str:
        """How pflag names the flag in ``invalid argument`` errors."""
        return f"-{self.shorthand}, --{self.name}" if self.shorthand else f"--{self.name}"


def bool_flag(
    name: str, usage: str, shorthand: str = "", default: bool = False, hidden: bool = False
) -> Flag:
    return Flag(name, "bool", default, usage, shorthand, hidden)


def string_flag(name: str, usage: str, shorthand: str = "", default: str = "", hidden: bool = False) -> Flag:
    return Flag(name, "string", default, usage, shorthand, hidden)


def int_flag(name: str, usage: str, default: int, shorthand: str = "", kind: str = "int") -> Flag:
    return Flag(name, kind, default, usage, shorthand)


def strings_flag(name: str, usage: str, shorthand: str = "") -> Flag:
    return Flag(name, "strings", (), usage, shorthand)


@dataclass
class FlagValues:
    """Parsed values: every defined flag has a value (its default unless given)."""

    flags: dict[str, Flag]
    values: dict[str, object] = field(default_factory=dict)
    changed_names: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        for name, f in self.flags.items():
            self.values.setdefault(name, _strings(f.default) if f.kind == "strings" else f.default)

    # the accessors are named after the kinds (``values.str("output")``), so the builtins are spelled out

    def get(self, name: builtins.str) -> object:
        return self.values[name]

    def str(self, name: builtins.str) -> builtins.str:
        return builtins.str(self.values[name])

    def bool(self, name: builtins.str) -> builtins.bool:
        return builtins.bool(self.values[name])

    def int(self, name: builtins.str) -> builtins.int:
        value = self.values[name]
        return value if isinstance(value, builtins.int) else builtins.int(builtins.str(value))

    def list(self, name: builtins.str) -> builtins.list[builtins.str]:
        return _strings(self.values[name])

    def changed(self, name: builtins.str) -> builtins.bool:
        return name in self.changed_names

    def set(self, f: Flag, raw: builtins.str) -> None:
        """Apply one occurrence of ``f`` (pflag's ``Value.Set``)."""
        try:
            value = _convert(f, raw)
        except ValueError as exc:
            raise FlagError(
                f"invalid argument {_go_quote(raw)} for {_go_quote(f.label())} flag: {exc}"
            ) from None
        if f.kind == "strings" and f.name in self.changed_names:
            value = [*_strings(self.values[f.name]), *_strings(value)]
        self.values[f.name] = value
        self.changed_names.add(f.name)


def parse(args: Sequence[str], flags: Iterable[Flag]) -> tuple[FlagValues, list[str]]:
    """Parse ``args`` against ``flags`` (interspersed); returns the values and positional args."""
    by_name = {f.name: f for f in flags}
    by_short = {f.shorthand: f for f in by_name.values() if f.shorthand}
    result = FlagValues(by_name)
    positional: list[str] = []
    rest = list(args)
    while rest:
        s = rest.pop(0)
        if len(s) < 2 or s[0] != "-":
            positional.append(s)
        elif s == "--":
            positional.extend(rest)
            break
        elif s[1] == "-":
            rest = _parse_long(s, rest, by_name, result)
        else:
            rest = _parse_short(s, rest, by_short, result)
    return result, positional


def _parse_long(s: str, rest: list[str], by_name: dict[str, Flag], result: FlagValues) -> list[str]:
    name = s[2:]
    if not name or name[0] in "-=":
        raise FlagError(f"bad flag syntax: {s}")
    name, eq, value = name.partition("=")
    f = by_name.get(name)
    if f is None:
        raise FlagError(f"unknown flag: --{name}")
    if not eq:
        if not f.takes_value:
            value = "true"
        elif rest:
            value = rest.pop(0)
        else:
            raise FlagError(f"flag needs an argument: --{name}")
    result.set(f, value)
    return rest


def _parse_short(s: str, rest: list[str], by_short: dict[str, Flag], result: FlagValues) -> list[str]:
    shorthands = s[1:]
    while shorthands:
        c = shorthands[0]
        f = by_short.get(c)
        if f is None:
            raise FlagError(f"unknown shorthand flag: {_go_quote_rune(c)} in -{shorthands}")
        if len(shorthands) > 2 and shorthands[1] == "=":
            value, shorthands = shorthands[2:], ""
        elif not f.takes_value:
            value, shorthands = "true", shorthands[1:]
        elif len(shorthands) > 1:
            value, shorthands = shorthands[1:], ""
        elif rest:
            value, shorthands = rest.pop(0), ""
        else:
            raise FlagError(f"flag needs an argument: {_go_quote_rune(c)} in -{shorthands}")
        result.set(f, value)
    return rest


def _convert(f: Flag, raw: str) -> object:
    if f.kind == "string":
        return raw
    if f.kind == "bool":
        return _parse_bool(raw)
    if f.kind in ("int", "int64"):
        return _parse_int(raw)
    return _read_csv(raw)


def _parse_bool(raw: str) -> bool:
    if raw in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if raw in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ValueError(f"strconv.ParseBool: parsing {_go_quote(raw)}: invalid syntax")


_INT_RE = re.compile(r"[+-]?(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|0[0-7_]*|[1-9][0-9_]*)")


def _parse_int(raw: str) -> int:
    """Go's ``strconv.ParseInt(s, 0, 64)``: base prefixes, leading-zero octal, underscores."""
    if not _INT_RE.fullmatch(raw) or "__" in raw or raw.rstrip("_") != raw:
        raise ValueError(f"strconv.ParseInt: parsing {_go_quote(raw)}: invalid syntax")
    body = raw.lstrip("+-")
    sign = -1 if raw.startswith("-") else 1
    if len(body) > 1 and body[0] == "0" and body[1] not in "xXoObB":
        value = int(body.replace("_", ""), 8)
    else:
        value = int(body.replace("_", ""), 0)
    value *= sign
    if not -(2**63) <= value < 2**63:
        raise ValueError(f"strconv.ParseInt: parsing {_go_quote(raw)}: value out of range")
    return value


def _read_csv(raw: str) -> list[str]:
    if raw == "":
        return []
    import csv  # only `-s a,b`-style values need it

    return next(csv.reader([raw]), [])


def _strings(value: object) -> list[str]:
    """A ``strings`` flag's value (a list; its default is a tuple) as a new list."""
    return [str(v) for v in value] if isinstance(value, list | tuple) else []


def _write_csv(values: list[str]) -> str:
    out = []
    for v in values:
        out.append(
            '"' + v.replace('"', '""') + '"' if any(c in v for c in ',"\r\n') or v.startswith(" ") else v
        )
    return ",".join(out)


def _go_quote(s: str) -> str:
    """Go's ``%q`` for a string (enough for flag values: escapes quote, backslash, controls)."""
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _go_quote_rune(c: str) -> str:
    if c == "'":
        return "'\\''"
    if c == "\\":
        return "'\\\\'"
    if ord(c) < 0x20:
        return f"'\\x{ord(c):02x}'"
    return f"'{c}'"


def unquote_usage(f: Flag) -> tuple[str, str]:
    """pflag's ``UnquoteUsage``: a back-quoted word in the usage names the value."""
    usage = f.usage
    i = usage.find("`")
    if i >= 0:
        j = usage.find("`", i + 1)
        if j >= 0:
            name = usage[i + 1 : j]
            return name, usage[:i] + name + usage[j + 1 :]
    return _TYPE_NAMES[f.kind], usage


def _default_is_zero(f: Flag) -> bool:
    if f.kind == "bool":
        return not f.default
    if f.kind in ("int", "int64"):
        return f.default == 0
    if f.kind == "string":
        return f.default == ""
    return f.def_value == "[]"


def flag_usages(flags: Iterable[Flag]) -> str:
    """pflag's ``FlagUsages()``: one line per visible flag, sorted by name, aligned."""
    lines: list[str] = []
    maxlen = 0
    for f in sorted(flags, key=lambda f: f.name):
        if f.hidden:
            continue
        line = f"  -{f.shorthand}, --{f.name}" if f.shorthand else f"      --{f.name}"
        varname, usage = unquote_usage(f)
        if varname:
            line += " " + varname
        line += "\x00"
        maxlen = max(maxlen, len(line.encode()))
        line += usage
        if not _default_is_zero(f):
            line += (
                f" (default {_go_quote(f.def_value)})" if f.kind == "string" else f" (default {f.def_value})"
            )
        lines.append(line)
    out = []
    for line in lines:
        head, _, usage = line.partition("\x00")
        spacing = " " * (maxlen - len(head.encode()))
        usage = usage.replace("\n", "\n" + " " * (maxlen + 2))
        out.append(f"{head} {spacing} {usage}\n")
    return "".join(out)
