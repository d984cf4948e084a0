"""View 5, Errors: every error the status stream reports; enter opens the guided resolution of one.

The resolution screen shows the failing event as DM names it (source, binlog position, GTID set,
the statement with SQL highlighting, the target's error, the workaround) and the tracked schema of
the table, and offers what applies: ``s`` skip, ``r`` replace (an SQL editor, validated by parsing
before anything is sent), ``i`` inject before the event, ``f`` fix the tracked schema from the
upstream and resume, ``o`` the operations registered for the task (``v`` reverts one). Every
action previews the exact dmctl command, asks, and runs through the app's dmctl path (read-only
mode refuses it); the stage line then shows the task resuming.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static, TextArea
from textual.widgets.option_list import Option

from dmshell.proto import dmmaster_pb2 as mpb
from dmshell.proto import dmworker_pb2 as pb
from dmshell.screens._base import StatusScreen
from dmshell.screens.confirm import ConfirmScreen
from dmshell.tui.model import ErrorView, Snapshot, SubtaskView

#: DM's annotation of an event's error (``Syncer.handleEventError``)
_LOCATION = re.compile(
    r"startLocation: \[position: \((?P<file>[^,]+), (?P<pos>\d+)\), gtid-set: (?P<gtid>[^\]]*)\]"
)
_ORIGIN = re.compile(r"origin SQL: \[(?P<sql>.*?)\]: ", re.S)
_TABLE = re.compile(r"(?:TABLE|INDEX\s+\S+\s+ON)\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?(?P<name>[`\w.]+)", re.I)


@dataclass(frozen=True, slots=True)
class FailingEvent:
    """What an error says about the event it stopped at."""

    file: str = ""
    pos: int = 0
    gtid: str = ""
    statement: str = ""

    @property
    def position(self) -> str:
        return f"{self.file}:{self.pos}" if self.file else ""

    @classmethod
    def of(cls, err: ErrorView) -> FailingEvent:
        m = _LOCATION.search(err.message)
        sql = _ORIGIN.search(err.message)
        if m is None:
            return cls(statement=sql.group("sql") if sql else "")
        return cls(m.group("file"), int(m.group("pos")), m.group("gtid"), sql.group("sql") if sql else "")

    def table(self, default_schema: str = "") -> tuple[str, str] | None:
        """The (schema, table) the statement changes, when it names one."""
        m = _TABLE.search(self.statement)
        if m is None:
            return None
        parts = [p.strip("`") for p in m.group("name").split(".")]
        if len(parts) == 2:
            return parts[0], parts[1]
        return (default_schema, parts[0]) if default_schema else None


def sql_text(sql: str) -> Syntax:
    """SQL highlighted with the terminal's colours (NO_COLOR: rich drops them)."""
    return Syntax(sql, "sql", theme="ansi_dark", background_color="default", word_wrap=True)


class ErrorsScreen(StatusScreen):
    """One line per error; enter opens its resolution."""

    DEFAULT_CSS = """
    ErrorsScreen #errors-title { height: 1; padding: 0 1; }
    ErrorsScreen #errors-list { height: 1fr; }
    ErrorsScreen #errors-hint { height: auto; padding: 0 1; color: $text-muted; }
    """

    BINDINGS = [Binding("escape", "back", "Dashboard")]

    def compose_body(self) -> ComposeResult:
        yield Static(Text("Errors", style="bold underline"), id="errors-title")
        yield OptionList(id="errors-list")
        yield Static(
            "enter: resolve the selected error (skip / replace / inject / fix schema)", id="errors-hint"
        )

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(OptionList).focus()

    def show_snapshot(self, snapshot: Snapshot, *, force: bool) -> None:
        options = self.query_one(OptionList)
        highlighted = options.highlighted
        options.clear_options()
        palette = self.palette
        for task in snapshot.tasks:
            for st in task.subtasks:
                for i, err in enumerate(st.errors):
                    label = Text.assemble(
                        (f"{task.name} @ {st.source}  ", "bold"),
                        (f"{st.stage}  ", palette.warn),
                        (err.header, f"bold {palette.bad}"),
                        f"\n  {err.message}",
                    )
                    options.add_option(Option(label, id=f"{task.name}\x00{st.source}\x00{i}"))
        if options.option_count == 0:
            options.add_option(Option(Text("No errors reported.", style=palette.ok), id="", disabled=True))
        else:
            options.highlighted = min(highlighted or 0, options.option_count - 1)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            task, source, _ = event.option.id.split("\x00")
            self.app.push_screen(ResolutionScreen(task, source))

    def action_back(self) -> None:
        self.shell.switch_view("dashboard")


class ResolutionScreen(StatusScreen):
    """The failing event of one subtask and what can be done about it."""

    DEFAULT_CSS = """
    ResolutionScreen #resolution { height: 1fr; padding: 0 1; }
    """

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("s", "resolve('skip')", "Skip"),
        Binding("r", "resolve('replace')", "Replace"),
        Binding("i", "resolve('inject')", "Inject"),
        Binding("f", "fix_schema", "Fix schema"),
        Binding("o", "operations", "Operations"),
        Binding("b", "events", "Binlog events"),
    ]

    def __init__(self, task: str, source: str) -> None:
        super().__init__()
        self.task_name = task
        self.source = source
        self.event = FailingEvent()
        self.error: ErrorView | None = None
        self.tracked_schema = ""
        self.target_schema = ""
        self.rendered: RenderableType = Group()

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="resolution"):
            yield Static("", id="resolution-text")

    def on_mount(self) -> None:
        super().on_mount()
        self.show_snapshot(self.shell.snapshot, force=True)
        self.load_schema()

    def subtask(self, snapshot: Snapshot) -> SubtaskView | None:
        task = snapshot.task(self.task_name)
        return next((s for s in task.subtasks if s.source == self.source), None) if task else None

    def show_snapshot(self, snapshot: Snapshot, *, force: bool) -> None:
        st = self.subtask(snapshot)
        palette = self.palette
        if st is not None and st.errors:
            self.error = st.errors[0]
            self.event = FailingEvent.of(self.error)
        stage = st.stage if st is not None else "?"
        parts: list[RenderableType] = [
            Text.assemble(
                (f"{self.task_name} @ {self.source}", "bold"),
                "  stage ",
                (stage, palette.ok if stage == "Running" else palette.warn),
            )
        ]
        err = self.error
        if err is None:
            parts.append(Text("No error on this subtask.", style=palette.ok))
        else:
            if stage == "Running":
                parts.append(Text("Resolved: the task is running again.", style=f"bold {palette.ok}"))
            ev = self.event
            grid = Table.grid(padding=(0, 1))
            grid.add_column(style="bold")
            grid.add_column()
            grid.add_row("Error", Text(err.header, style=palette.bad))
            grid.add_row("Position", ev.position or "(not at a binlog event)")
            grid.add_row("GTID set", ev.gtid or "-")
            grid.add_row("Target", Text(err.raw_cause or "-", style=palette.bad))
            if err.workaround:
                grid.add_row("Workaround", err.workaround)
            parts += [grid, Text("Statement", style="bold")]
            parts.append(sql_text(ev.statement) if ev.statement else Text(err.message))
            schema = Table(expand=True, box=None, padding=(0, 1))
            schema.add_column("Tracked schema (binlog-schema list)")
            schema.add_column("Target's table")
            schema.add_row(
                *(
                    sql_text(text) if text else Text("-", style=palette.muted)
                    for text in (self.tracked_schema, self.target_schema)
                )
            )
            parts += [schema, Text("")]
            parts.append(self.choices_text())
        self.rendered = Group(*parts)
        self.query_one("#resolution-text", Static).update(self.rendered)

    def choices_text(self) -> Text:
        palette = self.palette
        if not self.event.position:
            return Text(
                "This error is not at a binlog event: fix the cause, then resume-task (p/r on the task).",
                style=palette.muted,
            )
        keys = [("s", "skip the event"), ("r", "replace it with SQL"), ("i", "inject SQL before it")]
        if self.event.table():
            keys.append(("f", "fix the tracked schema from the upstream"))
        keys += [("b", "pick an event to skip"), ("o", "registered operations")]
        out = Text("Choices: ", style="bold")
        for key, what in keys:
            out += Text(key, style=f"bold {palette.accent}") + Text(f" {what}  ")
        return out

    # -- data from the master ------------------------------------------------------------------
    @work(thread=True, group="resolution", exclusive=True)
    def load_schema(self) -> None:
        table = self.event.table()
        if table is None:
            return
        tracked, target = (self.fetch_schema(*table, from_target=t) for t in (False, True))
        self.app.call_from_thread(self._schema_loaded, tracked, target)

    def fetch_schema(self, database: str, table: str, *, from_target: bool) -> str:
        """``binlog-schema list`` (the tracked structure) or, ``from_target``, the target's table."""
        req = mpb.OperateSchemaRequest(
            op=pb.GetSchema,
            task=self.task_name,
            sources=[self.source],
            database=database,
            table=table,
            fromTarget=from_target,
        )
        try:
            resp = self.shell.ops.client.call("OperateSchema", req, timeout=10)
        except Exception as exc:  # shown in place of the schema
            return f"-- not available: {exc}"
        one = resp.sources[0] if resp.sources else None
        if one is not None and one.result:
            return str(one.msg)
        return f"-- not available: {resp.msg or (one.msg if one is not None else '')}"

    def _schema_loaded(self, tracked: str, target: str) -> None:
        self.tracked_schema, self.target_schema = tracked, target
        self.show_snapshot(self.shell.snapshot, force=True)

    # -- actions -----------------------------------------------------------------------------
    def argv(self, *words: str) -> list[str]:
        return [*words[:2], "-s", self.source, self.task_name, *words[2:]]

    def confirm_and_run(self, title: str, question: str, lines: list[list[str]]) -> None:
        """Preview the exact dmctl command(s), ask, then run them through the app's dmctl path."""
        if self.shell.read_only:
            self.notify(f"Read-only mode: {title} is disabled.", severity="warning")
            return
        preview = "\n".join(self.shell.dmctl_line(*argv) for argv in lines)

        def answered(yes: bool | None) -> None:
            if yes:
                for argv in lines:  # --yes: this screen asked already
                    self.shell.run_dmctl(shlex.join([*argv, "--yes"]), origin="action")

        self.app.push_screen(ConfirmScreen(title, question, preview, destructive=True), answered)

    def action_resolve(self, op: str) -> None:
        if not self.event.position:
            self.notify("This error is not at a binlog event.", severity="warning")
            return
        if op == "skip":
            self.confirm_and_run(
                "binlog skip",
                f"Skip the event at {self.event.position}? Its change will not reach the target.",
                [self.argv("binlog", "skip")],
            )
            return
        if self.shell.read_only:
            self.notify(f"Read-only mode: binlog {op} is disabled.", severity="warning")
            return

        def edited(statements: list[str] | None) -> None:
            if statements:
                what = "instead of" if op == "replace" else "before"
                self.confirm_and_run(
                    f"binlog {op}",
                    f"Run {len(statements)} statement(s) {what} the event at {self.event.position}?",
                    [self.argv("binlog", op, *statements)],
                )

        self.app.push_screen(SqlEditorScreen(op, self.event.statement), edited)

    def action_fix_schema(self) -> None:
        table = self.event.table()
        if table is None:
            self.notify("The failing statement names no table.", severity="warning")
            return
        self.confirm_and_run(
            "binlog-schema update",
            f"Replace the tracked schema of `{table[0]}`.`{table[1]}` with the upstream's, then resume?",
            [
                ["binlog-schema", "update", "-s", self.source, self.task_name, *table, "--from-source"],
                ["resume-task", "-s", self.source, self.task_name],
            ],
        )

    def action_operations(self) -> None:
        self.app.push_screen(OperationsScreen(self.task_name, self.source), self.revert_at)

    def revert_at(self, pos: str | None) -> None:
        if pos:
            argv = self.argv("binlog", "revert", "-b", pos)
            self.confirm_and_run("binlog revert", f"Revert the operation at {pos}?", [argv])

    def action_events(self) -> None:
        ev = self.event
        if not ev.position:
            self.notify("This error is not at a binlog event.", severity="warning")
            return
        # from the flushed checkpoint when it is in the same file: the events that lead to the error
        start = ev.pos
        st = self.subtask(self.shell.snapshot)
        m = re.fullmatch(r"\((.+), (\d+)\)", st.syncer_binlog if st is not None else "")
        if m is not None and m.group(1) == ev.file and int(m.group(2)) < ev.pos:
            start = int(m.group(2))
        self.app.push_screen(BinlogEventsScreen(self, f"{ev.file}:{start}", ev.position), self.skip_at)

    def skip_at(self, pos: str | None) -> None:
        """``binlog skip -b <pos>`` for an event picked from the upstream's binlog."""
        if not pos:
            return
        question = f"Skip the event at {pos}? Its change will not reach the target."
        if pos != self.event.position:
            question += " (It is not the failing event: the task stays paused until that one is handled.)"
        self.confirm_and_run("binlog skip", question, [self.argv("binlog", "skip", "-b", pos)])

    def action_back(self) -> None:
        self.app.pop_screen()


class SqlEditorScreen(ModalScreen[list[str] | None]):
    """Statements for ``binlog replace|inject``: parsed before they are accepted."""

    DEFAULT_CSS = """
    SqlEditorScreen { align: center middle; }
    SqlEditorScreen > Vertical {
        width: 100; max-width: 100%; height: auto; max-height: 100%;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    SqlEditorScreen TextArea { height: 8; }
    SqlEditorScreen #sql-error { color: $error; height: auto; }
    """

    BINDINGS = [
        Binding("ctrl+s", "submit", "Accept", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, op: str, statement: str) -> None:
        super().__init__()
        self.op = op
        self.statement = statement

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = (
                f"binlog {self.op}: DDL statements, separated by ';' (ctrl+s accepts, esc cancels)"
            )
            yield TextArea(self.statement if self.op == "replace" else "", id="sql")
            yield Static("", id="sql-error", markup=False)

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_submit(self) -> None:
        from dmshell.engine.sync.operations import validate_statements  # the DDL parser: on first use

        text = self.query_one(TextArea).text
        try:
            statements = validate_statements(split_statements(text))
        except ValueError as exc:
            self.query_one("#sql-error", Static).update(str(exc))
            return
        self.dismiss([s + ";" for s in statements])

    def action_cancel(self) -> None:
        self.dismiss(None)


def split_statements(text: str) -> list[str]:
    """``;``-separated statements (quotes respected, as dmctl's splitting of its arguments)."""
    out: list[str] = []
    cur: list[str] = []
    quote = ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"`":
            quote = ch
        elif ch == ";":
            out.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    out.append("".join(cur))
    return [s.strip() for s in out if s.strip()]


class OperationsScreen(ModalScreen[str | None]):
    """The operations registered for a task on a source (``binlog list``); ``v`` reverts one."""

    DEFAULT_CSS = """
    OperationsScreen { align: center middle; }
    OperationsScreen > Vertical {
        width: 100; max-width: 100%; height: auto; max-height: 100%;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    OperationsScreen OptionList { height: auto; max-height: 12; }
    """

    BINDINGS = [Binding("v", "revert", "Revert"), Binding("escape", "close", "Close")]

    def __init__(self, task: str, source: str) -> None:
        super().__init__()
        self.task_name = task
        self.source = source

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = (
                f"binlog operations of {self.task_name} @ {self.source} (v reverts, esc closes)"
            )
            yield OptionList(id="ops")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self.load()

    @work(thread=True, group="operations-list", exclusive=True)
    def load(self) -> None:
        shell = self.app
        req = mpb.HandleErrorRequest(op=pb.List, task=self.task_name, sources=[self.source])
        try:
            resp = shell.ops.client.call("HandleError", req, timeout=10)  # type: ignore[attr-defined]
            lines = [line for s in resp.sources for line in s.msg.splitlines() if s.result]
            note = "" if lines else (resp.msg or "No operation is registered.")
        except Exception as exc:
            lines, note = [], str(exc)
        self.app.call_from_thread(self._loaded, lines, note)

    def _loaded(self, lines: list[str], note: str) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        for line in lines:
            m = re.search(r'binlogPos:"([^"]+)"', line)
            options.add_option(Option(line, id=m.group(1) if m else None))
        if note:
            options.add_option(Option(note, disabled=True))
        elif lines:
            options.highlighted = 0

    def action_revert(self) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is None:
            return
        pos = options.get_option_at_index(options.highlighted).id
        if not pos:
            return
        self.dismiss(pos)

    def action_close(self) -> None:
        self.dismiss(None)


class BinlogEventsScreen(ModalScreen[str | None]):
    """The binlog-skip workflow: the upstream's events from ``start`` (the error's marked); enter
    on one registers ``binlog skip -b <its position>`` (previewed, confirmed)."""

    DEFAULT_CSS = """
    BinlogEventsScreen { align: center middle; }
    BinlogEventsScreen > Vertical {
        width: 100%; height: auto; max-height: 100%;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    BinlogEventsScreen OptionList { height: auto; max-height: 30; }
    """

    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, resolution: ResolutionScreen, start: str, error_pos: str) -> None:
        super().__init__()
        self.resolution = resolution
        self.start = start
        self.error_pos = error_pos

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = (
                f"binlog events of {self.resolution.source} from {self.start} (enter skips one)"
            )
            yield OptionList(id="events")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self.load()

    @work(thread=True, group="binlog-events", exclusive=True)
    def load(self) -> None:
        req = mpb.ListBinlogEventsRequest(source=self.resolution.source, binlogPos=self.start, count=40)
        try:
            resp = self.resolution.shell.ops.client.call("ListBinlogEvents", req, timeout=10)
            events, note = list(resp.events), resp.msg
        except Exception as exc:
            events, note = [], str(exc)
        self.app.call_from_thread(self._loaded, events, note)

    def _loaded(self, events: list[mpb.BinlogEventInfo], note: str) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        marked = 0
        for i, e in enumerate(events):
            pos = f"{e.file}:{e.pos}"
            here = pos == self.error_pos
            marked = i if here else marked
            label = Text.assemble(
                ("▶ " if here else "  ", "bold"),
                (f"{e.pos:>10} ", "bold" if here else ""),
                (f"{e.type:<16} ", "bold" if here else ""),
                (e.info[:200], ""),
            )
            options.add_option(Option(label, id=pos))
        if note or not events:
            options.add_option(Option(note or "No events.", disabled=True))
        if events:
            options.highlighted = marked

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.dismiss(event.option.id)

    def action_close(self) -> None:
        self.dismiss(None)
