"""Run configuration: the settings of one run, and resolution of every default.

A ``DistillConfig`` holds what the user asked for, ``None`` meaning "the preset's or the method's
default": the run's own settings as fields, and the method's hyper-parameters (the fields of its
own dataclass, see ``methods.registry``) in ``params``. Those are also given and read by name, as
if they were fields: ``DistillConfig(method="dsa", batch_real=64).batch_real == 64``.

``resolve`` fills every default from the method's preset (at the run's ipc) and rules, validates
every value and drops what the method does not use, so ``config.json`` of a run (``to_dict``:
one flat dict) records the complete, explicit settings.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from .augment import default_strategy, parse_strategy
from .errors import ConfigError
from .evaluate import expand_models, protocol_names
from .kernels import COMPILE_MODES
from .live import LIVE_LOGS
from .methods import get_method, list_methods
from .methods.gradient_matching import MATCHINGS, loops_for_ipc  # noqa: F401  (public here since before the registry)
from .methods.registry import find_method, preset_names
from .models import canonical_name
from .settings import COUNT, FRACTION, INT, NAMES, POSITIVE_FLOAT, POSITIVE_INT, SWITCH_OFF, check, setting

__all__ = ["DistillConfig", "resolve", "ConfigError", "lr_factor", "loops_for_ipc", "INITS", "DSA_MODES",
           "IMAGE_OPTIMIZERS", "LR_SCHEDULES", "config_fields", "param_fields", "method_params_of"]

INITS = ("real", "noise", "herding")
DSA_MODES = ("single", "all")
IMAGE_OPTIMIZERS = ("sgd", "adam")
LR_SCHEDULES = ("constant", "cosine", "step")
# Settings added after runs were first saved, with the value every version before them used: a
# checkpoint written by such a version still resumes.
_ADDED_SETTINGS = {"momentum_img": 0.5, "optimizer_img": "sgd", "lr_schedule": "constant", "factor": 1}
# What a method that selects real images (a coreset) does with the condensation-only settings.
_SELECTION_VALUES = {"factor": 1, "eval_every": 0, "baseline": False}


@dataclass(init=False)
class DistillConfig:
    """Settings of one run; ``None`` means "the preset's / the method's default"."""

    dataset: str = setting("fashion-mnist", help="mnist, fashion-mnist, svhn, cifar10, cifar100, tinyimagenet, imagefolder:PATH or npz:PATH (default: fashion-mnist)")
    method: str = setting("dsa", choices=lambda: list_methods(), help="the method that makes the set")
    ipc: int = setting(1, kind=POSITIVE_INT, help="images per class (default: 1)")
    init: str = setting("real", choices=INITS, condense_only=True, help="real: random real images (default); herding: the real images nearest each class's mean (pixel-space herding); noise: N(0,1) noise")
    init_from: str | None = setting(None, metavar="FILE", condense_only=True, help="start from the images of this synthetic-set file (e.g. a DM set), in place of --init; its dataset, ipc and factor must be the run's")
    model: str = setting("convnet", help="network whose gradients or embeddings are matched (coresets: the feature network; default: convnet; see 'condense models')")
    strategy: str | None = setting(None, help="DSA ops joined by '_' from color, crop, cutout, flip, scale, rotate, or none (default: all six; no flip for mnist/svhn)")
    dsa_mode: str = setting("single", choices=DSA_MODES, help="single: one random op per call (the paper); all: every op in turn")
    preset: str = setting("quick", choices=preset_names, resumable=True, help="budget: paper (the authors'), quick (CPU-sized; default), fast (ours: 64 real images per class, 5 networks, 600 iterations; at ipc 1 multi-formation --factor 2 and 300 iterations)")
    iterations: int | None = setting(None, kind=COUNT, resumable=True, condense_only=True, help="outer iterations (overrides the preset)")
    batch_train: int = setting(256, kind=POSITIVE_INT, cli=False, help="images per batch when networks train on the set (inner loop and evaluation)")
    lr_img: float | None = setting(None, kind=POSITIVE_FLOAT, condense_only=True, help="learning rate of the synthetic images (default: the method's, e.g. dsa/dc 0.1, dm 1.0)")
    momentum_img: float | None = setting(None, kind=FRACTION, condense_only=True, help="SGD momentum of the images (default: the method's, 0.5)")
    optimizer_img: str | None = setting(None, choices=IMAGE_OPTIMIZERS, condense_only=True, help="optimiser of the images (default sgd, the papers')")
    lr_schedule: str | None = setting(None, choices=LR_SCHEDULES, condense_only=True, help="image learning-rate schedule over the iterations (default constant)")
    lr_net: float = setting(0.01, kind=POSITIVE_FLOAT, cli=False, help="learning rate of networks trained on the set (inner loop and evaluation)")
    eval_lr: float | None = setting(None, kind=POSITIVE_FLOAT, resumable=True, help="learning rate of the evaluation networks (default: the rate the set learned, as trajectory matching's, else 0.01)")
    factor: int | None = setting(None, kind=POSITIVE_INT, metavar="F", condense_only=True, help="multi-formation (ours, after IDC): each stored image holds FxF tiles, each enlarged into a training image, so networks train on ipc*F*F images per class at the storage of ipc; F must divide the image sides; 1 = off (default: the preset's: 1, but 2 for --preset fast at ipc 1)")
    eval_protocol: str | None = setting(None, choices=lambda: protocol_names(), cli=False, resumable=True, help="evaluate as the sets of this method are (default: the method's own protocol)")
    seed: int = setting(0, kind=INT, help="seed of every random draw (default 0)")
    eval_every: int | None = setting(None, kind=COUNT, resumable=True, condense_only=True, help="also evaluate every N iterations (0: only at the end)")
    num_eval: int | None = setting(None, kind=COUNT, resumable=True, help="networks trained per evaluation model (0: no evaluation; default: the preset's)")
    eval_models: tuple[str, ...] | None = setting(None, kind=NAMES, resumable=True, help="comma-separated evaluation networks or a pool (paper, S, SS, M, B, W, D, A, N, P; default: S)")
    eval_epochs: int | None = setting(None, kind=POSITIVE_INT, resumable=True, help="training epochs per evaluation network (default: the protocol's)")
    baseline: bool = setting(True, kind=SWITCH_OFF, resumable=True, condense_only=True, help="do not evaluate random real images alongside")
    device: str = setting("auto", resumable=True, help="auto (CUDA if available), cpu, cuda or cuda:N (default: auto)")
    data_dir: str | None = setting(None, metavar="DIR", resumable=True, help="where dataset files are (searched before $CONDENSATION_DATA, the user cache and system locations)")
    checkpoint_every: int = setting(10, kind=POSITIVE_INT, cli=False, resumable=True, condense_only=True, help="iterations between checkpoints")
    compile: str = setting("auto", choices=COMPILE_MODES, resumable=True, help="torch.compile the first-order paths (auto: when the run is long enough; see README, Performance)")
    live_log: str | None = setting(None, choices=LIVE_LOGS, flag="--log", metavar="{tensorboard,wandb}", resumable=True, help="stream the loss, accuracies and image grids while the run works: tensorboard (into OUT/tensorboard/; view with 'tensorboard --logdir OUT') or wandb (project condensation); needs that package installed (default: off)")
    micro_batch: int | None = setting(None, kind=COUNT, resumable=True, help="images per micro-batch of first-order compute (default: 32 on CPU, whole batches on GPU; 0: whole batches)")
    params: dict[str, Any] = field(default_factory=dict)  # the method's hyper-parameters, by name

    def __init__(self, **values: Any) -> None:
        params = dict(values.pop("params", None) or {})
        for f in _FIELDS:
            value = values.pop(f.name) if f.name in values else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default)
            object.__setattr__(self, f.name, value)
        params.update(values)  # every other name is a hyper-parameter of the method (checked by resolve)
        object.__setattr__(self, "params", params)

    def __getattr__(self, name: str) -> Any:  # only for names that are not fields
        params = self.__dict__.get("params")
        if params is not None and name in params:
            return params[name]
        spec = find_method(self.__dict__.get("method", ""))
        if spec is not None and name in spec.param_names():
            return next(f.default for f in spec.param_fields() if f.name == name)
        raise AttributeError(f"DistillConfig has no setting {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _FIELD_NAMES or name == "params":
            object.__setattr__(self, name, value)
        else:
            self.params[name] = value

    def to_dict(self) -> dict[str, Any]:
        """Every setting in one flat dict (the method's hyper-parameters beside the run's)."""
        d = {f.name: getattr(self, f.name) for f in _FIELDS}
        if d["eval_models"] is not None:
            d["eval_models"] = list(d["eval_models"])
        return {**d, **self.params}

    def for_method(self, method: str, **changes: Any) -> "DistillConfig":
        """A copy for ``method`` (with ``changes``), without the hyper-parameters only other
        methods take: what a grid or an application gives each of its methods from one base."""
        foreign = set(param_fields()) - set(get_method(method).param_names())
        params = {k: v for k, v in self.params.items() if k not in foreign}
        return dataclasses.replace(self, method=method, params=params, **changes)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DistillConfig":
        """The config of ``to_dict``'s output; ``ConfigError`` for a name no setting or registered
        method's hyper-parameter has."""
        unknown = sorted(set(d) - _FIELD_NAMES - _all_param_names())
        if unknown:
            raise ConfigError(f"unknown config key(s): {', '.join(unknown)}")
        d = dict(d)
        if d.get("eval_models") is not None:
            d["eval_models"] = tuple(d["eval_models"])
        return cls(**d)

    @classmethod
    def from_saved(cls, d: dict[str, Any]) -> "DistillConfig":
        """A resolved config saved by this or an earlier version: settings that version predates
        take the value it used (e.g. the papers' SGD image step before ``optimizer_img`` existed),
        and the other methods' settings that versions before the registry saved are dropped."""
        d = {k: v for k, v in {**_ADDED_SETTINGS, **d}.items() if k != "extra"}
        spec = find_method(d.get("method", "dsa"))
        if spec is not None:
            d = {k: v for k, v in d.items() if k in _FIELD_NAMES or k in spec.param_names()}
        return cls.from_dict(d)


_FIELDS = tuple(f for f in dataclasses.fields(DistillConfig) if f.name != "params")
_FIELD_NAMES = frozenset(f.name for f in _FIELDS)


def config_fields() -> tuple[dataclasses.Field, ...]:
    """The run's own settings (every ``DistillConfig`` field but ``params``)."""
    return _FIELDS


def param_fields() -> dict[str, tuple[dataclasses.Field, list[str]]]:
    """Every registered method's hyper-parameters: name -> (its field, the methods that take it)."""
    out: dict[str, tuple[dataclasses.Field, list[str]]] = {}
    for name in list_methods():
        for f in get_method(name).param_fields():
            out.setdefault(f.name, (f, []))[1].append(name)
    return out


def _all_param_names() -> set[str]:
    return set(param_fields())


def method_params_of(config: DistillConfig) -> Any:
    """The method's parameter dataclass of a resolved config."""
    spec = get_method(config.method)
    return spec.params(**config.params)


def lr_factor(schedule: str, iteration: int, iterations: int) -> float:
    """The image learning rate's multiplier at ``iteration`` (0-based) of ``iterations``:
    constant 1; cosine from 1 down to 0 at the last iteration; step 1, then 0.1 from half-way."""
    if schedule == "constant" or iterations <= 1:
        return 1.0
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * iteration / iterations))
    if schedule == "step":
        return 1.0 if iteration < iterations // 2 else 0.1
    raise ConfigError(f"invalid learning-rate schedule {schedule!r}; allowed: {', '.join(LR_SCHEDULES)}")


def _join(names: list[str], word: str) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {word} {names[-1]}"


def _own_params(c: DistillConfig, spec, preset: dict[str, Any]) -> dict[str, Any]:
    """The method's hyper-parameters: given, else the preset's; a setting of other methods only
    is refused unless it holds its default (grids build every cell from one base config)."""
    own = set(spec.param_names())
    given = {k: v for k, v in c.params.items() if k in own}
    for key, value in preset.items():
        if key in own and given.get(key) is None:
            given[key] = value
    if spec.condenses:
        for key, value in c.params.items():
            if key in own or value is None:
                continue
            f, takers = param_fields().get(key, (None, []))
            if f is None:
                raise ConfigError(f"unknown setting {key!r}; --method {spec.name} takes: {', '.join(sorted(own)) or 'none'}")
            if value != f.default:
                raise ConfigError(f"--{key.replace('_', '-')} applies to --method {_join(sorted(takers), 'or')} only")
    return given


def _dsa_evaluated(c: DistillConfig) -> bool:
    """Whether ``c`` names another method's protocol for its evaluation, and that is DSA's (then a
    method that condenses without augmentation takes a strategy: its evaluation's)."""
    other = find_method(c.eval_protocol) if c.eval_protocol else None
    return other is not None and other.protocol == "dsa"


def resolve(config: DistillConfig, flip_ok: bool = True) -> DistillConfig:
    """A copy of ``config`` with every ``None`` filled in and every value validated.

    ``flip_ok`` is the dataset's ``spec.flip_ok`` (the default DSA strategy drops flip for digits).
    """
    spec = get_method(config.method)
    c = dataclasses.replace(config, method=spec.name)
    for f in _FIELDS:
        object.__setattr__(c, f.name, check(f, getattr(c, f.name)))
    c.model = canonical_name(c.model)  # ValueError listing the valid names
    preset = spec.preset(c.preset, c.ipc)
    unknown = sorted(set(preset) - _FIELD_NAMES - set(spec.param_names()))
    if unknown:
        raise ConfigError(f"preset {c.preset!r} of --method {spec.name} sets unknown setting(s) {', '.join(unknown)}")
    for key, value in preset.items():
        if key in _FIELD_NAMES and getattr(c, key) is None:
            setattr(c, key, value)
    params = spec.make_params(_own_params(c, spec, preset), c.ipc, c.dataset)
    for key, value in (params.image_step(c.ipc, c.dataset) if hasattr(params, "image_step") else {}).items():
        if key in _FIELD_NAMES and getattr(c, key) is None and value is not None:
            setattr(c, key, value)  # the method's table for this dataset and ipc (e.g. MTT's lr_img)
    defaults = {"lr_img": spec.lr_img, "momentum_img": spec.momentum_img, "optimizer_img": spec.optimizer_img,
                "lr_schedule": "constant", "factor": 1}
    for key, value in defaults.items():
        if getattr(c, key) is None:
            setattr(c, key, value)
    for f in _FIELDS:  # the preset's and the method's values pass the same checks as the user's
        object.__setattr__(c, f.name, check(f, getattr(c, f.name)))
    if not isinstance(c.momentum_img, (int, float)) or not 0 <= c.momentum_img < 1:
        raise ConfigError(f"momentum_img must be in [0, 1), got {c.momentum_img!r}")
    if not spec.condenses:
        for f in _FIELDS:
            if f.metadata.get("condense_only"):
                object.__setattr__(c, f.name, _SELECTION_VALUES.get(f.name))
    for name in ("iterations", "num_eval", "eval_every") if spec.condenses else ("num_eval",):
        if getattr(c, name) is None:
            raise ConfigError(f"{name} must be set: preset {c.preset!r} of --method {spec.name} does not set it")
    c.params = dataclasses.asdict(params)
    if spec.augments:
        c.strategy = "_".join(parse_strategy(c.strategy if c.strategy is not None else default_strategy(flip_ok))) or "none"
    elif c.strategy is not None and parse_strategy(c.strategy) and spec.condenses and not _dsa_evaluated(c):
        augmenting = [n for n in list_methods("condense") if get_method(n).augments]
        raise ConfigError(f"--strategy applies to --method {_join(augmenting, 'and')} only "
                          f"({spec.name} condenses without augmentation)")
    elif c.strategy is not None:  # a coreset, or a set evaluated under the DSA protocol: its evaluation's ops
        c.strategy = "_".join(parse_strategy(c.strategy)) or None
    else:
        c.strategy = None
    c.eval_models = expand_models(c.eval_models or ("S",), c.model)
    return c
