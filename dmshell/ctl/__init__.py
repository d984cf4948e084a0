"""dmctl: DM's command-line client — command mode, piped-stdin mode and the interactive REPL.

Public entry points: :mod:`dmshell.ctl.registry` (the command registry), :mod:`dmshell.ctl.runner`
(``Session.run``), :mod:`dmshell.ctl.client` (``MasterClient``), :mod:`dmshell.ctl.output`
(``to_dm_json``), :func:`dmshell.ctl.repl.run_repl`.
"""
