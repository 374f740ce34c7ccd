"""Synthetic sets in the file formats the field uses: read any of them, write ours in each.

Read by ``load_sets(path, dataset=..., experiment=...)`` (every ``torch.load`` is
``weights_only=True``; the numpy scalars the authors' accuracy lists hold are allowed, nothing else):

``synset``       our ``synset.pt`` (see ``condensation.synset``): self-describing.
``authors``      the authors' ``res_<METHOD>_<DATASET>_<MODEL>_<ipc>ipc.pt`` (``authors``); the dataset
                 comes from the file name unless ``dataset`` is given.
``tensors``      an image tensor file with its labels file beside it, or a folder holding such a
                 pair (``tensors``); ``dataset`` required.
``imagefolder``  a folder with one sub-folder of images per class (``imagefolder``); ``dataset``
                 required (its mean/std normalise the pixels).
``npz``          the layout ``export_set(..., "npz")`` writes (``npz``); ``images`` + ``labels``
                 suffice if ``dataset`` is given.

Foreign formats carry no constants: mean/std/classes come from ``data.get_spec(dataset)``.
Written by ``export_set(synset, to, out)`` in each of ``EXPORT_FORMATS`` (``export``).
"""

from __future__ import annotations

from ..torchfile import ACCEPTED, safe_torch_load
from .accuracies import pool_experiments, reported_accuracies, run_accuracies
from .authors import authors_file_name, parse_authors_name
from .export import EXPORT_FORMATS, export_set
from .read import READ_FORMATS, detect_format, load_sets

__all__ = [
    "READ_FORMATS",
    "EXPORT_FORMATS",
    "ACCEPTED",
    "safe_torch_load",
    "detect_format",
    "load_sets",
    "export_set",
    "parse_authors_name",
    "authors_file_name",
    "pool_experiments",
    "reported_accuracies",
    "run_accuracies",
]
