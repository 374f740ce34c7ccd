"""Rank correlation: how well one ranking of candidates (a proxy's accuracies) predicts another
(the target's). Average ranks for ties, Spearman's rho, and the summary a search reports."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["average_ranks", "spearman", "rank_summary"]


def average_ranks(values: Sequence[float]) -> list[float]:
    """Ranks 1..n (1: the smallest value); tied values all get the mean of the ranks they span."""
    n = len(values)
    order = sorted(range(n), key=lambda i: values[i])
    ranks = [0.0] * n
    i = 0
    while i < n:
        j = i
        while j + 1 < n and values[order[j + 1]] == values[order[i]]:
            j += 1
        for t in range(i, j + 1):
            ranks[order[t]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rank correlation: the Pearson correlation of the average ranks. None when it is
    undefined (fewer than 2 pairs, or every value of one side tied)."""
    if len(x) != len(y):
        raise ValueError(f"need pairs: {len(x)} values against {len(y)}")
    if len(x) < 2:
        return None
    rx, ry = average_ranks(x), average_ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    vx, vy = sum((a - mx) ** 2 for a in rx), sum((b - my) ** 2 for b in ry)
    if vx == 0 or vy == 0:
        return None
    return cov / math.sqrt(vx * vy)


def rank_summary(proxy: Sequence[float], target: Sequence[float], top_k: int) -> dict[str, Any]:
    """How well ``proxy`` accuracies rank candidates whose ``target`` accuracies are given (same
    order): ``rho`` over all, ``rho_top`` among the proxy's ``top_k`` (None below 2), the proxy's
    ``top1`` (index; ties: the first candidate), its target accuracy and its target ``rank`` (1 = best)."""
    order = sorted(range(len(proxy)), key=lambda i: -proxy[i])  # stable: ties keep candidate order
    top = order[: max(0, top_k)]
    best = order[0]
    return {
        "rho": spearman(proxy, target),
        "rho_top": spearman([proxy[i] for i in top], [target[i] for i in top]) if len(top) >= 2 else None,
        "top_k": len(top),
        "top1": best,
        "top1_target": target[best],
        "top1_rank": 1 + sum(t > target[best] for t in target),
    }
