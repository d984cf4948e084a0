"""dmctl: DM's command-line client — command mode, piped-stdin mode and the interactive REPL.

Dependencies point one way: :mod:`~dmshell.ctl.command` (command types, usage/help) ←
:mod:`~dmshell.ctl.invocation` ← :mod:`~dmshell.ctl.commands` ← :mod:`~dmshell.ctl.registry` (the tree,
lookup, completion) ← :mod:`~dmshell.ctl.runner` (``Session.run``) ← :mod:`~dmshell.ctl.main`
(``dmctl``, ``dmshell repl``) → :mod:`~dmshell.ctl.repl`. The master connection is the client layer's
(:class:`dmshell.client.MasterClient`); :mod:`dmshell.ctl.output` prints DM's JSON (``to_dm_json``).
"""
