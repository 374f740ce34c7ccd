"""Checks shared by the readers: images and labels turned into tensors with one-line errors, the
dataset a foreign format belongs to, and a set built from them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..data import DatasetSpec, get_spec
from ..errors import SynsetFormatError
from ..synset import SyntheticSet
from ..torchfile import first_line, refused

__all__ = ["spec_for", "as_tensor", "as_labels", "as_images", "ipc_of", "foreign", "safe_name", "pixels_u8"]


def spec_for(path: Path, dataset: Any, inferred: str | None = None, hint: str = "") -> DatasetSpec:
    """The spec of ``dataset`` (a name or spec), else of ``inferred``; an error asking for
    ``--dataset`` (``hint`` says why the file does not name it) if neither is given."""
    name = dataset if dataset is not None else inferred
    if name is None:
        raise SynsetFormatError(
            f"{path}: no dataset is named in this format{hint}; pass --dataset NAME "
            "(its mean/std and classes are used)"
        )
    return get_spec(name)


def as_tensor(path: Path, value: Any, what: str) -> Tensor:
    try:
        return torch.as_tensor(value).detach().cpu()
    except (TypeError, ValueError, RuntimeError) as e:
        raise refused(path, f"{what} are not numbers ({first_line(e)})") from None


def as_labels(path: Path, labels: Any) -> Tensor:
    """N integer class indices (int64); an N x 1 or 1 x N array is flattened."""
    t = as_tensor(path, labels, "labels")
    if t.ndim == 2 and 1 in t.shape:
        t = t.reshape(-1)
    if t.ndim != 1:
        raise refused(path, f"labels must be N class indices, got shape {tuple(t.shape)} (soft labels are not supported)")
    if t.is_floating_point():
        if not torch.equal(t, t.round()):
            raise refused(path, "labels must be integer class indices, got fractional values")
    elif t.dtype == torch.bool or t.is_complex():
        raise refused(path, f"labels must be integer class indices, got {t.dtype}")
    return t.long()


def as_images(path: Path, images: Any, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    """N x C x H x W float32: float images as they are; uint8 images are pixels, normalised with
    ``mean``/``std``; N x H x W is taken as grayscale when there is one channel."""
    t = as_tensor(path, images, "images")
    if t.ndim == 3 and len(mean) == 1:
        t = t.unsqueeze(1)
    if t.ndim != 4:
        raise refused(path, f"images must be N x C x H x W, got shape {tuple(t.shape)}")
    if t.dtype == torch.uint8:
        m = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        s = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
        return (t.float() / 255.0 - m) / s
    if not t.is_floating_point():
        raise refused(path, f"images must be float (normalised) or uint8 (pixels), got {t.dtype}")
    return t.float().contiguous()


def ipc_of(labels: Tensor) -> int:
    """Images per class: the count of the most frequent label."""
    return int(torch.unique(labels, return_counts=True)[1].max()) if labels.numel() else 0


def foreign(path: Path, images: Any, labels: Any, spec: DatasetSpec, meta: dict, ipc: int | None = None) -> SyntheticSet:
    """A set from images/labels of ``spec``'s dataset, checked against its shape and classes."""
    x = as_images(path, images, spec.mean, spec.std)
    y = as_labels(path, labels)
    if tuple(x.shape[1:]) != tuple(spec.shape):
        c, h, w = spec.shape
        raise SynsetFormatError(
            f"{path}: images are {'x'.join(map(str, x.shape[1:]))} but {spec.name} images are {c}x{h}x{w}; "
            "pass --dataset with the dataset the set was made from"
        )
    if x.shape[0] != y.shape[0]:
        raise refused(path, f"{x.shape[0]} images but {y.shape[0]} labels")
    if y.numel() and not 0 <= int(y.min()) <= int(y.max()) < spec.num_classes:
        raise SynsetFormatError(f"{path}: labels outside 0..{spec.num_classes - 1} ({spec.name} has {spec.num_classes} classes)")
    return SyntheticSet(x, y, spec.mean, spec.std, spec.name, spec.classes, ipc or ipc_of(y), meta)


def safe_name(name: str) -> str:
    """``name`` with anything but letters, digits, ``.``, ``_`` and ``-`` replaced: a file name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "class"


def pixels_u8(s: SyntheticSet) -> Tensor:
    """N x C x H x W uint8: ``images * std + mean`` clipped to [0, 1], rounded to 8 bits."""
    return (s.pixels() * 255.0 + 0.5).floor_().clamp_(0, 255).to(torch.uint8)
