"""The architecture-search space: ConvNets by width, depth, activation, normalisation and pooling
(the registry's one-factor variants, ``small``, or the DC paper's 720, ``paper``)."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch

from ..data import DatasetSpec
from ..evaluate import EVAL_POOLS
from ..models import CONVNET_VARIANTS, ConvNet, ModelShape, list_models, register_model

__all__ = ["NAS_SPACES", "PAPER_GRID", "Architecture", "candidates", "register_architecture"]

NAS_SPACES = ("small", "paper")
PAPER_GRID: dict[str, tuple] = {
    "width": (32, 64, 128, 256),
    "depth": (1, 2, 3, 4),
    "act": ("sigmoid", "relu", "leakyrelu"),
    "norm": ("none", "batchnorm", "layernorm", "instancenorm", "groupnorm"),
    "pooling": ("none", "maxpooling", "avgpooling"),
}
SMALL_POOLS = ("w", "d", "a", "n", "p")  # evaluation pools of one-factor ConvNet variants

@dataclass(frozen=True)
class Architecture:
    """One ConvNet of the space (the arguments of ``ConvNet``; defaults: the papers' ConvNet)."""

    width: int = 128
    depth: int = 3
    act: str = "relu"
    norm: str = "instancenorm"
    pooling: str = "avgpooling"

    def kwargs(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def name(self) -> str:
        """The registry's name of this architecture, or the name it is registered under here."""
        return _variant_names().get(self) or f"nas_w{self.width}_d{self.depth}_{self.act}_{self.norm}_{self.pooling}"

    @property
    def label(self) -> str:
        return f"W{self.width} D{self.depth} {self.act} {self.norm} {self.pooling}"

    @classmethod
    def of_model(cls, name: str) -> "Architecture":
        """The architecture of a registered ConvNet variant (``convnetw32``, ``convnetbn``, ...)."""
        key = str(name).strip().lower()
        if key not in CONVNET_VARIANTS:
            raise ValueError(f"{name!r} is not a ConvNet variant; allowed: {', '.join(CONVNET_VARIANTS)}")
        return cls(**CONVNET_VARIANTS[key][1])


def _variant_names() -> dict[Architecture, str]:
    """Architecture -> the first registered variant name that builds it (``convnet`` for the default)."""
    if not _VARIANTS:
        for name, (_, kwargs) in CONVNET_VARIANTS.items():
            _VARIANTS.setdefault(Architecture(**kwargs), name)
    return _VARIANTS


_VARIANTS: dict[Architecture, str] = {}


def _fit_problem(arch: Architecture, spec: DatasetSpec) -> str | None:
    """Why ``arch`` cannot take ``spec``'s images (None if it can); built on the meta device."""
    try:
        with torch.device("meta"):
            ConvNet(ModelShape.of(spec), **arch.kwargs())
    except ValueError as e:
        text = str(e).splitlines()[0]
        if "too small" in text:  # a pooling layer got a map of 1 pixel
            h, w = spec.image_size
            return f"does not fit {h}x{w} images: {arch.depth} {arch.pooling} layers shrink them below 1 pixel"
        return text[:160]
    return None


def candidates(space: str | Sequence[Architecture | str | Mapping[str, Any]],
               spec: DatasetSpec) -> tuple[list[Architecture], list[tuple[Architecture, str]]]:
    """(architectures that fit ``spec``'s images, [(architecture, why not)] skipped) of ``space``:
    ``small``, ``paper``, or a list of ``Architecture`` s, ConvNet variant names or argument dicts."""
    if isinstance(space, str):
        key = space.lower()
        if key in ("small", "convnet"):  # "convnet": the name for the registry's ConvNet grid
            archs = [Architecture.of_model(n) for pool in SMALL_POOLS for n in EVAL_POOLS[pool]]
        elif key == "paper":
            archs = [Architecture(*values) for values in itertools.product(*PAPER_GRID.values())]
        else:
            raise ValueError(f"unknown search space {space!r}; allowed: {', '.join(NAS_SPACES)}")
    else:
        archs = [a if isinstance(a, Architecture) else Architecture.of_model(a) if isinstance(a, str) else Architecture(**a)
                 for a in space]
    archs = list(dict.fromkeys(archs))  # one-factor pools repeat the default ConvNet
    fit, skipped = [], []
    problems: dict[Architecture, str | None] = {}
    for a in archs:
        # whether it fits depends on the width only through GroupNorm's 4 groups: check a 4-wide twin
        twin = dataclasses.replace(a, width=4) if a.width % 4 == 0 else a
        if twin not in problems:
            problems[twin] = _fit_problem(twin, spec)
        (skipped.append((a, problems[twin])) if problems[twin] else fit.append(a))
    if not fit:
        raise ValueError(f"no architecture of the search space fits {spec.name}'s {spec.image_size[0]}x{spec.image_size[1]} images")
    return fit, skipped


def _build(kwargs: dict[str, Any], shape: ModelShape, **overrides: Any) -> ConvNet:
    return ConvNet(shape, **{**kwargs, **overrides})


def register_architecture(arch: Architecture) -> str:
    """``arch.name``, registered (once per process) if the registry does not have it."""
    name = arch.name
    if name not in list_models():
        register_model(name, partial(_build, arch.kwargs()), display=name)
    return name
