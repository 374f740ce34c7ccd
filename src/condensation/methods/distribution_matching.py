"""Distribution matching (DM, Zhao & Bilen, WACV 2023).

One iteration: a freshly initialised, never-trained network (its ``embed``: the penultimate
features). For every class, a batch of real images and the class's synthetic images go through
one shared (Siamese) DSA draw; the loss is the squared L2 distance between their mean embeddings,
summed over classes; one SGD step on the images. No bi-level loop, no network training. For the
augmentation ablation (``condense ablate augmentation --method dm``) ``dsa_sides`` sends the draw
elsewhere, as DSA's does: only the real or only the synthetic batch, both with independent
per-image draws, or neither (the evaluation keeps its augmentation).

Real embeddings are computed under ``no_grad``. All classes share one forward pass per side: for
networks without cross-sample coupling (instance norm, no BatchNorm) this is the same as one pass
per class, only faster, and the real side runs in cache-sized micro-batches; for BatchNorm
networks it is the authors' BatchNorm branch (batch statistics over all classes jointly,
separately for the real and the synthetic batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch import Tensor

from ..augment import DSA, SIDES
from ..models import build_model, has_batchnorm
from ..rng import make_generator
from ..settings import setting
from .base import Method, RealPool, Setup, SyntheticImages, batch_real_setting
from .registry import register_method

__all__ = ["DistributionMatching", "DistributionMatchingParams"]


@dataclass
class DistributionMatchingParams:
    """DM's hyper-parameters (the authors' ``main_DM.py``): real images per class per iteration, and
    where the DSA draw goes (Siamese, the authors'; the others for the augmentation ablation)."""

    batch_real: int | None = batch_real_setting()
    dsa_sides: str = setting("siamese", choices=SIDES, cli=False, help="where the DSA draw goes: siamese (one draw for both batches: DM), or the ablation's real, synthetic, independent, none")


# The DM paper's budget is 20,000 cheap iterations; quick and fast (ours) 300.
DM_PRESETS = {
    "paper": {"iterations": 20000, "batch_real": 256, "num_eval": 20, "eval_every": 2000},
    "quick": {"iterations": 300, "batch_real": 256, "num_eval": 3},
    "fast": {"iterations": 300, "batch_real": 256, "num_eval": 5},
}


@register_method("dm", params=DistributionMatchingParams, lr_img=1.0, protocol="dsa", init="real", augments=True,
                 presets=DM_PRESETS, summary="distribution matching (Zhao & Bilen, WACV 2023)")
class DistributionMatching(Method):
    """DM with ``batch_real`` real images per class, DSA ``augment`` (None: no augmentation),
    ``micro_batch`` real images per no-grad forward chunk (None: whole batch), and ``sides``, where
    the draw goes (``SIDES``; "siamese": one draw for the real and the synthetic batch, DM's)."""

    name = "dm"

    def __init__(
        self,
        real: RealPool,
        *,
        model: str,
        channels: int,
        image_size: tuple[int, int],
        seed: int,
        batch_real: int = 256,
        augment: DSA | None = None,
        micro_batch: int | None = None,
        sides: str = "siamese",
    ) -> None:
        if sides not in SIDES:
            raise ValueError(f"unknown DSA sides {sides!r}; allowed: {', '.join(SIDES)}")
        self.real = real
        self.model = model
        self.channels = channels
        self.image_size = tuple(image_size)
        self.seed = seed
        self.batch_real = batch_real
        self.augment = augment if augment is not None and augment.enabled else None
        self.micro_batch = micro_batch
        self.sides = sides

    @classmethod
    def from_setup(cls, setup: Setup, params: DistributionMatchingParams) -> "DistributionMatching":
        return cls(setup.pool, model=setup.model, channels=setup.channels, image_size=setup.image_size, seed=setup.seed,
                   batch_real=params.batch_real, augment=setup.augment,
                   micro_batch=setup.kernels.micro_batch or 2048,  # the real side in chunks even on a GPU
                   sides=getattr(params, "dsa_sides", "siamese"))

    def fresh_network(self, it: int) -> nn.Module:
        """The untrained embedding network of iteration ``it`` (train mode, frozen parameters)."""
        net = build_model(
            self.model, channels=self.channels, image_size=self.image_size, num_classes=self.real.num_classes,
            generator=make_generator(self.seed, "net", it),
        )
        if not hasattr(net, "embed"):
            raise ValueError(f"{self.model} has no embedding (embed); DM needs a network such as convnet")
        for p in net.parameters():
            p.requires_grad_(False)
        return net.to(self.real.device).train()

    def _batches(self, syn: SyntheticImages, classes: Sequence[int], it: int) -> tuple[Tensor, Tensor, list[int]]:
        """(augmented real images of ``classes``, augmented synthetic images, real count per class)."""
        reals, syns, counts = [], [], []
        for c in classes:
            real = self.real.class_batch(c, self.batch_real, make_generator(self.seed, "real", it, 0, c))
            images = syn.of_class(c)
            if self.augment is not None:
                g_syn = make_generator(self.seed, "dsa-syn", it, 0, c) if self.sides in ("synthetic", "independent") else None
                real, images = self.augment.sided(real, images, self.sides, make_generator(self.seed, "dsa", it, 0, c), g_syn)
            reals.append(real)
            syns.append(images)
            counts.append(real.shape[0])
        return torch.cat(reals), torch.cat(syns), counts

    @torch.no_grad()
    def _real_embedding(self, net: nn.Module, real: Tensor, coupled: bool) -> Tensor:
        if coupled or self.micro_batch is None or real.shape[0] <= self.micro_batch:
            return net.embed(real)
        return torch.cat([net.embed(x) for x in real.split(self.micro_batch)])

    def loss(self, net: nn.Module, syn: SyntheticImages, classes: Sequence[int], it: int) -> Tensor:
        """Sum over ``classes`` of ||mean real embedding - mean synthetic embedding||^2."""
        real, images, counts = self._batches(syn, classes, it)
        coupled = has_batchnorm(net)
        e_real = self._real_embedding(net, real, coupled)
        e_syn = net.embed(images)
        k = len(classes)
        mean_real = torch.stack([e.mean(0) for e in e_real.split(counts)]) if len(set(counts)) > 1 else e_real.view(k, counts[0], -1).mean(1)
        mean_syn = e_syn.view(k, -1, e_syn.shape[-1]).mean(1)  # ipc * factor**2 images per class
        return ((mean_real - mean_syn) ** 2).sum()

    def iteration(self, syn: SyntheticImages, it: int) -> Tensor:
        net = self.fresh_network(it)
        # BatchNorm couples the classes (joint batch statistics): every process then computes every
        # class, so a distributed run gives the same images (its owners' rows are kept).
        classes = range(self.real.num_classes) if has_batchnorm(net) else None
        total = syn.step_joint(lambda cs: self.loss(net, syn, cs, it), classes)
        if classes is not None and len(syn.classes) < self.real.num_classes:
            total = total * len(syn.classes) / self.real.num_classes  # each process reports its share
        return total / self.real.num_classes
