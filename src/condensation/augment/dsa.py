"""Differentiable Siamese Augmentation (DSA, Zhao & Bilen 2021).

Augmentation is split in two steps, as in ``kornia.augmentation``:

1. ``params = dsa.sample(batch, image_size, generator)`` draws the random parameters;
2. ``dsa.apply(x, params)`` applies them, differentiably with respect to ``x``.

*Siamese* augmentation is simply applying one draw to two batches. A draw made with ``batch=1``
broadcasts to a batch of any size, so ``dsa.siamese(real, syn, generator)`` transforms a batch of
256 real images and a batch of 1 synthetic image with exactly the same operation. A draw with
``batch=N`` gives every image of an N-image batch its own parameters (the non-Siamese use when a
network is trained on the synthetic set).

All ops work on normalised images (N x C x H x W), so "zero fill" means the dataset mean colour.
Parameters are always drawn on the CPU from the caller's ``torch.Generator`` (a handful of numbers),
which makes a seed give the same augmentation on every device, then moved to the images' device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from ..devices import to_device
from ._gather import gather_2d

__all__ = [
    "DSA",
    "DSAHyperParams",
    "AugmentParams",
    "OPS",
    "DEFAULT_STRATEGY",
    "DIGIT_STRATEGY",
    "SIDES",
    "default_strategy",
    "parse_strategy",
]

OPS: tuple[str, ...] = ("color", "crop", "cutout", "flip", "scale", "rotate")
DEFAULT_STRATEGY = "color_crop_cutout_flip_scale_rotate"
DIGIT_STRATEGY = "color_crop_cutout_scale_rotate"  # the paper drops flip for MNIST and SVHN
# Where a method's draw goes while matching a real and a synthetic batch (``DSA.sided``): one draw
# shared by both (Siamese: DSA, DM), or, for the DSA paper's ablation, only the real or only the
# synthetic batch, both with independent per-image draws, or neither.
SIDES: tuple[str, ...] = ("siamese", "real", "synthetic", "independent", "none")

Mode = Literal["single", "all"]


@dataclass(frozen=True)
class DSAHyperParams:
    """Ranges of the random transformations (the paper's values)."""

    prob_flip: float = 0.5  # probability of a horizontal flip
    ratio_scale: float = 1.2  # scale factors ~ U(1/1.2, 1.2), independently for x and y
    ratio_rotate: float = 15.0  # angle ~ U(-15, 15) degrees
    ratio_crop_pad: float = 0.125  # max translation = round(0.125 * side) pixels
    ratio_cutout: float = 0.5  # cutout square side = round(0.5 * side) pixels
    brightness: float = 1.0  # additive shift ~ U(-0.5, 0.5) * 1.0
    saturation: float = 2.0  # factor ~ U(0, 2)
    contrast: float = 0.5  # factor ~ U(0.5, 1.5)
    align_corners: bool = True  # geometry of affine_grid/grid_sample (True = the authors' torch 1.2)


def parse_strategy(strategy: str | None) -> tuple[str, ...]:
    """``"color_crop_flip"`` -> ``("color", "crop", "flip")``; ``""``/``"none"``/None -> ``()``.

    Raises ``ValueError`` naming the allowed ops for an unknown token.
    """
    if strategy is None or strategy.strip().lower() in ("", "none"):
        return ()
    tokens = tuple(t for t in strategy.strip().lower().split("_") if t)
    unknown = [t for t in tokens if t not in OPS]
    if unknown:
        raise ValueError(
            f"unknown DSA op {unknown[0]!r} in strategy {strategy!r}; "
            f"allowed ops: {', '.join(OPS)} joined by '_' (e.g. {DEFAULT_STRATEGY}), or 'none'"
        )
    return tokens


def default_strategy(flip_ok: bool = True) -> str:
    """The paper's strategy for a dataset: without ``flip`` for digits (MNIST, SVHN)."""
    return DEFAULT_STRATEGY if flip_ok else DIGIT_STRATEGY


@dataclass
class AugmentParams:
    """One draw of augmentation parameters.

    ``ops`` lists the ops to apply in order; ``values[op]`` holds that op's tensors, each with a
    leading dimension ``batch`` (1 = shared by every image, i.e. Siamese) on the CPU.
    """

    batch: int
    image_size: tuple[int, int]
    ops: tuple[str, ...]
    values: dict[str, dict[str, Tensor]] = field(default_factory=dict)

    def to(self, device: torch.device) -> "AugmentParams":
        """The same draw with every tensor on ``device`` (pinned, non-blocking copies on CUDA)."""
        if device.type == "cpu":
            return self
        values = {op: {k: to_device(v, device) for k, v in d.items()} for op, d in self.values.items()}
        return AugmentParams(self.batch, self.image_size, self.ops, values)


class DSA:
    """Differentiable Siamese Augmentation with a strategy such as ``color_crop_cutout_flip_scale_rotate``.

    ``mode="single"`` (the paper's default) applies one op per call, chosen uniformly from the
    strategy; ``mode="all"`` applies every op of the strategy in order.
    """

    def __init__(
        self,
        strategy: str | None = DEFAULT_STRATEGY,
        mode: Mode = "single",
        hyper: DSAHyperParams | None = None,
    ) -> None:
        if mode not in ("single", "all"):
            raise ValueError(f"unknown DSA mode {mode!r}; allowed: single, all")
        self.ops = parse_strategy(strategy)
        self.strategy = "_".join(self.ops) if self.ops else "none"
        self.mode: Mode = mode
        self.hyper = hyper or DSAHyperParams()

    def __repr__(self) -> str:
        return f"DSA(strategy={self.strategy!r}, mode={self.mode!r})"

    @property
    def enabled(self) -> bool:
        return bool(self.ops)

    # ------------------------------------------------------------------ sampling
    def sample(self, batch: int, image_size: tuple[int, int], generator: torch.Generator) -> AugmentParams:
        """Draw parameters for ``batch`` images of ``image_size`` = (H, W) from a CPU ``generator``.

        ``batch=1`` gives one set of parameters that ``apply`` broadcasts to any batch (Siamese).
        """
        if self.mode == "single" and self.ops:
            pick = int(torch.randint(len(self.ops), (1,), generator=generator))
            ops: tuple[str, ...] = (self.ops[pick],)
        else:
            ops = self.ops
        params = AugmentParams(batch, tuple(image_size), ops)
        for op in ops:
            params.values[op] = _SAMPLERS[op](batch, params.image_size, self.hyper, generator)
        return params

    # ------------------------------------------------------------------ applying
    def apply(self, x: Tensor, params: AugmentParams) -> Tensor:
        """Apply ``params`` to ``x`` (N x C x H x W); differentiable with respect to ``x``."""
        if params.batch not in (1, x.shape[0]):
            raise ValueError(f"augmentation drawn for batch {params.batch} applied to a batch of {x.shape[0]}")
        if tuple(x.shape[-2:]) != params.image_size:
            raise ValueError(f"augmentation drawn for size {params.image_size} applied to {tuple(x.shape[-2:])}")
        params = params.to(x.device)
        for op in params.ops:
            x = _APPLIERS[op](x, params.values[op], self.hyper)
        return x

    def __call__(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """Augment ``x`` with independent parameters per image (non-Siamese)."""
        if not self.ops:
            return x
        return self.apply(x, self.sample(x.shape[0], tuple(x.shape[-2:]), generator))

    def siamese(self, *batches: Tensor, generator: torch.Generator) -> tuple[Tensor, ...]:
        """Apply one shared draw to every batch (they may differ in size, not in image size)."""
        if not self.ops:
            return batches
        params = self.sample(1, tuple(batches[0].shape[-2:]), generator)
        return tuple(self.apply(b, params) for b in batches)

    def sided(self, real: Tensor, syn: Tensor, sides: str, generator: torch.Generator,
              syn_generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """``(real, syn)`` augmented as ``sides`` (one of ``SIDES``) says: "siamese" one shared draw
        from ``generator``; "real" / "synthetic" only that batch, per-image draws (the synthetic
        batch's from ``syn_generator``); "independent" both, each with its own per-image draws;
        "none" neither."""
        if sides == "siamese":
            return self.siamese(real, syn, generator=generator)
        if sides not in SIDES:
            raise ValueError(f"unknown DSA sides {sides!r}; allowed: {', '.join(SIDES)}")
        if sides in ("real", "independent"):
            real = self(real, generator)
        if sides in ("synthetic", "independent"):
            if syn_generator is None:
                raise ValueError(f"DSA sides {sides!r} needs a generator for the synthetic batch")
            syn = self(syn, syn_generator)
        return real, syn


# ---------------------------------------------------------------------- samplers
def _uniform(batch: int, generator: torch.Generator) -> Tensor:
    return torch.rand(batch, generator=generator)


def _sample_color(batch, size, hp, g):
    return {"brightness": _uniform(batch, g), "saturation": _uniform(batch, g), "contrast": _uniform(batch, g)}


def _max_shift(side: int, ratio: float) -> int:
    return int(side * ratio + 0.5)


def _sample_crop(batch, size, hp, g):
    sh, sw = _max_shift(size[0], hp.ratio_crop_pad), _max_shift(size[1], hp.ratio_crop_pad)
    return {
        "shift_h": torch.randint(-sh, sh + 1, (batch,), generator=g),
        "shift_w": torch.randint(-sw, sw + 1, (batch,), generator=g),
    }


def _cutout_side(side: int, ratio: float) -> int:
    return int(side * ratio + 0.5)


def _sample_cutout(batch, size, hp, g):
    ch, cw = _cutout_side(size[0], hp.ratio_cutout), _cutout_side(size[1], hp.ratio_cutout)
    # centre offsets in {0, ..., side} for an even cutout size, {0, ..., side - 1} for odd (as the authors)
    return {
        "centre_h": torch.randint(0, size[0] + (1 - ch % 2), (batch,), generator=g),
        "centre_w": torch.randint(0, size[1] + (1 - cw % 2), (batch,), generator=g),
    }


def _sample_flip(batch, size, hp, g):
    return {"flip": _uniform(batch, g) < hp.prob_flip}


def _sample_scale(batch, size, hp, g):
    lo, hi = 1.0 / hp.ratio_scale, hp.ratio_scale
    return {"sx": _uniform(batch, g) * (hi - lo) + lo, "sy": _uniform(batch, g) * (hi - lo) + lo}


def _sample_rotate(batch, size, hp, g):
    return {"angle": (_uniform(batch, g) - 0.5) * 2.0 * hp.ratio_rotate / 180.0 * math.pi}


# ---------------------------------------------------------------------- appliers
def _per_image(v: Tensor, x: Tensor) -> Tensor:
    """A (B,) parameter as a (B, 1, 1, 1) tensor in ``x``'s dtype, broadcastable against ``x``."""
    return v.to(x.dtype).view(-1, 1, 1, 1)


def _apply_color(x: Tensor, p: dict[str, Tensor], hp: DSAHyperParams) -> Tensor:
    x = x + (_per_image(p["brightness"], x) - 0.5) * hp.brightness
    mean_c = x.mean(dim=1, keepdim=True)
    x = (x - mean_c) * (_per_image(p["saturation"], x) * hp.saturation) + mean_c
    mean_all = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean_all) * (_per_image(p["contrast"], x) + hp.contrast) + mean_all


def _apply_crop(x: Tensor, p: dict[str, Tensor], hp: DSAHyperParams) -> Tensor:
    """Translate: output[i, j] = x[i + shift_h, j + shift_w], zero outside the image."""
    h, w = x.shape[-2:]
    rows = torch.arange(h, device=x.device).view(1, -1) + p["shift_h"].view(-1, 1)
    cols = torch.arange(w, device=x.device).view(1, -1) + p["shift_w"].view(-1, 1)
    return gather_2d(x, rows, cols, 0.0)


def _apply_cutout(x: Tensor, p: dict[str, Tensor], hp: DSAHyperParams) -> Tensor:
    """Zero a square of side round(ratio * side) centred at the sampled offsets, clipped at borders."""
    n, c, h, w = x.shape
    ch, cw = _cutout_side(h, hp.ratio_cutout), _cutout_side(w, hp.ratio_cutout)
    top = p["centre_h"].view(-1, 1) - ch // 2
    left = p["centre_w"].view(-1, 1) - cw // 2
    r = torch.arange(h, device=x.device).view(1, -1)
    q = torch.arange(w, device=x.device).view(1, -1)
    in_rows = (r >= top) & (r < top + ch)  # (B, H)
    in_cols = (q >= left) & (q < left + cw)  # (B, W)
    keep = ~(in_rows.unsqueeze(2) & in_cols.unsqueeze(1))  # (B, H, W)
    return x * keep.unsqueeze(1).to(x.dtype)


def _apply_flip(x: Tensor, p: dict[str, Tensor], hp: DSAHyperParams) -> Tensor:
    return torch.where(p["flip"].view(-1, 1, 1, 1), x.flip(3), x)


def _warp(x: Tensor, theta: Tensor, align_corners: bool) -> Tensor:
    """Bilinear resampling of ``x`` by per-image (B x 2 x 3) affine maps, zero padding."""
    n = x.shape[0]
    grid = F.affine_grid(theta.to(x.dtype), [theta.shape[0], *x.shape[1:]], align_corners=align_corners)
    if grid.shape[0] != n:  # one shared (Siamese) map: build its grid once, view it for every image
        grid = grid.expand(n, *grid.shape[1:])
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=align_corners)


def _apply_scale(x: Tensor, p: dict[str, Tensor], hp: DSAHyperParams) -> Tensor:
    sx, sy = p["sx"], p["sy"]
    zero = torch.zeros_like(sx)
    theta = torch.stack([torch.stack([sx, zero, zero], 1), torch.stack([zero, sy, zero], 1)], 1)
    return _warp(x, theta, hp.align_corners)


def _apply_rotate(x: Tensor, p: dict[str, Tensor], hp: DSAHyperParams) -> Tensor:
    a = p["angle"]
    cos, sin, zero = torch.cos(a), torch.sin(a), torch.zeros_like(a)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    return _warp(x, theta, hp.align_corners)


_SAMPLERS = {
    "color": _sample_color,
    "crop": _sample_crop,
    "cutout": _sample_cutout,
    "flip": _sample_flip,
    "scale": _sample_scale,
    "rotate": _sample_rotate,
}
_APPLIERS = {
    "color": _apply_color,
    "crop": _apply_crop,
    "cutout": _apply_cutout,
    "flip": _apply_flip,
    "scale": _apply_scale,
    "rotate": _apply_rotate,
}
