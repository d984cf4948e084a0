"""A dmctl command: cobra's ``Command`` plus what the front ends need, its flag sets and its usage
and help texts (cobra v1.10's, byte for byte).

The command modules (:mod:`dmshell.ctl.commands`) declare their commands with these types; the
registry (:mod:`dmshell.ctl.registry`) assembles them into DM's tree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dmshell.ctl.flags import Flag, FlagValues, bool_flag, flag_usages

if TYPE_CHECKING:
    from dmshell.ctl.invocation import Invocation

Handler = Callable[["Invocation"], "int | None"]
#: (positional args, parsed flags) -> the question to confirm, or None when nothing destructive runs
Confirm = Callable[[list[str], FlagValues], "str | None"]

_MIN_NAME_PADDING = 11


@dataclass(eq=False)
class Command:
    """One dmctl command (cobra's ``Command``) plus what the front ends need to drive it.

    ``positionals`` names the kind of each positional argument for completion: ``task``,
    ``source``, ``worker``, ``member``, ``lock``, ``file``, ``dir``, ``sql``, ``text`` or
    ``choice:a,b,c``; a trailing ``...`` on the last one means it repeats. ``flag_values`` does the
    same for flag values (by long flag name; looked up through the parents too).
    """

    use: str
    short: str
    run: Handler | None = None
    flags: tuple[Flag, ...] = ()
    persistent_flags: tuple[Flag, ...] = ()
    aliases: tuple[str, ...] = ()
    hidden: bool = False
    long: str = ""
    rpc: str = ""
    positionals: tuple[str, ...] = ()
    flag_values: dict[str, str] = field(default_factory=dict)
    confirm: Confirm | None = None
    #: runs without a master (help, decrypt)
    offline: bool = False
    subcommands: list[Command] = field(default_factory=list)
    parent: Command | None = None

    @property
    def name(self) -> str:
        return self.use.split(" ", 1)[0]

    @property
    def runnable(self) -> bool:
        return self.run is not None

    @property
    def path(self) -> str:
        """cobra's ``CommandPath``: ``dmctl binlog skip``."""
        return f"{self.parent.path} {self.name}" if self.parent else self.name

    @property
    def root(self) -> Command:
        return self.parent.root if self.parent else self

    @property
    def is_help(self) -> bool:
        return self.parent is not None and self.name == "help" and self.parent.parent is None

    def add(self, *cmds: Command) -> Command:
        for c in cmds:
            c.parent = self
            self.subcommands.append(c)
        return self

    def child(self, word: str) -> Command | None:
        """The subcommand named (or aliased) ``word``."""
        for c in self.subcommands:
            if c.name == word or word in c.aliases:
                return c
        return None

    @property
    def available(self) -> bool:
        """cobra's ``IsAvailableCommand`` (listed in help, suggested for typos)."""
        if self.hidden or self.is_help:
            return False
        return self.runnable or self.has_available_subcommands

    @property
    def has_available_subcommands(self) -> bool:
        return any(c.available for c in self.subcommands)

    def sorted_subcommands(self) -> list[Command]:
        return sorted(self.subcommands, key=lambda c: c.name)

    def value_kind(self, flag_name: str) -> str:
        """What a flag's value is (for completion), inherited from parents."""
        c: Command | None = self
        while c is not None:
            if flag_name in c.flag_values:
                return c.flag_values[flag_name]
            c = c.parent
        return ""


# --------------------------------------------------------------------------- flags of a command


def help_flag(cmd: Command) -> Flag:
    return bool_flag("help", f"help for {cmd.name}", "h")


def local_flags(cmd: Command) -> list[Flag]:
    """cobra's ``LocalFlags``: own flags, own persistent flags and ``-h/--help``."""
    out: dict[str, Flag] = {}
    for f in (*cmd.flags, *cmd.persistent_flags, help_flag(cmd)):
        out.setdefault(f.name, f)
    return list(out.values())


def inherited_flags(cmd: Command) -> list[Flag]:
    """cobra's ``InheritedFlags``: persistent flags of the parents (nearest first wins)."""
    local = {f.name for f in local_flags(cmd)}
    out: dict[str, Flag] = {}
    p = cmd.parent
    while p is not None:
        for f in p.persistent_flags:
            if f.name not in local:
                out.setdefault(f.name, f)
        p = p.parent
    return list(out.values())


def all_flags(cmd: Command) -> list[Flag]:
    return [*local_flags(cmd), *inherited_flags(cmd)]


# --------------------------------------------------------------------------- usage and help


def use_line(cmd: Command) -> str:
    """cobra's ``UseLine`` (every dmctl command has flags, so `` [flags]`` is appended)."""
    line = f"{cmd.parent.path} {cmd.use}" if cmd.parent else cmd.use
    return line if "[flags]" in line else line + " [flags]"


def _name_padding(cmd: Command) -> int:
    if cmd.parent is None:
        return _MIN_NAME_PADDING
    return max(_MIN_NAME_PADDING, *(len(c.name) for c in cmd.parent.subcommands))


def usage_text(cmd: Command) -> str:
    """What cobra's ``Usage()`` prints for ``cmd`` (ends with a newline)."""
    out = ["Usage:"]
    if cmd.runnable:
        out.append(f"\n  {use_line(cmd)}")
    subs = cmd.has_available_subcommands
    if subs:
        out.append(f"\n  {cmd.path} [command]")
    if cmd.aliases:
        out.append("\n\nAliases:\n  " + ", ".join((cmd.name, *cmd.aliases)))
    if subs:
        out.append("\n\nAvailable Commands:")
        for c in cmd.sorted_subcommands():
            if c.available or c.is_help:
                out.append(f"\n  {c.name.ljust(_name_padding(c))} {c.short}")
    local = [f for f in local_flags(cmd) if not f.hidden]
    if local:
        out.append("\n\nFlags:\n" + flag_usages(local).rstrip())
    inherited = [f for f in inherited_flags(cmd) if not f.hidden]
    if inherited:
        out.append("\n\nGlobal Flags:\n" + flag_usages(inherited).rstrip())
    if subs:
        out.append(f'\n\nUse "{cmd.path} [command] --help" for more information about a command.')
    out.append("\n")
    return "".join(out)


def help_text(cmd: Command) -> str:
    """What cobra's ``Help()`` prints: the long (or short) text, a blank line, then the usage."""
    text = (cmd.long or cmd.short).rstrip()
    out = f"{text}\n\n" if text else ""
    if cmd.runnable or cmd.subcommands:
        out += usage_text(cmd)
    return out
