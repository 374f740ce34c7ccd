"""Accuracies that travel with a set: those an authors' file reports (``accs_all_exps``), those
``condense distill`` wrote beside our ``synset.pt`` (``results.json``), and the pooling of
per-experiment results as the papers report them."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..errors import SynsetFormatError
from ..models import display_name
from ..summary import summarize
from ..synset import SyntheticSet
from ..torchfile import first_line

__all__ = ["reported_accuracies", "run_accuracies", "pool_experiments"]


def reported_accuracies(sets: Sequence[SyntheticSet]) -> dict[str, list[float]]:
    """The accuracies an authors' file reports for ``sets``: {their model name: runs}."""
    out: dict[str, list[float]] = {}
    for s in sets:
        for model, runs in (s.meta.get("reported_accs") or {}).items():
            out.setdefault(model, []).extend(float(r) for r in runs)
    return out


def run_accuracies(path: str | os.PathLike, iteration: int | None = None) -> dict[str, list[float]]:
    """The accuracies in the ``results.json`` that ``condense distill`` (or ``coreset``) wrote
    beside ``path`` (our ``synset.pt``), laid out as the authors' ``accs_all_exps``: {their model
    name (``ConvNet``): every network's accuracy as a fraction}. ``{}`` if ``path`` is not a file,
    there is no results.json, or its ``iteration`` is not ``iteration`` (it is of another set)."""
    path = Path(path)
    results = path.with_name("results.json")
    if not path.is_file() or not results.is_file():
        return {}
    try:
        data = json.loads(results.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise SynsetFormatError(f"{results}: not valid JSON ({first_line(e)})") from None
    if not isinstance(data, Mapping) or (iteration is not None and data.get("iteration") not in (None, iteration)):
        return {}
    accuracy = data.get("accuracy")
    out: dict[str, list[float]] = {}
    for model, r in (accuracy.items() if isinstance(accuracy, Mapping) else ()):
        runs = r.get("runs") if isinstance(r, Mapping) else None
        if not isinstance(runs, list) or not runs:
            continue
        try:
            name = display_name(model)
        except ValueError:  # a model registered by the user's code, not known here
            name = str(model)
        try:
            out[name] = [float(a) for a in runs]
        except (TypeError, ValueError):
            raise SynsetFormatError(f"{results}: the runs of {model} are not accuracies (numbers)") from None
    return out


def pool_experiments(results: Sequence[Mapping[str, Mapping]], experiments: Sequence[int] | None = None) -> dict[str, dict]:
    """Pool per-experiment ``{model: {"mean", "std", "runs"}}`` as the papers report them: mean and
    population std over every experiment x network. Each model's entry gains ``experiments``: the
    per-experiment summaries (``experiment`` = its index in the file)."""
    experiments = list(experiments) if experiments is not None else list(range(len(results)))
    pooled: dict[str, dict] = {}
    for model in dict.fromkeys(m for r in results for m in r):
        per = [(e, r[model]) for e, r in zip(experiments, results) if model in r]
        summary = summarize([acc for _, r in per for acc in r["runs"]])
        summary["experiments"] = [{"experiment": e, **{k: r[k] for k in ("mean", "std", "runs")}} for e, r in per]
        pooled[model] = summary
    return pooled
