"""Accuracies of several networks as one figure: mean and population std, as the papers report."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["summarize"]


def summarize(runs: Sequence[float]) -> dict:
    """``{"mean", "std", "runs"}`` with the population std (as the authors' ``np.std``)."""
    runs = [float(r) for r in runs]
    if not runs:
        raise ValueError("no accuracies to summarise (num_eval must be at least 1)")
    mean = sum(runs) / len(runs)
    std = math.sqrt(sum((r - mean) ** 2 for r in runs) / len(runs))
    return {"mean": mean, "std": std, "runs": runs}
