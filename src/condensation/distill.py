"""The condensation loop shared by every method: initialise, iterate, log, checkpoint, evaluate, save.

``distill(config, out)`` is what ``condense distill`` runs. The loop itself is method-agnostic: a
method (see ``methods/``) only implements one iteration. Every iteration draws from streams named
by ``(seed, iteration, ...)``, so a run resumed from its checkpoint is bit-identical to one that
was never interrupted, and a class draws the same on whichever process handles it.

What a killed run keeps: every finished iteration up to the last checkpoint (every
``checkpoint_every`` iterations and at each evaluation point; ``synset.pt`` is refreshed with it)
and every evaluation network already trained (``evaluations.jsonl``). ``resume=True`` continues
from there; on a finished condensation it continues the evaluation.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from ._version import __version__
from .config import ConfigError, DistillConfig, lr_factor, resolve
from .data import Dataset, load_dataset
from .devices import device_from_flag
from .errors import DivergenceError
from .distributed import Context, context, local_device
from .evaluate import EvalProtocol, evaluate_on, protocol_for, summarize
from .formation import check_factor, encode
from .kernels import Kernels, resolve_micro_batch, should_compile
from .memory import format_memory, peak_memory
from .methods import RealPool, SyntheticImages, build_method
from .models import build_model
from .rng import make_generator
from .runs import RunDir, RunDirError, curve_from_ledger
from .synset import SyntheticSet
from .viz import save_grid

__all__ = [
    "distill",
    "DistillResult",
    "DivergenceError",
    "build_method",
    "initial_images",
    "random_real_set",
    "RunDirError",
    "prepare",
]


CHECKPOINT_SECONDS = 300.0  # also checkpoint when this long has passed since the last one


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
    curve: list[dict] = field(default_factory=list)  # {"iteration", "model", "mean", "std"} per evaluation point
    memory: dict = field(default_factory=dict)  # peak host (and device) memory of the process


def initial_images(config: DistillConfig, pool: RealPool, channels: int, image_size: tuple[int, int]) -> torch.Tensor:
    """The starting synthetic images (class-major): random real images, the real images herding
    picks in pixel space (no randomness), or N(0, 1) noise in the normalised space. Random draws
    come from the stream ``(seed, "init")``. With ``config.factor`` > 1 a real start takes
    ``factor**2`` real images per stored image and shrinks them into its tiles."""
    if config.init == "real":
        return _random_real(pool, config.ipc, config.seed, config.factor)[0]
    if config.init == "herding":
        return encode(pool.herded(config.ipc * config.factor**2)[0], config.factor)
    shape = (pool.num_classes * config.ipc, channels, *image_size)
    return torch.randn(shape, generator=make_generator(config.seed, "init")).to(pool.device)


def _random_real(pool: RealPool, ipc: int, seed: int, factor: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """``ipc`` stored images per class and their labels, from the stream ``(seed, "init")``: random
    real images, or for ``factor`` > 1 ``factor**2`` random real images shrunk into each one's tiles."""
    images, labels = pool.balanced(ipc * factor**2, make_generator(seed, "init"))
    return encode(images, factor), labels[:: factor**2]


def random_real_set(pool: RealPool, ipc: int, seed: int, dataset: Dataset, meta: dict | None = None,
                    factor: int = 1) -> SyntheticSet:
    """``ipc`` random real images per class (the same images a run with ``--init real`` starts
    from; with ``factor`` > 1 the same stored images), as a synthetic set."""
    images, labels = _random_real(pool, ipc, seed, factor)
    return make_synset(images, labels, dataset.spec, ipc, {"method": "random", "seed": seed, **(meta or {})}, factor)


def make_synset(images: torch.Tensor, labels: torch.Tensor, spec, ipc: int, meta: dict, factor: int = 1) -> SyntheticSet:
    """A ``SyntheticSet`` of ``spec``'s dataset (CPU copies) with the package version in ``meta``."""
    return SyntheticSet(
        images=images.detach().float().cpu(),
        labels=labels.detach().long().cpu(),
        mean=spec.mean,
        std=spec.std,
        dataset=spec.name,
        classes=spec.classes,
        ipc=ipc,
        meta={"version": __version__, **meta},
        factor=factor,
    )


# ---------------------------------------------------------------------- preparation
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
    if dist.active and config.matching == "joint":
        raise ConfigError("--matching joint needs every class's gradients in one process; run it without torchrun")
    _check_models_fit(config, spec)
    try:
        check_factor(config.factor, tuple(spec.image_size))
    except ValueError as e:
        raise ConfigError(f"--factor: {e}") from None
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
_RESUMABLE = {
    "device", "data_dir", "iterations", "compile", "num_eval", "eval_models", "eval_epochs", "eval_every",
    "baseline", "checkpoint_every", "preset", "micro_batch", "eval_protocol",
}


def _changed_settings(saved: DistillConfig, new: DistillConfig) -> list[str]:
    a, b = saved.to_dict(), new.to_dict()
    changed = [k for k in a if k not in _RESUMABLE and a[k] != b.get(k)]
    if a.get("lr_schedule", "constant") != "constant" and a["iterations"] != b["iterations"]:
        changed.append("iterations (the learning-rate schedule depends on them)")
    return changed


# ---------------------------------------------------------------------- evaluation
def eval_protocol(config: DistillConfig, spec, model: str) -> EvalProtocol:
    """How a set made with ``config`` is evaluated on ``model``: the method's protocol (or
    ``config.eval_protocol``), with the config's ``lr_net`` and ``batch_train``."""
    return protocol_for(
        config.eval_protocol or config.method,
        spec.name,
        model,
        strategy=config.strategy,
        flip_ok=spec.flip_ok,
        dsa_mode=config.dsa_mode,
        epochs=config.eval_epochs,
        lr=config.lr_net,
        batch_size=config.batch_train,
    )


class Evaluator:
    """Evaluates sets of one run, recording every network in the run's ledger as it finishes and
    reusing what the ledger already holds (so an interrupted evaluation resumes)."""

    def __init__(self, config: DistillConfig, dataset: Dataset, device: torch.device, run: RunDir | None,
                 dist: Context, log: Callable[[str], None]):
        self.config, self.dataset, self.device, self.run, self.dist, self.log = config, dataset, device, run, dist, log
        self.protocols = {m: eval_protocol(config, dataset.spec, m) for m in config.eval_models}
        self.fingerprints = {m: p.fingerprint() for m, p in self.protocols.items()}

    def __call__(self, synset: SyntheticSet, set_name: str, iteration: int, label: str) -> dict[str, dict]:
        c = self.config
        done = self.run.finished_networks(set_name, iteration, self.fingerprints) if self.run is not None else {}
        done = self.dist.broadcast(done)
        if done:
            self.log(f"  {label}: {len(done)} network(s) already evaluated, reused")

        trained: dict[tuple[str, int], float] = {}

        def record(model: str, k: int, acc: float, secs: float) -> None:
            trained[(model, k)] = acc
            self.log(f"  {label} {model} #{k + 1}/{c.num_eval}: {100 * acc:.2f}% ({secs:.0f}s)")
            if self.run is not None and self.dist.is_main:
                self._append(set_name, iteration, model, k, acc, round(secs, 3))

        results: dict[str, dict] = {}
        for model in c.eval_models:
            evaluate_on(
                synset, self.dataset, models=[model], num_eval=c.num_eval, protocol_of=self.protocols.__getitem__,
                seed=c.seed, device=self.device, compile=c.compile, micro_batch=c.micro_batch, on_network=record,
                done=done, indices=self.dist.networks(c.num_eval),
            )
            runs = dict(done)
            for rank, part in enumerate(self.dist.gather({k: v for k, v in trained.items() if k[0] == model})):
                runs.update(part)
                if rank > 0 and self.run is not None and self.dist.is_main:  # other ranks' networks
                    for (m, k), acc in sorted(part.items()):
                        self._append(set_name, iteration, m, k, acc, None)
            results[model] = summarize([runs[(model, k)] for k in range(c.num_eval)])
        return results

    def _append(self, set_name: str, iteration: int, model: str, k: int, acc: float, secs: float | None) -> None:
        self.run.append_evaluation({
            "set": set_name, "iteration": iteration, "model": model, "index": k,
            "protocol": self.fingerprints[model], "accuracy": acc, "seconds": secs,
        })


def _format(results: dict[str, dict]) -> str:
    return ", ".join(f"{m} {100 * r['mean']:.2f} ± {100 * r['std']:.2f}%" for m, r in results.items())


# ---------------------------------------------------------------------- the loop
def distill(
    config: DistillConfig,
    out: str | Path | None = None,
    *,
    resume: bool = False,
    overwrite: bool = False,
    dataset: Dataset | None = None,
    progress: bool | str = True,
    log: Callable[[str], None] | None = None,
) -> DistillResult:
    """Condense ``config.dataset`` as ``config`` says; write the run into ``out`` if given.

    ``dataset`` skips loading (tests, notebooks). ``resume=True`` continues from ``out``'s
    checkpoint (or, for a finished run, its evaluation); ``overwrite=True`` replaces a previous
    run in ``out``. ``progress``: True = a progress bar on a terminal, else about 20 log lines;
    "bar" / "lines" force one; False = no per-iteration output. ``log`` receives progress lines
    (default: stderr). Raises ``DivergenceError`` if the loss or the images become NaN/inf (the
    last good checkpoint and ``synset.pt`` stay).
    """
    p = prepare(config, out, resume=resume, overwrite=overwrite, dataset=dataset)
    config, dataset, pool, device, run, state, dist = p.config, p.dataset, p.pool, p.device, p.run, p.state, p.dist
    main = dist.is_main
    say = (log or (lambda msg: print(msg, file=sys.stderr, flush=True))) if main else (lambda msg: None)
    spec = dataset.spec
    if run is not None and main:
        run.create(overwrite=overwrite)
        run.write_json("config.json", config.to_dict())  # a resume may change iterations, networks, ...
        if state is None:
            run.metrics_path.unlink(missing_ok=True)
            run.evaluations_path.unlink(missing_ok=True)
    dist.barrier()
    start = int(state["iteration"]) if state else 0
    if run is not None and state is not None and main:
        run.truncate_metrics(start)
        run.drop_evaluations_after(start)

    # a resumed run keeps the kernels it started with, so that it stays bit-identical
    compiled = state["compiled"] if state else should_compile(config.compile, config.iterations * config.outer_loop >= 10)
    kernels = Kernels.for_mode("on" if compiled else "off", True, micro_batch=resolve_micro_batch(config.micro_batch, device))
    method = build_method(config, pool, spec.channels, tuple(spec.image_size), kernels)
    syn = SyntheticImages(
        initial_images(config, pool, spec.channels, tuple(spec.image_size)), config.ipc, spec.num_classes,
        config.lr_img, config.momentum_img, classes=dist.classes(spec.num_classes),
        after_step=(lambda s: dist.merge_rows(s.images.data, spec.num_classes)) if dist.active else None,
        optimizer=config.optimizer_img, factor=config.factor,
    )
    elapsed = 0.0
    losses: list[float] = []
    if state:
        syn.load_state_dict(state["synthetic"])
        elapsed = float(state.get("seconds", 0.0))
        losses = [r["loss"] for r in run.read_metrics() if "loss" in r]
        say(f"resuming {run.path} at iteration {start}/{config.iterations}")
    evaluator = Evaluator(config, dataset, device, run, dist, say)

    def meta(iteration: int) -> dict[str, Any]:
        return {"method": config.method, "iteration": iteration, "config": config.to_dict(), "seed": config.seed}

    def snapshot(iteration: int) -> SyntheticSet:
        return make_synset(syn.images, syn.labels, spec, config.ipc, meta(iteration), config.factor)

    last_saved = start
    last_saved_at = time.monotonic()

    def checkpoint(done: int) -> None:
        nonlocal last_saved, last_saved_at
        state_dict = syn.state_dict()
        if dist.active:  # the momentum of every class, from its owner
            for buf in _momentum_buffers(syn):
                dist.merge_rows(buf, spec.num_classes)
            state_dict = syn.state_dict()
        if run is not None and main:
            run.save_checkpoint({
                "iteration": done, "seconds": elapsed, "synthetic": state_dict,
                "config": config.to_dict(), "compiled": kernels.compile,
            })
            snapshot(done).save(run.file("synset.pt"))
        last_saved, last_saved_at = done, time.monotonic()

    if run is not None and main and start == 0 and config.iterations > 0:
        save_grid(snapshot(0), run.grid_path(0))

    if progress is True:
        progress = "bar" if sys.stderr.isatty() else "lines"
    bar = tqdm(
        range(start, config.iterations), initial=start, total=config.iterations,
        desc=f"{config.method} {spec.name} ipc={config.ipc}", unit="it", disable=not (progress == "bar" and main),
        dynamic_ncols=True, file=sys.stderr,
    )
    log_every = max(1, config.iterations // 20)
    for it in bar:
        t0 = time.perf_counter()
        syn.set_lr_factor(lr_factor(config.lr_schedule, it, config.iterations))
        loss_t = dist.sum(method.iteration(syn, it))
        ok_t = torch.isfinite(syn.images.detach()).all() & torch.isfinite(loss_t)
        loss, ok = torch.stack([loss_t.float(), ok_t.float()]).tolist()  # one host sync per iteration
        seconds = time.perf_counter() - t0
        done = it + 1
        if not ok:
            bar.close()
            raise DivergenceError(_divergence_message(config, done, loss, last_saved, run))
        elapsed += seconds
        losses.append(loss)
        bar.set_postfix(loss=f"{loss:.4f}", s_per_it=f"{seconds:.1f}")
        if progress == "lines" and (done % log_every == 0 or done == config.iterations):
            left = (config.iterations - done) * elapsed / max(1, done - start) if done > start else 0
            say(f"iteration {done}/{config.iterations}: loss {loss:.4f} ({seconds:.1f} s/it, about {left / 60:.0f} min left)")
        if run is not None and main:
            run.append_metrics({"iteration": done, "loss": loss, "seconds": seconds})
        at_eval = bool(config.eval_every and done % config.eval_every == 0 and done < config.iterations and config.num_eval)
        # every process must agree on a checkpoint (it gathers the momentum): rank 0's clock decides
        due = done % config.checkpoint_every == 0 or dist.broadcast(time.monotonic() - last_saved_at >= CHECKPOINT_SECONDS)
        if due or done == config.iterations or at_eval:
            checkpoint(done)
        if at_eval:
            current = snapshot(done)
            if run is not None and main:
                save_grid(current, run.grid_path(done))
            acc = evaluator(current, "synset", done, f"iteration {done}")
            say(f"iteration {done}: {_format(acc)}")
    bar.close()

    synset = snapshot(config.iterations)
    if run is not None and main:
        synset.save(run.file("synset.pt"))
        save_grid(synset, run.file("synset.png"))
        if config.iterations > 0:
            save_grid(synset, run.grid_path(config.iterations))
    result = DistillResult(synset=synset, config=config, seconds=elapsed, out=run.path if run else None, losses=losses)
    if config.num_eval:
        result.accuracy = evaluator(synset, "synset", config.iterations, config.method)
        if config.baseline:
            baseline_set = random_real_set(pool, config.ipc, config.seed, dataset, factor=config.factor)
            result.baseline = evaluator(baseline_set, "random_real", 0, "random real")
    result.memory = peak_memory(device)
    say(format_memory(result.memory))
    if run is not None:
        result.curve = curve_from_ledger(run.read_evaluations(), config.eval_models)
        if main:
            run.write_json("results.json", results_json(result))
            from .plots import plot_run

            plot_run(run)
    dist.barrier()
    return result


def _momentum_buffers(syn: SyntheticImages) -> list[torch.Tensor]:
    return [s["momentum_buffer"] for s in syn.optimizer.state.values() if s.get("momentum_buffer") is not None]


def _divergence_message(config: DistillConfig, iteration: int, loss: float, last_saved: int, run: RunDir | None) -> str:
    what = "the loss" if not math.isfinite(loss) else "the synthetic images"
    value = "inf" if math.isinf(loss) else "nan" if math.isnan(loss) else "nan/inf"
    kept = (
        f"; the last good checkpoint (iteration {last_saved}) and synset.pt in {run.path} are kept"
        if run is not None and last_saved > 0 else ""
    )
    return (
        f"diverged at iteration {iteration}: {what} became {value if what == 'the loss' else 'nan/inf'}. "
        f"Likely cause: the image learning rate --lr-img {config.lr_img:g} is too high for this setting "
        f"(try {config.lr_img / 10:g}){kept}"
    )


def results_json(result: DistillResult) -> dict[str, Any]:
    """The content of ``results.json``."""
    config = result.config
    return {
        "accuracy": result.accuracy,
        "iteration": config.iterations,
        "seconds": result.seconds,
        "baseline": {"random_real": result.baseline} if result.baseline else {},
        "curve": result.curve,
        "dataset": config.dataset,
        "method": config.method,
        "ipc": config.ipc,
        "seed": config.seed,
        "num_eval": config.num_eval,
        "eval_models": list(config.eval_models),
        "eval_protocol": config.eval_protocol or config.method,
        "memory": result.memory,
        "version": __version__,
    }
