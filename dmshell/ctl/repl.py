"""The interactive dmctl REPL (``dmctl`` on a terminal, ``dmshell repl``): prompt-toolkit, ``» `` prompt.

* completion of commands, subcommands, flags and choices from the registry, and of task names,
  source IDs, worker/member names and DDL lock IDs fetched from the master in the background;
* history in ``$XDG_STATE_HOME/dmshell/dmctl_history`` (mode 0600) with secrets redacted
  (``encrypt``/``decrypt`` arguments, passwords in flags, DSNs and SQL); Ctrl-R searches it;
* highlighting of commands, flags and the SQL given to ``binlog replace/inject``;
* a confirmation before destructive commands (``stop-task``, ``binlog skip/replace``,
  ``unlock-ddl-lock``, ``shard-ddl-lock unlock``, ``operate-source stop``) unless ``--yes``;
* long output goes through ``$PAGER`` (default ``less -FRX``) when stdout is a terminal;
* ``help [command]``; ``exit`` or Ctrl-D leaves, Ctrl-C clears the line.

``dmshell repl [--master-addr A] ...`` enters it through :func:`dmshell.ctl.main.repl_main`.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import FormattedText, StyleAndTextTuples
from prompt_toolkit.history import FileHistory
from prompt_toolkit.lexers import Lexer
from prompt_toolkit.styles import BaseStyle, Style

from dmshell.client.errors import EXIT_OK, EXIT_UNREACHABLE, ClientError
from dmshell.ctl import registry
from dmshell.ctl.command import all_flags
from dmshell.ctl.history_file import history_path
from dmshell.ctl.invocation import mpb
from dmshell.ctl.runner import OUTPUT_FORMATS, Session
from dmshell.ctl.settings import load_config

PROMPT = "» "
REDACTED = "******"
_SQL_COMMANDS = {("binlog", "replace"), ("binlog", "inject"), ("handle-error",)}


# --------------------------------------------------------------------------- history


_SECRET_PATTERNS = [
    # --password=x / --password x / --ssl-key-password x ...
    (
        re.compile(r"(--?[\w-]*(?:password|passwd|pwd)[\w-]*(?:=|\s+))(\"[^\"]*\"|'[^']*'|\S+)", re.I),
        rf"\1{REDACTED}",
    ),
    # password: x / password=x inline (YAML snippets, key=value args)
    (
        re.compile(r"((?<![\w-])(?:password|passwd|pwd)\s*[:=]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;]+)", re.I),
        rf"\1{REDACTED}",
    ),
    # SQL: IDENTIFIED [WITH plugin] BY 'x', PASSWORD('x'), SET PASSWORD ... = 'x'
    (
        re.compile(r"(identified\s+(?:with\s+\S+\s+)?(?:by|as)\s+)('[^']*'|\"[^\"]*\"|\S+)", re.I),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"(password\s*\(\s*)('[^']*'|\"[^\"]*\")", re.I), rf"\1{REDACTED}"),
    (re.compile(r"(set\s+password\b[^=]*=\s*)('[^']*'|\"[^\"]*\"|\S+)", re.I), rf"\1{REDACTED}"),
    # DSNs: scheme://user:secret@host, user:secret@tcp(host)
    (re.compile(r"((?:://|^|\s)[\w.%-]+:)([^@\s/]+)(@)"), rf"\1{REDACTED}\3"),
]


def redact(line: str) -> str:
    """``line`` with secrets replaced by ``******`` (what goes into the history file)."""
    words = line.split()
    if words and words[0] in ("encrypt", "decrypt") and len(words) > 1:
        return f"{words[0]} {REDACTED}"
    for pattern, repl in _SECRET_PATTERNS:
        line = pattern.sub(repl, line)
    return line


class RedactingHistory(FileHistory):
    """A history file (mode 0600, in a 0700 directory) that never stores secrets."""

    def __init__(self, filename: str | os.PathLike[str]) -> None:
        path = Path(filename)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.close(fd)
        os.chmod(path, 0o600)
        super().__init__(str(path))

    def append_string(self, string: str) -> None:
        super().append_string(redact(string))


# --------------------------------------------------------------------------- values from the master


class MasterValues:
    """Task names, source IDs, worker/member names and DDL lock IDs, refreshed in the background."""

    def __init__(self, call: Callable[[str, Any], Any], max_age: float = 10.0) -> None:
        self._call = call
        self._max_age = max_age
        self._values: dict[str, list[str]] = {}
        self._fetched = 0.0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def refresh_async(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self.refresh, name="dmctl-values", daemon=True)
            self._thread.start()

    def wait(self, timeout: float = 5.0) -> None:
        t = self._thread
        if t is not None:
            t.join(timeout)

    def refresh(self) -> None:
        values: dict[str, set[str]] = {k: set() for k in ("task", "source", "worker", "member", "lock")}
        try:
            status = self._call("QueryStatus", mpb().QueryStatusListRequest())
            for s in status.sources:
                if s.sourceStatus.source:
                    values["source"].add(s.sourceStatus.source)
                values["task"].update(st.name for st in s.subTaskStatus if st.name)
        except Exception:
            pass
        try:
            members = self._call("ListMember", mpb().ListMemberRequest())
            for m in members.members:
                kind = m.WhichOneof("member")
                if kind == "worker":
                    for w in m.worker.workers:
                        values["worker"].add(w.name)
                        values["member"].add(w.name)
                        if w.source:
                            values["source"].add(w.source)
                elif kind == "master":
                    values["member"].update(x.name for x in m.master.masters)
        except Exception:
            pass
        try:
            locks = self._call("ShowDDLLocks", mpb().ShowDDLLocksRequest())
            values["lock"].update(lk.ID for lk in locks.locks)
            values["task"].update(lk.task for lk in locks.locks if lk.task)
        except Exception:
            pass
        with self._lock:
            self._values = {k: sorted(v) for k, v in values.items()}
            self._fetched = time.monotonic()

    def __call__(self, kind: str) -> list[str]:
        if time.monotonic() - self._fetched > self._max_age:
            self.refresh_async()
        with self._lock:
            return list(self._values.get(kind, []))


# --------------------------------------------------------------------------- completion and highlighting


def split_words(text: str) -> list[tuple[str, int, int]]:
    """Shell-like words of ``text`` with their spans (quotes kept in the span, removed in the word)."""
    out: list[tuple[str, int, int]] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        start, word, quote = i, [], ""
        while i < n and (quote or not text[i].isspace()):
            c = text[i]
            if quote:
                if c == quote:
                    quote = ""
                elif c == "\\" and quote == '"' and i + 1 < n:
                    i += 1
                    word.append(text[i])
                else:
                    word.append(c)
            elif c in "'\"":
                quote = c
            elif c == "\\" and i + 1 < n:
                i += 1
                word.append(text[i])
            else:
                word.append(c)
            i += 1
        out.append(("".join(word), start, i))
    return out


class DmctlCompleter(Completer):
    """Completion driven by :func:`dmshell.ctl.registry.complete`."""

    def __init__(self, values: Callable[[str], Iterable[str]] | None = None) -> None:
        self.values = values

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterator[Completion]:
        text = document.text_before_cursor
        spans = split_words(text)
        words = [w for w, _, _ in spans]
        if not text or text[-1].isspace():
            words.append("")
            current_len = 0
        else:
            current_len = len(text) - spans[-1][1]
        found = output_completions(words) or registry.complete(words, self.values, mode="loop")
        # --help is the least wanted flag: last (after --output, which the registry keeps hidden
        # because DM's dmctl has no such flag)
        if words[-1].startswith("-") and "--output".startswith(words[-1]) and len(words[-1]) > 1:
            found = [*found, registry.Completion("--output", OUTPUT_HELP)]
        found = sorted(found, key=lambda c: c.text in ("--help", "-h"))
        for c in found:
            shown = c.text if not any(ch.isspace() for ch in c.text) else f"'{c.text}'"
            yield Completion(shown, start_position=-current_len, display_meta=c.meta)


#: what ``--output`` does in the REPL
OUTPUT_HELP = "json (DM's), table or plain; sticks for the next commands"


def output_completions(words: list[str]) -> list[registry.Completion]:
    """The formats after ``--output`` / ``--output=`` (None of them otherwise)."""
    current = words[-1]
    if current.startswith("--output="):
        part = current.partition("=")[2]
        return [registry.Completion(f"--output={f}") for f in OUTPUT_FORMATS if f.startswith(part)]
    if len(words) >= 2 and words[-2] == "--output":
        return [registry.Completion(f) for f in OUTPUT_FORMATS if f.startswith(current)]
    return []


def sticky_output(line: str) -> str | None:
    """The format a line's ``--output`` flag asks for (it then stays for the next lines)."""
    words = [w for w, _, _ in split_words(line)]
    for i, word in enumerate(words):
        if word == "--output" and i + 1 < len(words):
            return words[i + 1]
        if word.startswith("--output="):
            return word.partition("=")[2]
    return None


def continued(line: str) -> bool:
    """A line ending in an unescaped ``\\`` continues on the next one (as in a shell)."""
    stripped = line.rstrip()
    return stripped.endswith("\\") and not stripped.endswith("\\\\")


def colour_json(text: str) -> str:
    """JSON output in ANSI colour (pygments); anything else unchanged."""
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        return text
    from pygments import highlight
    from pygments.formatters import TerminalFormatter
    from pygments.lexers.data import JsonLexer

    return highlight(text, JsonLexer(), TerminalFormatter())


class DmctlLexer(Lexer):
    """Commands, flags and SQL (pygments' MySQL lexer) in colour."""

    def lex_document(self, document: Document) -> Callable[[int], StyleAndTextTuples]:
        lines = document.lines

        def get_line(lineno: int) -> StyleAndTextTuples:
            return [*highlight_line(lines[lineno])] if lineno < len(lines) else []

        return get_line


def highlight_line(line: str) -> list[tuple[str, str]]:
    """Style fragments for one input line."""
    spans = split_words(line)
    styles: list[str] = [""] * len(spans)
    cmd = registry.root("loop")
    path: list[str] = []
    positional = 0
    sql_from: int | None = None
    sql_to: int | None = None  # the first flag after the SQL ends it
    value_next = False
    for i, (word, _, _) in enumerate(spans):
        child = cmd.child(word) if positional == 0 and not word.startswith("-") else None
        if value_next:
            styles[i], value_next = "class:flag-value", False
        elif child is not None:
            cmd = child
            path.append(child.name)
            styles[i] = "class:command"
        elif i == 0:
            styles[i] = "class:unknown"
        elif word.startswith("-") and len(word) > 1:
            styles[i] = "class:flag"
            if sql_from is not None and sql_to is None:
                sql_to = i
            flag = registry.flag_for(word, all_flags(cmd))
            value_next = (
                flag is not None
                and flag.takes_value
                and "=" not in word
                and (word.startswith("--") or len(word) == 2)
            )
        else:
            positional += 1
            styles[i] = "class:argument"
            if (
                sql_from is None
                and tuple(path) in _SQL_COMMANDS
                and positional == (3 if path == ["handle-error"] else 2)
            ):
                sql_from = i
    out: list[tuple[str, str]] = []
    pos = 0
    for i, (_, start, end) in enumerate(spans):
        out.append(("", line[pos:start]))
        text = line[start:end]
        if sql_from is not None and i >= sql_from and (sql_to is None or i < sql_to):
            out.extend(_sql_fragments(text))
        else:
            out.append((styles[i], text))
        pos = end
    out.append(("", line[pos:]))
    return [f for f in out if f[1]]


def _sql_fragments(word: str) -> list[tuple[str, str]]:
    """One SQL argument in colour (surrounding quotes kept plain)."""
    from prompt_toolkit.styles.pygments import pygments_token_to_classname
    from pygments.lexers.sql import MySqlLexer

    quote = word[0] if len(word) >= 2 and word[0] in "'\"" and word[-1] == word[0] else ""
    sql = word[1:-1] if quote else word
    frags = [
        (f"class:{pygments_token_to_classname(tok)}", text) for tok, text in MySqlLexer().get_tokens(sql)
    ]
    if frags and frags[-1][1].endswith("\n") and not sql.endswith("\n"):
        frags[-1] = (frags[-1][0], frags[-1][1][:-1])
    return [("class:argument", quote), *frags, ("class:argument", quote)] if quote else frags


def _style() -> BaseStyle | None:
    if os.environ.get("NO_COLOR"):
        return None
    from prompt_toolkit.styles import merge_styles
    from prompt_toolkit.styles.pygments import style_from_pygments_cls
    from pygments.styles import get_style_by_name

    own = Style.from_dict(
        {
            "prompt": "ansired bold",
            "command": "ansigreen bold",
            "unknown": "ansired",
            "flag": "ansicyan",
            "argument": "",
        }
    )
    return merge_styles([style_from_pygments_cls(get_style_by_name("monokai")), own])


# --------------------------------------------------------------------------- paging


def _page(text: str, stdout: TextIO) -> None:
    """Write ``text``; on a terminal, output taller than the screen goes through the pager."""
    is_tty = stdout is sys.stdout and stdout.isatty()
    rows = shutil.get_terminal_size((80, 24)).lines
    if not is_tty or text.count("\n") < rows - 1:
        stdout.write(text)
        stdout.flush()
        return
    pager = os.environ.get("PAGER") or "less -FRX"
    try:
        proc = subprocess.Popen(pager, shell=True, stdin=subprocess.PIPE)
        proc.communicate(text.encode())
    except OSError:
        stdout.write(text)
        stdout.flush()


# --------------------------------------------------------------------------- the loop


def run_repl(
    session: Session | None = None,
    *,
    master_addr: str | None = None,
    rpc_timeout: str | None = None,
    input: Any = None,
    output: Any = None,
    stdout: TextIO | None = None,
    history_file: str | os.PathLike[str] | None = None,
    confirm: bool = True,
    fetch_values: bool = True,
    colour: bool | None = None,
) -> int:
    """Run the REPL until ``exit`` / Ctrl-D; returns the exit status.

    Without ``session``, connects to ``master_addr`` (else ``$DM_MASTER_ADDR``). ``input``/``output``
    are prompt-toolkit ones (tests pass ``create_pipe_input()`` and ``DummyOutput()``); command
    output goes to ``stdout``, JSON in colour when ``colour`` (default: on a terminal without
    NO_COLOR). A line ending in ``\\`` continues on the next; ``--output FORMAT`` sticks.
    """
    stdout = stdout or sys.stdout
    if colour is None:
        colour = stdout.isatty() and not os.environ.get("NO_COLOR")
    if session is None:
        try:
            config = load_config(master_addr=master_addr, rpc_timeout=rpc_timeout)
        except ClientError as exc:
            stdout.write(f"Error: {exc}\n")
            return exc.exit_code
        session = Session(config, out=stdout, mode="loop")
        try:
            session.client.connect()
        except ClientError as exc:
            stdout.write(f"Error: {exc}\n")
            return EXIT_UNREACHABLE

    def call(method: str, request: Any) -> Any:
        return session.client.call(method, request, timeout=5.0)

    values = MasterValues(call)
    if fetch_values:
        values.refresh_async()
    prompt: PromptSession[str] = PromptSession(
        message=FormattedText([("class:prompt", PROMPT)]),
        history=RedactingHistory(history_file or history_path()),
        completer=DmctlCompleter(values if fetch_values else None),
        lexer=DmctlLexer(),
        style=_style(),
        complete_while_typing=True,
        input=input,
        output=output,
    )

    asker: PromptSession[str] = PromptSession(input=input, output=output)

    def ask(question: str) -> bool:
        try:
            answer = asker.prompt(f"{question} [y/N] ")
        except (EOFError, KeyboardInterrupt):
            return False
        return answer.strip().lower() in ("y", "yes")

    session.confirm = ask if confirm else None
    saved_out = session.out
    try:
        while True:
            try:
                line = prompt.prompt()
                while continued(line):
                    line = (
                        line.rstrip()[:-1]
                        + " "
                        + prompt.prompt(message=FormattedText([("class:prompt", "... ")]))
                    )
            except KeyboardInterrupt:
                continue
            except EOFError:
                break
            line = line.strip()
            if line == "exit":
                break
            if not line:
                continue
            buf = io.StringIO()
            session.out = buf
            try:
                session.run_line(line)
            except KeyboardInterrupt:
                buf.write("^C\n")
            except EOFError:
                break
            finally:
                session.out = saved_out
            fmt = sticky_output(line)
            if fmt in OUTPUT_FORMATS and fmt != session.output:
                session.output = fmt
                buf.write(f"(output format {fmt} from now on; --output json goes back to DM's)\n")
            text = buf.getvalue()
            _page(colour_json(text) if colour and session.output == "json" else text, stdout)
            if fetch_values and registry.find(line.split()[:2], "loop").cmd.rpc not in ("", "QueryStatus"):
                values.refresh_async()  # the command may have changed tasks, sources or locks
    finally:
        session.out = saved_out
        session.confirm = None
    return EXIT_OK
