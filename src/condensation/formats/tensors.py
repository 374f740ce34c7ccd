"""An image tensor file (N x C x H x W, normalised; uint8 is taken as pixels) with its labels file
beside it (``images_best.pt`` + ``labels_best.pt``, ``images.pt`` + ``labels.pt``), or a folder
holding such a pair; a learning-rate file (``lr_best.pt``) beside them is kept in ``meta``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..errors import SynsetFormatError
from ..synset import SyntheticSet, learned_lr
from ..torchfile import refused, safe_torch_load
from .common import foreign, spec_for

__all__ = ["tensor_files_in", "pick_images_file", "read_tensors", "write_tensors", "is_tensors_export"]

# The labels (and learning-rate) file beside an images file: images_best.pt -> labels_best.pt, lr_best.pt.
_BESIDE = {
    "labels": (("images", "labels"), ("image", "label"), ("imgs", "labels"), ("img", "label")),
    "lr": (("images", "lr"), ("image", "lr"), ("imgs", "lr"), ("img", "lr")),
}
_IMAGE_WORDS = ("images", "image", "imgs", "img")


def _beside(images_path: Path, kind: str) -> list[Path]:
    """Candidate ``kind`` files for ``images_path``, most specific first."""
    name = images_path.name
    out = [images_path.with_name(name.replace(a, b, 1)) for a, b in _BESIDE[kind] if a in name][:1]
    out.append(images_path.with_name(f"{kind}.pt"))
    return list(dict.fromkeys(p for p in out if p != images_path))


def tensor_files_in(folder: Path) -> list[Path]:
    """The ``.pt`` files in ``folder`` whose names start like an images file, sorted."""
    return sorted(p for p in folder.glob("*.pt") if p.is_file() and any(p.name.lower().startswith(w) for w in _IMAGE_WORDS))


def pick_images_file(folder: Path, files: list[Path]) -> Path:
    if len(files) == 1:
        return files[0]
    for name in ("images_best.pt", "images.pt"):
        if folder / name in files:
            return folder / name
    raise SynsetFormatError(f"{folder}: several image tensor files ({', '.join(p.name for p in files[:5])}); pass one of them")


def read_tensors(path: Path, dataset: Any, images: Tensor | None = None) -> SyntheticSet:
    """The set of images file ``path`` (``images``: its content, if already loaded) and its labels."""
    if images is None:
        images = safe_torch_load(path)
        if not isinstance(images, Tensor):
            raise refused(path, f"holds a {type(images).__name__}, not an image tensor")
    if images.ndim == 1:
        raise refused(path, "holds a vector (labels?); pass the images file, its labels file is found beside it")
    candidates = _beside(path, "labels")
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        raise SynsetFormatError(
            f"{path}: an image tensor needs its labels beside it; looked for {', '.join(p.name for p in candidates)}"
        )
    labels = safe_torch_load(found)
    if not isinstance(labels, Tensor):
        raise refused(found, f"holds a {type(labels).__name__}, not a labels tensor")
    meta: dict[str, Any] = {"source": "tensors", "file": path.name, "labels_file": found.name}
    lr_file = next((p for p in _beside(path, "lr") if p.is_file()), None)
    if lr_file is not None:  # trajectory matching's learned learning rate: evaluation trains with it
        lr = safe_torch_load(lr_file)
        if isinstance(lr, Tensor) and lr.numel() == 1:
            meta["syn_lr"] = float(lr)
    return foreign(path, images, labels, spec_for(path, dataset), meta)


def write_tensors(s: SyntheticSet, folder: Path) -> None:
    """``images.pt`` (float32 N x C x H x W, normalised) and ``labels.pt`` (int64 N) in ``folder``."""
    d = s.to_dict()
    torch.save(d["images"], folder / "images.pt")
    torch.save(d["labels"], folder / "labels.pt")


def write_mtt(s: SyntheticSet, folder: Path) -> None:
    """MTT's own files in ``folder``: ``images_best.pt``, ``labels_best.pt`` and, for a set that
    learned its learning rate, ``lr_best.pt`` (a 0-d float tensor)."""
    d = s.to_dict()
    torch.save(d["images"], folder / "images_best.pt")
    torch.save(d["labels"], folder / "labels_best.pt")
    lr = learned_lr(s.meta)
    if lr is not None:
        torch.save(torch.tensor(lr), folder / "lr_best.pt")


def is_tensors_export(folder: Path) -> bool:
    """Whether ``folder`` holds nothing but ``.pt`` files (safe to replace by a new export)."""
    return all(e.is_file() and e.suffix == ".pt" for e in folder.iterdir())
