"""The authors' evaluation pools of networks (``--eval-models paper``, ``S``, ``W``, ...) and how a
list of network and pool names becomes the networks to train."""

from __future__ import annotations

from collections.abc import Sequence

from .models import canonical_name, list_models, strip_batchnorm
from .suggest import did_you_mean

__all__ = ["EVAL_POOLS", "POOL_NAMES", "expand_models"]

# The authors' evaluation pools (``eval_mode``) by name; "S" and "SS" depend on the condensation
# network and are resolved by ``expand_models``. "paper" is the cross-architecture pool (their M).
EVAL_POOLS: dict[str, tuple[str, ...]] = {
    "paper": ("mlp", "convnet", "lenet", "alexnet", "vgg11", "resnet18"),
    "m": ("mlp", "convnet", "lenet", "alexnet", "vgg11", "resnet18"),
    "b": ("convnetbn", "convnetaswishbn", "alexnetbn", "vgg11bn", "resnet18bn"),
    "w": ("convnetw32", "convnetw64", "convnetw128", "convnetw256"),
    "d": ("convnetd1", "convnetd2", "convnetd3", "convnetd4"),
    "a": ("convnetas", "convnetar", "convnetal", "convnetaswish"),
    "n": ("convnetnn", "convnetbn", "convnetln", "convnetin", "convnetgn"),
    "p": ("convnetnp", "convnetmp", "convnetap"),
}
POOL_NAMES = ("paper", "S", "SS", "M", "B", "W", "D", "A", "N", "P")


def expand_models(names: Sequence[str], model: str = "convnet") -> tuple[str, ...]:
    """Network names and pool names -> canonical network names, in order, without repeats.

    ``model`` is the network the set was condensed with: pool ``S`` is that network without
    BatchNorm (the authors' default: a tiny set cannot estimate BatchNorm statistics), ``SS`` the
    network itself. Unknown names raise ``ValueError`` listing the networks and pools.
    """
    out: list[str] = []
    for name in names:
        key = str(name).strip().lower()
        if key == "s":
            out.append(strip_batchnorm(model))
        elif key == "ss":
            out.append(canonical_name(model))
        elif key in EVAL_POOLS:
            out.extend(EVAL_POOLS[key])
        else:
            try:
                out.append(canonical_name(key))
            except ValueError:
                raise ValueError(
                    f"unknown model or pool {name!r}{did_you_mean(key, [*POOL_NAMES, *list_models()])}; "
                    f"pools: {', '.join(POOL_NAMES)}; models: {', '.join(list_models())}"
                ) from None
    return tuple(dict.fromkeys(out))
