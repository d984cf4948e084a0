"""Command palette (ctrl+p) entries: TUI actions on the current tasks plus the dmctl registry."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from dmshell.proto import dmworker_pb2 as pb
from dmshell.tui.views import VIEWS

if TYPE_CHECKING:
    from dmshell.tui.app import DMShellApp

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CommandInfo:
    """One dmctl command as the help and the palette show it."""

    name: str
    usage: str
    short: str


def registry_commands() -> list[CommandInfo]:
    """Every runnable, visible dmctl command from ``dmshell.ctl.registry`` (DM's order).

    The TUI must keep working when the registry cannot be loaded, so failures are logged and give
    an empty list."""
    try:
        from dmshell.ctl import registry  # the whole command tree: loaded when first shown (start-up time)
        from dmshell.ctl.command import use_line

        return [
            CommandInfo(cmd.path.removeprefix("dmctl "), use_line(cmd), cmd.short)
            for cmd in registry.walk(include_hidden=False)
            if cmd.runnable and not cmd.is_help
        ]
    except Exception:
        log.warning("dmctl command registry unavailable", exc_info=True)
        return []


def confirmation_question(argv: list[str]) -> str | None:
    """dmctl's own question for a destructive command line (None when it has none)."""
    try:
        from dmshell.ctl import registry  # start-up time, as above

        return registry.confirmation(argv)
    except Exception:
        return None


class DmshellCommands(Provider):
    """Views, task actions for every task the master reports, then every dmctl command (selecting
    one opens the ``:`` prompt with it filled in)."""

    @property
    def shell(self) -> DMShellApp:
        return cast("DMShellApp", self.app)

    def _entries(self) -> list[tuple[str, str, Callable[[], object]]]:
        shell = self.shell
        entries: list[tuple[str, str, Callable[[], object]]] = []
        for name, (key, label) in VIEWS.items():
            entries.append((f"view {name}", f"go to {label} (key {key})", partial(shell.switch_view, name)))
        if not shell.read_only:
            entries.append(
                (
                    "new source",
                    "create a source: form, connection test, operate-source create",
                    shell.open_source_form,
                )
            )
        if shell.about:
            entries.append(("playground", "ports, mariadb and export lines", shell.show_playground_banner))
        for task in shell.snapshot.tasks:
            entries.append(
                (
                    f"open task {task.name}",
                    "show the task's per-source status",
                    partial(shell.open_task, task.name),
                )
            )
            entries.append(
                (
                    f"describe task {task.name}",
                    "its config as YAML (passwords masked)",
                    partial(shell.describe_task, task.name),
                )
            )
            entries.append(
                (f"logs of task {task.name}", "worker log lines", partial(shell.show_task_log, task.name))
            )
            if not shell.read_only:
                for op, verb in ((pb.Pause, "pause"), (pb.Resume, "resume"), (pb.Stop, "stop")):
                    entries.append(
                        (
                            f"{verb}-task {task.name}",
                            f"{verb} the task (asks first)",
                            partial(shell.request_task_op, op, task.name),
                        )
                    )
        for cmd in registry_commands():
            entries.append((cmd.name, cmd.short or cmd.usage, partial(shell.show_command_usage, cmd)))
        return entries

    async def discover(self) -> Hits:
        for text, help_text, action in self._entries():
            yield DiscoveryHit(text, action, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, help_text, action in self._entries():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), action, text=text, help=help_text)
