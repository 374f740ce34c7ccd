"""LeNet-5 as used by DC.

Conv(C→6, 5×5) → ReLU → MaxPool 2 → Conv(6→16, 5×5) → ReLU → MaxPool 2 → FC(→120) → ReLU →
FC(120→84) → ReLU → FC(84→classes). The first conv pads by 2 on 28-pixel dimensions (0
otherwise), so both MNIST and CIFAR reach 16×5×5 = 400 features before the first FC layer:
62,006 parameters on 3×32×32, 61,706 on 1×28×28 (10 classes). Other sizes get whatever the
conv part produces (e.g. 16×13×13 at 64 px). ``embed`` is the last hidden layer (84-d).
"""

from __future__ import annotations

from torch import nn

from .base import ImageClassifier, ModelShape, dry_run, mnist_padding
from .registry import register_model

__all__ = ["LeNet"]


class LeNet(ImageClassifier):
    """LeNet-5 with ReLU and max pooling."""

    def __init__(self, shape: ModelShape) -> None:
        shape = ModelShape.of(shape)
        convs = nn.Sequential(
            nn.Conv2d(shape.channels, 6, kernel_size=5, padding=mnist_padding(shape.image_size, 0)),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2, stride=2),
            nn.Conv2d(6, 16, kernel_size=5),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2, stride=2),
            nn.Flatten(),
        )
        flat = dry_run(convs, shape.input_shape).shape[1]
        features = nn.Sequential(
            *convs,
            nn.Linear(flat, 120),
            nn.ReLU(inplace=True),
            nn.Linear(120, 84),
            nn.ReLU(inplace=True),
        )
        super().__init__(features, shape)


register_model("lenet", LeNet, display="LeNet")
