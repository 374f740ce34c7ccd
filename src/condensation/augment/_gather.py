"""Index-based resampling shared by the augmentations (translations, nearest-neighbour resizes)."""

from __future__ import annotations

import torch
from torch import Tensor


def gather_2d(x: Tensor, rows: Tensor, cols: Tensor, fill: float | Tensor = 0.0) -> Tensor:
    """``out[n, :, i, j] = x[n, :, rows[n, i], cols[n, j]]``, or ``fill`` where an index is out of range.

    x: N x C x H x W. rows: B x H, cols: B x W with B = N (per image) or B = 1 (shared by the batch).
    Differentiable with respect to ``x`` (a gather; the gradient flows to the copied pixels).
    """
    n, c, h, w = x.shape
    b = rows.shape[0]
    row_ok = (rows >= 0) & (rows < h)
    col_ok = (cols >= 0) & (cols < w)
    out = torch.gather(x, 2, rows.clamp(0, h - 1).view(b, 1, h, 1).expand(n, c, h, w))
    out = torch.gather(out, 3, cols.clamp(0, w - 1).view(b, 1, 1, w).expand(n, c, h, w))
    inside = row_ok.view(b, 1, h, 1) & col_ok.view(b, 1, 1, w)
    if isinstance(fill, Tensor):
        return torch.where(inside, out, fill.to(out.dtype))
    return out * inside.to(out.dtype) if fill == 0 else torch.where(inside, out, torch.full_like(out, fill))
