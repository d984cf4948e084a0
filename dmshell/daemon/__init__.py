"""The daemon: the master (gRPC ``Master`` service, scheduler, SQLite state store), the worker host
that spawns embedded worker processes, and the worker process itself.

Start it with ``dmshell daemon --master-addr HOST:PORT --data-dir DIR``; see :mod:`dmshell.daemon.process`.
"""
