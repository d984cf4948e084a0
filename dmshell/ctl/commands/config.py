"""Configuration commands: get-config (hidden; alias get-task-config) and config task/source/master/worker/
export/import/task-template.

``config export`` writes ``<dir>/sources/<id>.yaml`` and ``<dir>/tasks/<name>.yaml`` (DM also writes
``relay_workers.json`` from etcd, which dmshell's master does not expose; ``config import`` still
reads that file when it exists).
"""

from __future__ import annotations

import os

from dmshell.client.errors import ClientError
from dmshell.ctl.command import Command
from dmshell.ctl.commands._common import os_error_text, read_file
from dmshell.ctl.errors import CtlError
from dmshell.ctl.flags import string_flag
from dmshell.ctl.invocation import Invocation, mpb

_CFG_TYPES = {"task": "TaskType", "master": "MasterType", "worker": "WorkerType", "source": "SourceType"}


def send_get_config(inv: Invocation, type_name: str, name: str, output: str) -> None:
    """DM's ``sendGetConfigRequest``; ``output`` writes ``cfg`` to that file instead of printing it."""
    tp = mpb().CfgType.Value(type_name)
    try:
        resp = inv.call("GetCfg", mpb().GetCfgRequest(type=tp, name=name))
    except ClientError:
        inv.println(f"can not get {type_name} config of {name}")
        raise
    if resp.result and output:
        try:
            _write_private(output, resp.cfg.encode())
        except OSError as exc:
            inv.println(f"can not write config to file {output}")
            raise CtlError(f"open {output}: {os_error_text(exc)}") from None
        resp.msg = f"write config to file {output} succeed"
        resp.cfg = ""
    inv.emit(resp)


def _write_private(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def get_config(inv: Invocation) -> None:
    args = ["task", *inv.args] if inv.called_as == "get-task-config" else inv.args
    if len(args) != 2:
        raise inv.usage_error()
    if args[0] not in _CFG_TYPES:
        raise inv.bad_args(f"invalid config type '{args[0]}'")
    send_get_config(inv, _CFG_TYPES[args[0]], args[1], inv.flags.str("file"))


def _show(type_name: str):
    def handler(inv: Invocation) -> None:
        if len(inv.args) != 1:
            raise inv.show_help()
        send_get_config(inv, type_name, inv.args[0], inv.flags.str("path"))

    return handler


def _not_yet(inv: Invocation) -> None:
    raise CtlError("this function will be supported later")


def _dir(inv: Invocation) -> str:
    return inv.flags.str("path") or inv.flags.str("dir") or "configs"


def export_configs(inv: Invocation) -> None:
    path = _dir(inv)
    empty = mpb().Empty()
    sources = inv.call("ListSourceConfigs", empty)
    if not sources.result:
        raise CtlError(sources.msg)
    tasks = inv.call("ListTaskConfigs", empty)
    if not tasks.result:
        raise CtlError(tasks.msg)
    task_dir, source_dir = os.path.join(path, "tasks"), os.path.join(path, "sources")
    for d, what in ((task_dir, "task"), (source_dir, "source")):
        try:
            os.makedirs(d, mode=0o700, exist_ok=True)
        except OSError as exc:
            inv.println(f"can not create directory of {what} configs `{d}`")
            raise CtlError(f"mkdir {d}: {os_error_text(exc)}") from None
    for source, content in sources.sourceConfigs.items():
        f = os.path.join(source_dir, source + ".yaml")
        try:
            _write_private(f, content.encode())
        except OSError as exc:
            inv.println(f"fail to write source config to file `{f}`")
            raise CtlError(f"open {f}: {os_error_text(exc)}") from None
    for task, content in tasks.taskConfigs.items():
        f = os.path.join(task_dir, task + ".yaml")
        try:
            _write_private(f, content.encode())
        except OSError as exc:
            inv.println(f"can not write task config to file `{f}`")
            raise CtlError(f"open {f}: {os_error_text(exc)}") from None
    inv.println(f"export configs to directory `{path}` succeed")


def _collect(d: str) -> list[str]:
    return [read_file(os.path.join(d, name)).decode(errors="replace") for name in sorted(os.listdir(d))]


def import_configs(inv: Invocation) -> None:
    path = _dir(inv)
    if not os.path.isdir(path):
        raise CtlError(f"config directory `{path}` not exists")
    source_dir, task_dir = os.path.join(path, "sources"), os.path.join(path, "tasks")
    relay_file = os.path.join(path, "relay_workers.json")
    source_cfgs = _collect(source_dir) if os.path.isdir(source_dir) else []
    task_cfgs = _collect(task_dir) if os.path.isdir(task_dir) else []
    relay_workers: dict[str, list[str]] = {}
    if os.path.isfile(relay_file):
        try:
            import json

            relay_workers = json.loads(read_file(relay_file))
        except ValueError as exc:
            inv.println(f"fail to unmarshal relay workers config `{relay_file}`")
            raise CtlError(str(exc)) from None
    if source_cfgs:
        inv.println("start creating sources")
        for cfg in source_cfgs:
            req = mpb().OperateSourceRequest(config=[cfg], op=mpb().SourceOp.Value("StartSource"))
            try:
                resp = inv.call("OperateSource", req)
            except ClientError:
                inv.println("fail to create sources")
                raise
            if not resp.result and "already exist" not in resp.msg:
                inv.emit(resp)
                raise CtlError("fail to create sources")
    if task_cfgs:
        inv.println("start creating tasks")
        for cfg in task_cfgs:
            try:
                resp = inv.call("StartTask", mpb().StartTaskRequest(task=cfg))
            except ClientError:
                inv.println("fail to create tasks")
                raise
            if not resp.result and "already exist" not in resp.msg:
                inv.emit(resp)
                raise CtlError("fail to create tasks")
    if relay_workers:
        inv.println(f"The original relay workers have been exported to `{relay_file}`.")
        inv.println(
            "Currently DM doesn't support recover relay workers. You may need to execute `transfer-source` "
            "and `start-relay` command manually."
        )
    inv.println(f"import configs from directory `{path}` succeed")


def get_config_commands() -> list[Command]:
    return [
        Command(
            use="get-config <task | master | worker | source> <name> [--file filename]",
            short="Gets the configuration",
            run=get_config,
            rpc="GetCfg",
            hidden=True,
            aliases=("get-task-config",),
            positionals=("choice:task,master,worker,source", "text"),
            flags=(string_flag("file", "write config to file", "f"),),
        )
    ]


def _dir_flag():
    return string_flag("dir", "specify the configs directory, default is `./configs`", "d", hidden=True)


def config_commands() -> list[Command]:
    cmd = Command(
        use="config <command>",
        short="manage config operations",
        persistent_flags=(string_flag("path", "specify the file path to export/import`", "p"),),
        flag_values={"path": "file"},
    )
    task = Command(
        use="task [task-name]",
        short="manage or show task configs",
        run=_show("TaskType"),
        rpc="GetCfg",
        positionals=("task",),
    )
    task.add(Command(use="update <command>", short="update config task", run=_not_yet, hidden=True))
    source = Command(
        use="source [source-name]",
        short="manage or show source config",
        run=_show("SourceType"),
        rpc="GetCfg",
        positionals=("source",),
    )
    source.add(Command(use="update <command>", short="update config source", run=_not_yet, hidden=True))
    cmd.add(
        task,
        source,
        Command(
            use="master [master-name]",
            short="manage or show master configs",
            run=_show("MasterType"),
            rpc="GetCfg",
            positionals=("member",),
        ),
        Command(
            use="worker [worker-name]",
            short="manage or show worker configs",
            run=_show("WorkerType"),
            rpc="GetCfg",
            positionals=("worker",),
        ),
        Command(
            use="export",
            short="Export the configurations of sources and tasks",
            run=export_configs,
            rpc="ListSourceConfigs",
            flags=(_dir_flag(),),
            flag_values={"dir": "dir", "path": "dir"},
        ),
        Command(
            use="import",
            short="Import the configurations of sources and tasks",
            run=import_configs,
            rpc="OperateSource",
            flags=(_dir_flag(),),
            flag_values={"dir": "dir", "path": "dir"},
        ),
        Command(
            use="task-template [task-name]",
            short="show task template which is created by WebUI with task config format",
            run=_show("TaskTemplateType"),
            rpc="GetCfg",
            positionals=("task",),
        ),
    )
    return [cmd]
