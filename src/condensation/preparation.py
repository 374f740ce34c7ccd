"""Before a run writes anything: every setting resolved and checked, the data loaded, the output
directory new or resumable with the same settings (``prepare``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .config import ConfigError, DistillConfig, config_fields, method_params_of, resolve
from .data import Dataset, load_dataset
from .devices import device_from_flag
from .distributed import Context, context, local_device
from .formation import check_factor
from .live import check_live_log
from .methods import RealPool, get_method
from .methods.start import check_start
from .models import build_model
from .rng import make_generator
from .runs import RunDir, RunDirError

__all__ = ["Prepared", "prepare"]


@dataclass
class Prepared:
    """A validated run, ready to iterate: resolved config, data on the device, run directory."""

    config: DistillConfig
    dataset: Dataset
    pool: RealPool
    device: torch.device
    run: RunDir | None
    state: dict[str, Any] | None
    dist: Context


def prepare(
    config: DistillConfig,
    out: str | Path | None = None,
    *,
    resume: bool = False,
    overwrite: bool = False,
    dataset: Dataset | None = None,
) -> Prepared:
    """Validate everything a run needs before any file is written: the dataset, every setting, the
    networks, the output directory (new, or resumable with the same settings)."""
    if resume and overwrite:
        raise RunDirError("--resume and --overwrite contradict each other; pass one")
    device = device_from_flag(config.device)
    dist = context(device)
    device = local_device(device)
    if dataset is None:
        dataset = load_dataset(config.dataset, data_dir=config.data_dir)
    spec = dataset.spec
    config = resolve(config, flip_ok=spec.flip_ok)
    config.dataset = spec.name
    method = get_method(config.method)
    if dist.active and method.condenses and not method.splits_classes(method_params_of(config)):
        why = "is not class-wise" if method.classwise is False else "with these settings (e.g. --matching joint) is not class-wise"
        raise ConfigError(f"--method {config.method} {why}: it needs every class in one process, so torchrun cannot "
                          "split it; run it without torchrun")
    _check_models_fit(config, spec)
    check_live_log(config.live_log, out)
    try:
        check_factor(config.factor, tuple(spec.image_size))
    except ValueError as e:
        raise ConfigError(f"--factor: {e}") from None
    if config.init_from:
        check_start(config.init_from, spec, config.ipc, config.factor)
    pool = RealPool(dataset.train.images, dataset.train.labels, spec.num_classes, dataset.normalize)
    per_class = config.ipc * config.factor**2  # real images a real start takes from each class
    if per_class > pool.smallest_class:
        what = f"--ipc {config.ipc}" + (f" with --factor {config.factor} ({per_class} images)" if config.factor > 1 else "")
        raise ValueError(
            f"{what} is more than the smallest class of {spec.name} holds ({pool.smallest_class} images); "
            + (f"use --ipc {fits} or less" if (fits := pool.smallest_class // config.factor**2) else "use a smaller --factor")
        )
    run = RunDir(out) if out is not None else None
    state = None
    if run is not None:
        if resume:
            state = _load_resumable(run, config)
        else:
            run.check_new(overwrite)
    dataset = dataset.to(device)
    pool = RealPool(dataset.train.images, dataset.train.labels, spec.num_classes, dataset.normalize)
    dist.barrier()  # every process has checked the directory before rank 0 writes to it
    return Prepared(config, dataset, pool, device, run, state, dist)


def _check_models_fit(config: DistillConfig, spec) -> None:
    """Fail before any work if a network cannot take this dataset's images (e.g. VGG below 32 px)."""
    for name in dict.fromkeys((config.model, *config.eval_models)):
        build_model(name, spec, generator=make_generator(0, "check"))


def _load_resumable(run: RunDir, config: DistillConfig) -> dict[str, Any]:
    """The checkpoint of ``run`` if it can continue with ``config``; ``RunDirError`` otherwise."""
    if not run.checkpoint_path.exists():
        if run.holds_run():  # killed before its first checkpoint (a signal would have cleared it)
            raise RunDirError(
                f"cannot resume {run.path}: its run stopped before its first checkpoint, so there is nothing to resume; "
                "pass --overwrite instead of --resume to start it again"
            )
        raise RunDirError(
            f"cannot resume {run.path}: it holds no checkpoint.pt; start a new run (without --resume) or choose another --out"
        )
    try:
        state = run.load_checkpoint()
        saved = DistillConfig.from_saved(state["config"])
        start = int(state["iteration"])
        state.setdefault("compiled", False)
    except Exception as e:  # a damaged file of any kind
        raise RunDirError(
            f"cannot resume {run.path}: its checkpoint is unreadable ({type(e).__name__}); "
            "delete checkpoint.pt to start over, or choose another --out"
        ) from None
    changed = _changed_settings(saved, config)
    if changed:
        raise RunDirError(
            f"cannot resume {run.path}: settings differ from the saved run ({', '.join(changed)}); "
            "use the same flags or another --out"
        )
    if start > config.iterations:
        raise RunDirError(
            f"cannot resume {run.path}: its checkpoint is at iteration {start}, past --iterations {config.iterations}; "
            f"pass --iterations {start} or more"
        )
    return state


# Settings that may change on resume without changing the synthetic set.
_RESUMABLE = frozenset(f.name for f in config_fields() if f.metadata.get("resumable"))


def _changed_settings(saved: DistillConfig, new: DistillConfig) -> list[str]:
    a, b = saved.to_dict(), new.to_dict()
    changed = [k for k in a if k not in _RESUMABLE and a[k] != b.get(k)]
    if a.get("lr_schedule", "constant") != "constant" and a["iterations"] != b["iterations"]:
        changed.append("iterations (the learning-rate schedule depends on them)")
    return changed
