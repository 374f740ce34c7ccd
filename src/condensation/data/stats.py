"""Exact per-channel pixel statistics of uint8 images, via 256-bin histograms."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["channel_stats"]


def channel_stats(images: Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) per channel of uint8 images N x C x H x W, on the 0..1 scale (x / 255).

    Population std over all pixels of all images. Computed from per-channel value histograms in
    float64, so it is exact and needs no float copy of the data.
    """
    if images.dtype != torch.uint8 or images.dim() != 4:
        raise ValueError(f"expected uint8 N x C x H x W images, got {images.dtype} {tuple(images.shape)}")
    if images.shape[0] == 0:
        raise ValueError("no images")
    values = torch.arange(256, dtype=torch.float64) / 255.0
    means, stds = [], []
    for c in range(images.shape[1]):
        hist = torch.bincount(images[:, c].reshape(-1), minlength=256).to(torch.float64).cpu()
        n = hist.sum()
        mean = (hist * values).sum() / n
        var = (hist * (values - mean) ** 2).sum() / n
        means.append(float(mean))
        stds.append(float(var.sqrt()))
    return tuple(means), tuple(stds)
