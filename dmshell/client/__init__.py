"""The one client layer for talking to a dm-master: dmctl, its REPL and the TUI use it; the daemon
takes its defaults and error text from it. It never imports Textual, and imports gRPC only when a
channel is opened.

* :mod:`dmshell.client.defaults` — ``DEFAULT_MASTER_ADDR``, ``$DM_MASTER_ADDR``, the data dir;
* :mod:`dmshell.client.channel` — message limits (``MAX_MESSAGE``), keepalive, TLS (``TLSFiles``),
  address parsing (``dial_target``), ``open_channel``;
* :mod:`dmshell.client.master` — ``MasterClient``: multi-address dialing, calls, streams;
* :mod:`dmshell.client.errors` — the exit statuses, ``ClientError`` / ``UnreachableError`` /
  ``RpcFailed``, and ``status_text``: Go's ``rpc error: code = ... desc = ...``.

Import from the modules: this package imports nothing, so that a usage error in dmctl loads neither
sockets nor threads (start-up time).
"""
