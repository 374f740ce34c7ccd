"""Settings as dataclass fields that describe themselves: help text, kind, choices.

The run's settings (``config.DistillConfig``) and every method's hyper-parameters (its own
dataclass, see ``methods.registry``) declare their fields with :func:`setting`. The metadata is
used three times, so that a setting is written once:

* the command line (``cli.settings``) makes one flag per field, with this help, type and choices,
  for every command that takes the setting;
* validation (:func:`check`) gives the same one-line errors from Python as from the CLI;
* ``resumable`` says which settings may change on ``--resume`` without changing the set.

A *kind* parses a flag's text and checks a value: ``POSITIVE_INT``, ``COUNT`` (0 allowed),
``POSITIVE_FLOAT``, ``FRACTION`` ([0, 1)), ``INT``, ``TEXT``, ``NAMES`` (comma-separated) and
``SWITCH_OFF`` (a ``--no-X`` flag for a setting that is on by default).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError

__all__ = [
    "Kind", "setting", "meta_of", "check", "describe",
    "POSITIVE_INT", "COUNT", "POSITIVE_FLOAT", "FRACTION", "INT", "TEXT", "NAMES", "SWITCH_OFF",
    "positive_int", "count", "positive_float", "csv_list", "int_list", "int_at_least",
]


# ---------------------------------------------------------------------- parsers (argparse types)
def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer >= ``minimum``."""
    what = "a positive" if minimum == 1 else "a non-negative"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what} integer, got {text!r}")
        return value

    return parse


positive_int = int_at_least(1)
count = int_at_least(0)


def positive_float(text: str) -> float:
    """An argparse type: a finite float > 0."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


def csv_list(text: str) -> tuple[str, ...]:
    """An argparse type: ``"a,b , c"`` -> ``("a", "b", "c")`` (at least one item)."""
    items = tuple(t.strip() for t in text.split(",") if t.strip())
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list, e.g. convnet,mlp")
    return items


def int_list(text: str) -> tuple[int, ...]:
    """An argparse type: ``"1,10,50"`` -> ``(1, 10, 50)`` (non-negative integers)."""
    try:
        items = tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        items = ()
    if not items or min(items) < 0:
        raise argparse.ArgumentTypeError(f"expected comma-separated non-negative integers, e.g. 0,1,2; got {text!r}")
    return items


# ---------------------------------------------------------------------- kinds
@dataclass(frozen=True)
class Kind:
    """How a setting's flag text is parsed (``parse``) and its value checked (``check(name, value)``
    returns the value or raises ``ConfigError``)."""

    name: str
    parse: Callable[[str], Any] | None
    check: Callable[[str, Any], Any]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) or (isinstance(value, float) and value.is_integer())


def _check_int(minimum: int | None, what: str) -> Callable[[str, Any], Any]:
    def check_(name: str, value: Any) -> int:
        if value is None or not _is_int(value) or (minimum is not None and value < minimum):
            raise ConfigError(f"{name} must be {what}, got {value!r}")
        return int(value)

    return check_


def _check_positive_float(name: str, value: Any) -> float:
    if not (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0):
        raise ConfigError(f"{name} must be a positive number, got {value!r}")
    return value


def _check_fraction(name: str, value: Any) -> float:
    if not (isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1):
        raise ConfigError(f"{name} must be in [0, 1), got {value!r}")
    return value


POSITIVE_INT = Kind("positive integer", positive_int, _check_int(1, "a positive integer"))
COUNT = Kind("non-negative integer", count, _check_int(0, "a non-negative integer"))
INT = Kind("integer", int, _check_int(None, "an integer"))
POSITIVE_FLOAT = Kind("positive number", positive_float, _check_positive_float)
FRACTION = Kind("number in [0, 1)", _fraction, _check_fraction)
TEXT = Kind("text", str, lambda name, value: value)
NAMES = Kind("comma-separated names", csv_list, lambda name, value: value)
SWITCH_OFF = Kind("switch", None, lambda name, value: bool(value))


# ---------------------------------------------------------------------- declaring settings
_MISSING: Any = dataclasses.MISSING


def setting(
    default: Any = _MISSING,
    *,
    help: str,
    kind: Kind = TEXT,
    choices: Sequence[str] | Callable[[], Sequence[str]] | None = None,
    flag: str | None = None,
    metavar: str | None = None,
    cli: bool = True,
    resumable: bool = False,
    condense_only: bool = False,
    default_factory: Callable[[], Any] = _MISSING,
) -> Any:
    """A dataclass field carrying its own description.

    ``help``: the flag's help (and the setting's documentation). ``kind``: how a flag's text is
    parsed and a value checked. ``choices``: the allowed values (a callable is asked when needed,
    e.g. the registered methods). ``flag``: the flag name (default ``--`` + the name with dashes;
    ``--no-NAME`` for ``SWITCH_OFF``). ``cli=False``: no flag (set from Python or by a command).
    ``resumable``: may change on ``--resume`` without changing the set. ``condense_only``: means
    nothing to a method that selects real images (cleared for those)."""
    meta = {"help": help, "kind": kind, "choices": choices, "flag": flag, "metavar": metavar, "cli": cli,
            "resumable": resumable, "condense_only": condense_only}
    if default_factory is not _MISSING:
        return field(default_factory=default_factory, metadata=meta)
    return field(default=default, metadata=meta)


def meta_of(f: dataclasses.Field) -> dict[str, Any]:
    """A field's setting metadata (empty for a plain field)."""
    return dict(f.metadata) if "help" in f.metadata else {}


def allowed(meta: dict[str, Any]) -> tuple[str, ...] | None:
    """A setting's allowed values, or None if any value of its kind goes."""
    choices = meta.get("choices")
    return tuple(choices() if callable(choices) else choices) if choices is not None else None


def check(f: dataclasses.Field, value: Any) -> Any:
    """``value`` validated for field ``f`` (None passes: "the default"); ``ConfigError`` naming the
    allowed values otherwise. Choices are case-insensitive and returned lower-case."""
    meta = meta_of(f)
    if value is None or not meta:
        return value
    options = allowed(meta)
    if options is not None:
        v = str(value).lower()
        if v not in options:
            raise ConfigError(f"invalid {f.name.replace('_', ' ')} {value!r}; allowed: {', '.join(options)}")
        return v
    return meta["kind"].check(f.name, value)


def describe(f: dataclasses.Field) -> str:
    """One line for documentation: ``name (kind, default): help``."""
    meta = meta_of(f)
    default = f.default if f.default is not _MISSING else "–"
    return f"{f.name} ({meta.get('kind', TEXT).name}, default {default!r}): {meta.get('help', '')}"
