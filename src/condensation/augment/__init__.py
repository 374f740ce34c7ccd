"""Augmentations: differentiable Siamese augmentation (DSA) and DC's classic evaluation augmentation."""

from .classic import CLASSIC_OPS, ClassicAugment
from .dsa import (
    DEFAULT_STRATEGY,
    DIGIT_STRATEGY,
    DSA,
    OPS,
    SIDES,
    AugmentParams,
    DSAHyperParams,
    default_strategy,
    parse_strategy,
)

__all__ = [
    "AugmentParams",
    "CLASSIC_OPS",
    "ClassicAugment",
    "DEFAULT_STRATEGY",
    "DIGIT_STRATEGY",
    "DSA",
    "DSAHyperParams",
    "OPS",
    "SIDES",
    "default_strategy",
    "parse_strategy",
]
