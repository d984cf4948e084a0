"""The dmshell TUI (``dmshell`` with no sub-command).

The app holds the latest status as reactive state (``snapshot``, ``cluster_info``, ``connected``,
``banner``) fed by a :class:`~dmshell.tui_client.StatusStream` thread that keeps the master's
``WatchStatus`` stream open; screens watch that state and update their widgets in place.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import signal
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import grpc
from textual import work
from textual.app import App
from textual.binding import Binding
from textual.message import Message
from textual.reactive import var
from textual.theme import Theme

from dmshell.proto import dmmaster_pb2
from dmshell.proto import dmworker_pb2 as pb
from dmshell.screens._data import Snapshot, build_snapshot
from dmshell.screens.confirm import ConfirmScreen
from dmshell.screens.dashboard import DashboardScreen
from dmshell.screens.help import HelpScreen
from dmshell.screens.task_detail import TaskDetailScreen
from dmshell.tui_client import (
    BACKOFF,
    DEFAULT_MASTER_ADDR,
    MasterOps,
    StatusStream,
    StreamState,
    describe_rpc_error,
    probe_master,
)
from dmshell.widgets.commands import CommandInfo, DmshellCommands, confirmation_question, registry_commands
from dmshell.widgets.format import human_seconds

THEME_DIR = Path(__file__).parent / "themes"

HIGH_CONTRAST = Theme(
    name="dmshell-high-contrast", primary="#00ffff", secondary="#ffff00", accent="#ffff00",
    warning="#ffff00", error="#ff4040", success="#00ff00", foreground="#ffffff", background="#000000",
    surface="#000000", panel="#202020", boost="#303030", dark=True)

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

#: Seconds without an update (while connected) before the banner says the data is stale.
STALE_AFTER = 5.0

EXIT_UNREACHABLE = 3


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


class DMShellApp(App[int]):
    """Dashboard + task detail over a live status stream from one master."""

    TITLE = "dmshell"
    COMMANDS = App.COMMANDS | {DmshellCommands}
    BINDINGS = [
        Binding("q", "quit", "Quit", tooltip="Quit dmshell (the daemon keeps running)"),
        Binding("question_mark", "help", "Help", key_display="?", tooltip="This help"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True,
                tooltip="Quit dmshell (the daemon keeps running)"),
    ]

    snapshot: var[Snapshot] = var(Snapshot)
    cluster_info: var[dmmaster_pb2.ClusterInfo | None] = var(None)
    #: None until the first connection attempt finishes.
    connected: var[bool | None] = var(None)
    banner: var[str] = var("")

    def __init__(
        self,
        master_addr: str,
        *,
        read_only: bool = False,
        theme_name: str = "dark",
        clock: Callable[[], float] = time.time,
        handle_signals: bool = False,
        interval_ms: int = 1000,
        backoff: tuple[float, ...] = BACKOFF,
    ) -> None:
        if theme_name not in THEMES:
            raise ValueError(f"unknown theme {theme_name!r} (choose from {', '.join(THEMES)})")
        textual_theme, css_file = THEMES[theme_name]
        super().__init__(css_path=[THEME_DIR / css_file])
        self.register_theme(HIGH_CONTRAST)
        self.theme = textual_theme
        self.master_addr = master_addr
        self.read_only = read_only
        self.clock = clock
        self.handle_signals = handle_signals
        self.interval_ms = interval_ms
        self.backoff = backoff
        self.ops = MasterOps(master_addr)
        self.modes: dict[str, str] = {}
        self.last_status: dmmaster_pb2.QueryStatusListResponse | None = None
        self.last_update: float | None = None
        self.stream_state = StreamState(connected=False)
        self._state_since = clock()
        #: What the TUI did, as dmctl command lines with their outcome (lazygit's command log).
        self.command_log: list[str] = []
        self.stream: StatusStream | None = None
        self._saved_handlers: dict[int, object] = {}

    # -- lifecycle ---------------------------------------------------------------------------
    def on_mount(self) -> None:
        self.push_screen(DashboardScreen())
        self.stream = StatusStream(
            self.master_addr, interval_ms=self.interval_ms, backoff=self.backoff,
            on_status=lambda resp: self.post_message(StatusArrived(resp)),
            on_state=lambda state: self.post_message(StreamChanged(state)),
            on_cluster=lambda info: self.post_message(ClusterArrived(info)),
            on_modes=lambda modes: self.post_message(ModesArrived(modes)))
        self.stream.start()
        self.set_interval(1.0, self._refresh_banner)
        if self.handle_signals:
            # Plain handlers (not loop.add_signal_handler, which resets them to SIG_DFL when the loop
            # closes): the caller's handlers come back on exit, so the playground can still clean up.
            loop = asyncio.get_running_loop()

            def on_signal(_signum: int, _frame: object) -> None:
                loop.call_soon_threadsafe(self.exit)

            for sig in (signal.SIGHUP, signal.SIGTERM):
                self._saved_handlers[sig] = signal.signal(sig, on_signal)
            self.set_interval(5.0, self._tty_watchdog)

    def on_unmount(self) -> None:
        if self.stream is not None:
            self.stream.stop(join_timeout=0.5)
        for sig, handler in self._saved_handlers.items():
            signal.signal(sig, handler)
        self._saved_handlers.clear()

    def _tty_watchdog(self) -> None:
        # An SSH drop can leave us with a dead terminal and no SIGHUP: quit instead of spinning.
        try:
            alive = os.isatty(sys.__stdin__.fileno())
        except (OSError, ValueError, AttributeError):
            alive = False
        if not alive:
            self.exit()

    # -- status stream -----------------------------------------------------------------------
    def on_status_arrived(self, message: StatusArrived) -> None:
        self.last_status = message.resp
        self.last_update = self.clock()
        self.snapshot = build_snapshot(message.resp, self.modes)
        self._refresh_banner()

    def on_cluster_arrived(self, message: ClusterArrived) -> None:
        self.cluster_info = message.info

    def on_modes_arrived(self, message: ModesArrived) -> None:
        if message.modes != self.modes:
            self.modes = {**self.modes, **message.modes}
            if self.last_status is not None:
                self.snapshot = build_snapshot(self.last_status, self.modes)

    def on_stream_changed(self, message: StreamChanged) -> None:
        self.stream_state = message.state
        self._state_since = self.clock()
        self.connected = message.state.connected
        self._refresh_banner()

    def _refresh_banner(self) -> None:
        self.banner = self.banner_text()

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
        return ""

    # -- actions -----------------------------------------------------------------------------
    def open_task(self, name: str) -> None:
        if isinstance(self.screen, TaskDetailScreen) and self.screen.task_name == name:
            return
        self.push_screen(TaskDetailScreen(name))

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
        except grpc.RpcError as exc:
            self.call_from_thread(self._op_done, line, False, describe_rpc_error(exc))
            return
        problems = [f"{s.source}: {s.msg}" for s in resp.sources if not s.result and s.msg]
        detail = resp.msg or "; ".join(problems)
        self.call_from_thread(self._op_done, line, resp.result and not problems, detail)

    def _op_done(self, line: str, ok: bool, detail: str) -> None:
        self.command_log.append(f"{line}  # {'ok' if ok else 'failed'}{': ' + detail if detail else ''}")
        if ok:
            self.notify(line, title="done")
        else:
            self.notify(f"{line}\n{detail}", title="failed", severity="error", timeout=10)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        # Group keys by what they do; list a group when one of its keys is shown in the footer.
        groups: dict[tuple[str, str], list[str]] = {}
        shown: set[tuple[str, str]] = set()
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if binding.system or not binding.description:
                continue
            group = (binding.action, binding.tooltip or binding.description)
            display = self.get_key_display(binding)
            if display not in groups.setdefault(group, []):
                groups[group].append(display)
            if binding.show:
                shown.add(group)
        keys = [(" ".join(keys), description) for (action, description), keys in groups.items()
                if (action, description) in shown]
        keys += [("↑ ↓ pgup pgdn home end", "move the cursor, scroll"),
                 ("tab shift+tab", "next / previous panel"),
                 ("^p", "command palette: task actions, dmctl commands, themes")]
        commands = [(c.name, c.usage, c.short) for c in registry_commands()]
        self.push_screen(HelpScreen(keys, commands))

    def show_command_usage(self, cmd: CommandInfo) -> None:
        how = f"Run it with dmctl --master-addr={self.master_addr}"
        self.notify(f"{cmd.usage or cmd.name}\n{cmd.short}\n{how}", title=cmd.name, timeout=10)


# -- command line ----------------------------------------------------------------------------
def build_parser(prog: str = "dmshell") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="dmshell TUI: live status of a DM cluster (tasks, sources, lag, errors).")
    parser.add_argument("--master-addr", default=None,
                        help="master address(es), comma-separated "
                             f"(default: $DM_MASTER_ADDR or {DEFAULT_MASTER_ADDR})")
    parser.add_argument("--read-only", action="store_true",
                        help="disable every action that changes the cluster")
    parser.add_argument("--theme", choices=sorted(THEMES), default=os.environ.get("DMSHELL_THEME", "dark"),
                        help="colour theme (default: dark; NO_COLOR is honoured in every theme)")
    parser.add_argument("--no-mouse", action="store_true",
                        help="leave the mouse to the terminal (native copy and paste over SSH)")
    return parser


def default_data_dir() -> str:
    """The daemon's default ``--data-dir`` (same rule as ``dmshell daemon``)."""
    if os.environ.get("DMSHELL_DATA_DIR"):
        return os.environ["DMSHELL_DATA_DIR"]
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "dmshell")


def unreachable_message(addrs: str, why: str) -> str:
    addr = addrs.split(",")[0].strip() or DEFAULT_MASTER_ADDR
    return (
        f"dmshell: no master answers at {addrs} ({why}).\n"
        "Start a local daemon there (add --detach to run it in the background):\n"
        f"    dmshell daemon --master-addr {addr} --data-dir {shlex.quote(default_data_dir())}\n"
        "or point the TUI at a running master:\n"
        "    dmshell --master-addr HOST:PORT        (or export DM_MASTER_ADDR=HOST:PORT)\n"
        "New to dmshell? `dmshell playground` starts a throw-away cluster with sample data.\n")


def run_tui(master_addr: str, *, read_only: bool = False, theme: str = "dark", mouse: bool = True) -> int:
    """Run the TUI against ``master_addr`` until the user quits (or SIGHUP/SIGTERM)."""
    app = DMShellApp(master_addr, read_only=read_only, theme_name=theme, handle_signals=True)
    app.run(mouse=mouse)
    return app.return_code or 0


def main(argv: Sequence[str] | None = None) -> int:
    """``dmshell [--master-addr A] [--read-only] [--theme T] [--no-mouse]``."""
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    addrs = args.master_addr or os.environ.get("DM_MASTER_ADDR") or DEFAULT_MASTER_ADDR
    addr, why = probe_master(addrs)
    if addr is None:
        sys.stderr.write(unreachable_message(addrs, why))
        return EXIT_UNREACHABLE
    return run_tui(addr, read_only=args.read_only, theme=args.theme, mouse=not args.no_mouse)


if __name__ == "__main__":
    sys.exit(main())
