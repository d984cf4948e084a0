"""The ``dmshell`` console entry point.

* ``dmshell [--master-addr A] ...`` — the TUI (:mod:`dmshell.tui.app`)
* ``dmshell daemon [status|stop] ...`` — the master and its embedded workers (:mod:`dmshell.daemon.process`)
* ``dmshell worker --name W --join A --worker-addr B`` — a worker on another machine
* ``dmshell repl [--master-addr A]`` — the dmctl REPL (:func:`dmshell.ctl.main.repl_main`)
* ``dmshell playground`` — a throw-away local cluster with sample data

Sub-commands are imported only when used (start-up time), so ``dmshell daemon`` never loads Textual.
"""

from __future__ import annotations

import sys

from dmshell import __version__


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[0] if args else ""
    if command == "daemon":
        from dmshell.daemon.process import main as run
    elif command == "worker":
        from dmshell.daemon.worker import main as run
    elif command == "repl":
        from dmshell.ctl.main import repl_main as run
    elif command == "playground":
        from dmshell.playground import main as run
    elif command in ("-V", "--version", "version"):
        print(f"dmshell {__version__}")
        return 0
    else:
        from dmshell.tui.app import main as tui

        return int(tui(args) or 0)
    return int(run(args[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
