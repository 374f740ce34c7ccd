"""A folder with one sub-folder of images per class (8-bit PNGs when we write it).

Sub-folder ``k`` or ``k_name`` is class k, else a folder named like a class is that class, else
sorted order (torchvision's ImageFolder rule); the dataset's mean/std normalise the pixels."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from ..data.readers._images import decode_images, is_image_name
from ..errors import SynsetFormatError
from ..synset import SyntheticSet
from .common import foreign, pixels_u8, safe_name, spec_for

__all__ = ["class_folders", "read_imagefolder", "write_pngs", "is_imagefolder_export"]


def class_folders(folder: Path) -> list[tuple[str, list[Path]]]:
    """[(sub-folder name, sorted image files)] for each visible sub-folder holding images."""
    out = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        files = sorted(Path(entry.path) / f.name for f in os.scandir(entry.path) if f.is_file() and is_image_name(f.name))
        if files:
            out.append((entry.name, files))
    return out


def _folder_labels(folder: Path, names: list[str], classes: Sequence[str]) -> list[int]:
    """Label of each class folder: its leading number, else the class it is named after, else its
    position in sorted order when every class has a folder."""
    numbers = [re.match(r"\d+", n) for n in names]
    by_name = {safe_name(c).lower(): i for i, c in enumerate(classes)}
    if all(numbers):
        labels = [int(m.group()) for m in numbers]
    elif all(safe_name(n).lower() in by_name for n in names):
        labels = [by_name[safe_name(n).lower()] for n in names]
    elif len(names) == len(classes):
        labels = list(range(len(names)))
    else:
        raise SynsetFormatError(
            f"{folder}: {len(names)} class folders for {len(classes)} classes; name them 0..{len(classes) - 1} "
            "(optionally followed by _name) or after the classes"
        )
    if len(set(labels)) != len(labels) or max(labels) >= len(classes):
        raise SynsetFormatError(f"{folder}: class folders {', '.join(names[:5])} do not map to distinct classes 0..{len(classes) - 1}")
    return labels


def read_imagefolder(folder: Path, dataset: Any) -> SyntheticSet:
    """The set in ``folder``, in the order of the file names when they are all distinct numbers
    (our exports name each image by its index in the set), else class by class."""
    spec = spec_for(folder, dataset)
    groups = class_folders(folder)
    labels_of = _folder_labels(folder, [name for name, _ in groups], spec.classes)
    items = [(label, f) for label, (_, files) in zip(labels_of, groups) for f in files]
    stems = [f.stem for _, f in items]
    if all(s.isdigit() for s in stems) and len(set(map(int, stems))) == len(stems):
        items.sort(key=lambda t: int(t[1].stem))
    else:
        items.sort(key=lambda t: (t[0], t[1].name))
    files = [f for _, f in items]
    mode = "L" if spec.channels == 1 else "RGB"
    arr = decode_images(len(files), lambda i: Image.open(files[i]), lambda i: str(files[i]), spec.image_size, mode)
    pixels = torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()
    labels = torch.tensor([label for label, _ in items], dtype=torch.long)
    return foreign(folder, spec.normalize(pixels), labels, spec, {"source": "imagefolder", "file": folder.name})


def write_pngs(s: SyntheticSet, folder: Path) -> None:
    """``folder/<k>_<class>/<n>.png``: 8-bit pixels, ``n`` the image's index in the set."""
    pixels = pixels_u8(s).permute(0, 2, 3, 1).numpy()
    labels = s.labels.cpu().tolist()
    width = len(str(max(s.num_classes - 1, 0)))
    names = [f"{k:0{width}d}" + ("" if c == str(k) else f"_{safe_name(c)}") for k, c in enumerate(s.classes)]
    digits = len(str(max(len(s) - 1, 0)))
    for name in names:
        (folder / name).mkdir()
    for i, (label, tile) in enumerate(zip(labels, pixels)):
        Image.fromarray(tile[..., 0] if tile.shape[-1] == 1 else tile).save(folder / names[label] / f"{i:0{digits}d}.png")


def is_imagefolder_export(folder: Path) -> bool:
    """Whether ``folder`` holds nothing but sub-folders of images (safe to replace by a new export)."""
    return all(e.is_dir() and all(f.is_file() and is_image_name(f.name) for f in e.iterdir()) for e in folder.iterdir())
