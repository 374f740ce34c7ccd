"""VGG11 with instance norm (VGG11) or BatchNorm (VGG11BN), as in the reference.

Configuration [64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M]; every conv is 3×3 with bias
(padding 1, or 3 for the first conv on 28-pixel dimensions so that MNIST becomes 32×32) → norm
→ ReLU; M is a 2×2 max pool. At 28/32 px the map ends 512×1×1: 9,231,114 parameters for both
(10 classes). Larger images keep the flattened map (512×2×2 = 2048 features at 64 px); inputs
smaller than 32 px do not fit five poolings and raise ``ValueError``.
"""

from __future__ import annotations

from torch import nn

from .base import ImageClassifier, ModelShape, make_norm, mnist_padding
from .registry import register_model

__all__ = ["VGG", "VGG_CONFIGS"]

VGG_CONFIGS: dict[str, tuple] = {
    "vgg11": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
}


class VGG(ImageClassifier):
    """VGG from a configuration of channel counts and ``'M'`` (max pool);
    ``norm``: ``'instancenorm'`` (GroupNorm(C, C)), ``'batchnorm'``, ``'groupnorm'`` or ``'none'``."""

    def __init__(self, shape: ModelShape, config: tuple = VGG_CONFIGS["vgg11"], norm: str = "instancenorm") -> None:
        shape = ModelShape.of(shape)
        layers: list[nn.Module] = []
        in_channels = shape.channels
        first = True
        for item in config:
            if item == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
                continue
            padding = mnist_padding(shape.image_size, 1) if first else 1
            layers.append(nn.Conv2d(in_channels, item, kernel_size=3, padding=padding))
            norm_layer = make_norm(norm.lower(), item)
            if norm_layer is not None:
                layers.append(norm_layer)
            layers.append(nn.ReLU(inplace=True))
            in_channels, first = item, False
        # (the reference ends with AvgPool2d(1, 1), a no-op, left out here)
        layers.append(nn.Flatten())
        super().__init__(nn.Sequential(*layers), shape)


register_model("vgg11", lambda shape, **kw: VGG(shape, **kw), display="VGG11")
register_model("vgg11bn", lambda shape, **kw: VGG(shape, **{"norm": "batchnorm", **kw}), display="VGG11BN", without_bn="vgg11")
