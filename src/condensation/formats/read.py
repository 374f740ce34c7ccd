"""Which format a file or folder is, and reading the synthetic sets in it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import Tensor

from ..synset import SyntheticSet
from ..torchfile import refused, safe_torch_load
from .authors import read_authors
from .imagefolder import class_folders, read_imagefolder
from .npz import is_npz, read_npz
from .ours import from_fields
from .tensors import pick_images_file, read_tensors, tensor_files_in

__all__ = ["READ_FORMATS", "detect_format", "load_sets"]

READ_FORMATS = ("synset", "authors", "tensors", "imagefolder", "npz")


def detect_format(path: str | os.PathLike) -> str:
    """Which of ``READ_FORMATS`` ``path`` is, from its name and contents (a ``.pt`` is loaded)."""
    return _open(Path(path))[0]


def load_sets(
    path: str | os.PathLike,
    *,
    dataset: Any = None,
    experiment: int | None = None,
) -> list[SyntheticSet]:
    """Every synthetic set in ``path`` (one, except an authors' file with several experiments).

    ``dataset`` (a name or a ``DatasetSpec``) names the dataset of formats that do not say, and
    overrides the name of those that do (our files keep their own mean/std). ``experiment`` picks
    one set (0-based) of an authors' file; for other formats only 0 is valid. Each set's ``meta``
    says where it came from (``source``, ``file``; ``experiment`` for the authors' files). A file
    in none of the formats raises ``SynsetFormatError`` with one line naming the accepted ones.
    """
    path = Path(path)
    if experiment is not None and experiment < 0:
        raise ValueError(f"--experiment must be 0 or more, got {experiment}")
    kind, found = _open(path)
    if kind == "authors":
        return read_authors(path, found, dataset, experiment)
    if experiment not in (None, 0):
        raise ValueError(f"{path} holds one synthetic set; --experiment {experiment} is only for the authors' files of several")
    if kind == "synset":
        return [from_fields(path, found, dataset, "synset")]
    if kind == "npz":
        return [read_npz(path, dataset)]
    if kind == "imagefolder":
        return [read_imagefolder(path, dataset)]
    images_path, images = found
    return [read_tensors(images_path, dataset, images)]


def _open(path: Path) -> tuple[str, Any]:
    """(format, what the reader needs): the loaded object for .pt files, (images file, tensor or
    None) for tensors, None for folders and .npz."""
    if not path.exists():
        raise FileNotFoundError(f"no synthetic-set file at {path}")
    if path.is_dir():
        files = tensor_files_in(path)
        if files:
            return "tensors", (pick_images_file(path, files), None)
        if class_folders(path):
            return "imagefolder", None
        raise refused(path, "a folder with neither class sub-folders of images nor an images .pt file")
    if path.suffix.lower() == ".npz" or is_npz(path):
        return "npz", None
    obj = safe_torch_load(path)
    kind = _kind_of(path, obj)
    return kind, ((path, obj) if kind == "tensors" else obj)


def _kind_of(path: Path, obj: Any) -> str:
    if isinstance(obj, Mapping):
        if "data" in obj and ("accs_all_exps" in obj or isinstance(obj["data"], (list, tuple))):
            return "authors"
        if "images" in obj and "labels" in obj:
            return "synset"
        keys = ", ".join(sorted(map(str, obj))[:8])
        raise refused(path, f"a dict with keys {keys}, neither images/labels nor the authors' data/accs_all_exps")
    if isinstance(obj, Tensor):
        return "tensors"
    raise refused(path, f"holds a {type(obj).__name__}")
