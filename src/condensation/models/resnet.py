"""ResNet-18 for 32-pixel images (CIFAR style), with instance norm or BatchNorm, and the "_AP"
variants that downsample by average pooling instead of strided convolutions.

Stem: Conv3x3(C→64, no bias) → norm → ReLU, no max pool. Four stages of two basic blocks (64,
128, 256, 512 channels; the first block of stages 2-4 halves the map). Shortcut: identity, or a
1×1 conv (no bias) + norm where the shape changes. Norm: GroupNorm(C, C) (``resnet18``,
``resnet18_ap``) or BatchNorm2d (``resnet18bn``, ``resnet18bn_ap``).

* ``resnet18`` / ``resnet18bn``: strided convs; the last map (4×4 at 28 and 32 px) is averaged
  globally → 512 features: 11,173,962 parameters (10 classes). The reference uses a fixed 4×4
  average pool, which equals the global average at 28/32 px; the global average keeps the
  network a standard ResNet (512 features) at every other size, e.g. 64-px TinyImageNet.
* ``resnet18_ap`` / ``resnet18bn_ap``: every strided conv becomes a stride-1 conv followed by a
  2×2 average pool, in the residual branch (after the first conv's ReLU) and in the shortcut
  (1×1 conv → pool → norm); no final pooling, so the classifier sees 512·4·4 = 8192 features at
  32 px (512·3·3 at 28 px, 512·8·8 at 64 px): 11,250,762 parameters on 3×32×32.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .base import ImageClassifier, ModelShape, make_norm
from .registry import register_model

__all__ = ["BasicBlock", "ResNet"]


def _norm(norm: str, channels: int) -> nn.Module:
    layer = make_norm(norm, channels)
    return nn.Identity() if layer is None else layer


class BasicBlock(nn.Module):
    """Two 3×3 convs with a residual connection: ``relu(branch(x) + shortcut(x))``.

    ``stride`` 2 halves the map, by the first conv's stride or (``avg_pool_down``) by a 2×2
    average pool after the first conv's ReLU and after the shortcut's 1×1 conv.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int, norm: str, avg_pool_down: bool) -> None:
        super().__init__()
        conv_stride = 1 if avg_pool_down else stride
        branch: list[nn.Module] = [
            nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=conv_stride, padding=1, bias=False),
            _norm(norm, out_channels),
            nn.ReLU(inplace=True),
        ]
        if avg_pool_down and stride != 1:
            branch.append(nn.AvgPool2d(kernel_size=stride, stride=stride))
        branch += [
            nn.Conv2d(out_channels, out_channels, kernel_size=3, stride=1, padding=1, bias=False),
            _norm(norm, out_channels),
        ]
        self.branch = nn.Sequential(*branch)
        if stride != 1 or in_channels != out_channels:
            shortcut: list[nn.Module] = [
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=conv_stride, bias=False)
            ]
            if avg_pool_down and stride != 1:
                shortcut.append(nn.AvgPool2d(kernel_size=stride, stride=stride))
            shortcut.append(_norm(norm, out_channels))
            self.shortcut: nn.Module = nn.Sequential(*shortcut)
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.branch(x) + self.shortcut(x), inplace=True)


class ResNet(ImageClassifier):
    """CIFAR-style ResNet of basic blocks.

    Args:
        shape: input/output shape (a :class:`ModelShape` or a dataset spec).
        blocks: blocks per stage ((2, 2, 2, 2) = ResNet-18).
        norm: ``'instancenorm'`` (GroupNorm(C, C)), ``'batchnorm'``, ``'groupnorm'`` or ``'none'``.
        avg_pool_down: downsample by average pooling (the "_AP" variants); the final map is then
            flattened instead of globally averaged.
    """

    def __init__(
        self,
        shape: ModelShape,
        blocks: tuple[int, ...] = (2, 2, 2, 2),
        norm: str = "instancenorm",
        avg_pool_down: bool = False,
    ) -> None:
        shape = ModelShape.of(shape)
        norm = norm.lower()
        layers: list[nn.Module] = [
            nn.Conv2d(shape.channels, 64, kernel_size=3, stride=1, padding=1, bias=False),
            _norm(norm, 64),
            nn.ReLU(inplace=True),
        ]
        in_channels = 64
        for stage, count in enumerate(blocks):
            out_channels = 64 * 2**stage
            for i in range(count):
                stride = 2 if stage > 0 and i == 0 else 1
                layers.append(BasicBlock(in_channels, out_channels, stride, norm, avg_pool_down))
                in_channels = out_channels
        if not avg_pool_down:
            layers.append(nn.AdaptiveAvgPool2d(1))
        layers.append(nn.Flatten())
        super().__init__(nn.Sequential(*layers), shape)


def _factory(norm: str, avg_pool_down: bool):
    return lambda shape, **kw: ResNet(shape, **{"norm": norm, "avg_pool_down": avg_pool_down, **kw})


register_model("resnet18", _factory("instancenorm", False), display="ResNet18")
register_model("resnet18bn", _factory("batchnorm", False), display="ResNet18BN", without_bn="resnet18")
register_model("resnet18_ap", _factory("instancenorm", True), display="ResNet18_AP")
register_model("resnet18bn_ap", _factory("batchnorm", True), display="ResNet18BN_AP", without_bn="resnet18_ap")
