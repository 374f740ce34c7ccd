"""The papers' published figures (``published.csv``, shipped with the package) and their sources.

One row per figure: ``method, dataset, ipc, model, setting, mean, std, source, status, note``.
``mean``/``std`` are **percent, as printed in the papers** (not fractions like the rest of the
library); ``ipc`` is empty for whole-dataset accuracy; ``setting`` is empty for the main tables,
else a short key (``cross:alexnetbn``, ``none|none|As*``, ...). ``status``: R (authors' readme),
S (secondary source named in ``source``), M (recalled, not verified), N (not reported: no
figure), V (checked against the text named in ``source``).
"""

from __future__ import annotations

import csv
import functools
import io
from importlib import resources
from typing import Any

from .methods.registry import list_methods

__all__ = ["COLUMNS", "METHODS", "OTHER_ROWS", "known_methods", "DATASETS", "STATUSES", "load_published", "published"]

COLUMNS = ("method", "dataset", "ipc", "model", "setting", "mean", "std", "source", "status", "note")
# Rows that are not a method of the registry: the whole training set, two other papers' methods the
# DC paper compares with (LD, DD), and the DSA paper's augmentation ablation.
OTHER_ROWS = ("whole", "ld", "dd", "dsa-ablation")


def known_methods() -> tuple[str, ...]:
    """The ``method`` values a row may hold: every registered method, and ``OTHER_ROWS``."""
    return (*list_methods(), *OTHER_ROWS)


METHODS = known_methods()  # the built-in methods' (a plugin's rows are checked by known_methods())
DATASETS = ("mnist", "fashion-mnist", "svhn", "cifar10", "cifar100", "tinyimagenet")
STATUSES = ("R", "S", "M", "N", "V")

_FILE = "published.csv"


def _number(text: str, kind: type) -> Any:
    text = text.strip()
    return None if text == "" else kind(text)


def _parse(text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise ValueError(f"{_FILE}: columns must be exactly {','.join(COLUMNS)}, got {reader.fieldnames}")
    rows = []
    for line, raw in enumerate(reader, start=2):
        try:
            row = {k: (raw[k] or "").strip() for k in COLUMNS}
            row["ipc"] = _number(row["ipc"], int)
            row["mean"] = _number(row["mean"], float)
            row["std"] = _number(row["std"], float)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{_FILE} line {line}: {exc}") from None
        rows.append(row)
    return rows


@functools.lru_cache(maxsize=1)
def _rows() -> tuple[dict[str, Any], ...]:
    text = resources.files("condensation").joinpath(_FILE).read_text(encoding="utf-8")
    return tuple(_parse(text))


def load_published() -> list[dict[str, Any]]:
    """Every row of ``published.csv``, typed: ``ipc`` int or None, ``mean``/``std`` float or None
    (percent as printed), the other columns strings. A fresh list of fresh dicts each call."""
    return [dict(row) for row in _rows()]


def _canonical_dataset(name: str) -> str:
    from .data.specs import parse_name  # lazy: keeps this module importable on its own

    try:
        return parse_name(name)[0]
    except ValueError:
        return str(name).strip().lower()


@functools.lru_cache(maxsize=None)
def _index() -> dict[tuple, dict[str, Any]]:
    return {(r["method"], r["dataset"], r["ipc"], r["model"], r["setting"]): r for r in _rows()}


def published(method: str, dataset: str, ipc: int | None, model: str = "convnet", setting: str = "") -> dict[str, Any] | None:
    """The published figure for one cell as ``{"mean", "std", "source", "status", "note"}``, with
    ``mean``/``std`` in **percent as printed** (e.g. 84.6 and 0.3), or None when the file has no
    figure for it (no row, or a row with status N). ``dataset`` accepts aliases (``FashionMNIST``);
    ``ipc`` is None for whole-dataset accuracy. Cached."""
    key = (str(method).strip().lower(), _canonical_dataset(dataset), None if ipc is None else int(ipc),
           str(model).strip().lower(), str(setting).strip())
    row = _index().get(key)
    if row is None or row["mean"] is None:
        return None
    return {k: row[k] for k in ("mean", "std", "source", "status", "note")}
