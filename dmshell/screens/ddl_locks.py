"""Shard DDL locks (view ``4``): every lock of the master with its DDLs and owner, the grid of the
shard tables of the selected lock's group (source, table: synced or waiting, the location its
first pending DDL began at), a drill-down into one shard, guided unlock actions, and optimistic
conflicts (the blocked shard and the reason, its column and table names highlighted).

The locks come from ``ShowDDLLocks`` (polled while the view is shown), the shards from the status
stream (``unresolvedGroups`` of every subtask of the lock's task). Actions go through the dmctl
path: the exact ``dmctl shard-ddl-lock unlock ...`` command is shown for confirmation, runs, and
its result is reported (console, key 3) while the grid follows the lock live.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from dmshell.client.errors import ClientError
from dmshell.proto import dmmaster_pb2 as mpb
from dmshell.screens._base import StatusScreen
from dmshell.tui.model import Snapshot
from dmshell.tui.widgets.format import Palette
from dmshell.tui.widgets.tables import KeyedTable

#: seconds between two ShowDDLLocks while the view is shown
POLL = 1.0


@dataclass(frozen=True, slots=True)
class ShardRow:
    """One shard table of a lock's group (or a source that has not reported yet)."""

    source: str
    table: str  # "" for a source with no shard at the DDL yet
    state: str  # "synced" / "waiting"
    location: str
    ddls: tuple[str, ...]


def lock_target(lock: mpb.DDLLock) -> str:
    """```schema`.`table``` of a lock ID ``<task>-`schema`.`table```."""
    return lock.ID[len(lock.task) + 1 :] if lock.ID.startswith(lock.task + "-") else lock.ID


def shard_rows(lock: mpb.DDLLock, snapshot: Snapshot) -> list[ShardRow]:
    target = lock_target(lock)
    out: list[ShardRow] = []
    task = snapshot.task(lock.task)
    seen = set()
    for st in task.subtasks if task else ():
        for g in st.unresolved_groups:
            if g.target != target:
                continue
            seen.add(st.source)
            out += [ShardRow(st.source, t, "synced", g.first_location, g.ddls) for t in g.synced]
            out += [ShardRow(st.source, t, "waiting", "", ()) for t in g.unsynced]
    for source in lock.synced:
        if source not in seen:
            out.append(ShardRow(source, "", "synced", "", tuple(lock.DDLs)))
    for source in lock.unsynced:
        if source not in seen:
            out.append(ShardRow(source, "", "waiting", "", ()))
    return out


class DDLLocksScreen(StatusScreen):
    """Locks on top, the selected lock's shard grid below, the highlighted shard's detail last."""

    DEFAULT_CSS = """
    DDLLocksScreen .section {
        height: 1;
        padding: 0 1;
        text-style: bold;
    }
    DDLLocksScreen #lock-list {
        height: auto;
        max-height: 30%;
    }
    DDLLocksScreen #shard-grid {
        height: auto;
        max-height: 40%;
    }
    DDLLocksScreen #lock-detail {
        height: 1fr;
        padding: 0 1;
    }
    """

    BINDINGS = [
        Binding("escape", "back", "Dashboard"),
        Binding("tab", "toggle_focus", "Locks/shards"),
        Binding(
            "x", "unlock('exec')", "Unlock: exec", tooltip="The owner executes the DDLs, the others skip"
        ),
        Binding("k", "unlock('skip')", "Unlock: skip", tooltip="Every source skips the DDLs"),
        Binding("o", "next_owner", "Owner", tooltip="Choose the source that executes (--owner)"),
        Binding("f", "force_remove", "Force-remove", tooltip="Remove the lock (--force-remove)"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.locks: list[mpb.DDLLock] = []
        self.error = ""
        self.owner: dict[str, str] = {}  # lock ID -> the owner chosen here

    def compose_body(self) -> ComposeResult:
        yield Static("Shard DDL locks", classes="section", id="locks-title")
        yield KeyedTable(id="lock-list")
        yield Static("", classes="section", id="grid-title")
        yield KeyedTable(id="shard-grid")
        with VerticalScroll(id="lock-detail"):
            yield Static("", id="detail-text")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#lock-list", KeyedTable).focus()
        self.poll()
        self.set_interval(POLL, self.poll)

    # -- data ---------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="ddl-locks")
    def poll(self) -> None:
        try:
            resp = self.shell.client.call("ShowDDLLocks", mpb.ShowDDLLocksRequest(), timeout=5)
            locks, error = list(resp.locks), "" if resp.result else resp.msg
        except ClientError as exc:
            locks, error = self.locks, str(exc)
        self.app.call_from_thread(self.show_locks, locks, error)

    def show_locks(self, locks: list[mpb.DDLLock], error: str) -> None:
        self.locks, self.error = locks, error
        # the answer comes from a thread: the screen may be gone (or not composed) by now
        if self.is_mounted and self.query("#locks-title"):
            self.show_snapshot(self.shell.snapshot, force=False)

    def selected(self) -> mpb.DDLLock | None:
        key = self.query_one("#lock-list", KeyedTable).current_key
        return next((lk for lk in self.locks if key == lk.ID), None)

    def owner_of(self, lock: mpb.DDLLock) -> str:
        return self.owner.get(lock.ID) or lock.owner

    # -- rendering ----------------------------------------------------------------------------
    def show_snapshot(self, snapshot: Snapshot, *, force: bool) -> None:
        palette = self.palette
        title = Text(f"Shard DDL locks ({len(self.locks)})")
        if self.error:
            title.append(f"   {self.error}", style=palette.bad)
        self.query_one("#locks-title", Static).update(title)
        rows = []
        for lk in self.locks:
            synced = Text(f"{len(lk.synced)}/{len(lk.synced) + len(lk.unsynced)}")
            synced.stylize(palette.ok if not lk.unsynced else palette.warn)
            ddls = "; ".join(lk.DDLs)
            rows.append(
                (lk.ID, (Text(lk.ID, style="bold"), Text(lk.mode), Text(lk.owner), synced, Text(ddls)))
            )
        columns = (
            ("id", "lock", None),
            ("mode", "mode", 11),
            ("owner", "owner", None),
            ("synced", "synced", 6),
        )
        self.query_one("#lock-list", KeyedTable).show_rows(
            (*columns, ("ddls", "DDLs", None)), rows, force=force
        )
        self.show_grid(snapshot, palette, force)

    def show_grid(self, snapshot: Snapshot, palette: Palette, force: bool) -> None:
        lock = self.selected()
        grid = self.query_one("#shard-grid", KeyedTable)
        shards = shard_rows(lock, snapshot) if lock else []
        rows = []
        for i, r in enumerate(shards):
            state = Text(r.state, style=palette.ok if r.state == "synced" else palette.warn)
            table = Text(r.table or "(no shard at the DDL yet)", style="" if r.table else palette.muted)
            rows.append((f"{i}", (Text(r.source), table, state, Text(r.location))))
        columns = (("source", "source", None), ("table", "shard table", None), ("state", "state", 7))
        grid.show_rows((*columns, ("location", "first DDL at", None)), rows, force=force)
        self.query_one("#grid-title", Static).update(f"Shards of {lock_target(lock)}" if lock else "Shards")
        self.show_detail(lock, shards, palette)

    def conflicts(self, palette: Palette) -> list[RenderableType]:
        """Optimistic conflicts of the status: the blocked shard and the reason, names highlighted."""
        out: list[RenderableType] = []
        for task in self.shell.snapshot.tasks:
            for st in task.subtasks:
                if st.conflict_msg:
                    out.append(
                        Text(f"{task.name}: conflict on {st.block_ddl_owner}", style=f"bold {palette.bad}")
                    )
                    line = Text(f"  {st.conflict_msg}")
                    line.highlight_regex(r"`[^`]+`", style=f"bold {palette.warn}")
                    out.append(line)
        return out

    def show_detail(self, lock: mpb.DDLLock | None, shards: list[ShardRow], palette: Palette) -> None:
        body = self.query_one("#detail-text", Static)
        conflicts = self.conflicts(palette)
        if lock is None:
            msg = "No shard DDL lock: every shard group is in step." if not self.error else ""
            body.update(Group(*conflicts) if conflicts else Text(msg, style=palette.ok))
            return
        parts: list[RenderableType] = [*conflicts, Text("")] if conflicts else []
        key = self.query_one("#shard-grid", KeyedTable).current_key
        shard = shards[int(key)] if key is not None and int(key) < len(shards) else None
        if shard is not None and self.query_one("#shard-grid", KeyedTable).has_focus:
            name = shard.table or "(source)"
            parts.append(Text(f"{shard.source} {name}: {shard.state}", style="bold"))
            parts.append(Text(f"first pending DDL at: {shard.location or '-'}"))
            for ddl in shard.ddls or ("(none yet)",):
                parts.append(Text(f"  {ddl}"))
        else:
            parts.append(Text("DDLs", style="bold"))
            parts += [Text(f"  {ddl}") for ddl in lock.DDLs]
            parts.append(Text(f"owner {lock.owner}   unsynced: {', '.join(lock.unsynced) or 'none'}"))
        parts.append(Text(""))
        parts.append(Text("x unlock exec · k unlock skip · o owner · f force-remove", style=palette.muted))
        parts.append(Text(self.command(lock, "exec"), style=palette.accent))
        body.update(Group(*parts))

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self.show_grid(self.shell.snapshot, self.palette, False)

    # -- actions ------------------------------------------------------------------------------
    def command(self, lock: mpb.DDLLock, action: str, force_remove: bool = False) -> str:
        argv = ["shard-ddl-lock", "unlock", lock.ID]
        if force_remove:
            argv.append("--force-remove")
        else:
            if self.owner_of(lock) != lock.owner:
                argv += ["--owner", self.owner_of(lock)]
            argv += ["--action", action]
        return shlex.join(argv)

    def action_unlock(self, action: str) -> None:
        lock = self.selected()
        if lock is None:
            self.notify("No lock selected.", severity="warning")
            return
        self.shell.run_dmctl(self.command(lock, action), origin="action")

    def action_force_remove(self) -> None:
        lock = self.selected()
        if lock is None:
            self.notify("No lock selected.", severity="warning")
            return
        self.shell.run_dmctl(self.command(lock, "skip", force_remove=True), origin="action")

    def action_next_owner(self) -> None:
        lock = self.selected()
        if lock is None or not lock.synced:
            self.notify("No synced source to own the lock.", severity="warning")
            return
        choices = list(lock.synced)
        current = self.owner_of(lock)
        self.owner[lock.ID] = (
            choices[(choices.index(current) + 1) % len(choices)] if current in choices else choices[0]
        )
        self.notify(f"Owner of {lock.ID}: {self.owner[lock.ID]}")
        self.show_grid(self.shell.snapshot, self.palette, False)

    def action_toggle_focus(self) -> None:
        locks = self.query_one("#lock-list", KeyedTable)
        (self.query_one("#shard-grid", KeyedTable) if locks.has_focus else locks).focus()
        self.show_grid(self.shell.snapshot, self.palette, False)

    def action_back(self) -> None:
        self.shell.switch_view("dashboard")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action in ("unlock", "force_remove", "next_owner") and self.shell.read_only)
