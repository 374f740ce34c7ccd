"""Distances between two lists of gradients (one tensor per network parameter).

``ours`` is the layer-wise distance of the DC paper: every weight tensor is viewed as rows (one per
output channel or neuron) and the distance is the sum over rows of ``1 - cos`` between the real and
the synthetic gradient row, with the authors' ``+1e-6`` added to the product of norms (a zero row
contributes exactly 1). Rank-1 tensors (biases, norm affine parameters) are ignored.
``mse`` sums squared differences over all tensors; ``cos`` is ``1 - cos`` of the concatenations.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["METRICS", "gradient_distance"]

METRICS = ("ours", "mse", "cos")
_EPS = 1e-6


def _rows(g: Tensor) -> Tensor:
    """A weight gradient as rows: conv (out, in, kh, kw) -> (out, in*kh*kw); LayerNorm (C, H, W) -> (C, H*W)."""
    return g.reshape(g.shape[0], -1)


def _layerwise(g_syn: Sequence[Tensor], g_real: Sequence[Tensor]) -> Tensor:
    total = g_syn[0].new_zeros(())
    for gs, gr in zip(g_syn, g_real):
        if gs.ndim == 1:
            continue
        s, r = _rows(gs), _rows(gr)
        cos = (s * r).sum(1) / (s.norm(dim=1) * r.norm(dim=1) + _EPS)
        total = total + (1.0 - cos).sum()
    return total


def _flat(gs: Sequence[Tensor]) -> Tensor:
    return torch.cat([g.reshape(-1) for g in gs])


def gradient_distance(g_syn: Sequence[Tensor], g_real: Sequence[Tensor], metric: str = "ours") -> Tensor:
    """Distance between synthetic and real gradients (lists aligned with the network's parameters)."""
    if len(g_syn) != len(g_real):
        raise ValueError(f"gradient lists differ in length: {len(g_syn)} vs {len(g_real)}")
    if metric == "ours":
        return _layerwise(g_syn, g_real)
    if metric == "mse":
        return ((_flat(g_syn) - _flat(g_real)) ** 2).sum()
    if metric == "cos":
        s, r = _flat(g_syn), _flat(g_real)
        return 1.0 - (s * r).sum() / (s.norm() * r.norm() + _EPS)
    raise ValueError(f"unknown matching distance {metric!r}; allowed: {', '.join(METRICS)}")
