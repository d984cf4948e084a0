"""Sources and members: operate-source, transfer-source, offline-member, operate-leader, list-member."""

from __future__ import annotations

from dmshell.ctl.command import Command
from dmshell.ctl.commands._common import load_yaml, read_file
from dmshell.ctl.errors import CtlError, UsageError
from dmshell.ctl.flags import FlagValues, bool_flag, string_flag, strings_flag
from dmshell.ctl.invocation import Invocation, mpb

SAMPLE_SOURCE_CONFIG = """\
# server-id used when reading the binlog as a replica; unique in the replication topology
server-id: 101

# identifies one MySQL/MariaDB instance (or a primary/replica group); at most 32 characters
source-id: mysql-replica-01

# mysql or mariadb
flavor: mysql

# pull the binlog into a local relay log first
enable-relay: false
# relay-binlog-name: ''
# relay-binlog-gtid: ''
# relay-dir: ./relay_log

# replicate by GTID instead of binlog file/position
enable-gtid: false

# start the tasks of this source when it is bound to a worker
enable: true

# charset of the upstream connection
# charset: ''

from:
  host: 127.0.0.1
  user: root
  password: '123456'  # plaintext or the output of `dmctl encrypt`
  port: 3306

# relay log purge
#purge:
#  interval: 3600
#  expires: 24
#  remain-space: 15

# automatic resume of paused tasks
#checker:
#  check-enable: true
#  backoff-rollback: 5m
#  backoff-max: 5m
"""

_SOURCE_OPS = {"create": "StartSource", "update": "UpdateSource", "stop": "StopSource", "show": "ShowSource"}


def operate_source(inv: Invocation) -> None:
    if inv.flags.bool("print-sample-config"):
        inv.println(SAMPLE_SOURCE_CONFIG)
        return
    if not inv.args:
        raise inv.usage_error()
    op_word = inv.args[0]
    if op_word not in _SOURCE_OPS:
        raise inv.bad_args(f"invalid operate '{op_word}' on worker")
    op = mpb().SourceOp.Value(_SOURCE_OPS[op_word])
    if op_word != "show" and len(inv.args) == 1:
        raise inv.bad_args("operate-source create/stop should specify config-file(s)")
    worker = ""
    if op_word == "create":
        worker = inv.flags.str("worker")
        if worker and len(inv.args) > 2:
            inv.println("operate-source create can't create multiple sources when specify worker")
    contents: list[str] = []
    source_ids = list(inv.sources)
    for arg in inv.args[1:]:
        try:
            content = read_file(arg)
        except CtlError:
            if op_word == "stop":
                source_ids.append(arg)
                continue
            raise
        doc = load_yaml(content)
        if not isinstance(doc, dict):
            raise CtlError(
                "yaml: unmarshal errors:\n  line 1: cannot unmarshal "
                f"{type(doc).__name__} into config.SourceConfig"
            )
        if doc.get("relay-dir"):
            inv.println(
                "`relay-dir` in source config will be deprecated soon, "
                "please use `relay-dir` in worker config instead"
            )
        contents.append(content.decode(errors="replace"))
    req = mpb().OperateSourceRequest(op=op, config=contents, sourceID=source_ids, workerName=worker)
    inv.emit(inv.call("OperateSource", req))


def transfer_source(inv: Invocation) -> None:
    if len(inv.args) != 2:
        raise inv.usage_error()
    inv.emit(inv.call("TransferSource", mpb().TransferSourceRequest(source=inv.args[0], worker=inv.args[1])))


def offline_member(inv: Invocation) -> None:
    if inv.args:
        raise inv.usage_error()
    master, worker = inv.flags.bool("master"), inv.flags.bool("worker")
    if master == worker:
        inv.println("get offline type failed")
        raise UsageError("should specify either --master or --worker")
    name = inv.flags.str("name")
    if not name:
        raise inv.bad_args("a member name must be specified")
    resp = inv.call(
        "OfflineMember", mpb().OfflineMemberRequest(type="master" if master else "worker", name=name)
    )
    if not resp.result:
        inv.println(f"offline member failed:\n{resp.msg}")
        raise CtlError("please check output to see error")
    inv.emit(resp)


def operate_leader(inv: Invocation) -> None:
    if len(inv.args) != 1:
        raise inv.usage_error()
    ops = {"evict": "EvictLeaderOp", "cancel-evict": "CancelEvictLeaderOp"}
    if inv.args[0] not in ops:
        raise inv.bad_args(f"invalid operate '{inv.args[0]}' on leader")
    inv.emit(inv.call("OperateLeader", mpb().OperateLeaderRequest(op=mpb().LeaderOp.Value(ops[inv.args[0]]))))


def list_member(inv: Invocation) -> None:
    if inv.args:
        raise inv.usage_error()
    req = mpb().ListMemberRequest(
        leader=inv.flags.bool("leader"),
        master=inv.flags.bool("master"),
        worker=inv.flags.bool("worker"),
        names=inv.flags.list("name"),
    )
    inv.emit(inv.call("ListMember", req))


def _confirm_source_stop(args: list[str], flags: FlagValues) -> str | None:
    if len(args) > 1 and args[0] == "stop":
        return f"Stop source(s) {', '.join(args[1:])}? Their subtasks stop replicating."
    return None


def source_commands() -> list[Command]:
    return [
        Command(
            use="operate-source <operate-type> [config-file ...] [-w worker] [--print-sample-config]",
            short="`create`/`stop`/`show` upstream MySQL/MariaDB source",
            run=operate_source,
            rpc="OperateSource",
            positionals=("choice:create,update,stop,show", "file..."),
            flags=(
                bool_flag("print-sample-config", "print sample config file of source", "p"),
                string_flag("worker", "specify bound worker for created source", "w"),
            ),
            flag_values={"worker": "worker"},
            confirm=_confirm_source_stop,
        )
    ]


def member_commands() -> list[Command]:
    return [
        Command(
            use="offline-member <--master/--worker> <--name master-name/worker-name>",
            short="Offlines member which has been closed",
            run=offline_member,
            rpc="OfflineMember",
            flags=(
                bool_flag("master", "to offline a master", "m"),
                bool_flag("worker", "to offline a worker", "w"),
                string_flag("name", "specify member name for choosing type", "n"),
            ),
            flag_values={"name": "member"},
        ),
        Command(
            use="operate-leader <operate-type>",
            short="`evict`/`cancel-evict` the leader",
            run=operate_leader,
            rpc="OperateLeader",
            positionals=("choice:evict,cancel-evict",),
        ),
        Command(
            use="list-member [--leader] [--master] [--worker] [--name master-name/worker-name ...]",
            short="Lists member information",
            run=list_member,
            rpc="ListMember",
            flags=(
                bool_flag("leader", "only to list leader information", "l"),
                bool_flag("master", "only to list master information", "m"),
                bool_flag("worker", "only to list worker information", "w"),
                strings_flag("name", "specify member names in choosing type", "n"),
            ),
            flag_values={"name": "member"},
        ),
    ]


def transfer_commands() -> list[Command]:
    return [
        Command(
            use="transfer-source <source-id> <worker-id>",
            short="Transfers a upstream MySQL/MariaDB source to a free worker",
            run=transfer_source,
            rpc="TransferSource",
            positionals=("source", "worker"),
        )
    ]
