"""dmctl's commands, one module per group of DM's ``dm/ctl/master`` commands; each declares its
:class:`~dmshell.ctl.command.Command` entries, which :mod:`dmshell.ctl.registry` assembles."""
