"""``python -m dmshell`` = the ``dmshell`` command."""

import sys

from dmshell.cli import main

sys.exit(main())
