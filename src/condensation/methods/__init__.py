"""Methods: the registry, and the built-in ones that register themselves on import.

Condensation (kind ``condense``): gradient matching (``dsa``, ``dc``), distribution matching
(``dm``). Selection (kind ``select``): the coreset baselines ``random``, ``herding``, ``kcenter``,
``forgetting``. A new method is one module with one ``@register_method`` class (see
``registry``); import it before resolving a config, or name it in ``$CONDENSATION_PLUGINS`` for
the command line.
"""

from __future__ import annotations

from typing import Any

from ..augment import DSA
from ..kernels import EAGER
from . import gradient_matching, distribution_matching, trajectory_matching, selection  # noqa: F401, I001  (registers dsa, dc, dm, mtt, coresets, in that order)
from .base import Method, RealPool, Setup, SyntheticImages
from .distribution_matching import DistributionMatching, DistributionMatchingParams
from .gradient_matching import GradientMatching, GradientMatchingParams
from .registry import MethodSpec, find_method, get_method, list_methods, register_method, unregister_method

__all__ = [
    "build_method", "Method", "Setup", "RealPool", "SyntheticImages", "GradientMatching", "GradientMatchingParams",
    "DistributionMatching", "DistributionMatchingParams", "MethodSpec", "register_method", "unregister_method",
    "get_method", "find_method", "list_methods",
]


def build_method(config: Any, pool: RealPool, channels: int, image_size: tuple[int, int], kernels: Any = None,
                 dataset: Any = None) -> Method:
    """The method object of a resolved ``DistillConfig`` for ``pool``'s data (``kernels``: compiled
    first-order paths, or eager; ``dataset``: the ``Dataset``, for methods that need more than the
    pool): ``spec.factory.from_setup(setup, params)``."""
    spec = get_method(config.method, "condense")
    augment = DSA(config.strategy, mode=config.dsa_mode) if spec.augments else None
    setup = Setup(pool, config.model, channels, tuple(image_size), config.ipc, config.seed, augment=augment,
                  lr_net=config.lr_net, batch_train=config.batch_train, kernels=kernels or EAGER, factor=config.factor,
                  dataset=dataset)
    return spec.factory.from_setup(setup, spec.make_params(config.params, config.ipc, config.dataset))
