"""The flag parser and usage block behave like spf13/pflag v1.0.10."""

from __future__ import annotations

import pytest

from dmshell.ctl.flags import FlagError, bool_flag, flag_usages, int_flag, parse, string_flag, strings_flag

FLAGS = [
    strings_flag("source", "MySQL Source ID.", "s"),
    bool_flag("force-remove", "force to remove DDL lock", "f"),
    string_flag("action", "accept skip/exec values", "a", "skip"),
    int_flag("batch-size", "batch size", 5),
    bool_flag("leader", "leader", "l"),
    bool_flag("master", "master", "m"),
    int_flag("error", "max count of errors to display", 10, "e", kind="int64"),
]


@pytest.mark.parametrize(
    ("args", "name", "value", "positional"),
    [
        (["-s", "a", "task"], "source", ["a"], ["task"]),
        (["task", "--source=a,b", "-s", "c"], "source", ["a", "b", "c"], ["task"]),
        (["-sa"], "source", ["a"], []),
        (["-s=a"], "source", ["a"], []),
        (["-f"], "force-remove", True, []),
        (["--force-remove=false"], "force-remove", False, []),
        (["-lm"], "master", True, []),
        (["--action", "exec", "x"], "action", "exec", ["x"]),
        (["--batch-size=0x10"], "batch-size", 16, []),
        (["--batch-size", "010"], "batch-size", 8, []),
        (["-e", "-1"], "error", -1, []),
        (["a", "--", "-s", "b"], "source", [], ["a", "-s", "b"]),
        (["-", "x"], "source", [], ["-", "x"]),
    ],
)
def test_parse(args: list[str], name: str, value: object, positional: list[str]) -> None:
    values, pos = parse(args, FLAGS)
    assert values.get(name) == value
    assert pos == positional


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--more"], "unknown flag: --more"),
        (["-x"], "unknown shorthand flag: 'x' in -x"),
        (["-lx"], "unknown shorthand flag: 'x' in -x"),
        (["--action"], "flag needs an argument: --action"),
        (["-a"], "flag needs an argument: 'a' in -a"),
        (["---x"], "bad flag syntax: ---x"),
        (
            ["--force-remove=maybe"],
            'invalid argument "maybe" for "-f, --force-remove" flag: strconv.ParseBool: parsing "maybe": invalid syntax',  # noqa: E501
        ),
        (
            ["--batch-size=abc"],
            'invalid argument "abc" for "--batch-size" flag: strconv.ParseInt: parsing "abc": invalid syntax',
        ),
        (
            ["-e", "99999999999999999999"],
            'invalid argument "99999999999999999999" for "-e, --error" flag: '
            'strconv.ParseInt: parsing "99999999999999999999": value out of range',
        ),
    ],
)
def test_parse_errors(args: list[str], message: str) -> None:
    with pytest.raises(FlagError) as info:
        parse(args, FLAGS)
    assert str(info.value) == message


def test_flag_usages_layout() -> None:
    text = flag_usages(
        [
            *FLAGS,
            bool_flag("help", "help for x", "h"),
            string_flag("path", "the `dir` to use"),
            string_flag("hidden", "x", hidden=True),
        ]
    )
    assert text == (
        '  -a, --action string    accept skip/exec values (default "skip")\n'
        "      --batch-size int   batch size (default 5)\n"
        "  -e, --error int        max count of errors to display (default 10)\n"
        "  -f, --force-remove     force to remove DDL lock\n"
        "  -h, --help             help for x\n"
        "  -l, --leader           leader\n"
        "  -m, --master           master\n"
        "      --path dir         the dir to use\n"
        "  -s, --source strings   MySQL Source ID.\n"
    )
