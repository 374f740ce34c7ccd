"""Run configuration: presets, the per-ipc loop table, and resolution of every default.

A ``DistillConfig`` holds what the user asked for (``None`` = "use the preset's value");
``resolve`` fills every field from the preset and the method's rules and validates the values, so
``config.json`` of a run always records the complete, explicit settings.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from .augment import default_strategy, parse_strategy
from .errors import ConfigError
from .kernels import COMPILE_MODES
from .methods.distances import METRICS
from .methods.gradient_matching import MATCHINGS  # classwise (the papers') or joint (ours, after DCC)
from .evaluate import expand_models
from .models import canonical_name

__all__ = ["DistillConfig", "PRESETS", "METHODS", "loops_for_ipc", "resolve", "ConfigError", "preset_values"]

METHODS = ("dsa", "dc", "dm")
INITS = ("real", "noise", "herding")
DSA_MODES = ("single", "all")
BN_MODES = ("reference", "exact")
# Where gradient matching applies the DSA draw: siamese (one shared draw, the method), or the
# ablation's naive variants: real images only, synthetic images only, both with independent draws.
DSA_SIDES = ("siamese", "real", "synthetic", "independent")
EVAL_PROTOCOLS = ("dsa", "dc", "dm", "random")
# The image learning rate of each method's paper (DC/DSA main.py 0.1, DM main_DM.py 1.0).
DEFAULT_LR_IMG = {"dsa": 0.1, "dc": 0.1, "dm": 1.0}

# The authors' (outer_loop, inner_loop) per images-per-class.
_LOOP_TABLE = {1: (1, 1), 10: (10, 50), 20: (20, 25), 30: (30, 20), 40: (40, 15), 50: (50, 10)}

# Budgets. ``paper`` is the authors' setting; ``quick`` is sized for a 2-core CPU (minutes);
# ``fast`` is ours, not the papers': the papers' image step with a quarter of the real batch
# (an ipc-1 DSA iteration 3.4x cheaper) and 600 iterations, evaluated once with 5 networks; at
# ipc 1, where it was measured, multi-formation (factor 2: each stored image trains as four) and
# 300 iterations (issue #7, docs/results.md "Time to accuracy").
# ``_ipc`` holds per-images-per-class overrides, ``_method`` per-method ones (applied last; DM's
# paper budget is 20,000 cheap iterations).
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {
        "iterations": 1000, "batch_real": 256, "num_eval": 20, "eval_every": 500, "eval_epochs": None,
        "_method": {"dm": {"iterations": 20000, "eval_every": 2000}},
    },
    "quick": {
        "iterations": 30, "batch_real": 256, "num_eval": 3, "eval_every": 0, "eval_epochs": None,
        "_method": {"dm": {"iterations": 300}},
    },
    "fast": {
        "iterations": 600, "batch_real": 64, "num_eval": 5, "eval_every": 0, "eval_epochs": None,
        "_ipc": {1: {"factor": 2, "iterations": 300}},
        "_method": {"dm": {"iterations": 300, "batch_real": 256, "factor": 1}},
    },
}
PRESET_KEYS = ("iterations", "batch_real", "num_eval", "eval_every", "eval_epochs", "lr_img", "momentum_img",
               "optimizer_img", "lr_schedule", "factor")
IMAGE_OPTIMIZERS = ("sgd", "adam")
LR_SCHEDULES = ("constant", "cosine", "step")
# What every preset leaves at the papers' values unless it says otherwise.
_PAPER_IMAGE_STEP = {"momentum_img": 0.5, "optimizer_img": "sgd", "lr_schedule": "constant", "factor": 1}
# Settings added after runs were first saved, with the value every version before them used: a
# checkpoint written by such a version still resumes.
_ADDED_SETTINGS = dict(_PAPER_IMAGE_STEP)


def preset_values(preset: str, method: str, ipc: int | None = None) -> dict[str, Any]:
    """The settings preset ``preset`` gives method ``method`` at ``ipc`` images per class (keys of
    ``PRESET_KEYS`` it sets)."""
    values = dict(_PAPER_IMAGE_STEP)
    values.update({k: v for k, v in PRESETS[preset].items() if not k.startswith("_")})
    values.update(PRESETS[preset].get("_ipc", {}).get(ipc, {}))
    values.update(PRESETS[preset].get("_method", {}).get(method, {}))
    return values


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


def loops_for_ipc(ipc: int) -> tuple[int, int]:
    """(outer_loop, inner_loop) for ``ipc`` images per class.

    The authors' table for 1, 10, 20, 30, 40, 50. Elsewhere (their code exits): 2-9 use
    ``(ipc, 50)`` like ipc 10 (one synthetic update per image per iteration, network trained for
    50 epochs between updates); 11-49 interpolate linearly between the neighbouring entries;
    above 50 use ``(50, 10)``, the authors' advice for large sets (issue #2 of their repository).
    """
    if ipc < 1:
        raise ConfigError(f"ipc must be a positive integer, got {ipc}")
    if ipc in _LOOP_TABLE:
        return _LOOP_TABLE[ipc]
    if ipc < 10:
        return ipc, 50
    if ipc > 50:
        return _LOOP_TABLE[50]
    lo = (ipc // 10) * 10
    hi = lo + 10
    t = (ipc - lo) / 10
    (o1, i1), (o2, i2) = _LOOP_TABLE[lo], _LOOP_TABLE[hi]
    return round(o1 + t * (o2 - o1)), round(i1 + t * (i2 - i1))


@dataclass
class DistillConfig:
    """Settings of one condensation run; ``None`` means "the preset's / the method's default"."""

    dataset: str = "fashion-mnist"
    method: str = "dsa"
    ipc: int = 1
    init: str = "real"
    model: str = "convnet"
    strategy: str | None = None  # DSA strategy; None = the dataset's default (no flip for digits)
    dsa_mode: str = "single"
    preset: str = "quick"
    iterations: int | None = None
    batch_real: int | None = None
    batch_train: int = 256
    lr_img: float | None = None  # None = the preset's, else the method's (DC/DSA 0.1, DM 1.0)
    momentum_img: float | None = None  # SGD momentum of the images; None = the preset's (0.5)
    optimizer_img: str | None = None  # sgd (the papers') or adam; None = the preset's
    lr_schedule: str | None = None  # constant (the papers'), cosine (to 0 at the last iteration), step (x0.1 at half)
    lr_net: float = 0.01
    outer_loop: int | None = None
    inner_loop: int | None = None
    metric: str = "ours"
    matching: str = "classwise"  # dc/dsa: classwise (the papers') or joint (sums over classes, ours)
    factor: int | None = None  # multi-formation (ours, after IDC): each stored image trains as factor**2; 1 = off; None = the preset's
    bn_stats: str = "reference"
    dsa_sides: str = "siamese"  # ablation only: where the DSA draw is applied while matching
    eval_protocol: str | None = None  # None = the method's own evaluation protocol
    seed: int = 0
    eval_every: int | None = None  # 0 = evaluate only at the end
    num_eval: int | None = None
    eval_models: tuple[str, ...] | None = None  # networks or pools; None = ("S",): the model without BatchNorm
    eval_epochs: int | None = None  # None = the method's protocol (DSA 1000, DC 300/1000)
    baseline: bool = True  # also evaluate random real images of the same size
    device: str = "auto"
    data_dir: str | None = None
    checkpoint_every: int = 10
    compile: str = "auto"  # torch.compile the first-order paths: auto (when the run is long enough), on, off
    micro_batch: int | None = None  # images per micro-batch of first-order compute; None: 32 on CPU, whole on GPU; 0: whole
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        if d["eval_models"] is not None:
            d["eval_models"] = list(d["eval_models"])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DistillConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"unknown config key(s): {', '.join(unknown)}")
        d = dict(d)
        if d.get("eval_models") is not None:
            d["eval_models"] = tuple(d["eval_models"])
        return cls(**d)

    @classmethod
    def from_saved(cls, d: dict[str, Any]) -> "DistillConfig":
        """A resolved config saved by this or an earlier version: settings that version predates
        take the value it used (e.g. the papers' SGD image step before ``optimizer_img`` existed)."""
        return cls.from_dict({**_ADDED_SETTINGS, **d})


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    v = str(value).lower()
    if v not in allowed:
        raise ConfigError(f"invalid {name} {value!r}; allowed: {', '.join(allowed)}")
    return v


def _positive(name: str, value: int, zero_ok: bool = False) -> int:
    if value is None or int(value) != value or value < (0 if zero_ok else 1):
        raise ConfigError(f"{name} must be a {'non-negative' if zero_ok else 'positive'} integer, got {value!r}")
    return int(value)


def resolve(config: DistillConfig, flip_ok: bool = True) -> DistillConfig:
    """A copy of ``config`` with every ``None`` filled in and every value validated.

    ``flip_ok`` is the dataset's ``spec.flip_ok`` (the default DSA strategy drops flip for digits).
    """
    c = dataclasses.replace(config)
    c.method = _choice("method", c.method, METHODS)
    c.init = _choice("init", c.init, INITS)
    c.dsa_mode = _choice("dsa mode", c.dsa_mode, DSA_MODES)
    c.metric = _choice("matching distance", c.metric, METRICS)
    c.matching = _choice("matching", c.matching, MATCHINGS)
    c.bn_stats = _choice("BatchNorm statistics mode", c.bn_stats, BN_MODES)
    c.compile = _choice("compile mode", c.compile, COMPILE_MODES)
    c.preset = _choice("preset", c.preset, tuple(PRESETS))
    c.dsa_sides = _choice("DSA sides", c.dsa_sides, DSA_SIDES)
    if c.eval_protocol is not None:
        c.eval_protocol = _choice("evaluation protocol", c.eval_protocol, EVAL_PROTOCOLS)
    c.model = canonical_name(c.model)  # ValueError listing the valid names
    for key, value in preset_values(c.preset, c.method, c.ipc).items():
        if getattr(c, key) is None:
            setattr(c, key, value)
    if c.lr_img is None:
        c.lr_img = DEFAULT_LR_IMG[c.method]
    c.optimizer_img = _choice("image optimizer", c.optimizer_img, IMAGE_OPTIMIZERS)
    c.lr_schedule = _choice("learning-rate schedule", c.lr_schedule, LR_SCHEDULES)
    if not (isinstance(c.momentum_img, (int, float)) and 0 <= c.momentum_img < 1):
        raise ConfigError(f"momentum_img must be in [0, 1), got {c.momentum_img!r}")
    _positive("ipc", c.ipc)
    _positive("iterations", c.iterations, zero_ok=True)
    _positive("batch_real", c.batch_real)
    _positive("batch_train", c.batch_train)
    _positive("num_eval", c.num_eval, zero_ok=True)
    _positive("eval_every", c.eval_every, zero_ok=True)
    _positive("checkpoint_every", c.checkpoint_every)
    _positive("factor", c.factor)
    if c.micro_batch is not None:
        _positive("micro_batch", c.micro_batch, zero_ok=True)
    if c.eval_epochs is not None:
        _positive("eval_epochs", c.eval_epochs)
    outer, inner = loops_for_ipc(c.ipc)
    c.outer_loop = _positive("outer_loop", outer if c.outer_loop is None else c.outer_loop)
    c.inner_loop = _positive("inner_loop", inner if c.inner_loop is None else c.inner_loop, zero_ok=True)
    if c.method in ("dsa", "dm"):
        c.strategy = "_".join(parse_strategy(c.strategy if c.strategy is not None else default_strategy(flip_ok))) or "none"
    elif c.strategy is not None and parse_strategy(c.strategy):
        raise ConfigError("--strategy applies to --method dsa and dm only (DC matches gradients without augmentation)")
    else:
        c.strategy = None
    if c.matching != "classwise" and c.method not in ("dc", "dsa"):
        raise ConfigError("--matching applies to gradient matching (--method dc or dsa) only")
    if c.dsa_sides != "siamese" and c.method != "dsa":
        raise ConfigError("dsa_sides (where the DSA draw is applied) applies to --method dsa only")
    for name in ("lr_img", "lr_net"):
        value = getattr(c, name)
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ConfigError(f"{name} must be a positive number, got {value!r}")
    c.eval_models = expand_models(c.eval_models or ("S",), c.model)
    return c
