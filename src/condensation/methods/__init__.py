"""Condensation methods: gradient matching (DC, DSA), distribution matching (DM), coresets.

``build_method(config, pool, channels, image_size, kernels)`` turns a resolved ``DistillConfig``
into the method object the shared loop (``distill``) drives; a new method is one class with an
``iteration(syn, it)`` and one entry here.
"""

from __future__ import annotations

from ..augment import DSA
from ..kernels import EAGER, Kernels
from .base import Method, RealPool, SyntheticImages
from .distribution_matching import DistributionMatching
from .gradient_matching import GradientMatching

__all__ = ["build_method", "Method", "RealPool", "SyntheticImages", "GradientMatching", "DistributionMatching"]


def build_method(config, pool: RealPool, channels: int, image_size: tuple[int, int], kernels: Kernels | None = None) -> Method:
    """The method object for a resolved ``DistillConfig`` (``kernels``: compiled first-order paths, or eager)."""
    kernels = kernels or EAGER
    augment = DSA(config.strategy, mode=config.dsa_mode) if config.method in ("dsa", "dm") else None
    if config.method in ("dc", "dsa"):
        return GradientMatching(
            pool,
            model=config.model,
            channels=channels,
            image_size=image_size,
            seed=config.seed,
            outer_loop=config.outer_loop,
            inner_loop=config.inner_loop,
            batch_real=config.batch_real,
            batch_train=config.batch_train,
            lr_net=config.lr_net,
            metric=config.metric,
            matching=config.matching,
            augment=augment,
            sides=config.dsa_sides,
            bn_stats=config.bn_stats,
            name=config.method,
            kernels=kernels,
        )
    if config.method == "dm":
        return DistributionMatching(
            pool,
            model=config.model,
            channels=channels,
            image_size=image_size,
            seed=config.seed,
            batch_real=config.batch_real,
            augment=augment,
            micro_batch=kernels.micro_batch or 2048,  # the real side in chunks even on a GPU
        )
    raise ValueError(f"unknown method {config.method!r}")
