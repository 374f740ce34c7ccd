"""The synthetic set: the product of every method, and its portable file format.

File contract (``torch.save`` of a plain dict, loadable with ``torch.load(path, weights_only=True)``):
``images`` float32 N x C x H x W in the normalised space, ``labels`` int64 N, ``mean`` and ``std``
(lists of C floats), ``dataset`` (str), ``classes`` (list of str), ``ipc`` (int) and ``meta`` (dict
of plain values: method, hyper-parameters, seed, iteration, version), and optionally ``factor``
(int, default 1: multi-formation, each stored image decodes to ``factor**2`` training images, see
``formation``). Viewable pixels are ``images * std + mean`` clipped to [0, 1].
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .atomic import atomic_save
from .errors import SynsetFormatError
from .formation import check_factor, decode, decode_labels
from .torchfile import safe_torch_load  # one-line errors for refused pickles, damaged zips, ...

__all__ = ["SyntheticSet", "SynsetFormatError", "learned_lr"]


def learned_lr(meta: dict[str, Any]) -> float | None:
    """The learning rate a set learned with it (trajectory matching's ``lr``; ``syn_lr`` as read
    from MTT's ``lr_best.pt``), or None."""
    value = meta.get("lr", meta.get("syn_lr"))
    return float(value) if isinstance(value, (int, float)) else None

_REQUIRED = ("images", "labels", "mean", "std", "dataset", "classes", "ipc", "meta")


@dataclass
class SyntheticSet:
    """A labelled set of images in the normalised space of ``dataset``.

    images: N x C x H x W float32 (normalised); labels: N int64, class-major (class c occupies
    rows c*ipc ... (c+1)*ipc - 1 when every class has ``ipc`` images). ``factor`` > 1: the images
    are stored images of a multi-formation set; networks train on ``decoded()``.
    """

    images: Tensor
    labels: Tensor
    mean: tuple[float, ...]
    std: tuple[float, ...]
    dataset: str
    classes: tuple[str, ...]
    ipc: int
    meta: dict[str, Any] = field(default_factory=dict)
    factor: int = 1

    def __post_init__(self) -> None:
        if self.images.ndim != 4:
            raise SynsetFormatError(f"images must be N x C x H x W, got shape {tuple(self.images.shape)}")
        if self.labels.shape != (self.images.shape[0],):
            raise SynsetFormatError(f"{self.images.shape[0]} images but labels of shape {tuple(self.labels.shape)}")
        if len(self.mean) != self.images.shape[1] or len(self.std) != self.images.shape[1]:
            raise SynsetFormatError(f"mean/std need {self.images.shape[1]} values (one per channel)")
        self.mean = tuple(float(m) for m in self.mean)
        self.std = tuple(float(s) for s in self.std)
        self.classes = tuple(str(c) for c in self.classes)
        try:
            check_factor(self.factor, tuple(self.images.shape[-2:]))
        except ValueError as e:
            raise SynsetFormatError(str(e)) from None

    # ------------------------------------------------------------------ views
    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        return self.images.shape[0]

    def pixels(self) -> Tensor:
        """Images de-normalised to [0, 1] (N x C x H x W, float32, CPU)."""
        x = self.images.detach().float().cpu()
        mean = torch.tensor(self.mean).view(1, -1, 1, 1)
        std = torch.tensor(self.std).view(1, -1, 1, 1)
        return (x * std + mean).clamp_(0.0, 1.0)

    def decoded(self) -> "SyntheticSet":
        """The set networks train on: for ``factor`` > 1 every stored image's ``factor**2`` decoded
        images (``ipc`` x ``factor**2`` per class, factor 1); for factor 1 the set itself."""
        if self.factor == 1:
            return self
        k = self.factor * self.factor
        return replace(self, images=decode(self.images.detach(), self.factor),
                       labels=decode_labels(self.labels, self.factor), ipc=self.ipc * k, factor=1)

    def to(self, device: torch.device | str) -> "SyntheticSet":
        return replace(self, images=self.images.to(device), labels=self.labels.to(device))

    # ------------------------------------------------------------------ file format
    def to_dict(self) -> dict[str, Any]:
        return {
            "images": self.images.detach().float().cpu().contiguous(),
            "labels": self.labels.detach().long().cpu().contiguous(),
            "mean": list(self.mean),
            "std": list(self.std),
            "dataset": self.dataset,
            "classes": list(self.classes),
            "ipc": int(self.ipc),
            "meta": dict(self.meta),
            "factor": int(self.factor),
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write the file atomically; returns the path."""
        atomic_save(self.to_dict(), path)
        return Path(path)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SyntheticSet":
        missing = [k for k in _REQUIRED if k not in d]
        if missing:
            raise SynsetFormatError(f"not a synthetic-set file: missing key(s) {', '.join(missing)}")
        try:
            factor = int(d.get("factor", 1))  # files written before multi-formation: 1
        except (TypeError, ValueError):
            raise SynsetFormatError(f"factor must be an integer, got {d['factor']!r}") from None
        return cls(
            images=torch.as_tensor(d["images"]).float(),
            labels=torch.as_tensor(d["labels"]).long(),
            mean=tuple(d["mean"]),
            std=tuple(d["std"]),
            dataset=str(d["dataset"]),
            classes=tuple(d["classes"]),
            ipc=int(d["ipc"]),
            meta=dict(d["meta"]),
            factor=factor,
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> "SyntheticSet":
        """Read a synthetic-set file; a missing or malformed file raises a one-line error naming it."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no synthetic-set file at {path}")
        d = safe_torch_load(path)
        if not isinstance(d, dict):
            raise SynsetFormatError(f"{path}: not a synthetic-set file (holds a {type(d).__name__}, not a dict)")
        try:
            return cls.from_dict(d)
        except SynsetFormatError as e:
            raise SynsetFormatError(f"{path}: {e}") from None
