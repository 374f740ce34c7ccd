"""Network names → constructors, and :func:`build_model`.

Names are case-insensitive; the canonical form is lower case (``convnet``, ``resnet18bn_ap``) and
:func:`display_name` gives the reference's CamelCase (``ConvNet``, ``ResNet18BN_AP``). The
built-in networks register themselves when :mod:`condensation.models` is imported; your own can
be added with :func:`register_model`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

from ..suggest import did_you_mean
from .base import ModelShape
from .init import init_parameters

__all__ = [
    "register_model",
    "build_model",
    "list_models",
    "canonical_name",
    "display_name",
    "strip_batchnorm",
]

Factory = Callable[..., nn.Module]  # factory(shape: ModelShape, **overrides) -> nn.Module


@dataclass(frozen=True)
class _Entry:
    name: str
    display: str
    factory: Factory
    without_bn: str | None


_REGISTRY: dict[str, _Entry] = {}
_UNSET: Any = object()


def register_model(
    name: str,
    factory: Factory | None = None,
    *,
    display: str | None = None,
    without_bn: str | None = None,
    replace: bool = False,
):
    """Register ``factory(shape: ModelShape, **overrides) -> nn.Module`` under ``name``.

    ``display`` is the CamelCase name for tables (default: ``name``); ``without_bn`` names the
    same network without BatchNorm (used by :func:`strip_batchnorm`). Registering a taken name
    raises ``ValueError`` unless ``replace=True``. Without ``factory``, returns a decorator.

    For :func:`build_model` with a generator, the factory must build every tensor through
    ``nn.Module`` constructors or factory functions that follow the default device (it is run on
    the ``meta`` device), and every parameter must be one :func:`init_parameters` knows.
    """
    if factory is None:
        return lambda f: register_model(name, f, display=display, without_bn=without_bn, replace=replace)
    key = name.strip().lower()
    if not key:
        raise ValueError("model name must not be empty")
    if key in _REGISTRY and not replace:
        raise ValueError(f"model {key!r} is already registered")
    _REGISTRY[key] = _Entry(key, display or name, factory, without_bn.lower() if without_bn else None)
    return factory


def list_models() -> list[str]:
    """Canonical (lower-case) names of all registered networks, in display order."""
    return list(_REGISTRY)


def canonical_name(name: str) -> str:
    """The lower-case registered name for ``name`` (any case); ``ValueError`` if unknown."""
    key = str(name).strip().lower()
    if key not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}{did_you_mean(key, list(_REGISTRY))}; valid: {', '.join(_REGISTRY)}")
    return key


def display_name(name: str) -> str:
    """The reference's spelling of a network name, e.g. ``resnet18bn_ap`` → ``ResNet18BN_AP``."""
    return _REGISTRY[canonical_name(name)].display


def strip_batchnorm(name: str) -> str:
    """The canonical name of the same network without BatchNorm (itself if it has none).

    This is what the reference's evaluation mode "S" intends: ``convnetbn`` → ``convnet``,
    ``convnetaswishbn`` → ``convnetaswish``, ``alexnetbn`` → ``alexnet``, ``vgg11bn`` → ``vgg11``,
    ``resnet18bn`` → ``resnet18`` and ``resnet18bn_ap`` → ``resnet18_ap`` (the reference's string
    slicing gives ``ResNet18`` for the last one, losing the average-pooling downsampling).
    """
    entry = _REGISTRY[canonical_name(name)]
    return entry.without_bn or entry.name


def _shape(channels: Any, image_size: Any, num_classes: Any) -> ModelShape:
    """Turn ``build_model``'s shape arguments (a spec, or the three numbers) into a ModelShape."""
    if channels is not _UNSET and not isinstance(channels, (int, ModelShape)) and hasattr(channels, "channels"):
        if image_size is not _UNSET or num_classes is not _UNSET:
            raise TypeError("pass either a spec or channels/image_size/num_classes, not both")
        return ModelShape.of(channels)
    if isinstance(channels, ModelShape):
        if image_size is not _UNSET or num_classes is not _UNSET:
            raise TypeError("pass either a spec or channels/image_size/num_classes, not both")
        return channels
    return ModelShape(
        1 if channels is _UNSET else channels,
        (28, 28) if image_size is _UNSET else image_size,
        10 if num_classes is _UNSET else num_classes,
    )


def build_model(
    name: str,
    channels: Any = _UNSET,
    image_size: Any = _UNSET,
    num_classes: Any = _UNSET,
    generator: torch.Generator | None = None,
    **overrides: Any,
) -> nn.Module:
    """A freshly initialised network ``name`` on the CPU (in train mode).

    Shape, either as numbers - ``channels`` (default 1), ``image_size`` (an int or ``(H, W)``,
    default ``(28, 28)``) and ``num_classes`` (default 10) - or as one object in place of
    ``channels`` that has ``.channels``, ``.image_size`` and ``.num_classes`` (a ``DatasetSpec`` or
    a :class:`ModelShape`): ``build_model("convnet", spec, generator=g)``.

    ``generator``: a ``torch.Generator``; the parameters are drawn from it with
    :func:`init_parameters`, so the same generator state gives the same network, and the global
    random state is neither used nor advanced (the network is constructed on the ``meta`` device
    and then materialised on the CPU). ``None`` uses PyTorch's ordinary construction, i.e. the
    same distributions drawn from the *global* generator - avoid it where reproducibility matters.

    ``overrides`` go to the network's constructor, e.g. ``build_model("convnet", spec, width=64,
    depth=4, norm="batchnorm")`` for architecture grids.

    Raises ``ValueError`` for an unknown name (listing the valid ones) or an input size the
    network cannot take (e.g. VGG11 needs at least 32 pixels).
    """
    entry = _REGISTRY[canonical_name(name)]
    shape = _shape(channels, image_size, num_classes)
    try:
        if generator is None:
            return entry.factory(shape, **overrides)
        with torch.device("meta"):
            net = entry.factory(shape, **overrides)
    except ValueError as e:
        raise ValueError(f"cannot build {entry.display} for {shape}: {e}") from e
    net.to_empty(device="cpu")
    return init_parameters(net, generator)
