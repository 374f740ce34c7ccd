"""The condensation loop shared by every method: initialise, iterate, log, checkpoint, evaluate, save.

``distill(config, out)`` is what ``condense distill`` runs. The loop itself is method-agnostic: a
method (see ``methods/``) only implements one iteration. Every iteration draws from streams named
by ``(seed, iteration, ...)``, so a run resumed from its checkpoint is bit-identical to one that
was never interrupted.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from . import __version__
from .augment import DSA
from .kernels import EAGER, Kernels, resolve_micro_batch, should_compile
from .config import DistillConfig, resolve
from .data import Dataset, load_dataset
from .evaluate import EvalProtocol, evaluate_on, protocol_for
from .methods.base import Method, RealPool, SyntheticImages
from .methods.gradient_matching import GradientMatching
from .models import build_model
from .rng import make_generator
from .devices import device_from_flag
from .runs import RunDir
from .synset import SyntheticSet
from .viz import save_grid

__all__ = ["distill", "DistillResult", "build_method", "initial_images", "random_real_set", "RunDirError"]


class RunDirError(RuntimeError):
    """The output directory cannot be used as asked: it holds another run, or its checkpoint
    cannot be resumed (unreadable, other settings, past the requested iterations)."""


@dataclass
class DistillResult:
    """What a run produced: the synthetic set, its accuracies and the random-real baseline's."""

    synset: SyntheticSet
    config: DistillConfig
    accuracy: dict[str, dict] = field(default_factory=dict)
    baseline: dict[str, dict] = field(default_factory=dict)
    seconds: float = 0.0
    out: Path | None = None
    losses: list[float] = field(default_factory=list)  # matching loss of every iteration


def initial_images(config: DistillConfig, pool: RealPool, channels: int, image_size: tuple[int, int]) -> torch.Tensor:
    """The starting synthetic images (class-major): random real images, or N(0, 1) noise in the
    normalised space. Drawn from the stream ``(seed, "init")``."""
    if config.init == "real":
        return _random_real(pool, config.ipc, config.seed)[0]
    shape = (pool.num_classes * config.ipc, channels, *image_size)
    return torch.randn(shape, generator=make_generator(config.seed, "init")).to(pool.device)


def _random_real(pool: RealPool, ipc: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``ipc`` random real images per class and their labels, from the stream ``(seed, "init")``."""
    return pool.balanced(ipc, make_generator(seed, "init"))


def random_real_set(pool: RealPool, ipc: int, seed: int, dataset: Dataset, meta: dict | None = None) -> SyntheticSet:
    """``ipc`` random real images per class (the same images a run with ``--init real`` starts
    from), as a synthetic set."""
    images, labels = _random_real(pool, ipc, seed)
    return _synset(images, labels, dataset, ipc, {"method": "random", "seed": seed, **(meta or {})})


def _synset(images: torch.Tensor, labels: torch.Tensor, dataset: Dataset, ipc: int, meta: dict) -> SyntheticSet:
    spec = dataset.spec
    return SyntheticSet(
        images=images.detach().float().cpu(),
        labels=labels.detach().long().cpu(),
        mean=spec.mean,
        std=spec.std,
        dataset=spec.name,
        classes=spec.classes,
        ipc=ipc,
        meta={"version": __version__, **meta},
    )


def build_method(
    config: DistillConfig, pool: RealPool, channels: int, image_size: tuple[int, int], kernels: Kernels | None = None
) -> Method:
    """The method object for a resolved config (``kernels``: compiled first-order paths, or eager)."""
    kernels = kernels or EAGER
    if config.method in ("dc", "dsa"):
        augment = DSA(config.strategy, mode=config.dsa_mode) if config.method == "dsa" else None
        return GradientMatching(
            pool,
            model=config.model,
            channels=channels,
            image_size=image_size,
            seed=config.seed,
            outer_loop=config.outer_loop,
            inner_loop=config.inner_loop,
            batch_real=config.batch_real,
            batch_train=config.batch_train,
            lr_net=config.lr_net,
            metric=config.metric,
            augment=augment,
            bn_stats=config.bn_stats,
            name=config.method,
            kernels=kernels,
        )
    raise ValueError(f"unknown method {config.method!r}")


def _protocol(config: DistillConfig, dataset: Dataset, model: str) -> EvalProtocol:
    return protocol_for(
        config.method,
        dataset.spec.name,
        model,
        strategy=config.strategy,
        flip_ok=dataset.spec.flip_ok,
        dsa_mode=config.dsa_mode,
        epochs=config.eval_epochs,
    )


def _evaluate(
    synset: SyntheticSet, config: DistillConfig, dataset: Dataset, device: torch.device, label: str, log: Callable[[str], None]
) -> dict[str, dict]:
    """Evaluate ``synset`` on every evaluation model with that model's protocol."""
    return evaluate_on(
        synset, dataset, models=config.eval_models, num_eval=config.num_eval,
        protocol_of=lambda model: _protocol(config, dataset, model), seed=config.seed, device=device,
        compile=config.compile, micro_batch=config.micro_batch,
        on_network=lambda m, k, acc, secs: log(f"  {label} {m} #{k + 1}/{config.num_eval}: {100 * acc:.2f}% ({secs:.0f}s)"),
    )


def _format(results: dict[str, dict]) -> str:
    return ", ".join(f"{m} {100 * r['mean']:.2f} ± {100 * r['std']:.2f}%" for m, r in results.items())


def distill(
    config: DistillConfig,
    out: str | Path | None = None,
    *,
    resume: bool = False,
    dataset: Dataset | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> DistillResult:
    """Condense ``config.dataset`` as ``config`` says; write the run into ``out`` if given.

    ``dataset`` skips loading (tests, notebooks). ``resume=True`` continues from ``out``'s
    checkpoint. ``log`` receives progress lines (default: stderr).
    """
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    device = device_from_flag(config.device)
    if dataset is None:
        dataset = load_dataset(config.dataset, data_dir=config.data_dir)
    spec = dataset.spec
    config = resolve(config, flip_ok=spec.flip_ok)
    config.dataset = spec.name
    channels, image_size = spec.channels, tuple(spec.image_size)
    _check_models_fit(config, spec)
    dataset = dataset.to(device)

    pool = RealPool(dataset.train.images, dataset.train.labels, spec.num_classes, dataset.normalize)
    if config.init == "real" and config.ipc > pool.smallest_class:
        raise ValueError(
            f"--init real needs {config.ipc} images in every class but the smallest class has {pool.smallest_class}; "
            "use --init noise or a smaller --ipc"
        )

    run = RunDir(out) if out is not None else None
    state = _prepare_run_dir(run, config, resume) if run is not None else None
    start = int(state["iteration"]) if state else 0
    # a resumed run keeps the kernels it started with, so that it stays bit-identical
    compiled = state["compiled"] if state else should_compile(config.compile, config.iterations * config.outer_loop >= 10)
    kernels = Kernels.for_mode("on" if compiled else "off", True, micro_batch=resolve_micro_batch(config.micro_batch, device))
    method = build_method(config, pool, channels, image_size, kernels)
    syn = SyntheticImages(
        initial_images(config, pool, channels, image_size), config.ipc, spec.num_classes, config.lr_img, config.momentum_img
    )
    elapsed = 0.0
    losses: list[float] = []
    if state:
        syn.load_state_dict(state["synthetic"])
        elapsed = float(state.get("seconds", 0.0))
        losses = [r["loss"] for r in run.read_metrics() if "loss" in r]
        log(f"resuming {run.path} at iteration {start}/{config.iterations}")

    def meta(iteration: int) -> dict[str, Any]:
        return {"method": config.method, "iteration": iteration, "config": config.to_dict(), "seed": config.seed}

    bar = tqdm(
        range(start, config.iterations),
        initial=start,
        total=config.iterations,
        desc=f"{config.method} {spec.name} ipc={config.ipc}",
        unit="it",
        disable=not progress,
        dynamic_ncols=True,
    )
    for it in bar:
        t0 = time.perf_counter()
        loss = float(method.iteration(syn, it))  # one host sync per iteration, for the log
        seconds = time.perf_counter() - t0
        elapsed += seconds
        losses.append(loss)
        done = it + 1
        bar.set_postfix(loss=f"{loss:.4f}", s_per_it=f"{seconds:.1f}")
        if run is not None:
            run.append_metrics({"iteration": done, "loss": loss, "seconds": seconds})
        if config.eval_every and done % config.eval_every == 0 and done < config.iterations and config.num_eval:
            snapshot = _synset(syn.images, syn.labels, dataset, config.ipc, meta(done))
            acc = _evaluate(snapshot, config, dataset, device, f"iteration {done}", log)
            log(f"iteration {done}: {_format(acc)}")
            if run is not None:
                run.append_metrics({"iteration": done, "eval": acc})
        if run is not None and (done % config.checkpoint_every == 0 or done == config.iterations):
            run.save_checkpoint({
                "iteration": done, "seconds": elapsed, "synthetic": syn.state_dict(),
                "config": config.to_dict(), "compiled": kernels.compile,
            })
    bar.close()

    synset = _synset(syn.images, syn.labels, dataset, config.ipc, meta(config.iterations))
    if run is not None:
        synset.save(run.file("synset.pt"))
        save_grid(synset, run.file("synset.png"))
    result = DistillResult(synset=synset, config=config, seconds=elapsed, out=run.path if run else None, losses=losses)
    if config.num_eval:
        result.accuracy = _evaluate(synset, config, dataset, device, config.method, log)
        if config.baseline and config.ipc > pool.smallest_class:
            log(f"no random-real baseline: the smallest class has fewer than {config.ipc} images")
        elif config.baseline:
            baseline_set = random_real_set(pool, config.ipc, config.seed, dataset)
            result.baseline = _evaluate(baseline_set, config, dataset, device, "random real", log)
    if run is not None:
        run.write_json("results.json", _results_json(result))
    return result


def _check_models_fit(config: DistillConfig, spec) -> None:
    """Fail before any work if a network cannot take this dataset's images (e.g. VGG below 32 px)."""
    for name in dict.fromkeys((config.model, *config.eval_models)):
        build_model(name, spec, generator=make_generator(0, "check"))


def _results_json(result: DistillResult) -> dict[str, Any]:
    config = result.config
    return {
        "accuracy": result.accuracy,
        "iteration": config.iterations,
        "seconds": result.seconds,
        "baseline": {"random_real": result.baseline} if result.baseline else {},
        "dataset": config.dataset,
        "method": config.method,
        "ipc": config.ipc,
        "seed": config.seed,
        "num_eval": config.num_eval,
    }


def _prepare_run_dir(run: RunDir, config: DistillConfig, resume: bool) -> dict[str, Any] | None:
    """Create or reopen ``run``; return the checkpoint to resume from, or None for a new run."""
    has_checkpoint = run.checkpoint_path.exists()
    if has_checkpoint and not resume:
        raise RunDirError(f"{run.path} already holds a run; pass --resume to continue it, or choose another --out")
    if run.path.exists() and not run.path.is_dir():
        raise RunDirError(f"--out {run.path} is a file, not a directory")
    run.create()
    if not has_checkpoint:
        run.write_json("config.json", config.to_dict())
        run.metrics_path.unlink(missing_ok=True)
        return None
    try:
        state = run.load_checkpoint()
        saved = DistillConfig.from_dict(state["config"])
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
    run.truncate_metrics(start)
    return state


# Settings that may change on resume without changing the synthetic set.
_RESUMABLE = {"device", "data_dir", "iterations", "compile", "num_eval", "eval_models", "eval_epochs", "eval_every", "baseline", "checkpoint_every", "preset"}


def _changed_settings(saved: DistillConfig, new: DistillConfig) -> list[str]:
    a, b = saved.to_dict(), new.to_dict()
    return [k for k in a if k not in _RESUMABLE and a[k] != b[k]]
