"""Continuous data validation: ``validation start/stop/update/show-error/status`` and
``validation ignore-error/resolve-error/clear-error``."""

from __future__ import annotations

import re

from dmshell.ctl.command import Command, usage_text
from dmshell.ctl.commands._common import START_TIME_FORMAT_HINT, valid_start_time, verify_pos_str
from dmshell.ctl.errors import CtlError, UsageError
from dmshell.ctl.flags import bool_flag, string_flag
from dmshell.ctl.invocation import Invocation, mpb, pb

_ERROR_STATES = {
    "all": "InvalidErr",
    "ignored": "IgnoredErr",
    "unprocessed": "NewErr",
    "resolved": "ResolvedErr",
}


def _usage_fail(inv: Invocation, message: str) -> UsageError:
    inv.write(usage_text(inv.cmd))
    return UsageError(message)


def _start_stop_args(inv: Invocation, start: bool) -> str:
    """The task name ("" = every task) after DM's argument checks."""
    if start:
        mode = inv.flags.str("mode")
        if inv.flags.changed("mode") and mode not in ("full", "fast"):
            raise _usage_fail(inv, f"mode should be either `full` or `fast`, current is `{mode}`")
        if inv.flags.changed("start-time") and not valid_start_time(inv.flags.str("start-time")):
            raise _usage_fail(inv, f"start-time should be in the format like {START_TIME_FORMAT_HINT}")
    all_task = inv.flags.bool("all-task")
    if len(inv.args) == 1:
        if all_task:
            raise _usage_fail(inv, "either `task-name` or `all-task` should be set")
        return inv.args[0]
    if not inv.args:
        if not all_task:
            raise _usage_fail(inv, "either `task-name` or `all-task` should be set")
        return ""
    raise _usage_fail(inv, "too many arguments are specified")


def start_validation(inv: Invocation) -> None:
    name = _start_stop_args(inv, start=True)
    req = mpb().StartValidationRequest(taskName=name, sources=inv.sources)
    if inv.flags.changed("mode"):
        req.mode_value = inv.flags.str("mode")
    if inv.flags.changed("start-time"):
        req.start_time_value = inv.flags.str("start-time")
    inv.emit(inv.call("StartValidation", req))


def stop_validation(inv: Invocation) -> None:
    name = _start_stop_args(inv, start=False)
    inv.emit(inv.call("StopValidation", mpb().StopValidationRequest(taskName=name, sources=inv.sources)))


def update_validation(inv: Invocation) -> None:
    pos, gtid = inv.flags.str("cutover-binlog-pos"), inv.flags.str("cutover-binlog-gtid")
    if pos:
        try:
            verify_pos_str(pos)
        except CtlError as exc:
            raise _usage_fail(inv, str(exc)) from None
    if gtid and pos:
        raise _usage_fail(
            inv, "you must specify either one of '--cutover-binlog-pos' or '--cutover-binlog-pos'"
        )
    if not inv.args:
        raise _usage_fail(inv, "`task-name` should be set")
    if len(inv.args) > 1:
        raise _usage_fail(inv, "should specify only one `task-name`")
    if not inv.args[0]:
        raise _usage_fail(inv, "`task-name` should be set")
    req = mpb().UpdateValidationRequest(
        taskName=inv.args[0], sources=inv.sources, binlogPos=pos, binlogGTID=gtid
    )
    inv.emit(inv.call("UpdateValidation", req))


def show_error(inv: Invocation) -> None:
    if len(inv.args) != 1:
        raise UsageError("task name should be specified")
    state = inv.flags.str("error")
    if state not in _ERROR_STATES or state == "resolved":
        raise _usage_fail(inv, "error flag should be either `all`, `ignored`, or `unprocessed`")
    req = pb().GetValidationErrorRequest(
        errState=pb().ValidateErrorState.Value(_ERROR_STATES[state]), taskName=inv.args[0]
    )
    inv.emit(inv.call("GetValidationError", req))


def status(inv: Invocation) -> None:
    if len(inv.args) != 1:
        raise _usage_fail(inv, "task name should be specified")
    stage = inv.flags.str("table-stage")
    stages = {"": "InvalidStage", "running": "Running", "stopped": "Stopped"}
    if stage not in stages:
        raise _usage_fail(inv, "stage should be either `running` or `stopped`")
    req = pb().GetValidationStatusRequest(taskName=inv.args[0], filterStatus=pb().Stage.Value(stages[stage]))
    inv.emit(inv.call("GetValidationStatus", req))


def _operate_error(op: str):
    def handler(inv: Invocation) -> None:
        if not inv.args:
            raise _usage_fail(inv, "task name should be specified")
        if len(inv.args) > 2:
            raise _usage_fail(inv, "too many arguments are specified")
        err_id = inv.args[1] if len(inv.args) > 1 else ""
        is_all = inv.flags.bool("all")
        if (not err_id and not is_all) or (err_id and is_all):
            raise _usage_fail(inv, "either `--all` or `error-id` should be set")
        num = 0
        if err_id:
            if not re.fullmatch(r"[+-]?\d+", err_id) or not -(2**63) <= int(err_id) < 2**63:
                raise _usage_fail(inv, "`error-id` should be integer when `--all` is not set")
            num = int(err_id) % 2**64  # Go's uint64(int) conversion
        req = mpb().OperateValidationErrorRequest(
            op=mpb().ValidationErrOp.Value(op), taskName=inv.args[0], errId=num, isAllError=is_all
        )
        inv.emit(inv.call("OperateValidationError", req))

    return handler


def commands() -> list[Command]:
    start_time_usage = (
        "specify the start time of binlog for validation, e.g. '2021-10-21 00:01:00', "
        "'2021-10-21T00:01:00', or '2021-10-21T00:01:00+08:00'"
    )
    all_task = bool_flag("all-task", "whether applied to all tasks")
    cmd = Command(use="validation", short="operate or query validation task")

    def op_error(name: str, op: str, verb: str) -> Command:
        return Command(
            use=f"{name} <task-name> <error-id|--all>",
            short=f"{verb} validation error row change",
            run=_operate_error(op),
            rpc="OperateValidationError",
            positionals=("task", "text"),
            flags=(bool_flag("all", "all errors"),),
        )

    cmd.add(
        Command(
            use="start [--all-task] [task-name]",
            short="start to validate the completeness of the data",
            run=start_validation,
            rpc="StartValidation",
            positionals=("task",),
            flags=(
                all_task,
                string_flag(
                    "mode",
                    "specify the mode of validation: full (default), fast; this flag "
                    "will be ignored if the validation task has been ever enabled but "
                    "currently paused",
                    default="full",
                ),
                string_flag("start-time", start_time_usage),
            ),
            flag_values={"mode": "choice:full,fast"},
        ),
        Command(
            use="stop [--all-task] [task-name]",
            short="stop validating the completeness of the data",
            run=stop_validation,
            rpc="StopValidation",
            positionals=("task",),
            flags=(all_task,),
        ),
        Command(
            use="update [task-name]",
            short="update validation config of the completeness of the data",
            run=update_validation,
            rpc="UpdateValidation",
            positionals=("task",),
            flags=(
                string_flag(
                    "cutover-binlog-pos",
                    "specify the cutover binlog name for validation, should "
                    "include binlog name and pos in brackets, e.g. '(mysql-bin.000001, 5989)'",
                ),
                string_flag(
                    "cutover-binlog-gtid",
                    "specify the cutover binlog gtid for validation, only valid "
                    "when source config's gtid is enabled, e.g. "
                    "'1642618e-cf65-11ec-9e3d-0242ac110002:1-30'",
                ),
            ),
        ),
        Command(
            use="show-error [--error error-state] <task-name>",
            short="show validation error row change",
            run=show_error,
            rpc="GetValidationError",
            positionals=("task",),
            flags=(
                string_flag(
                    "error", "filtering type of error: all, ignored, or unprocessed", default="unprocessed"
                ),
            ),
            flag_values={"error": "choice:all,ignored,unprocessed"},
        ),
        Command(
            use="status [--table-stage stage] <task-name>",
            short="query validation status of a task",
            run=status,
            rpc="GetValidationStatus",
            positionals=("task",),
            flags=(string_flag("table-stage", "filter validation tables by stage: running/stopped"),),
            flag_values={"table-stage": "choice:running,stopped"},
        ),
        op_error("ignore-error", "IgnoreErrOp", "ignore"),
        op_error("resolve-error", "ResolveErrOp", "resolve"),
        op_error("clear-error", "ClearErrOp", "clear"),
    )
    return [cmd]
