"""MLP: the fully connected baseline of the DC cross-architecture experiments.

Flatten → Linear(C·H·W → 128) → ReLU → Linear(128 → 128) → ReLU → Linear(128 → classes):
411,146 parameters on 3×32×32, 118,282 on 1×28×28 (10 classes). ``embed`` is the last hidden
layer (128-d).
"""

from __future__ import annotations

import math

from torch import nn

from .base import ImageClassifier, ModelShape
from .registry import register_model

__all__ = ["MLP"]


class MLP(ImageClassifier):
    """Two hidden layers of ``hidden`` ReLU units on the flattened image."""

    def __init__(self, shape: ModelShape, hidden: int = 128) -> None:
        shape = ModelShape.of(shape)
        features = nn.Sequential(
            nn.Flatten(),
            nn.Linear(math.prod(shape.input_shape), hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
        )
        super().__init__(features, shape)


register_model("mlp", MLP, display="MLP")
