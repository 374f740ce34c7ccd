"""The ``.npz`` we write (no pickles): ``images`` float32 N x C x H x W normalised, ``labels``
int64 N, ``pixels`` uint8 N x H x W x C viewable, ``mean`` and ``std`` float64 C, ``classes`` str K,
``dataset`` str, ``ipc`` int, ``meta`` JSON str. ``images`` + ``labels`` suffice to read one if
the dataset is named."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..synset import SyntheticSet
from ..torchfile import first_line, refused
from .common import pixels_u8
from .ours import from_fields

__all__ = ["is_npz", "read_npz", "npz_fields"]


def is_npz(path: Path) -> bool:
    """A zip of ``.npy`` members (a torch file is a zip too, of ``data.pkl`` and storages)."""
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return bool(names) and all(n.endswith(".npy") for n in names)


def read_npz(path: Path, dataset: Any) -> SyntheticSet:
    try:
        with np.load(path, allow_pickle=False) as z:
            fields = {k: z[k] for k in z.files}
    except Exception as e:  # BadZipFile, object arrays (pickles), truncated members
        raise refused(path, f"not a readable .npz ({type(e).__name__}: {first_line(e)})") from None
    if "images" not in fields or "labels" not in fields:
        raise refused(path, f"an .npz with arrays {', '.join(sorted(fields)[:8])}, not images and labels")
    return from_fields(path, fields, dataset, "npz")


def npz_fields(s: SyntheticSet) -> dict[str, np.ndarray]:
    """The arrays ``np.savez`` writes for ``s``."""
    d = s.to_dict()
    return {
        "images": d["images"].numpy(),
        "labels": d["labels"].numpy(),
        "pixels": pixels_u8(s).permute(0, 2, 3, 1).numpy(),
        "mean": np.asarray(s.mean, dtype=np.float64),
        "std": np.asarray(s.std, dtype=np.float64),
        "classes": np.asarray(s.classes, dtype=str),
        "dataset": np.asarray(s.dataset),
        "ipc": np.asarray(s.ipc, dtype=np.int64),
        "meta": np.asarray(json.dumps(s.meta, default=str)),
    }
