"""Where the front ends look for a master and the daemon keeps its state, when nobody says.

``dmctl`` (flag > config file > ``$DM_MASTER_ADDR``, required as in DM), the TUI (flag >
``$DM_MASTER_ADDR`` > its config file > :data:`DEFAULT_MASTER_ADDR`) and ``dmshell daemon`` (flag >
``$DM_MASTER_ADDR`` > :data:`DEFAULT_MASTER_ADDR`) differ in precedence, not in these values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

#: DM-master's default client address (``dm-master --master-addr``)
DEFAULT_MASTER_ADDR = "127.0.0.1:8261"
#: DM's variable for the master address(es), a comma-separated list as ``--master-addr`` takes
MASTER_ADDR_ENV = "DM_MASTER_ADDR"
#: the daemon's ``--data-dir`` when the flag is not given
DATA_DIR_ENV = "DMSHELL_DATA_DIR"


def default_data_dir() -> str:
    """``$XDG_DATA_HOME/dmshell`` (``~/.local/share/dmshell`` when the variable is unset)."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "dmshell")


def data_dir(env: Mapping[str, str] = os.environ) -> str:
    """The daemon's data directory without ``--data-dir``: ``$DMSHELL_DATA_DIR``, else the default."""
    return env.get(DATA_DIR_ENV) or default_data_dir()
