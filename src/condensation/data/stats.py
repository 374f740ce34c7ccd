"""Exact per-channel pixel statistics of uint8 images, via 256-bin histograms."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

__all__ = ["channel_stats", "channel_histograms", "stats_from_histograms"]


def channel_histograms(images: np.ndarray) -> np.ndarray:
    """Per-channel value counts of uint8 images N x C x H x W: int64 C x 256 (to be summed over chunks)."""
    return np.stack([np.bincount(images[:, c].reshape(-1), minlength=256) for c in range(images.shape[1])]).astype(np.int64)


def stats_from_histograms(hists: np.ndarray | Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) per channel on the 0..1 scale from C x 256 value counts (population std, float64)."""
    hists = torch.as_tensor(np.asarray(hists)).to(torch.float64)
    values = torch.arange(256, dtype=torch.float64) / 255.0
    means, stds = [], []
    for hist in hists:
        n = hist.sum()
        mean = (hist * values).sum() / n
        var = (hist * (values - mean) ** 2).sum() / n
        means.append(float(mean))
        stds.append(float(var.sqrt()))
    return tuple(means), tuple(stds)


def channel_stats(images: Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) per channel of uint8 images N x C x H x W, on the 0..1 scale (x / 255).

    Population std over all pixels of all images. Computed from per-channel value histograms in
    float64, so it is exact and needs no float copy of the data.
    """
    if images.dtype != torch.uint8 or images.dim() != 4:
        raise ValueError(f"expected uint8 N x C x H x W images, got {images.dtype} {tuple(images.shape)}")
    if images.shape[0] == 0:
        raise ValueError("no images")
    hists = torch.stack([torch.bincount(images[:, c].reshape(-1), minlength=256).cpu() for c in range(images.shape[1])])
    return stats_from_histograms(hists)
