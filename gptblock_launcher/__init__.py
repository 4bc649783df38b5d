"""The ``gptblock`` script's entry point, outside the package so that it runs before torch is imported.

Importing :mod:`gptblock` imports torch, which takes seconds: a Ctrl-C then would end in a
``KeyboardInterrupt`` traceback before :func:`gptblock.cli.main` (which handles Ctrl-C from then on)
had started. This module imports nothing heavy; it catches the interrupt around that import and
exits as ``main`` does after one: one line, status 130.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as gptblock.cli


def main(argv: Sequence[str] | None = None) -> int:
    """Import :mod:`gptblock.cli` and run its ``main``; Ctrl-C during the import exits with one line."""
    try:
        from gptblock.cli import main as cli_main
    except KeyboardInterrupt:
        print("gptblock: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return cli_main(argv)
