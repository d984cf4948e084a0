"""Relay commands: pause-relay, resume-relay, purge-relay, start-relay, stop-relay."""

from __future__ import annotations

from dmshell.ctl.command import Command
from dmshell.ctl.commands._common import NEED_SOURCE, trim_quote_mark
from dmshell.ctl.errors import UsageError
from dmshell.ctl.flags import string_flag
from dmshell.ctl.invocation import Invocation, mpb, pb


def _operate_relay(op_name: str):
    def handler(inv: Invocation) -> None:
        if inv.args:
            raise inv.usage_error()
        if not inv.sources:
            raise inv.bad_args(NEED_SOURCE)
        req = mpb().OperateWorkerRelayRequest(op=pb().RelayOp.Value(op_name), sources=inv.sources)
        inv.emit(inv.call("OperateWorkerRelayTask", req))

    return handler


def purge_relay(inv: Invocation) -> None:
    if inv.args:
        raise inv.usage_error()
    sources = inv.sources
    if not sources:
        raise UsageError(NEED_SOURCE)
    filename = inv.flags.str("filename")
    if not filename:
        raise UsageError(
            "must specify the name of the terminal file before which to purge relay log files. "
            "(`-f` / `--filename`)"
        )
    filename = filename.strip('"')
    if filename and len(sources) > 1:
        raise UsageError("for --filename, can only specify one source per time")
    sub_dir = trim_quote_mark(inv.flags.str("sub-dir"))
    if filename and not sub_dir:
        inv.println("[warn] no --sub-dir specify for --filename, the latest one will be used")
    req = mpb().PurgeWorkerRelayRequest(sources=sources, filename=filename, subDir=sub_dir)
    inv.emit(inv.call("PurgeWorkerRelay", req))


def _start_stop_relay(op_name: str):
    def handler(inv: Invocation) -> None:
        sources = inv.sources
        if not inv.args and not sources:
            raise inv.usage_error()
        if len(sources) != 1:
            raise inv.bad_args("must specify one source (`-s` / `--source`)")
        if inv.args:
            inv.println(
                "start-relay/stop-relay with worker name will be deprecated soon. You can try stopping "
                "relay first and use start-relay without worker name instead"
            )
        req = mpb().OperateRelayRequest(op=mpb().RelayOpV2.Value(op_name), source=sources[0], worker=inv.args)
        inv.emit(inv.call("OperateRelay", req))

    return handler


def pause_resume_commands() -> list[Command]:
    return [
        Command(
            use="pause-relay <-s source ...>",
            short="Pauses DM-worker's relay unit",
            run=_operate_relay("PauseRelay"),
            rpc="OperateWorkerRelayTask",
        ),
        Command(
            use="resume-relay <-s source ...>",
            short="Resumes DM-worker's relay unit",
            run=_operate_relay("ResumeRelay"),
            rpc="OperateWorkerRelayTask",
        ),
        Command(
            use="purge-relay <-s source> <-f filename> [--sub-dir directory]",
            short="Purges relay log files of the DM-worker according to the specified filename",
            run=purge_relay,
            rpc="PurgeWorkerRelay",
            flags=(
                string_flag(
                    "filename",
                    "name of the terminal file before which to purge relay log files. "
                    'Sample format: "mysql-bin.000006"',
                    "f",
                ),
                string_flag(
                    "sub-dir",
                    "specify relay sub directory for --filename. If not specified, the latest "
                    'one will be used. Sample format: "2ae76434-f79f-11e8-bde2-0242ac130008.000001"',
                ),
            ),
        ),
    ]


def start_stop_commands() -> list[Command]:
    return [
        Command(
            use="start-relay <-s source-id>",
            short="Starts workers pulling relay log for a source",
            run=_start_stop_relay("StartRelayV2"),
            rpc="OperateRelay",
            positionals=("worker...",),
        ),
        Command(
            use="stop-relay <-s source-id>",
            short="Stops workers pulling relay log for a source",
            run=_start_stop_relay("StopRelayV2"),
            rpc="OperateRelay",
            positionals=("worker...",),
        ),
    ]
