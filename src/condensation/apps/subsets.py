"""Parts of a dataset: the images of some classes (relabelled), and per-class random draws of a split.

``class_subset(dataset, classes)`` is what one continual-learning step condenses: only those
classes' training (and test) images, with label ``j`` meaning global class ``classes[j]``, so any
method runs on it unchanged; ``to_global`` maps a set made from it back to the dataset's labels.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch
from torch import Tensor

from ..data import ClassSampler, Dataset, Split
from ..distill import make_synset
from ..synset import SyntheticSet

__all__ = ["class_subset", "to_global", "take", "split_off", "concat_sets"]


def _check_classes(classes: Sequence[int], num_classes: int) -> list[int]:
    out = [int(c) for c in classes]
    if not out or len(set(out)) != len(out) or min(out) < 0 or max(out) >= num_classes:
        raise ValueError(f"classes must be distinct values in 0..{num_classes - 1}, got {list(classes)}")
    return out


def _restrict(split: Split, lookup: Tensor) -> Split:
    """The rows of ``split`` whose class has a new label in ``lookup`` (-1: dropped), relabelled."""
    new = lookup.to(split.labels.device)[split.labels]
    idx = torch.nonzero(new >= 0).flatten()
    return Split(split.images[idx.to(split.images.device)].contiguous(), new[idx])


def class_subset(dataset: Dataset, classes: Sequence[int]) -> Dataset:
    """Only the images of ``classes`` (training and test), in their original order, relabelled
    ``0..k-1`` in the order of ``classes``; the spec keeps the normalisation and names those
    classes (its name says which global classes they are)."""
    spec = dataset.spec
    classes = _check_classes(classes, spec.num_classes)
    lookup = torch.full((spec.num_classes,), -1, dtype=torch.int64)
    lookup[torch.tensor(classes)] = torch.arange(len(classes))
    sub_spec = dataclasses.replace(
        spec, name=f"{spec.name}[{','.join(map(str, classes))}]", classes=tuple(spec.classes[c] for c in classes)
    )
    return Dataset(sub_spec, _restrict(dataset.train, lookup), _restrict(dataset.test, lookup), dataset.source)


def to_global(synset: SyntheticSet, classes: Sequence[int], dataset: Dataset, meta: dict | None = None) -> SyntheticSet:
    """A set made from ``class_subset(dataset, classes)`` with the dataset's labels and spec."""
    labels = torch.tensor([int(c) for c in classes], dtype=torch.int64)[synset.labels.cpu()]
    return make_synset(synset.images, labels, dataset.spec, synset.ipc, {**synset.meta, **(meta or {})}, synset.factor)


def concat_sets(sets: Sequence[SyntheticSet], meta: dict | None = None) -> SyntheticSet:
    """The union of sets of one dataset (rows in order; ``ipc`` is the first set's)."""
    first = sets[0]
    if len({s.factor for s in sets}) > 1:
        raise ValueError("cannot join sets of different multi-formation factors")
    return dataclasses.replace(
        first, images=torch.cat([s.images for s in sets]), labels=torch.cat([s.labels for s in sets]),
        meta=dict(meta or {}),
    )


def take(split: Split, per_class: int, num_classes: int, generator: torch.Generator) -> Tensor:
    """Indices of ``per_class`` random rows of every class of ``split``, class-major (ValueError
    naming the class if one holds fewer)."""
    return ClassSampler(split.labels.cpu(), num_classes).sample_balanced(per_class, generator)


def split_off(split: Split, idx: Tensor) -> tuple[Split, Split]:
    """(the rows not in ``idx``, the rows ``idx``) of ``split``, as two copies."""
    keep = torch.ones(len(split), dtype=torch.bool)
    keep[idx] = False
    rest = torch.nonzero(keep).flatten()

    def rows(i: Tensor) -> Split:
        return Split(split.images[i.to(split.images.device)].contiguous(), split.labels[i.to(split.labels.device)])

    return rows(rest), rows(idx)
