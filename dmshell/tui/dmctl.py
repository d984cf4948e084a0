"""dmctl inside the TUI: the ``:`` prompt and the console run command lines through the same
:class:`dmshell.ctl.runner.Session` as the dmctl loop, with completion from the same registry.

No Textual here: :class:`DmctlRunner.run` is called from a worker thread and returns a
:class:`CommandResult` for the screens to render.
"""

from __future__ import annotations

import io
import json
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dmshell.client.master import MasterClient
    from dmshell.ctl.registry import Completion

# dmshell.ctl.registry is imported by the functions that need it, not at start-up.

#: Master RPCs that only read; every other RPC changes the cluster (refused with --read-only).
READ_RPCS = frozenset(
    {
        "QueryStatus",
        "ShowDDLLocks",
        "CheckTask",
        "ListMember",
        "GetCfg",
        "GetSubTaskCfg",
        "GetMasterCfg",
        "GetValidationStatus",
        "GetValidationError",
        "ListTaskConfigs",
        "ListSourceConfigs",
        "Encrypt",
    }
)
#: Commands whose RPC also writes, but that only read when called like this.
READ_SUBCOMMANDS = {"operate-source": "show", "operate-schema": "get"}
#: Commands that are not the cluster's business (local files or help).
LOCAL_COMMANDS = frozenset({"help", "decrypt", "config export"})


class LineError(ValueError):
    """A command line that cannot even be split into words (e.g. an unclosed quote)."""


def split_line(line: str) -> list[str]:
    """Words of a prompt line. A pasted ``dmctl --master-addr=A ...`` prefix is dropped, so the
    commands the TUI echoes can be run again as they are."""
    try:
        argv = shlex.split(line)
    except ValueError as exc:
        raise LineError(f"malformed command line: {exc} in {line!r}") from None
    if argv and argv[0] == "dmctl":
        argv = argv[1:]
    while argv and argv[0].startswith(("--master-addr", "-master-addr")):
        argv = argv[1:] if "=" in argv[0] else argv[2:]
    return argv


def command_path(argv: list[str]) -> str:
    """``binlog skip`` for ``["binlog", "skip", "t"]`` ("" for an unknown command)."""
    from dmshell.ctl import registry

    m = registry.find(argv)
    return "" if m.error or m.cmd.parent is None else m.cmd.path.removeprefix("dmctl ")


def mutates(argv: list[str]) -> bool:
    """Whether the command can change the cluster (unknown commands count as harmless: they fail)."""
    from dmshell.ctl import registry

    m = registry.find(argv)
    if m.error or m.cmd.parent is None:
        return False
    path = m.cmd.path.removeprefix("dmctl ")
    if m.cmd.offline or path in LOCAL_COMMANDS or not m.cmd.runnable:
        return False
    if path in READ_SUBCOMMANDS:
        words = registry.strip_flags(m.args, m.cmd)
        return not (words and words[0] == READ_SUBCOMMANDS[path])
    if path.endswith(" list") or path.endswith("status") or path.endswith("show-error"):
        return False
    return m.cmd.rpc not in READ_RPCS


def confirmation(argv: list[str]) -> str | None:
    """dmctl's question before a destructive command (None when it asks nothing)."""
    from dmshell.ctl import registry

    return registry.confirmation(argv)


@dataclass(frozen=True, slots=True)
class ConsoleEntry:
    """One console item: a dmctl line and its result, or a TUI action with its dmctl equivalent."""

    line: str
    #: "console" / "prompt" (a dmctl line typed there) or "action" (something the TUI did)
    origin: str
    result: CommandResult | None = None
    #: outcome of an action, or why a line did not run (refused, cancelled, malformed)
    note: str = ""
    ok: bool = True


#: dmctl's error line when the reason was printed above it
CHECK_OUTPUT = "please check output to see error"


@dataclass(frozen=True, slots=True)
class CommandResult:
    """One command line's outcome."""

    line: str
    exit_code: int
    output: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def json(self) -> object | None:
        """The output parsed as JSON (None when it is not one JSON document)."""
        text = self.output.strip()
        if not text.startswith(("{", "[")):
            return None
        try:
            return json.loads(text)
        except ValueError:
            return None

    @property
    def summary(self) -> str:
        """One line for a notification: the master's ``msg`` or the ``Error:`` line."""
        doc = self.json
        if isinstance(doc, dict):
            msgs = [str(doc.get("msg") or "")]
            for item in doc.get("sources") or ():
                if isinstance(item, dict) and item.get("result") is False and item.get("msg"):
                    msgs.append(f"{item.get('source', '')}: {item['msg']}")
            text = "; ".join(m for m in msgs if m)
            if text:
                return text[:300]
            return "result: true" if doc.get("result", True) else "result: false"
        lines = self.output.splitlines()
        for line in lines:
            if line.startswith("Error: "):
                error = line[len("Error: ") :]
                if error == CHECK_OUTPUT:
                    error = self._reason_above() or error
                return (error + self._did_you_mean())[:300]
        first = next((line for line in lines if line.strip()), "")
        return first[:300]

    def _reason_above(self) -> str:
        """What dmctl printed before "please check output to see error": its own message (``must
        give one source-name``) and/or the usage line of the command."""
        head = self.output.split("fail to run:")[0].splitlines()
        usage = ""
        if "Usage:" in (h.strip() for h in head):
            at = [h.strip() for h in head].index("Usage:")
            usage = head[at + 1].strip() if at + 1 < len(head) else ""
            head = head[:at]
        reason = " ".join(h.strip() for h in head if h.strip())
        if usage:
            return f"{reason or 'wrong arguments'} — usage: {usage}"
        return reason

    def _did_you_mean(self) -> str:
        lines = self.output.splitlines()
        if "Did you mean this?" not in lines:
            return ""
        at = lines.index("Did you mean this?")
        names = []
        for line in lines[at + 1 :]:
            if not line.strip():
                break
            names.append(line.strip())
        return f" — did you mean {' or '.join(names)}?" if names else ""


class DmctlRunner:
    """Runs dmctl lines against the master of ``client`` (the TUI's shared connection)."""

    def __init__(self, client: MasterClient) -> None:
        self.client = client

    def run(self, argv: list[str], line: str = "") -> CommandResult:
        """Run one command (no questions asked: the TUI confirms before calling this)."""
        from dmshell.ctl.runner import Session  # loads the command registry: start-up time

        out = io.StringIO()
        session = Session(client=self.client, out=out, err=out)
        try:
            code = session.run(argv, mode="loop")
        except Exception as exc:  # a bug in a handler must not take the TUI down
            out.write(f"fail to run: {argv}\nError: {type(exc).__name__}: {exc}\n")
            code = 1
        return CommandResult(line or shlex.join(argv), code, out.getvalue())


ValueSource = Callable[[str], Iterable[str]]


@dataclass(frozen=True, slots=True)
class Completions:
    """Candidates for the word under the cursor of a prompt line."""

    #: the line without the word being completed
    head: str
    #: the word being completed
    word: str
    candidates: tuple[Completion, ...]

    def apply(self, text: str) -> str:
        """The line with the current word replaced by ``text`` (a space follows a finished word)."""
        end = "" if text.endswith(("/", "=")) else " "
        return self.head + _quote(text) + end

    def common_prefix(self) -> str:
        names = [c.text for c in self.candidates]
        if not names:
            return self.word
        prefix = names[0]
        for name in names[1:]:
            while not name.startswith(prefix):
                prefix = prefix[:-1]
        return prefix


def _quote(word: str) -> str:
    return word if word and all(ch not in word for ch in " \t'\"") else shlex.quote(word)


def complete_line(line: str, values: ValueSource | None = None) -> Completions:
    """Registry completion for the last word of ``line`` (a trailing space starts a new word)."""
    try:
        words = shlex.split(line)
    except ValueError:
        return Completions(line, "", ())
    if not line or line[-1].isspace():
        words.append("")
    if words and words[0] == "dmctl" and len(words) > 1:
        words = words[1:]
    word = words[-1]
    head = line[: len(line) - len(word)] if word and line.endswith(word) else line
    if word and not line.endswith(word):  # the word was quoted: rebuild the head from the words
        head = shlex.join(words[:-1]) + " " if len(words) > 1 else ""
    from dmshell.ctl import registry

    try:
        found = registry.complete(words, values)
    except Exception:
        found = []
    found = sorted(found, key=lambda c: c.text in ("--help", "-h"))  # the least wanted flag last
    return Completions(head, word, tuple(found))


#: ``:`` prompt words that go somewhere instead of running dmctl (k9s-style), with short aliases;
#: ``task``/``source`` take a name. None of them is a dmctl command.
PROMPT_WORDS: dict[str, tuple[str, ...]] = {
    "dashboard": ("dash", "home"),
    "sources": ("src",),
    "console": ("con",),
    "ddl-locks": ("locks", "ddl"),
    "errors": ("err",),
    "task": ("t",),
    "source": ("so",),
    "playground": ("pg",),
    "quit": ("q",),
}
_ALIAS = {alias: word for word, aliases in PROMPT_WORDS.items() for alias in (word, *aliases)}


def prompt_word(word: str) -> str | None:
    """The prompt word ``word`` stands for (itself or an alias), None for anything else."""
    return _ALIAS.get(word)


def complete_prompt(line: str, values: ValueSource | None = None) -> Completions:
    """The ``:`` prompt's completion: view words (and, after ``task``/``source``, the names) first,
    then dmctl's own (registry) completion."""
    from dmshell.ctl.registry import Completion  # the registry loads on first use: start-up time

    words = line.split()
    if not line or line[-1].isspace():
        words.append("")
    if len(words) == 1:
        word = words[0]
        views = tuple(
            Completion(name, "view" if name not in ("task", "source") else f"{name} NAME: open it")
            for name in PROMPT_WORDS
            if name.startswith(word) and name != "quit"
        )
        dmctl = complete_line(line, values)
        return Completions("", word, views + tuple(c for c in dmctl.candidates if c.text not in PROMPT_WORDS))
    kind = {"task": "task", "source": "source"}.get(prompt_word(words[0]) or "")
    if kind and len(words) == 2:
        word = words[1]
        names = sorted(values(kind)) if values is not None else []
        head = line[: len(line) - len(word)]
        return Completions(head, word, tuple(Completion(n, kind) for n in names if n.startswith(word)))
    return complete_line(line, values)
