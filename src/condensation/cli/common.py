"""What the ``condense`` subcommands share beyond the generated setting flags (``cli.settings``):
argparse types for their own flags, and one line on stderr."""

from __future__ import annotations

import sys

from ..settings import count, csv_list, int_at_least, int_list, positive_float, positive_int

__all__ = ["csv_list", "int_list", "int_at_least", "positive_int", "count", "positive_float", "err"]


def err(message: str) -> None:
    """One line on stderr."""
    print(message, file=sys.stderr, flush=True)
