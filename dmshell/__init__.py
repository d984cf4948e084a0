"""dmshell: a terminal-first re-implementation of TiDB Data Migration (DM)."""

#: the one source of the version: pyproject reads it (setuptools dynamic version); `dmshell -V`,
#: `dmctl -V`, the daemon's log and `dmshell daemon status` print it
__version__ = "0.1.0"
