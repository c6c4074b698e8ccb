"""``python -m arraymix``: the command line (see :mod:`arraymix._cli`)."""

import sys

from ._cli import main

sys.exit(main())
