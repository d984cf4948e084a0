"""Usage lines, help texts and misuse errors, checked against DM's (dm/ctl and dm/tests/*/check_list)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from dmshell.ctl import registry
from dmshell.ctl.command import help_text, usage_text
from dmshell.ctl.errors import EXIT_OK, EXIT_USAGE

Dmctl = Callable[..., Any]  # the `dmctl` fixture (tests/ctl/conftest.py)

CHECK = "Error: please check output to see error\n"

# Every DM command: path -> (Use, Short) exactly as DM registers them.
DM_COMMANDS = {
    "start-task": (
        "start-task [-s source ...] [--remove-meta] <config-file>",
        "Starts a task as defined in the configuration file",
    ),
    "stop-task": (
        "stop-task [-s source ...] [task-name | task-file]",
        "Stops a specified task or all (sub)tasks bound to a source",
    ),
    "pause-task": (
        "pause-task [-s source ...] [task-name | task-file]",
        "Pauses a specified running task or all (sub)tasks bound to a source",
    ),
    "resume-task": (
        "resume-task [-s source ...] [task-name | task-file]",
        "Resumes a specified paused task or all (sub)tasks bound to a source",
    ),
    "check-task": (
        "check-task <config-file> [--error count] [--warn count]",
        "Checks the configuration file of the task",
    ),
    "query-status": ("query-status [-s source ...] [task-name | task-file] [--more]", "Queries task status"),
    "show-ddl-locks": (
        "show-ddl-locks [-s source ...] [task-name | task-file]",
        "Shows un-resolved DDL locks",
    ),
    "unlock-ddl-lock": ("unlock-ddl-lock <lock-ID>", "Unlocks DDL lock forcefully"),
    "pause-relay": ("pause-relay <-s source ...>", "Pauses DM-worker's relay unit"),
    "resume-relay": ("resume-relay <-s source ...>", "Resumes DM-worker's relay unit"),
    "purge-relay": (
        "purge-relay <-s source> <-f filename> [--sub-dir directory]",
        "Purges relay log files of the DM-worker according to the specified filename",
    ),
    "operate-source": (
        "operate-source <operate-type> [config-file ...] [-w worker] [--print-sample-config]",
        "`create`/`stop`/`show` upstream MySQL/MariaDB source",
    ),
    "offline-member": (
        "offline-member <--master/--worker> <--name master-name/worker-name>",
        "Offlines member which has been closed",
    ),
    "operate-leader": ("operate-leader <operate-type>", "`evict`/`cancel-evict` the leader"),
    "list-member": (
        "list-member [--leader] [--master] [--worker] [--name master-name/worker-name ...]",
        "Lists member information",
    ),
    "operate-schema": (
        "operate-schema <operate-type> <-s source ...> <task-name | task-file> <-d database> "
        "<-t table> [schema-file] [--flush] [--sync]",
        "`get`/`set`/`remove` the schema for an upstream table",
    ),
    "get-config": (
        "get-config <task | master | worker | source> <name> [--file filename]",
        "Gets the configuration",
    ),
    "handle-error": (
        "handle-error <task-name | task-file> [-s source ...] [-b binlog-pos] <skip/replace/revert> "
        "[replace-sql1;replace-sql2;]",
        "`skip`/`replace`/`revert` the current error event or a specific binlog position "
        "(binlog-pos) event",
    ),
    "transfer-source": (
        "transfer-source <source-id> <worker-id>",
        "Transfers a upstream MySQL/MariaDB source to a free worker",
    ),
    "start-relay": ("start-relay <-s source-id>", "Starts workers pulling relay log for a source"),
    "stop-relay": ("stop-relay <-s source-id>", "Stops workers pulling relay log for a source"),
    "binlog": ("binlog <command>", "manage or show binlog operations"),
    "binlog skip": (
        "skip <task-name>",
        "skip the current error event or a specific binlog position (binlog-pos) event",
    ),
    "binlog replace": (
        "replace <task-name> <replace-sql1> <replace-sql2>...",
        "replace the current error event or a specific binlog position (binlog-pos) with some ddls",
    ),
    "binlog revert": (
        "revert <task-name>",
        "revert the current binlog operation or a specific binlog position (binlog-pos) operation",
    ),
    "binlog inject": (
        "inject <task-name> <inject-sql1> <inject-sql2>...",
        "inject the current error event or a specific binlog position (binlog-pos) with some ddls",
    ),
    "binlog list": (
        "list <task-name>",
        "list error handle command at binlog position (binlog-pos) or after " "binlog position (binlog-pos)",
    ),
    "shard-ddl-lock": ("shard-ddl-lock [task]", "maintain or show shard-ddl locks information"),
    "shard-ddl-lock unlock": ("unlock <lock-id>", "Unlock un-resolved DDL locks forcely"),
    "binlog-schema": ("binlog-schema <command>", "manage or show table schema in schema tracker"),
    "binlog-schema list": ("list <task-name> <database> <table>", "show table schema structure"),
    "binlog-schema update": (
        "update <task-name> <database> <table> [schema-file]",
        "update tables schema structure",
    ),
    "binlog-schema delete": ("delete <task-name> <database> <table>", "delete table schema structure"),
    "config": ("config <command>", "manage config operations"),
    "config task": ("task [task-name]", "manage or show task configs"),
    "config source": ("source [source-name]", "manage or show source config"),
    "config master": ("master [master-name]", "manage or show master configs"),
    "config worker": ("worker [worker-name]", "manage or show worker configs"),
    "config export": ("export", "Export the configurations of sources and tasks"),
    "config import": ("import", "Import the configurations of sources and tasks"),
    "config task-template": (
        "task-template [task-name]",
        "show task template which is created by WebUI with task config format",
    ),
    "validation": ("validation", "operate or query validation task"),
    "validation start": ("start [--all-task] [task-name]", "start to validate the completeness of the data"),
    "validation stop": ("stop [--all-task] [task-name]", "stop validating the completeness of the data"),
    "validation update": ("update [task-name]", "update validation config of the completeness of the data"),
    "validation show-error": (
        "show-error [--error error-state] <task-name>",
        "show validation error row change",
    ),
    "validation status": ("status [--table-stage stage] <task-name>", "query validation status of a task"),
    "validation ignore-error": (
        "ignore-error <task-name> <error-id|--all>",
        "ignore validation error row change",
    ),
    "validation resolve-error": (
        "resolve-error <task-name> <error-id|--all>",
        "resolve validation error row change",
    ),
    "validation clear-error": (
        "clear-error <task-name> <error-id|--all>",
        "clear validation error row change",
    ),
    "encrypt": ("encrypt <plain-text>", "Encrypts plain text to cipher text"),
    "help": ("help [command]", "Gets help about any command"),
}
HIDDEN = {"show-ddl-locks", "unlock-ddl-lock", "operate-schema", "get-config", "handle-error"}


def test_registry_has_every_dm_command_with_dm_texts() -> None:
    for path, (use, short) in DM_COMMANDS.items():
        cmd = registry.get(path, mode="command")
        assert cmd is not None, path
        assert (cmd.use, cmd.short) == (use, short), path
        assert cmd.hidden == (path in HIDDEN), path
    top = [c.name for c in registry.commands(include_hidden=True)]
    assert top[:27] == [p for p in DM_COMMANDS if " " not in p and p != "help"]  # DM's registration order
    assert registry.get("get-task-config") is registry.get("get-config")


def test_root_help_is_dms(dmctl: Dmctl) -> None:
    r = dmctl("--help")
    assert r.rc == EXIT_OK
    assert len(r.out.splitlines()) == 43  # dm/tests/dmctl_command: 43 lines of root help
    assert r.out.startswith(
        "DM control\n\nUsage:\n  dmctl [flags]\n  dmctl [command]\n\nAvailable Commands:\n"
        "  binlog          manage or show binlog operations\n"
    )
    assert "  transfer-source Transfers a upstream MySQL/MariaDB source to a free worker\n" in r.out
    assert "  -s, --source strings       MySQL Source ID.\n" in r.out
    assert r.out.endswith('\nUse "dmctl [command] --help" for more information about a command.\n')
    for hidden in HIDDEN:
        assert f"  {hidden} " not in r.out


def test_loop_mode_root_help() -> None:
    text = help_text(registry.root("loop"))
    assert text.startswith("DM control\n\nUsage:\n  dmctl [command]\n\nAvailable Commands:\n")
    assert text.endswith(
        "\n\nFlags:\n  -h, --help             help for dmctl\n  -s, --source strings   MySQL Source ID.\n\n"
        'Use "dmctl [command] --help" for more information about a command.\n'
    )


def test_stop_task_usage_in_loop_mode_is_exact() -> None:
    assert usage_text(registry.get("stop-task")) == (
        "Usage:\n"
        "  dmctl stop-task [-s source ...] [task-name | task-file] [flags]\n"
        "\n"
        "Flags:\n"
        "      --batch-size int   batch size when operating all (sub)tasks bound to a source (default 5)\n"
        "  -h, --help             help for stop-task\n"
        "\n"
        "Global Flags:\n"
        "  -s, --source strings   MySQL Source ID.\n"
    )


def test_get_config_usage_shows_alias() -> None:
    assert usage_text(registry.get("get-config")) == (
        "Usage:\n"
        "  dmctl get-config <task | master | worker | source> <name> [--file filename] [flags]\n"
        "\n"
        "Aliases:\n"
        "  get-config, get-task-config\n"
        "\n"
        "Flags:\n"
        "  -f, --file string   write config to file\n"
        "  -h, --help          help for get-config\n"
        "\n"
        "Global Flags:\n"
        "  -s, --source strings   MySQL Source ID.\n"
    )


@pytest.mark.parametrize("path", [p for p in DM_COMMANDS if p != "help"])
def test_help_of_every_command(dmctl: Dmctl, path: str) -> None:
    cmd = registry.get(path, mode="command")
    r = dmctl(*path.split(), "--help")
    assert r.rc == EXIT_OK and r.err == ""
    assert r.out == help_text(cmd)
    assert r.out.startswith(f"{cmd.short}\n\nUsage:\n")
    if cmd.runnable:
        assert (
            f"\n  dmctl {path} {cmd.use.split(' ', 1)[1] + ' ' if ' ' in cmd.use else ''}[flags]\n" in r.out
        )
    assert "\nGlobal Flags:\n" in r.out and "  -s, --source strings" in r.out


# (argv, text printed on stdout, error printed on stderr, exit status)
MISUSE = [
    (["start-task"], "start-task [-s source ...] [--remove-meta] <config-file> [flags]", CHECK, EXIT_USAGE),
    (
        ["start-task", "not_exists_config_file"],
        "",
        "Error: error in get file content: open not_exists_config_file: no such file or directory\n",
        1,
    ),
    (["check-task"], "check-task <config-file> [--error count] [--warn count] [flags]", CHECK, EXIT_USAGE),
    (
        ["stop-task"],
        "must give one source-name when task-name/task-conf is not specified\nUsage:\n"
        "  dmctl stop-task [-s source ...] [task-name | task-file] [flags]",
        CHECK,
        EXIT_USAGE,
    ),
    (
        ["stop-task", "-s", "a", "-s", "b"],
        "can give only one source-name when task-name/task-conf is not specified",
        CHECK,
        EXIT_USAGE,
    ),
    (
        ["pause-task", "a", "b"],
        "pause-task [-s source ...] [task-name | task-file] [flags]",
        CHECK,
        EXIT_USAGE,
    ),
    (
        ["resume-task", "-s", "a", "-s", "b"],
        "resume-task [-s source ...] [task-name | task-file] [flags]",
        CHECK,
        EXIT_USAGE,
    ),
    (
        ["query-status", "wrong_args_count", "more_than_one"],
        "query-status [-s source ...] [task-name | task-file] " "[--more] [flags]",
        CHECK,
        EXIT_USAGE,
    ),
    (
        ["show-ddl-locks", "a", "b"],
        "show-ddl-locks [-s source ...] [task-name | task-file] [flags]",
        CHECK,
        EXIT_USAGE,
    ),
    (
        ["shard-ddl-lock", "a", "b"],
        "dmctl shard-ddl-lock [task] [flags]\n  dmctl shard-ddl-lock [command]",
        CHECK,
        EXIT_USAGE,
    ),
    (["shard-ddl-lock", "unlock"], "dmctl shard-ddl-lock unlock <lock-id> [flags]", CHECK, EXIT_USAGE),
    (
        ["unlock-ddl-lock", "id", "-a", "drop"],
        "",
        "Error: please check --action argument, only exec/skip are acceptable\n",
        EXIT_USAGE,
    ),
    (
        ["shard-ddl-lock", "unlock", "lock_id", "--force-remove=maybe"],
        "",
        'Error: invalid argument "maybe" for "-f, --force-remove" flag: strconv.ParseBool: parsing "maybe": '
        "invalid syntax\n",
        EXIT_USAGE,
    ),
    (["pause-relay", "wrong_arg"], "pause-relay <-s source ...> [flags]", CHECK, EXIT_USAGE),
    (["pause-relay"], "must specify at least one source (`-s` / `--source`)\n", CHECK, EXIT_USAGE),
    (["resume-relay", "wrong_arg"], "resume-relay <-s source ...> [flags]", CHECK, EXIT_USAGE),
    (
        ["purge-relay", "wrong_arg"],
        "purge-relay <-s source> <-f filename> [--sub-dir directory] [flags]",
        CHECK,
        EXIT_USAGE,
    ),
    (["purge-relay"], "", "Error: must specify at least one source (`-s` / `--source`)\n", EXIT_USAGE),
    (
        ["purge-relay", "-s", "a"],
        "",
        "Error: must specify the name of the terminal file before which to purge relay "
        "log files. (`-f` / `--filename`)\n",
        EXIT_USAGE,
    ),
    (
        ["purge-relay", "--filename", "bin-000001", "-s", "a", "-s", "b"],
        "",
        "Error: for --filename, can only specify one source per time\n",
        EXIT_USAGE,
    ),
    (
        ["operate-source"],
        "operate-source <operate-type> [config-file ...] [-w worker] [--print-sample-config] [flags]",
        CHECK,
        EXIT_USAGE,
    ),
    (["operate-source", "invalid", "x.yaml"], "invalid operate 'invalid' on worker\n", CHECK, EXIT_USAGE),
    (
        ["operate-source", "create"],
        "operate-source create/stop should specify config-file(s)\n",
        CHECK,
        EXIT_USAGE,
    ),
    (
        ["operate-source", "create", "not_exists_config_file"],
        "",
        "Error: error in get file content: open not_exists_config_file: no such file or directory\n",
        1,
    ),
    (
        ["offline-member", "--name", "w"],
        "get offline type failed\n",
        "Error: should specify either --master or --worker\n",
        EXIT_USAGE,
    ),
    (["offline-member", "--worker"], "a member name must be specified\n", CHECK, EXIT_USAGE),
    (["operate-leader", "x"], "invalid operate 'x' on leader\n", CHECK, EXIT_USAGE),
    (
        ["list-member", "x"],
        "list-member [--leader] [--master] [--worker] [--name master-name/worker-name ...] [flags]",
        CHECK,
        EXIT_USAGE,
    ),
    (["operate-schema", "get"], "dmctl operate-schema <operate-type>", CHECK, EXIT_USAGE),
    (
        ["operate-schema", "set", "-s", "a", "test", "-d", "db", "-t", "t"],
        "must sepcify schema file for 'set' operation\n",
        CHECK,
        EXIT_USAGE,
    ),
    (
        ["operate-schema", "get", "test", "-d", "db", "-t", "t"],
        "must specify at least one source (`-s` / `--source`)\n",
        CHECK,
        EXIT_USAGE,
    ),
    (["operate-schema", "get", "test", "-s", "a", "-t", "t"], "must specify 'database'\n", CHECK, EXIT_USAGE),
    (
        ["get-config", "haha"],
        "get-config <task | master | worker | source> <name> [--file filename] [flags]",
        CHECK,
        EXIT_USAGE,
    ),
    (["get-config", "haha", "hihi"], "invalid config type 'haha'\n", CHECK, EXIT_USAGE),
    (
        ["get-task-config", "haha", "hihi"],
        "get-config <task | master | worker | source> <name> [--file filename]",
        CHECK,
        EXIT_USAGE,
    ),
    (
        ["handle-error"],
        "handle-error <task-name | task-file> [-s source ...] [-b binlog-pos] <skip/replace/revert> "
        "[replace-sql1;replace-sql2;] [flags]",
        CHECK,
        EXIT_USAGE,
    ),
    (
        ["handle-error", "test-task", "wrong_operation"],
        "invalid operation 'wrong_operation', please use `skip`, `replace` or `revert`\n",
        CHECK,
        EXIT_USAGE,
    ),
    (
        ["handle-error", "test-task", "skip", "sql"],
        "replace-sqls can not be used for 'skip/revert' operation\n",
        CHECK,
        EXIT_USAGE,
    ),
    (
        ["handle-error", "test-task", "replace"],
        "must specify the replace-sqls for replace operation\n",
        CHECK,
        EXIT_USAGE,
    ),
    (
        ["handle-error", "test-task", "--binlog-pos", "mysql-bin:abc", "skip"],
        "",
        "Error: [code=11118:class=functional:scope=internal:level=low], Message: invalid --binlog-pos mysql-bin:abc in "  # noqa: E501
        "handle-error operation: the pos should be digital, position string mysql-bin:abc, Workaround: Please make "  # noqa: E501
        "sure the args are correct.\n",
        1,
    ),
    (["transfer-source"], "transfer-source <source-id> <worker-id> [flags]", CHECK, EXIT_USAGE),
    (["transfer-source", "source-id"], "transfer-source <source-id> <worker-id> [flags]", CHECK, EXIT_USAGE),
    (
        ["transfer-source", "a", "b", "c"],
        "transfer-source <source-id> <worker-id> [flags]",
        CHECK,
        EXIT_USAGE,
    ),
    (["start-relay"], "start-relay <-s source-id> [flags]", CHECK, EXIT_USAGE),
    (["start-relay", "wrong_arg"], "must specify one source (`-s` / `--source`)\n", CHECK, EXIT_USAGE),
    (
        ["stop-relay", "-s", "a", "-s", "b"],
        "must specify one source (`-s` / `--source`)\n",
        CHECK,
        EXIT_USAGE,
    ),
    (["binlog", "skip"], "dmctl binlog skip <task-name> [flags]", "", EXIT_USAGE),
    (
        ["binlog", "replace", "test"],
        "dmctl binlog replace <task-name> <replace-sql1> <replace-sql2>... [flags]",
        "",
        EXIT_USAGE,
    ),
    (
        ["binlog", "skip", "test", "-b", "mysql-bin|1111"],
        "",
        "Error: [code=11118:class=functional:scope=internal:level=low], Message: invalid --binlog-pos mysql-bin|1111 "  # noqa: E501
        "in handle-error operation: the format should be filename:pos, position string mysql-bin|1111, Workaround: "  # noqa: E501
        "Please make sure the args are correct.\n",
        1,
    ),
    (
        ["binlog", "inject", "test", "alter table t add column c int; 'oops"],
        "",
        "Error: invalid sql 'alter table t add column c int; 'oops': unterminated quoted string near \"'oops\"\n",  # noqa: E501
        1,
    ),
    (
        ["binlog-schema", "update", "test"],
        "dmctl binlog-schema update <task-name> <database> <table> [schema-file] " "[flags]",
        "",
        EXIT_USAGE,
    ),
    (
        ["binlog-schema", "update", "test", "db", "t", "--from-source", "--from-target"],
        "from-source and from-target can not be used together\n",
        CHECK,
        EXIT_USAGE,
    ),
    (
        ["binlog-schema", "update", "test", "db", "t", "f.sql", "--from-target"],
        "can not set schema-file when use from-source or from-target\n",
        CHECK,
        EXIT_USAGE,
    ),
    (["binlog-schema", "delete", "test"], "delete <task-name> <database> <table> [flags]", "", EXIT_USAGE),
    (
        ["config", "task"],
        "manage or show task configs\n\nUsage:\n  dmctl config task [task-name] [flags]",
        "",
        EXIT_USAGE,
    ),
    (["config", "task", "update", "x"], "", "Error: this function will be supported later\n", 1),
    (["validation", "start", "--mode"], "", "Error: flag needs an argument: --mode\n", EXIT_USAGE),
    (
        ["validation", "start", "--mode", "xxx"],
        "dmctl validation start [--all-task] [task-name] [flags]",
        "Error: mode should be either `full` or `fast`, current is `xxx`\n",
        EXIT_USAGE,
    ),
    (
        ["validation", "start", "--start-time"],
        "",
        "Error: flag needs an argument: --start-time\n",
        EXIT_USAGE,
    ),
    (
        ["validation", "start", "--start-time", "xx"],
        "",
        "Error: start-time should be in the format like '2006-01-02 15:04:05', '2006-01-02T15:04:05', "
        "'2006-01-02 15:04:05+08:00', '2006-01-02T15:04:05+08:00', '2006-01-02 15:04:05+0800', or "
        "'2006-01-02T15:04:05+0800'\n",
        EXIT_USAGE,
    ),
    (
        ["validation", "start", "--mode", "full"],
        "",
        "Error: either `task-name` or `all-task` should be set\n",
        EXIT_USAGE,
    ),
    (
        ["validation", "start", "--all-task", "test"],
        "",
        "Error: either `task-name` or `all-task` should be set\n",
        EXIT_USAGE,
    ),
    (["validation", "start", "test", "test2"], "", "Error: too many arguments are specified\n", EXIT_USAGE),
    (["validation", "stop"], "", "Error: either `task-name` or `all-task` should be set\n", EXIT_USAGE),
    (["validation", "update"], "", "Error: `task-name` should be set\n", EXIT_USAGE),
    (["validation", "update", "a", "b"], "", "Error: should specify only one `task-name`\n", EXIT_USAGE),
    (
        ["validation", "update", "t", "--cutover-binlog-pos", "mysql-bin.1"],
        "",
        "Error: [code=22003:class=binlog-op:scope=internal:level=high], Message: invalid binlog pos, should be like "  # noqa: E501
        "(mysql-bin.000001, 2345), got mysql-bin.1\n",
        EXIT_USAGE,
    ),
    (["validation", "show-error"], "", "Error: task name should be specified\n", EXIT_USAGE),
    (
        ["validation", "show-error", "--error", "resolved", "t"],
        "dmctl validation show-error",
        "Error: error flag should be either `all`, `ignored`, or `unprocessed`\n",
        EXIT_USAGE,
    ),
    (
        ["validation", "status", "t", "--table-stage", "x"],
        "",
        "Error: stage should be either `running` or `stopped`\n",
        EXIT_USAGE,
    ),
    (
        ["validation", "ignore-error", "t"],
        "",
        "Error: either `--all` or `error-id` should be set\n",
        EXIT_USAGE,
    ),
    (
        ["validation", "clear-error", "t", "x"],
        "",
        "Error: `error-id` should be integer when `--all` is not set\n",
        EXIT_USAGE,
    ),
    (
        ["encrypt"],
        "Encrypts plain text to cipher text\n\nUsage:\n  dmctl encrypt <plain-text> [flags]",
        "",
        EXIT_USAGE,
    ),
    (
        ["query-statu"],
        "",
        'Error: unknown command "query-statu" for "dmctl"\n\nDid you mean this?\n\tquery-status\n'
        "\nRun 'dmctl --help' for usage.\n",
        EXIT_USAGE,
    ),
    (
        ["xxxx", "start-task"],
        "",
        'Error: unknown command "xxxx" for "dmctl"\nRun \'dmctl --help\' for usage.\n',
        EXIT_USAGE,
    ),
    (["query-status", "--foo"], "", "Error: unknown flag: --foo\n", EXIT_USAGE),
]


@pytest.mark.parametrize(("argv", "stdout", "stderr", "rc"), MISUSE, ids=[" ".join(m[0]) for m in MISUSE])
def test_misuse(dmctl: Dmctl, fake_master, argv: list[str], stdout: str, stderr: str, rc: int) -> None:
    r = dmctl(*argv)
    assert r.rc == rc
    assert stdout in r.out
    assert r.err == stderr
    assert fake_master.requests == []  # nothing reached the master
