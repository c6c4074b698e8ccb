"""``python -m arraymix``: the command line (see :mod:`arraymix.cli`)."""

import sys

from .cli import main

sys.exit(main())
