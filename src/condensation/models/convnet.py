"""ConvNet, the papers' default network, and its named width/depth/activation/norm/pooling variants.

``depth`` blocks of [Conv3x3(with bias) → norm → activation → 2×2 pool], then one linear layer.
Defaults: width 128, depth 3, ReLU, instance norm (``GroupNorm(C, C)``), average pooling: 320,010
parameters on 3×32×32 CIFAR-10 and 317,706 on 1×28×28 MNIST, with 2048-d features in both cases
(28-pixel inputs get 2 extra pixels of padding in the first conv, see
:func:`~condensation.models.base.mnist_padding`).
"""

from __future__ import annotations

from functools import partial

from torch import nn

from .base import ACTIVATIONS, NORMS, POOLINGS, ImageClassifier, ModelShape, dry_run, make_activation, make_norm, make_pool, mnist_padding
from .registry import register_model

__all__ = ["ConvNet", "CONVNET_VARIANTS"]


class ConvNet(ImageClassifier):
    """The ConvNet of DC/DSA/DM.

    Args:
        shape: input/output shape (a :class:`ModelShape` or a dataset spec).
        width: channels of every conv layer (128).
        depth: number of conv blocks (3).
        act: ``relu`` | ``sigmoid`` | ``leakyrelu`` | ``swish``.
        norm: ``instancenorm`` (GroupNorm(C, C)) | ``batchnorm`` | ``layernorm`` (LayerNorm over
            (C, H, W), so its parameter count grows with the image size) | ``groupnorm`` (4 groups)
            | ``none``.
        pooling: ``avgpooling`` | ``maxpooling`` (2×2, stride 2) | ``none``.

    ``embed(x)`` is the flattened output of the last block: width·H'·W' features (2048 at 28/32 px
    with the defaults, 8192 at 64 px).
    """

    def __init__(
        self,
        shape: ModelShape,
        width: int = 128,
        depth: int = 3,
        act: str = "relu",
        norm: str = "instancenorm",
        pooling: str = "avgpooling",
    ) -> None:
        shape = ModelShape.of(shape)
        act, norm, pooling = act.lower(), norm.lower(), pooling.lower()
        for value, valid, what in ((act, ACTIVATIONS, "activation"), (norm, NORMS, "norm"), (pooling, POOLINGS, "pooling")):
            if value not in valid:
                raise ValueError(f"unknown {what} {value!r}; valid: {', '.join(valid)}")
        if width < 1 or depth < 1:
            raise ValueError(f"width and depth must be positive, got width={width}, depth={depth}")
        layers: list[nn.Module] = []
        x = None  # the dry-run activation after the layers so far, to size LayerNorm and check fit
        in_channels = shape.channels
        for d in range(depth):
            padding = mnist_padding(shape.image_size, 1) if d == 0 else 1
            conv = nn.Conv2d(in_channels, width, kernel_size=3, padding=padding, bias=True)
            x = dry_run(conv, shape.input_shape if x is None else x)
            layers.append(conv)
            norm_layer = make_norm(norm, width, tuple(x.shape[1:]))
            if norm_layer is not None:
                layers.append(norm_layer)
            layers.append(make_activation(act))
            pool = make_pool(pooling)
            if pool is not None:
                x = dry_run(pool, x)
                layers.append(pool)
            in_channels = width
        layers.append(nn.Flatten())
        super().__init__(nn.Sequential(*layers), shape)
        self.width, self.depth, self.act, self.norm, self.pooling = width, depth, act, norm, pooling


# name → (display name, constructor arguments); the evaluation pools of the reference
# (W, D, A, N, P) are made of these.
CONVNET_VARIANTS: dict[str, tuple[str, dict]] = {
    "convnet": ("ConvNet", {}),
    "convnetd1": ("ConvNetD1", {"depth": 1}),
    "convnetd2": ("ConvNetD2", {"depth": 2}),
    "convnetd3": ("ConvNetD3", {"depth": 3}),
    "convnetd4": ("ConvNetD4", {"depth": 4}),
    "convnetw32": ("ConvNetW32", {"width": 32}),
    "convnetw64": ("ConvNetW64", {"width": 64}),
    "convnetw128": ("ConvNetW128", {"width": 128}),
    "convnetw256": ("ConvNetW256", {"width": 256}),
    "convnetas": ("ConvNetAS", {"act": "sigmoid"}),
    "convnetar": ("ConvNetAR", {"act": "relu"}),
    "convnetal": ("ConvNetAL", {"act": "leakyrelu"}),
    "convnetaswish": ("ConvNetASwish", {"act": "swish"}),
    "convnetaswishbn": ("ConvNetASwishBN", {"act": "swish", "norm": "batchnorm"}),
    "convnetnn": ("ConvNetNN", {"norm": "none"}),
    "convnetbn": ("ConvNetBN", {"norm": "batchnorm"}),
    "convnetln": ("ConvNetLN", {"norm": "layernorm"}),
    "convnetin": ("ConvNetIN", {"norm": "instancenorm"}),
    "convnetgn": ("ConvNetGN", {"norm": "groupnorm"}),
    "convnetnp": ("ConvNetNP", {"pooling": "none"}),
    "convnetmp": ("ConvNetMP", {"pooling": "maxpooling"}),
    "convnetap": ("ConvNetAP", {"pooling": "avgpooling"}),
}
_WITHOUT_BN = {"convnetbn": "convnet", "convnetaswishbn": "convnetaswish"}


def _build(variant: dict, shape: ModelShape, **overrides) -> ConvNet:
    return ConvNet(shape, **{**variant, **overrides})


for _name, (_display, _kwargs) in CONVNET_VARIANTS.items():
    register_model(_name, partial(_build, _kwargs), display=_display, without_bn=_WITHOUT_BN.get(_name))
