"""The one dmctl command registry: what every front door (dmctl, the REPL, the TUI) knows about commands.

The registry assembles DM's cobra command tree (``dm/ctl/ctl.go``) from the command modules
(:mod:`dmshell.ctl.commands`, which declare :class:`~dmshell.ctl.command.Command` entries) and looks
commands up like cobra's ``Find`` (:func:`find`), including hidden commands and aliases. Dependencies
point one way: command types ← command modules ← registry ← runner.

Two trees exist, as in DM: ``mode="command"`` (``dmctl <command>``: the root also carries the
process flags ``--master-addr``, ``--config``, ...) and ``mode="loop"`` (interactive/piped lines,
the REPL and the TUI prompt: only ``-s/--source`` is global).

Introspection for the REPL and the TUI: :func:`commands`, :func:`get`, :func:`walk`,
:func:`complete`, :func:`confirmation`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from dmshell.ctl.command import Command, all_flags, help_text, usage_text
from dmshell.ctl.commands import binlog, cluster, config, ddl, relay, schema, secret, task, validation
from dmshell.ctl.flags import Flag, FlagError, bool_flag, parse, string_flag, strings_flag
from dmshell.ctl.invocation import Invocation

HELP_LONG = (
    "Help provides help for any command in the application.\n"
    "Simply type dmctl help [path to command] for full details."
)


def root_flags(mode: str) -> list[Flag]:
    """The root's persistent flags: ``-s/--source`` always; the process flags in command mode."""
    flags = [
        strings_flag("source", "MySQL Source ID.", "s"),
        # beyond DM (hidden so that usage text stays DM's): output format, and skipping confirmations
        string_flag("output", "output format: json (DM's, default), table or plain", hidden=True),
        bool_flag("yes", "do not ask before destructive commands", hidden=True),
    ]
    if mode == "command":
        flags += [
            bool_flag("version", "Prints version and exit.", "V"),
            string_flag("config", "Path to config file."),
            string_flag(
                "master-addr",
                "Master API server address, this parameter is required when interacting "
                "with the dm-master",
            ),
            string_flag("rpc-timeout", "RPC timeout, default is 10m.", default="10m"),
            string_flag("ssl-ca", "Path of file that contains list of trusted SSL CAs for connection."),
            string_flag(
                "ssl-cert", "Path of file that contains X509 certificate in PEM format for connection."
            ),
            string_flag("ssl-key", "Path of file that contains X509 key in PEM format for connection."),
            # dmctl v2.0's `--encrypt` / `--decrypt` (local, no master needed)
            string_flag("encrypt", "Encrypts plaintext to ciphertext.", hidden=True),
            string_flag("decrypt", "Decrypts ciphertext to plaintext.", hidden=True),
        ]
    return flags


def top_level_commands() -> list[Command]:
    """DM's top-level commands in its registration order (``NewRootCmd``)."""
    return [
        *task.commands(),
        *ddl.show_unlock_commands(),
        *relay.pause_resume_commands(),
        *cluster.source_commands(),
        *cluster.member_commands(),
        *schema.operate_schema_commands(),
        *config.get_config_commands(),
        *binlog.handle_error_commands(),
        *cluster.transfer_commands(),
        *relay.start_stop_commands(),
        *binlog.binlog_commands(),
        *ddl.shard_ddl_lock_commands(),
        *schema.binlog_schema_commands(),
        *config.config_commands(),
        *validation.commands(),
        *secret.commands(),
    ]


# --------------------------------------------------------------------------- trees


_ROOTS: dict[str, Command] = {}


def root(mode: str = "loop") -> Command:
    """The command tree for ``mode`` (``"command"`` or ``"loop"``), built once."""
    if mode not in ("command", "loop"):
        raise ValueError(f"unknown mode {mode!r}")
    if mode not in _ROOTS:
        _ROOTS[mode] = _build(mode)
    return _ROOTS[mode]


def _build(mode: str) -> Command:
    r = Command(
        use="dmctl",
        short="DM control",
        persistent_flags=tuple(root_flags(mode)),
        flag_values={"source": "source"},
        run=_run_root if mode == "command" else None,
    )
    r.add(*top_level_commands())
    r.add(
        Command(
            use="help [command]",
            short="Gets help about any command",
            long=HELP_LONG,
            run=_run_help,
            positionals=("command...",),
            offline=True,
        )
    )
    return r


def _run_root(inv: Invocation) -> int | None:
    # command mode: `dmctl` with no command starts the interactive loop (DM's MainStart).
    if inv.args:
        inv.write(help_text(inv.cmd))
        return None
    if inv.session.loop_handler is None:
        inv.write(help_text(inv.cmd))
        return None
    return inv.session.loop_handler(inv)


def _run_help(inv: Invocation) -> int | None:
    m = find(inv.args, root_cmd=inv.cmd.root)
    if m.error:
        topics = " ".join(f"`{a}`" for a in inv.args)
        inv.write_err(f"Unknown help topic [{topics}]\n")
        inv.write_err(usage_text(inv.cmd.root))
        return None
    inv.write(help_text(m.cmd))
    return None


def commands(include_hidden: bool = False, mode: str = "loop") -> list[Command]:
    """Top-level commands in DM's registration order (``help`` last)."""
    return [c for c in root(mode).subcommands if include_hidden or not c.hidden]


def walk(mode: str = "loop", include_hidden: bool = True) -> Iterator[Command]:
    """Every command below the root, depth first, in registration order."""

    def rec(c: Command) -> Iterator[Command]:
        for sub in c.subcommands:
            if include_hidden or not sub.hidden:
                yield sub
                yield from rec(sub)

    yield from rec(root(mode))


def get(path: str | Sequence[str], mode: str = "loop") -> Command | None:
    """The command at ``path`` (``"binlog skip"`` or ``["binlog", "skip"]``; aliases work)."""
    words = path.split() if isinstance(path, str) else list(path)
    if words and words[0] == "dmctl":
        words = words[1:]
    c: Command | None = root(mode)
    for w in words:
        c = c.child(w) if c else None
    return c if c is not None and c.parent is not None else None


# --------------------------------------------------------------------------- lookup (cobra's Find)


@dataclass
class Match:
    """Result of :func:`find`: the command, the arguments left for it, and an error if any."""

    cmd: Command
    args: list[str]
    error: str | None = None
    called_as: str = ""


def _takes_value(flags: Iterable[Flag], name: str, short: bool) -> bool:
    for f in flags:
        if f.shorthand == name if short else f.name == name:
            return f.takes_value
    return True  # unknown flags are assumed to take a value, as cobra does


def strip_flags(args: Sequence[str], cmd: Command) -> list[str]:
    """cobra's ``stripFlags``: the words of ``args`` that are not flags or flag values."""
    flags = all_flags(cmd)
    words: list[str] = []
    rest = list(args)
    while rest:
        s = rest.pop(0)
        if s == "--":
            break
        if (s.startswith("--") and "=" not in s and _takes_value(flags, s[2:], False)) or (
            s.startswith("-")
            and not s.startswith("--")
            and "=" not in s
            and len(s) == 2
            and _takes_value(flags, s[1:], True)
        ):
            if len(rest) <= 1:
                break
            rest.pop(0)
        elif s and not s.startswith("-"):
            words.append(s)
    return words


def _args_minus_first(args: Sequence[str], word: str, cmd: Command) -> list[str]:
    flags = all_flags(cmd)
    i = 0
    while i < len(args):
        s = args[i]
        if s == "--":
            break
        if (s.startswith("--") and "=" not in s and _takes_value(flags, s[2:], False)) or (
            s.startswith("-") and "=" not in s and len(s) == 2 and _takes_value(flags, s[1:], True)
        ):
            i += 2
            continue
        if not s.startswith("-") and s == word:
            return [*args[:i], *args[i + 1 :]]
        i += 1
    return list(args)


def find(argv: Sequence[str], mode: str = "loop", root_cmd: Command | None = None) -> Match:
    """Locate the command ``argv`` names, like cobra's ``Find`` (unknown command → ``error``)."""
    cmd = root_cmd or root(mode)
    args = list(argv)
    called_as = ""
    while True:
        words = strip_flags(args, cmd)
        if not words:
            break
        nxt = cmd.child(words[0])
        if nxt is None:
            break
        args = _args_minus_first(args, words[0], cmd)
        cmd, called_as = nxt, words[0]
    if cmd.parent is None and cmd.subcommands:
        words = strip_flags(args, cmd)
        if words:
            return Match(
                cmd, args, f'unknown command "{words[0]}" for "{cmd.path}"{_suggestions(cmd, words[0])}'
            )
    return Match(cmd, args, None, called_as or cmd.name)


def _levenshtein(s: str, t: str) -> int:
    s, t = s.lower(), t.lower()
    prev = list(range(len(t) + 1))
    for i, cs in enumerate(s, 1):
        cur = [i]
        for j, ct in enumerate(t, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (cs != ct)))
        prev = cur
    return prev[-1]


def _suggestions(cmd: Command, typed: str) -> str:
    names = [
        c.name
        for c in cmd.subcommands
        if c.available and (_levenshtein(typed, c.name) <= 2 or c.name.lower().startswith(typed.lower()))
    ]
    if not names:
        return ""
    return "\n\nDid you mean this?\n" + "".join(f"\t{n}\n" for n in names)


# --------------------------------------------------------------------------- completion


@dataclass(frozen=True)
class Completion:
    """One candidate: the full word to put in place of the word being typed, and a description."""

    text: str
    meta: str = ""


ValueSource = Callable[[str], Iterable[str]]


def complete(words: Sequence[str], values: ValueSource | None = None, mode: str = "loop") -> list[Completion]:
    """Candidates for the last word of ``words`` (``""`` when a new word is starting).

    ``values(kind)`` supplies names fetched from the master (``task``, ``source``, ``worker``,
    ``member``, ``lock``); without it only commands, subcommands, flags, choices and files complete.
    """
    words = list(words) or [""]
    current, before = words[-1], words[:-1]
    m = find(before, mode)
    cmd = m.cmd
    flags = [f for f in all_flags(cmd) if not f.hidden]

    # value of a flag: `--flag=<cur>` or `--flag <cur>` / `-f <cur>`
    if current.startswith("--") and "=" in current:
        name, _, partial = current[2:].partition("=")
        return [Completion(f"--{name}={v}") for v in _values(cmd.value_kind(name), partial, values)]
    if before and m.args:
        prev = m.args[-1]
        flag = flag_for(prev, flags)
        if flag is not None and flag.takes_value and "=" not in prev:
            return [Completion(v) for v in _values(cmd.value_kind(flag.name), current, values)]

    if current.startswith("-"):
        out = []
        for f in sorted(flags, key=lambda f: f.name):
            if f"--{f.name}".startswith(current):
                out.append(Completion(f"--{f.name}", f.usage))
            elif f.shorthand and current == f"-{f.shorthand}":
                out.append(Completion(f"-{f.shorthand}", f.usage))
        return out

    positional = _positional_count(m.args, flags)
    out = []
    if positional == 0 and cmd.subcommands:
        for c in cmd.subcommands:
            if (c.available or c.is_help) and c.name.startswith(current):
                out.append(Completion(c.name, c.short))
    kind = _positional_kind(cmd, positional)
    if kind == "command...":
        target = find(m.args, mode).cmd if m.args else cmd.root
        return [
            Completion(c.name, c.short)
            for c in target.subcommands
            if (c.available or c.is_help) and c.name.startswith(current)
        ]
    if kind:
        out.extend(Completion(v) for v in _values(kind, current, values))
    return out


def flag_for(word: str, flags: Sequence[Flag]) -> Flag | None:
    """The flag a command-line word names (``--name``, ``--name=v``, ``-x``), if any."""
    if word.startswith("--"):
        name = word[2:].split("=", 1)[0]
        return next((f for f in flags if f.name == name), None)
    if word.startswith("-") and len(word) == 2:
        return next((f for f in flags if f.shorthand == word[1]), None)
    return None


def _positional_count(args: Sequence[str], flags: Sequence[Flag]) -> int:
    n, skip = 0, False
    for a in args:
        if skip:
            skip = False
            continue
        if a.startswith("-") and len(a) > 1:
            f = flag_for(a, flags)
            skip = f is not None and f.takes_value and "=" not in a and not (len(a) > 2 and a[1] != "-")
            continue
        n += 1
    return n


def _positional_kind(cmd: Command, index: int) -> str:
    if not cmd.positionals:
        return ""
    if index < len(cmd.positionals):
        return cmd.positionals[index]
    last = cmd.positionals[-1]
    return last if last.endswith("...") else ""


def _values(kind: str, prefix: str, values: ValueSource | None) -> list[str]:
    kind = kind.removesuffix("...")
    if kind.startswith("choice:"):
        return [c for c in kind[len("choice:") :].split(",") if c.startswith(prefix)]
    if kind in ("file", "dir"):
        return _paths(prefix, dirs_only=kind == "dir")
    if kind in ("task", "source", "worker", "member", "lock") and values is not None:
        try:
            found = list(values(kind))
        except Exception:
            return []
        return sorted({v for v in found if v.startswith(prefix)})
    return []


def _paths(prefix: str, dirs_only: bool) -> list[str]:
    head, tail = os.path.split(prefix)
    base = os.path.expanduser(head) if head else "."
    try:
        entries = sorted(os.scandir(base), key=lambda e: e.name)
    except OSError:
        return []
    out = []
    for e in entries:
        if not e.name.startswith(tail) or (e.name.startswith(".") and not tail.startswith(".")):
            continue
        is_dir = e.is_dir()
        if dirs_only and not is_dir:
            continue
        out.append(os.path.join(head, e.name) + ("/" if is_dir else ""))
    return out


# --------------------------------------------------------------------------- confirmation


def confirmation(argv: Sequence[str], mode: str = "loop") -> str | None:
    """The question to ask before running ``argv`` when it is destructive, else ``None``."""
    m = find(argv, mode)
    if m.error or m.cmd.confirm is None:
        return None
    try:
        values, args = parse(m.args, all_flags(m.cmd))
    except FlagError:
        return None
    if values.bool("help") or values.bool("yes"):  # --yes: asked already (as the runner)
        return None
    return m.cmd.confirm(args, values)


def describe(cmd: Command) -> dict[str, Any]:
    """A plain summary of a command for palettes and help panes."""
    return {
        "path": cmd.path.removeprefix("dmctl "),
        "use": cmd.use,
        "short": cmd.short,
        "hidden": cmd.hidden,
        "rpc": cmd.rpc,
        "flags": [(f.name, f.shorthand, f.kind, f.usage) for f in all_flags(cmd) if not f.hidden],
        "subcommands": [c.name for c in cmd.subcommands if c.available],
        "destructive": cmd.confirm is not None,
    }
