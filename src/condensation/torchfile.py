"""Reading a PyTorch file safely: ``torch.load(weights_only=True)`` with the numpy scalars the
authors' accuracy lists hold allowed and nothing else, and one-line errors naming the file and the
formats ``condense`` accepts (shared by our ``synset.pt`` reader and every foreign format)."""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import SynsetFormatError

__all__ = ["ACCEPTED", "safe_torch_load", "refused", "first_line"]

ACCEPTED = (
    "accepted: a synset.pt from condense distill, the authors' res_METHOD_DATASET_MODEL_Nipc.pt, "
    "an image tensor .pt with its labels .pt beside it (images_best.pt + labels_best.pt), "
    "a folder with one sub-folder of PNGs per class, or an .npz from condense export"
)

# numpy scalars (the authors' accuracies are np.float64) are safe to rebuild: allow them, under
# numpy 2's module name and numpy 1's, with the dtype classes their pickles build.
_NUMPY_SCALARS: list[Any] = [
    np._core.multiarray.scalar,
    (np._core.multiarray.scalar, "numpy.core.multiarray.scalar"),
    np.dtype,
    *sorted({type(np.dtype(c)) for c in "?bBhHiIlLqQefdg"}, key=str),
]


def refused(path: Path, problem: str) -> SynsetFormatError:
    return SynsetFormatError(f"{path}: {problem}; {ACCEPTED}")


def first_line(e: BaseException) -> str:
    """The first sentence of an exception's message (library messages run to many lines)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).strip()
    line = (text.splitlines() or [type(e).__name__])[0]
    return line.split(". ")[0].rstrip(".")[:160]


def safe_torch_load(path: str | os.PathLike) -> Any:
    """``torch.load(path, weights_only=True)`` (numpy scalars allowed); any failure, a refused
    pickle included, is one ``SynsetFormatError`` line naming the file and the accepted formats."""
    path = Path(path)
    try:
        with torch.serialization.safe_globals(_NUMPY_SCALARS):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        text = str(e)
        found = re.search(r"GLOBAL (\S+)", text)
        if "Weights only load failed" in text and found:
            raise refused(path, f"holds a Python object ({found.group(1)}) that a safe load (weights_only=True) refuses") from None
        raise refused(path, "not a PyTorch file") from None
    except Exception as e:  # truncated or foreign zip, an empty file, ...
        with open(path, "rb") as f:
            head = f.read(4)
        if head.startswith(b"PK"):
            problem = f"a damaged or truncated zip/PyTorch file ({first_line(e)})"
        elif head.startswith(b"\x80"):
            problem = f"a damaged or truncated pickle ({type(e).__name__})"
        else:
            problem = "not a PyTorch file" if head else "empty"
        raise refused(path, problem) from None
