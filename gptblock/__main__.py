"""``python -m gptblock``: the same command line as the ``gptblock`` script."""

import sys

from gptblock.cli import main

sys.exit(main())
