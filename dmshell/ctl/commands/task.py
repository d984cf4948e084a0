"""Task commands: start-task, stop-task, pause-task, resume-task, check-task, query-status."""

from __future__ import annotations

from typing import Any

from dmshell.client.errors import ClientError
from dmshell.ctl.command import Command
from dmshell.ctl.commands._common import (
    SHARD_CONFLICT,
    batch_size_flag,
    load_yaml,
    read_file,
    shard_mode_conflict,
    start_time_flag,
    task_name,
)
from dmshell.ctl.errors import CtlError
from dmshell.ctl.flags import FlagValues, bool_flag, int_flag
from dmshell.ctl.invocation import Invocation, mpb, pb
from dmshell.ctl.output import go_slice, omitempty

# --------------------------------------------------------------------------- start-task / check-task


def start_task(inv: Invocation) -> None:
    if len(inv.args) != 1:
        raise inv.usage_error()
    content = read_file(inv.args[0])
    doc = load_yaml(content)
    if shard_mode_conflict(content, doc):
        inv.println(SHARD_CONFLICT)
        raise CtlError("please check output to see error")
    req = mpb().StartTaskRequest(
        task=content.decode(errors="replace"),
        sources=inv.sources,
        removeMeta=inv.flags.bool("remove-meta"),
        startTime=inv.flags.str("start-time"),
    )
    inv.emit(inv.call("StartTask", req), check_task_field="checkResult")


def check_task(inv: Invocation) -> None:
    if len(inv.args) != 1:
        raise inv.usage_error()
    content = read_file(inv.args[0])
    try:
        doc = load_yaml(content)
    except CtlError:  # DM skips the check when the YAML does not parse
        doc = None
    if shard_mode_conflict(content, doc):
        inv.println(SHARD_CONFLICT)
        raise CtlError("please check output to see error")
    req = mpb().CheckTaskRequest(
        task=content.decode(errors="replace"),
        errCnt=inv.flags.int("error"),
        warnCnt=inv.flags.int("warn"),
        startTime=inv.flags.str("start-time"),
    )
    inv.emit(inv.call("CheckTask", req), check_task_field="msg")


# --------------------------------------------------------------------------- stop/pause/resume-task


def _operate(op_name: str):
    def handler(inv: Invocation) -> None:
        op = pb().TaskOp.Value(op_name)
        if not inv.args:
            _operate_source_tasks(inv, op)
            return
        if len(inv.args) > 1:
            raise inv.usage_error()
        name = task_name(inv.args[0])
        try:
            resp = _operate_task(inv, op, name, inv.sources)
        except ClientError:
            inv.println(f"can not {op_name.lower()} task {name}")
            raise
        inv.emit(resp)

    return handler


def _operate_task(inv: Invocation, op: int, name: str, sources: list[str]) -> Any:
    return inv.call("OperateTask", mpb().OperateTaskRequest(op=op, name=name, sources=sources))


def _operate_source_tasks(inv: Invocation, op: int) -> None:
    """DM's batch mode: every subtask bound to exactly one ``-s`` source."""
    sources = inv.sources
    if not sources:
        inv.println("must give one source-name when task-name/task-conf is not specified")
        raise inv.usage_error()
    if len(sources) > 1:
        inv.println("can give only one source-name when task-name/task-conf is not specified")
        raise inv.usage_error()
    batch_size = inv.flags.int("batch-size")
    try:
        resp = inv.call("QueryStatus", mpb().QueryStatusListRequest(sources=sources))
    except ClientError:
        inv.println(f"cannot query status of source: {go_slice(sources)}")
        raise
    if not resp.result or not resp.sources:
        inv.emit_interface({"result": False, "msg": resp.msg, "tasks": []}, ok=False)
        return
    names = [st.name for st in resp.sources[0].subTaskStatus]
    op_name = pb().TaskOp.Name(op)

    def one(name: str) -> dict[str, Any]:
        result: dict[str, Any] = {"task": name, "op": op_name, "result": False, "msg": "", "sources": None}
        try:
            r = _operate_task(inv, op, name, sources)
        except ClientError as exc:
            result["msg"] = str(exc)
        else:
            result.update(result=r.result, msg=r.msg, sources=[omitempty(s) for s in r.sources])
        return result

    tasks: list[dict[str, Any]] = []
    if names:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=max(1, min(batch_size, len(names)))) as pool:
            tasks = list(pool.map(one, names))
    tasks.sort(key=lambda t: t["task"])
    inv.emit_interface({"result": True, "msg": "", "tasks": tasks}, ok=all(t["result"] for t in tasks))


# --------------------------------------------------------------------------- query-status

STAGE_ERROR = "Error"


def query_status(inv: Invocation) -> None:
    if len(inv.args) > 1:
        raise inv.usage_error()
    name = task_name(inv.args[0]) if inv.args else ""
    sources = inv.sources
    try:
        resp = inv.call("QueryStatus", mpb().QueryStatusListRequest(name=name, sources=sources))
    except ClientError:
        inv.println(f"can not query {name} task's status(in sources {go_slice(sources)})")
        raise
    if resp.result and not name and not sources and not inv.flags.bool("more"):
        simplified, has_false = wrap_task_result(resp)
        if not has_false:
            inv.emit_interface(simplified)
            return
    inv.emit(resp)


def wrap_task_result(resp: Any) -> tuple[dict[str, Any], bool]:
    """DM's ``wrapTaskResult``: one line per task with its overall status (and false-result flag).

    Tasks are listed in the order they first appear (DM's order is Go map order, i.e. random).
    """
    stage = pb().Stage
    statuses: dict[str, str] = {}
    task_sources: dict[str, list[str]] = {}
    has_false = not resp.result
    for source in resp.sources:
        has_false = has_false or not source.result
        relay = source.sourceStatus.relayStatus if source.sourceStatus.HasField("relayStatus") else None
        for st in source.subTaskStatus:
            task_sources.setdefault(st.name, []).append(source.sourceStatus.source)
            current = statuses.get(st.name, "")
            errored = st.HasField("result") and len(st.result.errors) > 0
            if current.startswith(STAGE_ERROR):
                pass
            elif st.stage == stage.Value("Paused") and errored:
                statuses[st.name] = STAGE_ERROR + " - Some error occurred in subtask"
            elif (
                st.unit == pb().UnitType.Value("Sync")
                and st.stage == stage.Value("Running")
                and relay is not None
                and relay.stage in (stage.Value("Paused"), stage.Value("Stopped"))
            ):
                relay_stage = (
                    STAGE_ERROR
                    if (relay.HasField("result") and relay.result.errors)
                    else stage.Name(relay.stage)
                )
                statuses[st.name] = STAGE_ERROR + " - Relay status is " + relay_stage
            elif current == "Paused":
                pass
            elif current == "" or st.stage == stage.Value("Paused"):
                statuses[st.name] = stage.Name(st.stage)
            elif current != stage.Name(st.stage):
                statuses[st.name] = "Running"
    tasks = []
    for name, status in statuses.items():
        if status.startswith(STAGE_ERROR):
            status += f". Please run `query-status {name}` to get more details."
        info: dict[str, Any] = {}
        if name:
            info["taskName"] = name
        if status:
            info["taskStatus"] = status
        if task_sources.get(name):
            info["sources"] = task_sources[name]
        tasks.append(info)
    return {"result": resp.result, "msg": resp.msg, "tasks": tasks}, has_false


# --------------------------------------------------------------------------- registry entries


def _confirm_stop(args: list[str], flags: FlagValues) -> str | None:
    sources = flags.list("source")
    if len(args) == 1:
        where = f" on sources {', '.join(sources)}" if sources else ""
        return f"Stop task {args[0]}{where}? Its subtasks stop and are removed."
    if not args and len(sources) == 1:
        return f"Stop every task on source {sources[0]}? Their subtasks stop and are removed."
    return None


def commands() -> list[Command]:
    operate_positionals = ("task",)
    return [
        Command(
            use="start-task [-s source ...] [--remove-meta] <config-file>",
            short="Starts a task as defined in the configuration file",
            run=start_task,
            rpc="StartTask",
            positionals=("file",),
            flags=(bool_flag("remove-meta", "whether to remove task's meta data"), start_time_flag()),
        ),
        Command(
            use="stop-task [-s source ...] [task-name | task-file]",
            short="Stops a specified task or all (sub)tasks bound to a source",
            run=_operate("Delete"),
            rpc="OperateTask",
            positionals=operate_positionals,
            flags=(batch_size_flag(),),
            confirm=_confirm_stop,
        ),
        Command(
            use="pause-task [-s source ...] [task-name | task-file]",
            short="Pauses a specified running task or all (sub)tasks bound to a source",
            run=_operate("Pause"),
            rpc="OperateTask",
            positionals=operate_positionals,
            flags=(batch_size_flag(),),
        ),
        Command(
            use="resume-task [-s source ...] [task-name | task-file]",
            short="Resumes a specified paused task or all (sub)tasks bound to a source",
            run=_operate("Resume"),
            rpc="OperateTask",
            positionals=operate_positionals,
            flags=(batch_size_flag(),),
        ),
        Command(
            use="check-task <config-file> [--error count] [--warn count]",
            short="Checks the configuration file of the task",
            run=check_task,
            rpc="CheckTask",
            positionals=("file",),
            flags=(
                int_flag("error", "max count of errors to display", 10, "e", kind="int64"),
                int_flag("warn", "max count of warns to display", 10, "w", kind="int64"),
                start_time_flag(),
            ),
        ),
        Command(
            use="query-status [-s source ...] [task-name | task-file] [--more]",
            short="Queries task status",
            run=query_status,
            rpc="QueryStatus",
            positionals=("task",),
            flags=(bool_flag("more", "whether to print the detailed task information"),),
        ),
    ]
