"""dmshell: a terminal-first re-implementation of TiDB Data Migration (DM)."""

__version__ = "0.1.0"
