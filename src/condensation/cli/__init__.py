"""The ``condense`` command: a thin layer over the Python API, one module per subcommand.

Each module in ``COMMAND_MODULES`` has ``add_parsers(subparsers)``, which registers its
subcommand(s) with ``set_defaults(run=function)``; ``main`` parses, dispatches and turns the
library's errors into one line on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import re
import signal
import sys

from .._version import __version__
from ..errors import USER_ERRORS, ConfigError, DivergenceError, RankDriftError, RunInterrupted
from ..methods.plugins import load_plugins
from ..suggest import did_you_mean

__all__ = ["main", "build_parser", "COMMAND_MODULES"]

# Subcommand modules, in the order ``condense --help`` lists them.
COMMAND_MODULES = ("info", "distill", "coreset", "experts", "evaluate", "show", "export", "ablate", "reproduce", "report", "continual", "nas")

# Commands whose folder continues where it stopped when the same command is run again.
RESUMING_COMMANDS = ("ablate", "reproduce", "continual", "nas")
INTERRUPTED = "interrupted; files already written are intact"
GRID_RESUME = "run the same command again to continue where it stopped"


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line on stderr (no usage block), naming the fix."""

    def error(self, message: str):  # noqa: D401 - argparse's hook
        self.exit(2, f"{self.prog}: error: {message}{_suggestion(message)} (see '{self.prog} --help')\n")


def _suggestion(message: str) -> str:
    """`` (did you mean 'dsa'?)`` for argparse's "invalid choice: 'dsaa' (choose from ...)"."""
    m = re.search(r"invalid choice: '?([^'\s]*)'? \(choose from (.*)\)", message)
    if m is None:
        return ""
    return did_you_mean(m.group(1), [c.strip().strip("'\"") for c in m.group(2).split(",")])


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="condense",
        description=(
            "Dataset condensation: learn a few synthetic images per class on which a network trained "
            "from scratch approaches one trained on the whole dataset. Gradient matching (DC), "
            "Differentiable Siamese Augmentation (DSA), distribution matching (DM) and coreset "
            "baselines, with the papers' evaluation protocol."
        ),
        epilog="Run 'condense COMMAND --help' for a command's flags.",
    )
    parser.add_argument("--version", action="version", version=f"condense {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f".{name}", __name__).add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        load_plugins()  # methods from $CONDENSATION_PLUGINS and entry points get their flags too
    except ConfigError as e:
        print(f"condense: error: {e}", file=sys.stderr)
        return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        try:
            return args.run(args)
        finally:
            sys.stdout.flush()
    except BrokenPipeError:  # `condense models | head`: the reader left; end quietly
        _silence_stdout()
        return 0
    except RunInterrupted as e:  # a run stopped at a safe point: the message says how to continue
        with _interrupts_ignored():
            if args.command in ("distill", "coreset"):
                print(f"\n{e}", file=sys.stderr, flush=True)
            else:  # a run inside a grid or an application: the same command continues
                print(f"\n{INTERRUPTED}; {GRID_RESUME}", file=sys.stderr, flush=True)
        return e.status
    except KeyboardInterrupt:
        with _interrupts_ignored():
            rest = f"; {GRID_RESUME}" if args.command in RESUMING_COMMANDS else ""
            print(f"\n{INTERRUPTED}{rest}", file=sys.stderr, flush=True)
        return 130
    except USER_ERRORS as e:
        if os.environ.get("CONDENSATION_DEBUG"):
            raise
        # under torchrun every rank stops with the same message on a divergence or drift (all read the
        # same gathered numbers): rank 0 says it once, and the others wait until it has (torchrun
        # ends every rank as soon as one exits)
        together = isinstance(e, (DivergenceError, RankDriftError))
        if not (together and os.environ.get("RANK", "0") != "0"):
            print(f"condense {args.command}: error: {str(e).strip() or type(e).__name__}", file=sys.stderr, flush=True)
        if together:
            from ..distributed import wait_for_all

            wait_for_all()
        return 2


@contextlib.contextmanager
def _interrupts_ignored():
    """While the closing message prints, a further Ctrl-C or SIGTERM must not cut it short."""
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[sig] = signal.signal(sig, signal.SIG_IGN)
        except (ValueError, OSError):  # not the main thread
            pass
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
