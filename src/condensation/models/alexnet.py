"""AlexNet, the CIFAR-sized variant used by DC/DSA/DM (and AlexNetBN).

Conv(C→128, 5×5) → ReLU → MaxPool 2 → Conv(128→192, 5×5, pad 2) → ReLU → MaxPool 2 →
Conv(192→256, 3×3) → ReLU → Conv(256→192, 3×3) → ReLU → Conv(192→192, 3×3) → ReLU → MaxPool 2 →
Linear(→ classes). The first conv pads by 2, or 4 on 28-pixel dimensions (which makes MNIST's
map 32×32). At 28/32 px the classifier sees 192×4×4 = 3072 features: 1,872,202 parameters
(10 classes); AlexNetBN puts BatchNorm2d after every conv: 1,874,122.
"""

from __future__ import annotations

from torch import nn

from .base import ImageClassifier, ModelShape, make_norm, mnist_padding
from .registry import register_model

__all__ = ["AlexNet"]

# (out channels, kernel, padding, pool after); padding None = the first layer's 28-pixel rule
_LAYERS = ((128, 5, None, True), (192, 5, 2, True), (256, 3, 1, False), (192, 3, 1, False), (192, 3, 1, True))


class AlexNet(ImageClassifier):
    """CIFAR AlexNet; ``norm`` is ``'none'`` (AlexNet) or ``'batchnorm'`` (AlexNetBN), also
    ``'instancenorm'`` / ``'groupnorm'`` for experiments."""

    def __init__(self, shape: ModelShape, norm: str = "none") -> None:
        shape = ModelShape.of(shape)
        layers: list[nn.Module] = []
        in_channels = shape.channels
        for out_channels, kernel, padding, pool in _LAYERS:
            if padding is None:
                padding = mnist_padding(shape.image_size, 2)
            layers.append(nn.Conv2d(in_channels, out_channels, kernel_size=kernel, padding=padding))
            norm_layer = make_norm(norm.lower(), out_channels)
            if norm_layer is not None:
                layers.append(norm_layer)
            layers.append(nn.ReLU(inplace=True))
            if pool:
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            in_channels = out_channels
        layers.append(nn.Flatten())
        super().__init__(nn.Sequential(*layers), shape)


register_model("alexnet", lambda shape, **kw: AlexNet(shape, **kw), display="AlexNet")
register_model(
    "alexnetbn", lambda shape, **kw: AlexNet(shape, **{"norm": "batchnorm", **kw}), display="AlexNetBN", without_bn="alexnet"
)
