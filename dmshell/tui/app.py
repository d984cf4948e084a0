"""The dmshell TUI (``dmshell`` with no sub-command); user guide in ``docs/tui.md``.

The app holds the latest status as reactive state (``snapshot``, ``cluster_info``, ``connected``,
``banner``, ``data_age``) fed by a :class:`~dmshell.tui.client.StatusStream` thread that keeps the
master's ``WatchStatus`` stream open, plus a lag/throughput :class:`~dmshell.tui.history.History`;
screens watch that state and update their widgets in place. Views are Textual modes (``1``-``5``),
each with its own screen stack. dmctl lines (``:`` prompt, console, palette) run through
:class:`~dmshell.tui.dmctl.DmctlRunner`, i.e. dmctl's own ``Session``; every action the TUI takes is
logged to the console as its dmctl command line.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import signal
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.reactive import var
from textual.screen import Screen
from textual.theme import Theme

from dmshell.client.channel import TLSFiles, set_default_tls
from dmshell.client.defaults import DEFAULT_MASTER_ADDR, MASTER_ADDR_ENV, data_dir
from dmshell.client.errors import EXIT_UNREACHABLE, EXIT_USAGE, ClientError
from dmshell.client.master import MasterClient
from dmshell.ctl.history_file import history_path
from dmshell.proto import dmmaster_pb2
from dmshell.proto import dmworker_pb2 as pb
from dmshell.screens.confirm import ConfirmScreen
from dmshell.screens.dashboard import DashboardScreen
from dmshell.screens.help import HelpScreen
from dmshell.screens.task_detail import TaskDetailScreen
from dmshell.tui.client import BACKOFF, MasterOps, StatusStream, StreamState, probe_master
from dmshell.tui.config import THEME_NAMES, ConfigError, TuiConfig, load_config
from dmshell.tui.dmctl import (
    CommandResult,
    ConsoleEntry,
    DmctlRunner,
    LineError,
    command_path,
    mutates,
    prompt_word,
    split_line,
)
from dmshell.tui.history import History
from dmshell.tui.line_history import LineHistory
from dmshell.tui.model import (
    Snapshot,
    SourceFacts,
    SubtaskView,
    build_snapshot,
    carry_over,
    mask_secrets,
    source_facts,
)
from dmshell.tui.source_check import SourceForm
from dmshell.tui.timeline import Timeline
from dmshell.tui.views import VIEWS
from dmshell.tui.widgets.commands import (
    CommandInfo,
    DmshellCommands,
    confirmation_question,
    registry_commands,
)
from dmshell.tui.widgets.format import human_seconds
from dmshell.tui.widgets.subtask_panel import stall_reason

THEME_DIR = Path(__file__).parent.parent / "themes"

HIGH_CONTRAST = Theme(
    name="dmshell-high-contrast",
    primary="#00ffff",
    secondary="#ffff00",
    accent="#ffff00",
    warning="#ffff00",
    error="#ff4040",
    success="#00ff00",
    foreground="#ffffff",
    background="#000000",
    surface="#000000",
    panel="#202020",
    boost="#303030",
    dark=True,
)

#: --theme name → (Textual theme, tcss file in dmshell/themes).
THEMES: dict[str, tuple[str, str]] = {
    "dark": ("textual-dark", "dark.tcss"),
    "light": ("textual-light", "light.tcss"),
    "high-contrast": ("dmshell-high-contrast", "high-contrast.tcss"),
}

#: TaskOp → (dmctl command, verb for the question).
TASK_OPS: dict[int, tuple[str, str]] = {
    pb.Pause: ("pause-task", "Pause"),
    pb.Resume: ("resume-task", "Resume"),
    pb.Stop: ("stop-task", "Stop"),
}

#: what ``signal.signal`` returns: the handler to put back
SignalHandler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None

#: Seconds without an update (while connected) before the banner says the data is stale.
STALE_AFTER = 5.0
#: the TUI's exit code when it quit on SIGHUP/SIGTERM or a lost terminal (nobody is there to ask)
EXIT_TERMINAL_GONE = 129
#: Seconds between status checks while confirming a resume
RESUME_CHECK_INTERVAL = 0.5
#: Seconds a dmctl line or an action may take (operate-source gets a minute: it checks the database)
CALL_TIMEOUT = 30.0


class StatusArrived(Message):
    def __init__(self, resp: dmmaster_pb2.QueryStatusListResponse) -> None:
        super().__init__()
        self.resp = resp


class ClusterArrived(Message):
    def __init__(self, info: dmmaster_pb2.ClusterInfo) -> None:
        super().__init__()
        self.info = info


class ModesArrived(Message):
    def __init__(self, modes: dict[str, str]) -> None:
        super().__init__()
        self.modes = modes


class SourcesArrived(Message):
    def __init__(self, configs: dict[str, str]) -> None:
        super().__init__()
        self.configs = configs


class StreamChanged(Message):
    def __init__(self, state: StreamState) -> None:
        super().__init__()
        self.state = state


def dmctl_command(master_addr: str, command: str, *args: str, sources: Iterable[str] = ()) -> str:
    """The dmctl command line that does what the TUI is about to do."""
    parts = ["dmctl", f"--master-addr={master_addr}", command]
    for source in sources:
        parts += ["-s", source]
    parts += list(args)
    return shlex.join(parts)


def _lazy_screen(module: str, name: str) -> Callable[[], Screen]:
    def make() -> Screen:
        import importlib

        return getattr(importlib.import_module(module), name)()

    return make


#: Examples for the help screen's ``:`` prompt section.
PROMPT_NOTES = (
    (":query-status shop", "any dmctl command, same syntax and output as the dmctl REPL (tab completes)"),
    (":dmctl --master-addr=… pause-task t", "echoed dmctl lines can be pasted back as they are"),
    (":sources  :console  :task NAME", "go to a view (also: dashboard, ddl-locks, errors)"),
    ("read-only", "commands that change the cluster are refused; destructive ones ask first"),
)


class DMShellApp(App[int]):
    """Dashboard, task detail, sources, console over a live status stream from one master."""

    TITLE = "dmshell"
    # Notifications at the top right: the bottom holds the input lines (console, : prompt, forms).
    DEFAULT_CSS = """
    ToastRack {
        align: right top;
        margin-top: 2;
    }
    """
    COMMANDS = App.COMMANDS | {DmshellCommands}
    # Views other than the dashboard are imported when first opened (start-up time).
    MODES = {
        "dashboard": DashboardScreen,
        "sources": _lazy_screen("dmshell.screens.sources", "SourcesScreen"),
        "console": _lazy_screen("dmshell.screens.console", "ConsoleScreen"),
        "ddl-locks": _lazy_screen("dmshell.screens.ddl_locks", "DDLLocksScreen"),
        "errors": _lazy_screen("dmshell.screens.errors", "ErrorsScreen"),
    }
    DEFAULT_MODE = "dashboard"
    BINDINGS = [
        Binding("q", "quit", "Quit", tooltip="Quit dmshell (the daemon keeps running)"),
        Binding("question_mark", "help", "Help", key_display="?", tooltip="This help"),
        Binding(
            "colon",
            "prompt",
            "Command",
            key_display=":",
            tooltip="The : prompt: a dmctl command line, or a view name (sources, console, task NAME)",
        ),
        *(
            Binding(key, f"switch_view('{name}')", label, show=False, tooltip=f"Go to {label}")
            for name, (key, label) in VIEWS.items()
        ),
        Binding(
            "ctrl+c",
            "quit",
            "Quit",
            show=False,
            priority=True,
            tooltip="Quit dmshell (the daemon keeps running)",
        ),
    ]

    snapshot: var[Snapshot] = var(Snapshot)
    cluster_info: var[dmmaster_pb2.ClusterInfo | None] = var(None)
    #: None until the first connection attempt finishes.
    connected: var[bool | None] = var(None)
    banner: var[str] = var("")
    #: whole seconds since the last status arrived (None before the first one)
    data_age: var[int | None] = var(None)
    #: source id → its config YAML as the master gives it (passwords masked)
    source_configs: var[dict[str, str]] = var(dict)
    #: bumped whenever an entry is added to :attr:`console_entries`
    console_version: var[int] = var(0)

    def __init__(
        self,
        master_addr: str,
        *,
        read_only: bool = False,
        theme_name: str = "dark",
        clock: Callable[[], float] = time.time,
        history_clock: Callable[[], float] = time.time,
        handle_signals: bool = False,
        interval_ms: int = 1000,
        backoff: tuple[float, ...] = BACKOFF,
        about: str = "",
        history_file: Path | None = None,
    ) -> None:
        if theme_name not in THEMES:
            raise ValueError(f"unknown theme {theme_name!r} (choose from {', '.join(THEMES)})")
        textual_theme, css_file = THEMES[theme_name]
        super().__init__(css_path=[THEME_DIR / css_file])
        self.register_theme(HIGH_CONTRAST)
        self.theme = textual_theme
        self.master_addr = master_addr
        #: what started this TUI says about the cluster (the playground's ports and connect lines)
        self.about = about
        self.read_only = read_only
        self.clock = clock
        #: when a status sample counts as taken (tests tick it one second per sample)
        self.history_clock = history_clock
        self.handle_signals = handle_signals
        self.interval_ms = interval_ms
        self.backoff = backoff
        #: the connection dmctl lines and actions share (the status stream dials its own)
        self.client = MasterClient(master_addr, timeout=CALL_TIMEOUT)
        self.ops = MasterOps(self.client)
        self.dmctl = DmctlRunner(self.client)
        self.modes: dict[str, str] = {}
        self.facts: dict[str, SourceFacts] = {}
        self.history = History()
        self.timeline = Timeline()
        self.last_status: dmmaster_pb2.QueryStatusListResponse | None = None
        self.last_update: float | None = None
        self.stream_state = StreamState(connected=False)
        self._state_since = clock()
        #: What the TUI did, as dmctl command lines with their outcome (lazygit's command log).
        self.command_log: list[str] = []
        #: dmctl lines and TUI actions, shown by the console.
        self.console_entries: list[ConsoleEntry] = []
        #: lines entered at the : prompt and in the console, shared with the dmctl REPL's history file
        self.prompt_history = LineHistory(history_file)
        self.stream: StatusStream | None = None
        self._saved_handlers: dict[int, SignalHandler] = {}
        self._history_asked = False

    # -- lifecycle ---------------------------------------------------------------------------
    def on_mount(self) -> None:
        self.stream = StatusStream(
            self.master_addr,
            interval_ms=self.interval_ms,
            backoff=self.backoff,
            on_status=lambda resp: self.post_message(StatusArrived(resp)),
            on_state=lambda state: self.post_message(StreamChanged(state)),
            on_cluster=lambda info: self.post_message(ClusterArrived(info)),
            on_modes=lambda modes: self.post_message(ModesArrived(modes)),
            on_sources=lambda configs: self.post_message(SourcesArrived(configs)),
        )
        self.stream.start()
        if self.prompt_history.path is not None:
            self._load_line_history()
        self.set_interval(1.0, self._refresh_banner)
        if self.handle_signals:
            # Plain handlers (not loop.add_signal_handler, which resets them to SIG_DFL when the loop
            # closes): the caller's handlers come back on exit, so the playground can still clean up.
            loop = asyncio.get_running_loop()

            def on_signal(_signum: int, _frame: object) -> None:
                loop.call_soon_threadsafe(lambda: self.exit(return_code=EXIT_TERMINAL_GONE))

            for sig in (signal.SIGHUP, signal.SIGTERM):
                self._saved_handlers[sig] = signal.signal(sig, on_signal)
            self.set_interval(5.0, self._tty_watchdog)

    def on_unmount(self) -> None:
        if self.stream is not None:
            self.stream.stop(join_timeout=0.5)
        self.client.close()
        for sig, handler in self._saved_handlers.items():
            signal.signal(sig, handler)
        self._saved_handlers.clear()

    def _tty_watchdog(self) -> None:
        # An SSH drop can leave us with a dead terminal and no SIGHUP: quit instead of spinning.
        try:
            alive = sys.__stdin__ is not None and os.isatty(sys.__stdin__.fileno())
        except (OSError, ValueError):
            alive = False
        if not alive:
            self.exit(return_code=EXIT_TERMINAL_GONE)

    # -- status stream -----------------------------------------------------------------------
    def _rebuild(self) -> None:
        if self.last_status is not None:
            self.snapshot = build_snapshot(self.last_status, self.modes, self.facts)

    def on_status_arrived(self, message: StatusArrived) -> None:
        message.resp = carry_over(self.last_status, message.resp)
        self.last_status = message.resp
        self.last_update = self.clock()
        snapshot = build_snapshot(message.resp, self.modes, self.facts)
        # before the screens see the snapshot: they graph the history and show the timeline
        at = self.history_clock()
        self.history.record(snapshot, at)
        self.timeline.observe(snapshot, at)
        self.snapshot = snapshot
        self._refresh_banner()

    @work(thread=True, group="line-history")
    def _load_line_history(self) -> None:
        try:
            lines = self.prompt_history.load()
        except OSError:
            return
        self.call_from_thread(self.prompt_history.__setitem__, slice(0, 0), lines)  # older lines first

    @work(thread=True, group="history")
    def _fetch_history(self) -> None:
        """The minutes the master sampled before this TUI started (an older master has none)."""
        try:
            resp = self.client.call("StatusHistory", dmmaster_pb2.StatusHistoryRequest())
        except ClientError:
            return
        samples = [
            (s.unixMs / 1000.0, build_snapshot(s.status, self.modes, self.facts)) for s in resp.samples
        ]
        self.call_from_thread(self._history_arrived, samples)

    def _history_arrived(self, samples: list[tuple[float, Snapshot]]) -> None:
        if samples:
            self.history.replay(samples)
            self.timeline.replay(samples)
            self.refresh_history_views()

    def refresh_history_views(self) -> None:
        """Redraw the graphs (the snapshot did not change, the history did)."""
        for screen in self.screen_stack:
            show = getattr(screen, "show_snapshot", None)
            if show is not None:
                show(self.snapshot, force=True)

    def on_cluster_arrived(self, message: ClusterArrived) -> None:
        self.cluster_info = message.info

    def on_modes_arrived(self, message: ModesArrived) -> None:
        if message.modes != self.modes:
            self.modes = {**self.modes, **message.modes}
            self._rebuild()

    def on_sources_arrived(self, message: SourcesArrived) -> None:
        self.facts = {sid: source_facts(text) for sid, text in message.configs.items()}
        self.source_configs = dict(message.configs)
        self._rebuild()

    def on_stream_changed(self, message: StreamChanged) -> None:
        if message.state.connected and not self._history_asked:
            self._history_asked = True
            self._fetch_history()
        self.stream_state = message.state
        self._state_since = self.clock()
        self.connected = message.state.connected
        self._refresh_banner()

    def _refresh_banner(self) -> None:
        self.banner = self.banner_text()
        if self.last_update is not None:
            self.data_age = max(0, int(self.clock() - self.last_update))

    def banner_text(self) -> str:
        """What the stale-data banner says now ("" while the data is live)."""
        now = self.clock()
        state = self.stream_state
        age = "" if self.last_update is None else f" — data is {human_seconds(now - self.last_update)} old"
        if self.connected is False:
            retry = max(0, round(state.retry_in - (now - self._state_since)))
            where = "lost the master" if self.last_update is not None else "cannot reach the master"
            return f"⚠ {where} at {self.master_addr}: {state.error}{age} — retrying in {retry}s"
        if self.connected and self.last_update is not None and now - self.last_update > STALE_AFTER:
            return f"⚠ no status update from {self.master_addr}{age}"
        silent = self.snapshot.silent_workers()
        if silent:
            # The master answers; a worker does not: name it instead of blaming the master.
            names = ", ".join(f"{s.worker or '?'} ({s.source})" for s in silent)
            verb = "is" if len(silent) == 1 else "are"
            return f"⚠ worker {names} {verb} not answering the master — its tasks' status is unknown"
        return ""

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Notifications never parse markup: DM's messages start with ``[code=...]``."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    # -- navigation --------------------------------------------------------------------------
    def action_switch_view(self, name: str) -> None:
        self.switch_view(name)

    def switch_view(self, name: str) -> None:
        """Go to one of :data:`VIEWS` (each keeps its own screen stack)."""
        if name in VIEWS and self.current_mode != name:
            self.switch_mode(name)

    def _push_in_view(self, view: str, make: Callable[[], Screen], already: Callable[[Screen], bool]) -> None:
        """Switch to ``view``, then push ``make()`` unless ``already(current screen)``. The push waits
        for a first-time view to be mounted (pushing into a view that is still mounting breaks it)."""

        async def go() -> None:
            if self.current_mode != view:
                await self.switch_mode(view)
            if not already(self.screen):
                await self.push_screen(make())

        self.call_later(go)

    def open_task(self, name: str) -> None:
        self._push_in_view(
            "dashboard",
            lambda: TaskDetailScreen(name),
            lambda s: isinstance(s, TaskDetailScreen) and s.task_name == name,
        )

    def open_source(self, source: str) -> None:
        """The Sources view with ``source`` under the cursor."""

        async def go() -> None:
            await self.switch_mode("sources")
            select = getattr(self.screen, "select_source", None)
            if select is not None:
                select(source)

        self.call_later(go)

    def open_source_form(self) -> None:
        if self.read_only:
            self.notify("Read-only mode: operate-source create is disabled.", severity="warning")
            return
        from dmshell.screens.source_form import SourceFormScreen

        self._push_in_view("sources", SourceFormScreen, lambda s: isinstance(s, SourceFormScreen))

    def action_prompt(self, value: str = "") -> None:
        from dmshell.screens.prompt import PromptScreen

        if isinstance(self.screen, PromptScreen):
            return

        def entered(line: str | None) -> None:
            if line:
                self.run_dmctl(line, origin="prompt")

        self.push_screen(PromptScreen(self.completion_values, self.prompt_history, value=value), entered)

    def completion_values(self, kind: str) -> list[str]:
        """Names for completion (``task``, ``source``, ``worker``, ``member``, ``lock``) from the stream."""
        snap = self.snapshot
        if kind == "task":
            return [t.name for t in snap.tasks]
        if kind == "source":
            return [s.source for s in snap.sources]
        if kind in ("worker", "member"):
            return sorted({s.worker for s in snap.sources if s.worker})
        if kind == "lock":
            return sorted({st.unresolved_lock for t in snap.tasks for st in t.subtasks if st.unresolved_lock})
        return []

    def stall_text(self, task: str, st: SubtaskView) -> str:
        """The task detail's ``state`` line, with how long the subtask has been paused."""
        since = self.timeline.since(task, st.source)
        paused_for = self.history.end - since if since is not None and st.stage == "Paused" else None
        return stall_reason(st, paused_for)

    def show_playground_banner(self) -> None:
        """``:playground``: the ports and connect lines the playground printed at start."""
        if not self.about:
            self.notify("This TUI was not started by `dmshell playground`.", title="playground")
            return
        self._show_text("playground", self.about, False, lambda: self.about)

    # -- describe and logs -------------------------------------------------------------------
    def describe_task(self, task: str) -> None:
        """``d``: the task's config as YAML (what ``config task NAME`` prints), passwords masked."""
        self._load_text(
            f"task {task} · config   (dmctl config task {task})",
            lambda: self._task_config(task),
            yaml=True,
        )

    def _task_config(self, task: str) -> str:
        resp = self.client.call("GetCfg", dmmaster_pb2.GetCfgRequest(type=dmmaster_pb2.TaskType, name=task))
        if not resp.result:
            raise ClientError(resp.msg or f"no config for task {task}")
        return mask_secrets(resp.cfg)

    def show_task_log(self, task: str) -> None:
        """``l``: the last worker log lines that mention the task (through the master)."""
        self._load_text(f"task {task} · worker log", lambda: self._task_log(task))

    def _task_log(self, task: str) -> str:
        resp = self.client.call("TaskLog", dmmaster_pb2.TaskLogRequest(name=task, lines=200))
        if not resp.result:
            raise ClientError(resp.msg or f"no log for task {task}")
        out = []
        for w in resp.workers:
            out.append(f"== {w.worker}: {w.file or w.msg}")
            out.extend(w.lines)
        return "\n".join(out)

    @work(thread=True, group="text")
    def _load_text(self, title: str, load: Callable[[], str], yaml: bool = False) -> None:
        try:
            text = load()
        except ClientError as exc:
            self.call_from_thread(self.notify, str(exc), title=title, severity="error", timeout=10)
            return

        def reload() -> str:
            try:
                return load()
            except ClientError as exc:
                return f"(reload failed: {exc})"

        self.call_from_thread(self._show_text, title, text, yaml, reload)

    def _show_text(self, title: str, text: str, yaml: bool, reload: Callable[[], str]) -> None:
        from dmshell.screens.text_view import TextViewScreen  # start-up time: opened on demand

        self.push_screen(TextViewScreen(title, text, yaml=yaml, loader=reload))

    # -- dmctl lines (console, : prompt, palette) --------------------------------------------
    def dmctl_line(self, command: str, *args: str, sources: Iterable[str] = ()) -> str:
        return dmctl_command(self.master_addr, command, *args, sources=sources)

    def add_console_entry(self, entry: ConsoleEntry) -> None:
        self.console_entries.append(entry)
        self.console_version += 1

    def run_dmctl(self, line: str, origin: str = "console") -> None:
        """Run a dmctl line (or a view word at the prompt): refuses mutations in read-only mode, asks
        before destructive commands, runs in a thread, reports in the console and a notification."""
        line = line.strip()
        if not line or (origin == "prompt" and self._view_command(line)):
            return
        try:
            argv = split_line(line)
        except LineError as exc:
            self.add_console_entry(ConsoleEntry(line, origin, note=str(exc), ok=False))
            self.notify(str(exc), title="malformed command", severity="error", timeout=8)
            return
        if not argv:
            return
        path = command_path(argv)
        if self.read_only and mutates(argv):
            note = f"refused: read-only mode ({path} changes the cluster)"
            self.add_console_entry(ConsoleEntry(line, origin, note=note, ok=False))
            self.notify(f"Read-only mode: {path} is disabled.", title="refused", severity="warning")
            return
        question = confirmation_question(argv)
        if question:

            def answered(yes: bool | None) -> None:
                if yes:
                    self._run_dmctl(argv, line, origin)
                else:
                    self.add_console_entry(ConsoleEntry(line, origin, note="cancelled", ok=False))

            confirm = ConfirmScreen(path, question, self.dmctl_line(*argv), destructive=True)
            self.push_screen(confirm, answered)
            return
        self._run_dmctl(argv, line, origin)

    def _view_command(self, line: str) -> bool:
        """A ``:`` prompt word (or alias): go to a view, a task, a source; False for dmctl lines."""
        words = line.split()
        word = prompt_word(words[0])
        if word is None:
            return False
        if word in VIEWS and len(words) == 1:
            self.switch_view(word)
            return True
        if word == "task" and len(words) == 2:
            if self.snapshot.task(words[1]) is None:
                self.notify(f"No task {words[1]!r} in the status.", severity="warning")
            else:
                self.open_task(words[1])
            return True
        if word == "source" and len(words) == 2:
            if all(s.source != words[1] for s in self.snapshot.sources):
                self.notify(f"No source {words[1]!r} in the status.", severity="warning")
            else:
                self.open_source(words[1])
            return True
        if word == "playground" and len(words) == 1:
            self.show_playground_banner()
            return True
        if word == "quit" and len(words) == 1:
            self.exit()
            return True
        return False

    @work(thread=True, group="dmctl")
    def _run_dmctl(self, argv: list[str], line: str, origin: str) -> None:
        result = self.dmctl.run(argv, line)
        self.call_from_thread(self._dmctl_done, argv, result, origin)

    def _dmctl_done(self, argv: list[str], result: CommandResult, origin: str) -> None:
        self.add_console_entry(ConsoleEntry(result.line, origin, result=result, ok=result.ok))
        path = command_path(argv) or argv[0]
        where = "" if self.current_mode == "console" else "\n(full output: console, key 3)"
        if result.ok:
            self.notify(f"{result.line}\n{result.summary}{where}", title=f"{path}: ok", timeout=6)
        else:
            self.notify(
                f"{result.line}\n{result.summary}{where}",
                title=f"{path}: failed",
                severity="error",
                timeout=10,
            )
        if mutates(argv) and self.stream is not None:
            self.stream.refresh_configs()

    # -- actions on the cluster --------------------------------------------------------------
    def _log_action(self, line: str, ok: bool, detail: str) -> None:
        outcome = f"{'ok' if ok else 'failed'}{': ' + detail if detail else ''}"
        self.command_log.append(f"{line}  # {outcome}")
        self.add_console_entry(ConsoleEntry(line, "action", note=outcome, ok=ok))

    def request_task_op(self, op: int, name: str, sources: Sequence[str] = ()) -> None:
        """Ask for confirmation (showing the dmctl command), then run ``OperateTask``."""
        command, verb = TASK_OPS[op]
        if self.read_only:
            self.notify(f"Read-only mode: {command} is disabled.", severity="warning")
            return
        line = dmctl_command(self.master_addr, command, name, sources=sources)
        argv = [command, *(arg for source in sources for arg in ("-s", source)), name]
        where = f"on {', '.join(sources)}" if sources else "on all its sources"
        question = confirmation_question(argv) or f"{verb} task {name} {where}?"

        def answered(yes: bool | None) -> None:
            if yes:
                self._run_task_op(op, name, list(sources), line)

        self.push_screen(ConfirmScreen(f"{verb} task", question, line, destructive=op == pb.Stop), answered)

    @work(thread=True, group="operations")
    def _run_task_op(self, op: int, name: str, sources: list[str], line: str) -> None:
        try:
            resp = self.ops.operate_task(op, name, sources)
        except ClientError as exc:
            self.call_from_thread(self._op_done, line, False, str(exc), "failed", name)
            return
        problems = [f"{s.source}: {s.msg}" for s in resp.sources if not s.result and s.msg]
        ok = resp.result and not problems
        if op == pb.Resume and resp.result and problems:
            # The master's first look can still show the error the task was paused with (the
            # worker had not picked up the resume yet): believe the status a few seconds later.
            ok, problems = self._confirm_running(name, sources)
        detail = resp.msg or "; ".join(problems)
        self.call_from_thread(self._op_done, line, ok, detail, "refused", name)

    def _confirm_running(self, name: str, sources: list[str], tries: int = 10) -> tuple[bool, list[str]]:
        """Poll ``QueryStatus`` until the task's subtasks run; else the errors they have then."""
        problems: list[str] = []
        for i in range(tries):
            if i:
                time.sleep(RESUME_CHECK_INTERVAL)
            try:
                snap = build_snapshot(self.ops.query_status(name), self.modes, self.facts)
            except ClientError as exc:
                problems = [str(exc)]
                continue
            task = snap.task(name)
            subs = [st for st in task.subtasks if not sources or st.source in sources] if task else []
            if subs and all(st.stage in ("Running", "Finished") for st in subs):
                return True, []
            problems = [f"{st.source}: {e.header} {e.message}" for st in subs for e in st.errors]
        return False, problems or [f"task {name} did not reach Running"]

    def _op_done(self, line: str, ok: bool, detail: str, failure: str = "refused", task: str = "") -> None:
        """Log and notify an action's outcome; ``failure`` titles a failed one: ``refused`` (the
        master said no) or ``failed`` (the call did not get through)."""
        self._log_action(line, ok, detail)
        if task:
            verb = line.split(" ")[2] if line.startswith("dmctl ") else line
            self.timeline.action(self.history.end, task, f"{verb}: {'ok' if ok else failure}")
        if ok:
            self.notify(line, title="done")
        else:
            self.notify(f"{line}\n{detail}", title=failure, severity="error", timeout=10)

    def request_stop_source(self, source: str) -> None:
        """``operate-source stop <id>`` through the dmctl path (confirmation, read-only, echo)."""
        self.run_dmctl(shlex.join(["operate-source", "stop", source]), origin="action")

    def create_source(self, form: SourceForm, done: Callable[[bool, str], None]) -> None:
        """``OperateSource(StartSource)`` with the form's YAML; ``done(ok, detail)`` on the UI thread."""
        if self.read_only:
            done(False, "read-only mode")
            return
        line = self.dmctl_line("operate-source", "create", f"{form.source_id}.yaml")
        self._run_create_source(form, line, done)

    @work(thread=True, group="operations")
    def _run_create_source(self, form: SourceForm, line: str, done: Callable[[bool, str], None]) -> None:
        try:
            resp = self.ops.operate_source(dmmaster_pb2.StartSource, [form.yaml(mask_password=False)])
        except ClientError as exc:
            ok, detail, failure = False, str(exc), "failed"
        else:
            problems = [f"{s.source}: {s.msg}" for s in resp.sources if not s.result and s.msg]
            ok, detail, failure = resp.result and not problems, resp.msg or "; ".join(problems), "refused"
        self.call_from_thread(self._create_source_done, line, ok, detail, failure, done)

    def _create_source_done(
        self, line: str, ok: bool, detail: str, failure: str, done: Callable[[bool, str], None]
    ) -> None:
        if ok:
            self._log_action(line, ok, detail)
            self.notify(line, title="source created")
            if self.stream is not None:
                self.stream.refresh_configs()
        else:
            self._op_done(line, ok, detail, failure)
        done(ok, detail)

    # -- help and palette --------------------------------------------------------------------
    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        # Group keys by what they do; list a group when one of its keys is shown in the footer.
        groups: dict[tuple[str, str], list[str]] = {}
        shown: set[tuple[str, str]] = set()
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if binding.system or not binding.description or binding in App.BINDINGS:
                continue  # Textual's own ctrl+q says the same as our q
            group = (binding.action, binding.tooltip or binding.description)
            display = self.get_key_display(binding)
            if display not in groups.setdefault(group, []):
                groups[group].append(display)
            # footer keys, view keys, and hidden keys that say what they do (y copies, O reverses)
            if binding.show or binding.tooltip or binding.action.startswith("switch_view"):
                shown.add(group)
        keys = [
            (" ".join(keys), description)
            for (action, description), keys in groups.items()
            if (action, description) in shown
        ]
        keys += [
            ("↑ ↓ j k pgup pgdn ctrl+home ctrl+end", "move the cursor, scroll"),
            ("tab shift+tab", "next / previous panel"),
            ("^p", "command palette: task actions, views, dmctl commands, themes"),
        ]
        commands = [(c.name, c.usage, c.short) for c in registry_commands()]
        self.push_screen(HelpScreen(keys, commands, PROMPT_NOTES))

    def show_command_usage(self, cmd: CommandInfo) -> None:
        """Palette: open the : prompt with the command filled in (its usage in a notification)."""
        self.notify(f"{cmd.usage or cmd.name}\n{cmd.short}", title=cmd.name, timeout=8)
        self.action_prompt(cmd.name + " ")


# -- command line ----------------------------------------------------------------------------


#: ``dmshell``'s sub-commands, for ``dmshell --help`` (dispatched by :mod:`dmshell.cli`)
SUBCOMMANDS = (
    ("playground", "a throw-away local cluster with sample data, and this TUI on it"),
    ("daemon", "the master and its embedded workers (daemon status, daemon stop)"),
    ("worker", "a worker on another machine, joining a master"),
    ("repl", "the dmctl REPL (dmctl's commands, completion, history)"),
    ("version", "print the version"),
)


@dataclass(frozen=True, slots=True)
class Settings:
    """What the TUI runs with, after flags, environment and the config file."""

    master_addr: str
    read_only: bool
    theme: str
    mouse: bool


def build_parser(prog: str = "dmshell") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="dmshell TUI: live status of a DM cluster (tasks, sources, lag, errors).\n\n"
        "sub-commands (each has its own --help):\n"
        + "\n".join(f"  {prog} {name:<11} {what}" for name, what in SUBCOMMANDS),
        epilog=f"Settings come from the flags, then ${MASTER_ADDR_ENV} / $DMSHELL_THEME, then the config\n"
        "file ($XDG_CONFIG_HOME/dmshell/config.toml: master-addr, theme, read-only, mouse).",
    )
    parser.add_argument(
        "--master-addr",
        default=None,
        help="master address(es), comma-separated "
        f"(default: ${MASTER_ADDR_ENV}, the config file, or {DEFAULT_MASTER_ADDR})",
    )
    parser.add_argument(
        "--read-only",
        dest="read_only",
        action="store_const",
        const=True,
        default=None,
        help="disable every action that changes the cluster",
    )
    parser.add_argument(
        "--read-write",
        dest="read_only",
        action="store_const",
        const=False,
        help="allow changes even when the config file says read-only",
    )
    parser.add_argument(
        "--theme",
        choices=THEME_NAMES,
        default=None,
        help="colour theme (default: dark; NO_COLOR is honoured in every theme)",
    )
    parser.add_argument(
        "--no-mouse",
        dest="mouse",
        action="store_const",
        const=False,
        default=None,
        help="leave the mouse to the terminal (native copy and paste over SSH)",
    )
    parser.add_argument(
        "--config",
        default=None,
        help="config file (default: $DMSHELL_CONFIG or " "$XDG_CONFIG_HOME/dmshell/config.toml)",
    )
    # DM's TLS flags, as on dmctl: a master started with --ssl-ca wants a client certificate
    parser.add_argument("--ssl-ca", default="", help="CA certificate of the master (PEM)")
    parser.add_argument("--ssl-cert", default="", help="client certificate (PEM)")
    parser.add_argument("--ssl-key", default="", help="client private key (PEM)")
    return parser


def resolve_settings(args: argparse.Namespace, cfg: TuiConfig, env: Mapping[str, str]) -> Settings:
    """Flag > environment > config file > default, for every setting."""
    theme = args.theme or env.get("DMSHELL_THEME") or cfg.theme or "dark"
    if theme not in THEMES:
        raise ConfigError(f"DMSHELL_THEME must be one of {', '.join(THEMES)}, not {theme!r}")
    return Settings(
        master_addr=args.master_addr or env.get(MASTER_ADDR_ENV) or cfg.master_addr or DEFAULT_MASTER_ADDR,
        read_only=next(v for v in (args.read_only, cfg.read_only, False) if v is not None),
        theme=theme,
        mouse=next(v for v in (args.mouse, cfg.mouse, True) if v is not None),
    )


def unreachable_message(addrs: str, why: str) -> str:
    addr = addrs.split(",")[0].strip() or DEFAULT_MASTER_ADDR
    return (
        f"dmshell: no master answers at {addrs} ({why}).\n"
        "Start a local daemon there (add --detach to run it in the background):\n"
        f"    dmshell daemon --master-addr {addr} --data-dir {shlex.quote(data_dir())}\n"
        "or point the TUI at a running master:\n"
        f"    dmshell --master-addr HOST:PORT        (or export {MASTER_ADDR_ENV}=HOST:PORT)\n"
        "New to dmshell? `dmshell playground` starts a throw-away cluster with sample data.\n"
    )


def run_tui(
    master_addr: str,
    *,
    read_only: bool = False,
    theme: str = "dark",
    mouse: bool = True,
    about: str = "",
    app_class: type[DMShellApp] | None = None,
) -> int:
    """Run the TUI against ``master_addr`` until the user quits (0), it crashes (1, Textual prints
    the traceback) or the terminal goes (:data:`EXIT_TERMINAL_GONE`: SIGHUP/SIGTERM)."""
    app = (app_class or DMShellApp)(
        master_addr,
        read_only=read_only,
        theme_name=theme,
        handle_signals=True,
        about=about,
        history_file=history_path(),
    )
    app.run(mouse=mouse)
    return app.return_code or 0


def main(argv: Sequence[str] | None = None) -> int:
    """``dmshell [--master-addr A] [--read-only|--read-write] [--theme T] [--no-mouse] [--config F]``."""
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    try:
        cfg = load_config(Path(args.config) if args.config else None, required=bool(args.config))
        settings = resolve_settings(args, cfg, os.environ)
    except ConfigError as exc:
        sys.stderr.write(f"dmshell: config: {exc}\n")
        return EXIT_USAGE
    set_default_tls(TLSFiles(args.ssl_ca, args.ssl_cert, args.ssl_key))
    addr, why = probe_master(settings.master_addr)
    if addr is None:
        sys.stderr.write(unreachable_message(settings.master_addr, why))
        return EXIT_UNREACHABLE
    return run_tui(addr, read_only=settings.read_only, theme=settings.theme, mouse=settings.mouse)


if __name__ == "__main__":
    sys.exit(main())
