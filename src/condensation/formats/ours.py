"""Our own layouts read back: the fields of a ``synset.pt`` (see ``condensation.synset``) or of an
``.npz`` from ``export_set``, self-describing when they hold dataset, mean, std and classes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SynsetFormatError
from ..synset import SyntheticSet
from ..torchfile import first_line, refused
from .common import as_images, as_labels, foreign, ipc_of, spec_for

__all__ = ["SELF_DESCRIBING", "from_fields"]

SELF_DESCRIBING = ("dataset", "mean", "std", "classes")


def from_fields(path: Path, d: Mapping[str, Any], dataset: Any, source: str) -> SyntheticSet:
    """A set from ``images``/``labels`` and, if present, the fields that describe them (``meta`` may
    be JSON text, as in an npz). ``dataset`` renames a self-describing set (its mean/std are kept)
    and names the dataset of one that is not."""
    if not all(k in d for k in SELF_DESCRIBING):
        meta = {"source": source, "file": path.name}
        return foreign(path, d["images"], d["labels"], spec_for(path, dataset), meta, _opt_int(d.get("ipc")))
    try:
        mean = tuple(float(v) for v in np.asarray(d["mean"]).reshape(-1))
        std = tuple(float(v) for v in np.asarray(d["std"]).reshape(-1))
        classes = tuple(str(c) for c in np.asarray(d["classes"]).reshape(-1).tolist())
        meta = d.get("meta", {})
        if isinstance(meta, (str, np.ndarray)):  # npz: JSON text
            meta = json.loads(str(np.asarray(meta)))
        meta, name, ipc = dict(meta), str(np.asarray(d["dataset"])), _opt_int(d.get("ipc"))
        factor = _opt_int(d.get("factor", 1))  # a multi-formation set's stored images; SyntheticSet checks it
    except (TypeError, ValueError) as e:
        raise refused(path, f"malformed mean/std/classes/dataset/ipc/meta/factor ({first_line(e)})") from None
    x = as_images(path, d["images"], mean, std)
    y = as_labels(path, d["labels"])
    try:
        synset = SyntheticSet(x, y, mean, std, name, classes, ipc or ipc_of(y), meta, factor)
    except SynsetFormatError as e:
        raise SynsetFormatError(f"{path}: {e}") from None
    if dataset is not None:
        synset = replace(synset, dataset=spec_for(path, dataset).name)
    return synset


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(np.asarray(value))
