"""Class-balanced random sampling of real images by index, with an explicit generator.

A ``ClassSampler`` sorts the split's indices by class once; drawing "n random images of class c"
is then one ``randperm`` and one gather, on the labels' device, with no Python loop over samples.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["ClassSampler"]


class ClassSampler:
    """Per-class index of a label vector.

    labels: int64 N (any device), values in [0, num_classes). ``order[offsets[c]:offsets[c]+counts[c]]``
    are the indices of class c in increasing order.
    """

    def __init__(self, labels: Tensor, num_classes: int):
        if labels.dim() != 1:
            raise ValueError(f"labels must be a vector, got shape {tuple(labels.shape)}")
        labels = labels.to(torch.int64)
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
            raise ValueError(f"labels must lie in [0, {num_classes}), got [{int(labels.min())}, {int(labels.max())}]")
        self.num_classes = int(num_classes)
        self.labels = labels
        self.order = torch.argsort(labels, stable=True)
        self.counts = torch.bincount(labels, minlength=num_classes)
        self.offsets = torch.cumsum(self.counts, 0) - self.counts
        # Host copies, so that sizes never need a device sync.
        self._counts = self.counts.tolist()
        self._offsets = self.offsets.tolist()

    @property
    def device(self) -> torch.device:
        return self.order.device

    def indices(self, c: int) -> Tensor:
        """All indices of class ``c``, in increasing order."""
        self._check_class(c)
        return self.order[self._offsets[c] : self._offsets[c] + self._counts[c]]

    def sample(self, c: int, n: int, generator: torch.Generator) -> Tensor:
        """``n`` distinct random indices of class ``c`` (LongTensor n, on the labels' device).

        If the class has fewer than ``n`` images, all of them are returned, shuffled. The draw is
        one ``randperm`` on ``generator``'s device.
        """
        self._check_class(c)
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        size = self._counts[c]
        perm = torch.randperm(size, generator=generator, device=generator.device)[: min(n, size)]
        return self.order[self._offsets[c] + perm.to(self.device)]

    def sample_balanced(self, n: int, generator: torch.Generator) -> Tensor:
        """``n`` distinct random indices of every class, class-major: LongTensor (num_classes * n).

        One random permutation of the whole split, stably sorted by class, gives a random order
        within each class; the first ``n`` of each class are taken. Raises ``ValueError`` if a
        class has fewer than ``n`` images.
        """
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        short = [c for c, k in enumerate(self._counts) if k < n]
        if short:
            shown = ", ".join(f"class {c} has {self._counts[c]}" for c in short[:5])
            raise ValueError(f"cannot draw {n} images per class: {shown}{' ...' if len(short) > 5 else ''}")
        total = self.labels.numel()
        perm = torch.randperm(total, generator=generator, device=generator.device).to(self.device)
        by_class = perm[torch.argsort(self.labels[perm], stable=True)]
        take = (self.offsets.unsqueeze(1) + torch.arange(n, device=self.device)).reshape(-1)
        return by_class[take]

    def _check_class(self, c: int) -> None:
        if not 0 <= int(c) < self.num_classes:
            raise IndexError(f"class {c} out of range [0, {self.num_classes})")
