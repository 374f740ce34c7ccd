"""Where a synthetic set starts, and sets of real images: the random real images a run starts
from (and its random-real baseline), herded or noise starts, and ``SyntheticSet`` construction.

Random draws come from the stream ``(seed, "init")``, so a run's start and its baseline are the
same images, and a coreset ``random`` with that seed is exactly that baseline.
"""

from __future__ import annotations

from typing import Any

import torch

from .._version import __version__
from ..data import Dataset
from ..errors import ConfigError
from ..formation import encode
from ..rng import make_generator
from ..synset import SyntheticSet
from .base import RealPool

__all__ = ["initial_images", "random_real_set", "make_synset", "check_start"]


def check_start(path: str, spec: Any, ipc: int, factor: int) -> None:
    """``ConfigError`` unless the synthetic-set file at ``path`` can start a run of ``spec``'s dataset
    at ``ipc`` stored images per class and ``factor``."""
    start = SyntheticSet.load(path)
    problems = []
    if start.dataset != spec.name or tuple(start.images.shape[1:]) != tuple(spec.shape):
        problems.append(f"it holds {start.dataset} images, not {spec.name}")
    if start.ipc != ipc or len(start) != ipc * spec.num_classes:
        problems.append(f"it has {start.ipc} image(s) per class, the run {ipc}")
    if start.factor != factor:
        problems.append(f"its factor is {start.factor}, the run's {factor}")
    elif not torch.equal(start.labels, torch.arange(spec.num_classes).repeat_interleave(ipc)):
        problems.append("its labels are not class-major")
    if problems:
        raise ConfigError(f"--init-from {path} cannot start this run: {'; '.join(problems)}")


def initial_images(config: Any, pool: RealPool, channels: int, image_size: tuple[int, int]) -> torch.Tensor:
    """The starting synthetic images of a resolved ``DistillConfig`` (class-major): random real images, the real images herding
    picks in pixel space (no randomness), or N(0, 1) noise in the normalised space. Random draws
    come from the stream ``(seed, "init")``. With ``config.factor`` > 1 a real start takes
    ``factor**2`` real images per stored image and shrinks them into its tiles. ``init_from`` (a
    synthetic-set file, checked by ``check_start``) replaces all of these."""
    if getattr(config, "init_from", None):
        return SyntheticSet.load(config.init_from).images.to(pool.device)
    if config.init == "real":
        return _random_real(pool, config.ipc, config.seed, config.factor)[0]
    if config.init == "herding":
        return encode(pool.herded(config.ipc * config.factor**2)[0], config.factor)
    shape = (pool.num_classes * config.ipc, channels, *image_size)
    return torch.randn(shape, generator=make_generator(config.seed, "init")).to(pool.device)


def _random_real(pool: RealPool, ipc: int, seed: int, factor: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """``ipc`` stored images per class and their labels, from the stream ``(seed, "init")``: random
    real images, or for ``factor`` > 1 ``factor**2`` random real images shrunk into each one's tiles."""
    images, labels = pool.balanced(ipc * factor**2, make_generator(seed, "init"))
    return encode(images, factor), labels[:: factor**2]


def random_real_set(pool: RealPool, ipc: int, seed: int, dataset: Dataset, meta: dict | None = None,
                    factor: int = 1) -> SyntheticSet:
    """``ipc`` random real images per class (the same images a run with ``--init real`` starts
    from; with ``factor`` > 1 the same stored images), as a synthetic set."""
    images, labels = _random_real(pool, ipc, seed, factor)
    return make_synset(images, labels, dataset.spec, ipc, {"method": "random", "seed": seed, **(meta or {})}, factor)


def make_synset(images: torch.Tensor, labels: torch.Tensor, spec, ipc: int, meta: dict, factor: int = 1) -> SyntheticSet:
    """A ``SyntheticSet`` of ``spec``'s dataset (CPU copies) with the package version in ``meta``."""
    return SyntheticSet(
        images=images.detach().float().cpu(),
        labels=labels.detach().long().cpu(),
        mean=spec.mean,
        std=spec.std,
        dataset=spec.name,
        classes=spec.classes,
        ipc=ipc,
        meta={"version": __version__, **meta},
        factor=factor,
    )
