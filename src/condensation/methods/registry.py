"""Method names -> what the package needs to know about each method, declared once.

A condensation method registers itself with :func:`register_method` (a decorator on its class)::

    @dataclass
    class MyParams:
        pull: float = setting(0.5, help="how far each step pulls", kind=POSITIVE_FLOAT)

    @register_method("mine", params=MyParams, lr_img=0.1, protocol="dsa", init="real",
                     presets={"quick": {"iterations": 30}, "paper": {"iterations": 1000}})
    class Mine(Method):
        def __init__(self, setup: Setup, params: MyParams): ...
        def iteration(self, syn, it): ...

Everything else is derived from the registry: the ``--method`` choices and flags of every
command (one flag per field of the parameter dataclass), the image step's defaults, the
evaluation protocol of the method's sets, the initialisation ``condense reproduce`` uses, which
methods ``torchrun`` can split by class, and the presets. Coreset selections register the same
way with ``kind="select"`` and a selection function instead of a class.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from ..settings import check, meta_of
from ..suggest import did_you_mean

__all__ = [
    "MethodSpec", "register_method", "unregister_method", "get_method", "find_method", "list_methods",
    "preset_names", "BASE_PRESETS", "KINDS", "PROTOCOLS", "did_you_mean",
]

KINDS = ("condense", "select")  # learns synthetic images / selects real ones
PROTOCOLS = ("dsa", "dc")  # DSA augmentation, 1000 epochs / DC's rule (see evaluate.protocol_for)
# What every preset evaluates with unless a method says otherwise.
BASE_PRESETS: dict[str, dict[str, Any]] = {
    "paper": {"num_eval": 20, "eval_every": 0, "eval_epochs": None},
    "quick": {"num_eval": 3, "eval_every": 0, "eval_epochs": None},
    "fast": {"num_eval": 5, "eval_every": 0, "eval_epochs": None},
}


@dataclass(frozen=True)
class MethodSpec:
    """A registered method. ``factory``: the ``Method`` subclass (kind ``condense``; built with
    ``factory.from_setup(setup, params)``) or the selection function (kind ``select``:
    ``factory(dataset, ipc, seed, params, model=..., device=..., cache_dir=..., log=...) ->
    SyntheticSet``). ``params``: the dataclass of its hyper-parameters."""

    name: str
    factory: Any
    params: type
    kind: str = "condense"
    protocol: str = "dsa"
    init: str = "real"
    lr_img: float | None = None
    momentum_img: float = 0.5
    optimizer_img: str = "sgd"
    classwise: bool | Callable[[Any], bool] = True
    augments: bool = True
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    summary: str = ""

    @property
    def condenses(self) -> bool:
        return self.kind == "condense"

    def param_fields(self) -> tuple[dataclasses.Field, ...]:
        return dataclasses.fields(self.params)

    def param_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.param_fields())

    def preset(self, name: str, ipc: int | None = None) -> dict[str, Any]:
        """The settings preset ``name`` gives this method at ``ipc`` images per class (base
        evaluation budget, then the method's preset, then its per-ipc overrides)."""
        if name not in self.presets and name not in BASE_PRESETS:
            raise ConfigError(f"preset {name!r} is not defined for --method {self.name}; its presets: "
                              f"{', '.join(self.preset_names())}")
        mine = dict(self.presets.get(name, {}))
        per_ipc = mine.pop("_ipc", {})
        return {**BASE_PRESETS.get(name, {}), **mine, **per_ipc.get(ipc, {})}

    def preset_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*self.presets, *BASE_PRESETS]))

    def make_params(self, values: Mapping[str, Any], ipc: int, dataset: str | None = None) -> Any:
        """The method's parameter dataclass from ``values`` (None = its default), each value checked
        against its field; then ``complete(ipc, dataset)`` if the dataclass has one (rules such as
        the authors' per-ipc or per-dataset table fill what is still None)."""
        fields = {f.name: f for f in self.param_fields()}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ConfigError(f"--method {self.name} has no setting {', '.join(unknown)}; its settings: "
                              f"{', '.join(fields) or 'none'}")
        given = {k: check(fields[k], v) for k, v in values.items() if v is not None}
        params = self.params(**given)
        if hasattr(params, "complete"):
            params = params.complete(ipc, dataset) or params
        return params

    def splits_classes(self, params: Any) -> bool:
        """Whether processes can share the work by class (``torchrun``)."""
        return self.classwise(params) if callable(self.classwise) else bool(self.classwise)


_REGISTRY: dict[str, MethodSpec] = {}


def register_method(name: str, factory: Any = None, *, params: type, replace: bool = False, **options: Any):
    """Register a method under ``name`` (lower case); used as a decorator when ``factory`` is
    omitted. ``options`` are the other fields of :class:`MethodSpec`: ``kind`` (condense/select),
    ``protocol`` (dsa/dc: how its sets are evaluated), ``init`` (its paper's initialisation),
    ``lr_img``/``momentum_img``/``optimizer_img`` (its default image step), ``classwise`` (bool, or a
    function of its parameters: may ``torchrun`` split it by class), ``augments`` (does it use the
    DSA strategy while condensing), ``presets`` (preset name -> settings, ``_ipc`` for per-ipc
    overrides), ``summary`` (one line for ``--help``). A taken name raises ``ValueError`` unless
    ``replace``."""
    if factory is None:
        return lambda f: register_method(name, f, params=params, replace=replace, **options)
    key = str(name).strip().lower()
    if not key or not key.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"invalid method name {name!r}: use letters, digits, '-' or '_'")
    if key in _REGISTRY and not replace:
        raise ValueError(f"method {key!r} is already registered")
    if not dataclasses.is_dataclass(params):
        raise TypeError(f"params of method {key!r} must be a dataclass of its hyper-parameters")
    undocumented = [f.name for f in dataclasses.fields(params) if not meta_of(f)]
    if undocumented:
        raise TypeError(f"method {key!r}: declare {', '.join(undocumented)} with settings.setting(help=...)")
    spec = MethodSpec(key, factory, params, **options)
    if spec.kind not in KINDS or spec.protocol not in PROTOCOLS:
        raise ValueError(f"method {key!r}: kind must be one of {KINDS} and protocol one of {PROTOCOLS}")
    if spec.condenses and spec.lr_img is None:
        raise ValueError(f"method {key!r}: a condensation method needs its default lr_img")
    _REGISTRY[key] = spec
    return factory


def unregister_method(name: str) -> None:
    """Forget method ``name`` (tests and notebooks that define one for a while)."""
    _REGISTRY.pop(str(name).strip().lower(), None)


def find_method(name: str) -> MethodSpec | None:
    """The registered method ``name`` (any case), or None."""
    return _REGISTRY.get(str(name).strip().lower())


def get_method(name: str, kind: str | None = None) -> MethodSpec:
    """The registered method ``name``; ``ConfigError`` listing the allowed names otherwise."""
    spec = find_method(name)
    names = list_methods(kind)
    if spec is None or (kind is not None and spec.kind != kind):
        raise ConfigError(f"invalid method {name!r}{did_you_mean(name, names)}; allowed: {', '.join(names)}")
    return spec


def list_methods(kind: str | None = None) -> list[str]:
    """Registered method names in registration order (``kind``: only condense or select)."""
    return [n for n, s in _REGISTRY.items() if kind is None or s.kind == kind]


def preset_names() -> tuple[str, ...]:
    """Every preset some registered method defines, the base presets first."""
    return tuple(dict.fromkeys([*BASE_PRESETS, *(p for s in _REGISTRY.values() for p in s.presets)]))
