"""What every network in the zoo has in common.

* :class:`ModelShape` - the input and output a network is built for (channels, image size, classes).
* :class:`ImageClassifier` - ``features`` (an ``nn.Sequential`` ending in a flat ``(N, D)`` output),
  ``classifier`` (the final ``nn.Linear``), ``embed(x)`` = ``features(x)``, ``forward(x)`` =
  ``classifier(embed(x))``. ``D`` is found by a dry run at construction, so any input size that
  the feature extractor can take works without hand-written size formulas.
* Small builders shared by the architectures: normalisation and activation layers by name, the
  28-pixel padding rule, and the dry-run helper.
* Inspection helpers: :func:`count_parameters`, :func:`has_batchnorm`.

Nothing here touches a device explicitly: networks are built wherever the caller's default device
is (the registry builds them on the ``meta`` device and materialises them on the CPU when it
initialises them from a generator; see :mod:`condensation.models.registry`).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

__all__ = [
    "ModelShape",
    "ImageClassifier",
    "NORMS",
    "ACTIVATIONS",
    "POOLINGS",
    "make_norm",
    "make_activation",
    "make_pool",
    "mnist_padding",
    "dry_run",
    "count_parameters",
    "has_batchnorm",
]

NORMS = ("instancenorm", "batchnorm", "layernorm", "groupnorm", "none")
ACTIVATIONS = ("relu", "sigmoid", "leakyrelu", "swish")
POOLINGS = ("avgpooling", "maxpooling", "none")


def _positive_int(value: object, what: str) -> int:
    """``value`` as an ``int`` >= 1 (Python, numpy or torch integers), else ``ValueError``."""
    try:
        if isinstance(value, bool):
            raise TypeError
        n = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise ValueError(f"{what} must be a positive integer, got {value!r}") from None
    if n < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return n


@dataclass(frozen=True)
class ModelShape:
    """The input and output a network is built for.

    ``channels`` C, ``image_size`` (H, W) in pixels and ``num_classes``; networks take
    ``(N, C, H, W)`` float tensors and return ``(N, num_classes)`` logits. Any object with these
    three attributes (e.g. a dataset's ``DatasetSpec``) can be turned into one with :meth:`of`.
    """

    channels: int = 1
    image_size: tuple[int, int] = (28, 28)
    num_classes: int = 10

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", _positive_int(self.channels, "channels"))
        size = self.image_size
        if not hasattr(size, "__len__"):
            size = (size, size)  # a single int: square images
        if len(size) != 2:
            raise ValueError(f"image_size must be an int or an (H, W) pair, got {self.image_size!r}")
        size = tuple(_positive_int(s, "image_size entries") for s in size)
        object.__setattr__(self, "image_size", size)
        object.__setattr__(self, "num_classes", _positive_int(self.num_classes, "num_classes"))

    @classmethod
    def of(cls, spec: object) -> "ModelShape":
        """The shape of anything with ``.channels``, ``.image_size`` and ``.num_classes``."""
        if isinstance(spec, ModelShape):
            return spec
        try:
            return cls(spec.channels, spec.image_size, spec.num_classes)  # type: ignore[attr-defined]
        except AttributeError:
            raise TypeError(
                f"expected a ModelShape or an object with .channels, .image_size and .num_classes "
                f"(such as a DatasetSpec), got {type(spec).__name__}"
            ) from None

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one input image."""
        return (self.channels, *self.image_size)

    def __str__(self) -> str:
        h, w = self.image_size
        return f"{self.channels}x{h}x{w} -> {self.num_classes} classes"


def dry_run(module: nn.Module, x: torch.Tensor | Sequence[int]) -> torch.Tensor:
    """``module(x)`` without gradients and without touching BatchNorm statistics.

    ``x`` is a tensor or an input shape ``(C, H, W)`` (a batch of one zero image is made, on the
    current default device, so that on the ``meta`` device this costs nothing). The module is run
    in eval mode and put back into its previous mode. A size the module cannot take raises
    ``ValueError`` with PyTorch's reason.
    """
    if not isinstance(x, torch.Tensor):
        x = torch.zeros(1, *x)
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        with torch.no_grad():
            return module(x)
    except RuntimeError as e:
        raise ValueError(f"input of shape {tuple(x.shape[1:])} does not fit: {e}") from e
    finally:
        for m, mode in modes:
            m.training = mode


def mnist_padding(image_size: Sequence[int], base: int) -> tuple[int, int]:
    """First-layer padding: ``base``, plus 2 on every dimension that is 28 pixels long.

    The reference networks were written for 32-pixel images and take MNIST-sized (28 px) inputs
    by padding the first layer 2 pixels more, so that it produces the map a 32-pixel image would.
    The reference decides by channel count (1 channel = MNIST), which breaks for 1-channel 32-px or
    3-channel 28-px images; deciding by the size itself gives the same networks (and parameter
    counts) for MNIST/FashionMNIST and CIFAR/SVHN and works for the other combinations too.
    """
    return tuple(base + 2 if s == 28 else base for s in image_size)  # type: ignore[return-value]


def make_norm(norm: str, channels: int, shape: Sequence[int] | None = None) -> nn.Module | None:
    """A normalisation layer for ``channels`` feature maps, or ``None`` for ``'none'``.

    ``instancenorm`` is ``GroupNorm(C, C)`` (instance norm with affine parameters and no running
    statistics, as in the reference); ``batchnorm`` ``BatchNorm2d(C)``; ``layernorm``
    ``LayerNorm([C, H, W])`` (needs ``shape`` = (C, H, W)); ``groupnorm`` ``GroupNorm(4, C)``.
    """
    if norm == "instancenorm":
        return nn.GroupNorm(channels, channels, affine=True)
    if norm == "batchnorm":
        return nn.BatchNorm2d(channels)
    if norm == "layernorm":
        if shape is None:
            raise ValueError("layernorm needs the feature-map shape (C, H, W)")
        return nn.LayerNorm(list(shape), elementwise_affine=True)
    if norm == "groupnorm":
        if channels % 4:
            raise ValueError(f"groupnorm uses 4 groups; {channels} channels are not divisible by 4")
        return nn.GroupNorm(4, channels, affine=True)
    if norm == "none":
        return None
    raise ValueError(f"unknown norm {norm!r}; valid: {', '.join(NORMS)}")


def make_activation(act: str) -> nn.Module:
    """``relu`` (in place), ``sigmoid``, ``leakyrelu`` (slope 0.01, in place) or ``swish`` (x·sigmoid(x))."""
    if act == "relu":
        return nn.ReLU(inplace=True)
    if act == "sigmoid":
        return nn.Sigmoid()
    if act == "leakyrelu":
        return nn.LeakyReLU(0.01, inplace=True)
    if act == "swish":
        return nn.SiLU()  # SiLU is x * sigmoid(x)
    raise ValueError(f"unknown activation {act!r}; valid: {', '.join(ACTIVATIONS)}")


def make_pool(pooling: str) -> nn.Module | None:
    """2×2 stride-2 ``avgpooling`` or ``maxpooling``, or ``None`` for ``'none'``."""
    if pooling == "avgpooling":
        return nn.AvgPool2d(kernel_size=2, stride=2)
    if pooling == "maxpooling":
        return nn.MaxPool2d(kernel_size=2, stride=2)
    if pooling == "none":
        return None
    raise ValueError(f"unknown pooling {pooling!r}; valid: {', '.join(POOLINGS)}")


class ImageClassifier(nn.Module):
    """``features`` (→ flat ``(N, D)``) followed by one linear ``classifier`` (``D`` → classes).

    ``D`` (``feature_dim``) is measured by a dry run of ``features`` on one zero image of
    ``shape``. ``embed(x)`` returns the ``(N, D)`` penultimate representation that distribution
    matching compares; ``forward(x)`` the ``(N, num_classes)`` logits.
    """

    def __init__(self, features: nn.Sequential, shape: ModelShape) -> None:
        super().__init__()
        self.features = features
        out = dry_run(features, shape.input_shape)
        if out.dim() != 2:
            raise ValueError(f"features must end flat (N, D), got shape {tuple(out.shape)}")
        self.shape = shape
        self.feature_dim = int(out.shape[1])
        self.classifier = nn.Linear(self.feature_dim, shape.num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` images → ``(N, feature_dim)`` features (before the classifier)."""
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` images → ``(N, num_classes)`` logits."""
        return self.classifier(self.features(x))


def count_parameters(net: nn.Module, trainable_only: bool = True) -> int:
    """Number of parameter elements (only those with ``requires_grad`` unless ``trainable_only=False``)."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad or not trainable_only)


def has_batchnorm(net: nn.Module) -> bool:
    """Whether ``net`` contains any BatchNorm layer (``BatchNorm1d/2d/3d``, ``SyncBatchNorm``, lazy ones)."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules())
