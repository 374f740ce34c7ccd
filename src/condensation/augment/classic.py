"""The DC paper's evaluation-time augmentation (not differentiable, no gradient needed).

DC evaluates a synthetic set with this augmentation only for MNIST (``crop_scale_rotate``) and for
BatchNorm ConvNets (``crop_noise``). Each image gets one op, chosen uniformly from the strategy:

- ``crop``: pad 4 px with the batch's per-channel mean, crop back at a random offset, i.e. a
  translation by an integer in [-4, 3] per axis (the authors' range);
- ``scale``: nearest-neighbour resize by U(0.8, 1.2) per axis, centred, zero fill, cropped back;
- ``rotate``: rotation by an integer angle in [-45, 44] degrees about the centre, bicubic
  interpolation, filled with the batch mean (the authors used ``scipy.ndimage.rotate``; this is
  the same map evaluated on the device, so spline and border details differ slightly);
- ``noise``: add 0.001 * N(0, 1).

Vectorised: each op is computed for the whole batch and every image keeps its own op's result.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..devices import to_device
from ._gather import gather_2d

__all__ = ["ClassicAugment", "CLASSIC_OPS"]

CLASSIC_OPS = ("crop", "scale", "rotate", "noise")


class ClassicAugment:
    """DC's evaluation augmentation for a strategy such as ``"crop_scale_rotate"``."""

    def __init__(self, strategy: str, crop: int = 4, scale: float = 0.2, rotate: int = 45, noise: float = 0.001):
        tokens = tuple(t for t in strategy.lower().split("_") if t)
        unknown = [t for t in tokens if t not in CLASSIC_OPS]
        if not tokens or unknown:
            raise ValueError(f"bad classic augmentation strategy {strategy!r}; ops: {', '.join(CLASSIC_OPS)}")
        self.ops = tokens
        self.strategy = "_".join(tokens)
        self.crop, self.scale, self.rotate, self.noise = crop, scale, rotate, noise

    def __repr__(self) -> str:
        return f"ClassicAugment({self.strategy!r})"

    @torch.no_grad()
    def __call__(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """Augment ``x`` (N x C x H x W, normalised) with one random op per image; CPU ``generator``.

        Every random number is drawn on the CPU first and moved to the device in one copy."""
        n, c, h, w = x.shape
        draws = {
            "choice": torch.randint(len(self.ops), (n,), generator=generator),
            "shift": torch.randint(0, 2 * self.crop, (n, 2), generator=generator) - self.crop,  # [-4, 3]
            "factor": 1.0 + self.scale * (2.0 * torch.rand(n, 2, generator=generator) - 1.0),  # U(0.8, 1.2)
            "degrees": torch.randint(-self.rotate, self.rotate, (n,), generator=generator),  # [-45, 44]
        }
        if "noise" in self.ops:
            draws["noise"] = torch.randn(x.shape, generator=generator)
        draws = {k: to_device(v, x.device) for k, v in draws.items()}
        out = x
        for k, op in enumerate(self.ops):
            result = getattr(self, f"_{op}")(x, draws)
            out = torch.where((draws["choice"] == k).view(-1, 1, 1, 1), result, out)
        return out

    # Each op returns the whole batch augmented with its own parameters.
    def _crop(self, x: Tensor, d: dict[str, Tensor]) -> Tensor:
        n, c, h, w = x.shape
        rows = torch.arange(h, device=x.device).view(1, -1) + d["shift"][:, :1]
        cols = torch.arange(w, device=x.device).view(1, -1) + d["shift"][:, 1:]
        fill = x.mean(dim=(0, 2, 3)).view(1, c, 1, 1)
        return gather_2d(x, rows, cols, fill)

    def _scale(self, x: Tensor, d: dict[str, Tensor]) -> Tensor:
        n, c, h, w = x.shape
        new_h = (d["factor"][:, 0] * h).long()
        new_w = (d["factor"][:, 1] * w).long()
        # paste the resized image centred on a canvas of side max(...) and crop the centre back
        side = torch.maximum(torch.maximum(new_h, new_w), torch.full_like(new_h, max(h, w)))
        r = torch.arange(h, device=x.device).view(1, -1) + ((side - h) // 2 - (side - new_h) // 2).view(-1, 1)
        q = torch.arange(w, device=x.device).view(1, -1) + ((side - w) // 2 - (side - new_w) // 2).view(-1, 1)
        # nearest-neighbour source index, as F.interpolate(mode="nearest"): floor(dst * in / out)
        src_r = torch.where((r >= 0) & (r < new_h.view(-1, 1)), (r * h) // new_h.view(-1, 1), -1)
        src_q = torch.where((q >= 0) & (q < new_w.view(-1, 1)), (q * w) // new_w.view(-1, 1), -1)
        return gather_2d(x, src_r, src_q, 0.0)

    def _rotate(self, x: Tensor, d: dict[str, Tensor]) -> Tensor:
        a = d["degrees"].to(x.dtype) * (math.pi / 180.0)
        cos, sin, zero = torch.cos(a), torch.sin(a), torch.zeros_like(a)
        theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        rotated = F.grid_sample(x, grid, mode="bicubic", padding_mode="zeros", align_corners=False)
        inside = F.grid_sample(torch.ones_like(x[:, :1]), grid, mode="nearest", padding_mode="zeros", align_corners=False)
        fill = x.mean()
        return rotated * inside + fill * (1 - inside)

    def _noise(self, x: Tensor, d: dict[str, Tensor]) -> Tensor:
        return x + self.noise * d["noise"].to(x.dtype)

