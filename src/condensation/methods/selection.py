"""Coreset baselines: real training images chosen per class by random, herding, k-center or forgetting.

``select_coreset(method, dataset, ipc, seed)`` selects; ``condense coreset`` runs it through ``distill``
(one run folder for every method). It returns the
same ``SyntheticSet`` a condensation produces (normalised images, class-major labels,
``meta["method"]`` naming the rule), so every command that takes a synthetic set takes a coreset.

* ``random``: ``ipc`` random images per class - exactly the random-real baseline of
  ``condense distill`` with the same seed (stream ``(seed, "init")``).
* ``herding`` / ``kcenter``: the rules of ``methods.coreset`` on the penultimate embeddings
  (``net.embed``) of a feature network trained on the whole training set.
* ``forgetting``: the examples forgotten most often while that network trained (ties broken by
  the stream ``(seed, "coreset-forgetting")``).

The feature network (``feature_network``): ``model`` (default ConvNet) initialised from
``(seed, "coreset-net", model)``, trained for ``epochs`` epochs with the evaluation protocol's SGD
(lr 0.01, momentum 0.9, weight decay 5e-4, batch 256, learning rate x0.1 and momentum reset at
half), shuffled from ``(seed, "coreset-train", model)``. After every epoch one inference pass over
the training set records which images it classifies correctly (Toneva et al. record at every
mini-batch presentation instead; one forward-only pass per epoch costs less than the epoch's
training and judges every image with the same weights). Weights and that record are cached in one file keyed by dataset,
model, epochs, seed and a fingerprint of the training data, so herding, k-center and forgetting at
every ipc share one training run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch

from ..data import ClassSampler, DataError, Dataset
from ..devices import device_from_flag
from ..errors import ConfigError
from ..models import canonical_name
from ..rng import make_generator
from ..settings import POSITIVE_INT, setting
from ..synset import SyntheticSet
from .base import RealPool
from .coreset import CORESET_METHODS, forgetting_counts, herding, kcenter, most_forgotten
from .features import DEFAULT_FEATURE_EPOCHS, embeddings, feature_network
from .registry import register_method
from .start import make_synset, random_real_set

__all__ = ["CORESET_METHODS", "select_coreset", "check_ipc", "CoresetParams", "RandomParams"]

Log = Callable[[str], None]


def check_ipc(dataset: Dataset, ipc: int) -> None:
    """``ValueError`` unless every class of the training split holds at least ``ipc`` images."""
    spec = dataset.spec
    if ipc < 1:
        raise ValueError(f"--ipc must be at least 1, got {ipc}")
    counts = torch.bincount(dataset.train.labels.cpu(), minlength=spec.num_classes).tolist()
    empty = [c for c, k in enumerate(counts) if k == 0]
    if empty:
        raise DataError(
            f"class(es) {', '.join(map(str, empty[:10]))} of {spec.name} have no training images; every class needs at least one"
        )
    smallest = min(counts)
    if ipc > smallest:
        raise ValueError(
            f"--ipc {ipc} is more than the smallest class of {spec.name} holds ({smallest} images); use --ipc {smallest} or less"
        )


def select_coreset(
    method: str,
    dataset: Dataset,
    ipc: int,
    seed: int = 0,
    *,
    device: torch.device | str = "auto",
    model: str = "convnet",
    feature_epochs: int = DEFAULT_FEATURE_EPOCHS,
    cache_dir: str | Path | None = None,
    cache: bool = True,
    log: Log | None = None,
) -> SyntheticSet:
    """``ipc`` real training images per class chosen by ``method`` (random, herding, kcenter,
    forgetting), normalised, class-major, as a ``SyntheticSet`` with ``meta`` = method, seed,
    feature_model, feature_epochs (None for random) and version.

    Herding and k-center keep each class's picks in pick order; forgetting the most forgotten
    first. The same arguments give the same set (on one device: the feature network's training
    rounds differently on a GPU). ``model``, ``feature_epochs``, ``cache_dir`` and ``cache``
    describe the feature network (see ``feature_network``); ``log`` receives progress lines.
    """
    method = str(method).lower()
    if method not in CORESET_METHODS:
        raise ValueError(f"unknown coreset method {method!r}; allowed: {', '.join(CORESET_METHODS)}")
    check_ipc(dataset, ipc)
    spec = dataset.spec
    if method == "random":
        pool = RealPool(dataset.train.images, dataset.train.labels, spec.num_classes, dataset.normalize)
        return random_real_set(pool, ipc, seed, dataset, {"feature_model": None, "feature_epochs": None})

    if method == "forgetting" and feature_epochs < 2:
        raise ValueError("forgetting counts changes between epochs: it needs --feature-epochs 2 or more")
    device = device if isinstance(device, torch.device) else device_from_flag(device)
    model = canonical_name(model)
    features = feature_network(dataset, seed, model=model, epochs=feature_epochs, device=device, cache_dir=cache_dir,
                               cache=cache, log=log)
    train = dataset.train.to(device)
    if method == "forgetting":
        counts = forgetting_counts(features.correct.to(device))
        idx = most_forgotten(counts, train.labels, ipc, make_generator(seed, "coreset-forgetting"), spec.num_classes)
    else:
        rule = herding if method == "herding" else kcenter
        sampler = ClassSampler(train.labels, spec.num_classes)
        parts = []
        for c in range(spec.num_classes):
            members = sampler.indices(c)
            parts.append(members[rule(embeddings(features.net, train.images[members], dataset.normalize), ipc)])
        idx = torch.cat(parts)
    images = dataset.normalize(train.images[idx])
    labels = torch.arange(spec.num_classes, device=device).repeat_interleave(ipc)
    meta = {"method": method, "seed": seed, "feature_model": model, "feature_epochs": feature_epochs}
    return make_synset(images, labels, spec, ipc, meta)


# ---------------------------------------------------------------------- registration
@dataclass
class RandomParams:
    """Random real images have no hyper-parameter: the seed picks them."""


@dataclass
class CoresetParams:
    """The feature network's training budget (its network is the run's ``model``)."""

    feature_epochs: int = setting(DEFAULT_FEATURE_EPOCHS, kind=POSITIVE_INT,
                                  help=f"epochs the feature network of herding, kcenter and forgetting trains on the real training set (default {DEFAULT_FEATURE_EPOCHS}; forgetting needs 2 or more)")


@dataclass
class ForgettingParams(CoresetParams):
    """Forgetting counts changes between epochs, so its network trains at least two."""

    def complete(self, ipc: int, dataset: str | None = None) -> "ForgettingParams":
        if self.feature_epochs < 2:
            raise ConfigError("forgetting counts changes between epochs: it needs --feature-epochs 2 or more")
        return self


def _select(method: str, dataset: Dataset, ipc: int, seed: int, params: Any, *, model: str = "convnet",
            device: torch.device | str = "auto", cache_dir: str | Path | None = None, log: Log | None = None) -> SyntheticSet:
    return select_coreset(method, dataset, ipc, seed, device=device, model=model,
                          feature_epochs=getattr(params, "feature_epochs", DEFAULT_FEATURE_EPOCHS), cache_dir=cache_dir, log=log)


_SUMMARIES = {
    "random": "random real images (the random-real baseline of a run with the same seed)",
    "herding": "herding on a trained network's embeddings (Welling, ICML 2009)",
    "kcenter": "greedy k-center on a trained network's embeddings (Sener & Savarese, ICLR 2018)",
    "forgetting": "the most often forgotten images while a network trains (Toneva et al., ICLR 2019)",
}
for _name in CORESET_METHODS:
    register_method(_name, partial(_select, _name), kind="select", protocol="dc", augments=False, summary=_SUMMARIES[_name],
                    params={"random": RandomParams, "forgetting": ForgettingParams}.get(_name, CoresetParams))
