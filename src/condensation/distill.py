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

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from .config import DistillConfig, lr_factor, method_params_of
from .data import Dataset
from .divergence import check_iteration, image_limit
from .errors import DivergenceError, RankDriftError, RunDirError, RunInterrupted
from .interrupts import StopRequest
from .kernels import Kernels, compile_cache_dir, resolve_micro_batch, should_compile
from .live import open_live_log
from .ledger import DistillResult, Evaluator, format_results, results_json
from .memory import format_memory, peak_memory
from .methods import SyntheticImages, build_method, get_method
from .methods.registry import find_method
from .methods.start import initial_images, make_synset, random_real_set
from .plots import plot_run
from .preparation import Prepared, prepare
from .progress import RunProgress, progress_mode
from .runs import RunDir, curve_from_ledger
from .synset import SyntheticSet
from .viz import save_grid

__all__ = [
    "distill",
    "make_or_resume",
    "DistillResult",
    "DivergenceError",
    "build_method",
    "initial_images",
    "random_real_set",
    "make_synset",
    "RunDirError",
    "prepare",
]


CHECKPOINT_SECONDS = 300.0  # also checkpoint when this long has passed since the last one


def distill(
    config: DistillConfig,
    out: str | Path | None = None,
    *,
    resume: bool = False,
    overwrite: bool = False,
    dataset: Dataset | None = None,
    progress: bool | str = True,
    log: Callable[[str], None] | None = None,
    cache_dir: str | Path | None = None,
) -> DistillResult:
    """Condense ``config.dataset`` as ``config`` says; write the run into ``out`` if given.

    ``dataset`` skips loading (tests, notebooks). ``resume=True`` continues from ``out``'s
    checkpoint (or, for a finished run, its evaluation); ``overwrite=True`` replaces a previous
    run in ``out``. ``progress``: True = a progress bar on a terminal, else about 20 log lines;
    "bar" / "lines" force one; False = no per-iteration output. ``log`` receives progress lines
    (default: stderr). Raises ``DivergenceError`` if the loss or the images become NaN/inf or the
    images leave the data's range by far (``divergence``; the last good checkpoint and
    ``synset.pt`` stay), and, under ``torchrun``, ``RankDriftError`` if the network the processes
    repeat differs between them.

    A method that selects real images (a coreset, ``kind="select"``) writes the same run folder:
    ``cache_dir`` is where its feature network is cached (default: the user cache).

    Ctrl-C or SIGTERM during an iteration finishes it, writes a checkpoint and raises
    ``RunInterrupted`` (a ``KeyboardInterrupt``) saying how to continue; a second one stops at
    once. A run stopped before its first checkpoint is cleared, so a plain rerun starts afresh.
    """
    spec = find_method(config.method)
    command = "coreset" if spec is not None and not spec.condenses else "distill"
    say = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    with StopRequest(out, resume, command, say=say) as stop:
        try:
            return _distill(config, out, resume=resume, overwrite=overwrite, dataset=dataset, progress=progress,
                            log=log, cache_dir=cache_dir, stop=stop)
        except RunInterrupted:
            raise
        except KeyboardInterrupt:
            raise stop.interrupted() from None
        finally:
            stop.live.close()


def _distill(config: DistillConfig, out: str | Path | None, *, resume: bool, overwrite: bool, dataset: Dataset | None,
             progress: bool | str, log: Callable[[str], None] | None, cache_dir: str | Path | None,
             stop: StopRequest) -> DistillResult:
    p = prepare(config, out, resume=resume, overwrite=overwrite, dataset=dataset)
    say = (log or (lambda msg: print(msg, file=sys.stderr, flush=True))) if p.dist.is_main else (lambda msg: None)
    stop.say, stop.writes = say, p.dist.is_main
    if p.state is not None:
        stop.checkpoint = int(p.state["iteration"])
    if not get_method(p.config.method).condenses:
        return _select(p, overwrite, say, cache_dir, stop)
    config, dataset, pool, device, run, state, dist = p.config, p.dataset, p.pool, p.device, p.run, p.state, p.dist
    main = dist.is_main
    spec = dataset.spec
    # a resumed run keeps the kernels it started with, so that it stays bit-identical
    steps = getattr(method_params_of(config), "steps_per_iteration", lambda: 1)()
    compiled = state["compiled"] if state else should_compile(config.compile, config.iterations * steps >= 10)
    kernels = Kernels.for_mode("on" if compiled else "off", True, micro_batch=resolve_micro_batch(config.micro_batch, device))
    method = build_method(config, pool, spec.channels, tuple(spec.image_size), kernels, dataset)  # may refuse: before any write
    if run is not None and main:
        run.create(overwrite=overwrite)
        stop.owns_files = state is None
        run.write_json("config.json", config.to_dict())  # a resume may change iterations, networks, ...
        if state is None:
            run.metrics_path.unlink(missing_ok=True)
            run.evaluations_path.unlink(missing_ok=True)
    dist.barrier()
    start = int(state["iteration"]) if state else 0
    if run is not None and state is not None and main:
        run.truncate_metrics(start)
        run.drop_evaluations_after(start)
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
        method.load_state_dict(state.get("method", {}))
        elapsed = float(state.get("seconds", 0.0))
        losses = [r["loss"] for r in run.read_metrics() if "loss" in r]
        say(f"resuming {run.path} at iteration {start}/{config.iterations}")
    evaluator = Evaluator(config, dataset, device, run, dist, say)
    report = evaluator.progress = RunProgress(config, dataset, device, say, progress_mode(progress), evaluator.protocols,
                                              dist.networks(config.num_eval), start, main)
    if run is not None:
        report.forget(run.read_evaluations())
    report.start_line(run.path if run else None, kernels.compile, compile_cache_dir() if kernels.compile else None)
    live = stop.live = open_live_log(config.live_log if main else None, run.path if run else None, config.to_dict())

    def meta(iteration: int) -> dict[str, Any]:
        return {"method": config.method, "iteration": iteration, "config": config.to_dict(), "seed": config.seed,
                **method.meta()}

    def snapshot(iteration: int) -> SyntheticSet:
        return make_synset(syn.images, syn.labels, spec, config.ipc, meta(iteration), config.factor)

    last_saved = start
    last_saved_at = time.monotonic()

    def checkpoint(done: int) -> None:
        nonlocal last_saved, last_saved_at
        state_dict = syn.state_dict()
        if dist.active:  # the optimiser state of every class (momentum, Adam's moments), from its owner
            for buf in _row_states(syn):
                dist.merge_rows(buf, spec.num_classes)
            state_dict = syn.state_dict()
        if run is not None and main:
            run.save_checkpoint({
                "iteration": done, "seconds": elapsed, "synthetic": state_dict,
                "config": config.to_dict(), "compiled": kernels.compile, "method": method.state_dict(),
            })
            snapshot(done).save(run.file("synset.pt"))
        last_saved, last_saved_at = done, time.monotonic()
        stop.checkpoint = done

    if run is not None and main and start == 0 and config.iterations > 0:
        save_grid(snapshot(0), run.grid_path(0))
        live.images("synthetic images", snapshot(0), 0)

    bar = report.iteration_bar(f"{config.method} {spec.name} ipc={config.ipc}")
    stop.iterations = config.iterations
    stop.enter("iterations")  # Ctrl-C: finish the iteration, checkpoint it, then stop
    limit = image_limit(spec.mean, spec.std)  # images beyond it have diverged (see divergence)
    for it in bar:
        t0 = time.perf_counter()
        syn.set_lr_factor(lr_factor(config.lr_schedule, it, config.iterations))
        # the loss summed over processes; under torchrun also how far the processes' networks drifted apart
        loss_t, drift_t = dist.reduce_iteration(method.iteration(syn, it), method.fingerprint())
        peak_t = syn.images.detach().abs().amax()  # nan/inf propagate
        loss, peak, drift = torch.stack([loss_t.double(), peak_t.double(), drift_t.double()]).tolist()  # one host sync
        seconds = time.perf_counter() - t0
        done = it + 1
        try:
            if drift != 0:
                raise RankDriftError(_drift_message(done, drift, last_saved, run))
            check_iteration(done, loss, peak, limit, config.lr_img, last_saved, run.path if run is not None else None)
        except (DivergenceError, RankDriftError):
            bar.close()
            raise
        elapsed += seconds
        losses.append(loss)
        report.iteration(done, loss, seconds)
        live.scalar("loss", loss, done)
        live.scalar("seconds per iteration", seconds, done)
        if run is not None and main:
            run.append_metrics({"iteration": done, "loss": loss, "seconds": seconds})
        at_eval = bool(config.eval_every and done % config.eval_every == 0 and done < config.iterations and config.num_eval)
        # every process must agree on a checkpoint (it gathers the momentum) and on stopping: rank 0 decides
        late, stopping = dist.broadcast((time.monotonic() - last_saved_at >= CHECKPOINT_SECONDS, bool(stop.requested)))
        due = done % config.checkpoint_every == 0 or late
        if due or done == config.iterations or at_eval or stopping:
            checkpoint(done)
        if stopping:
            bar.close()
            raise stop.interrupted()
        if at_eval:
            stop.enter("evaluation")
            current = snapshot(done)
            if run is not None and main:
                save_grid(current, run.grid_path(done))
            live.images("synthetic images", current, done)
            acc = evaluator(current, "synset", done, f"iteration {done}")
            say(f"iteration {done}: {format_results(acc)}")
            live.accuracy("accuracy", acc, done)
            stop.enter("iterations")
    bar.close()

    synset = snapshot(config.iterations)
    if run is not None and main:
        synset.save(run.file("synset.pt"))
        save_grid(synset, run.file("synset.png"))
        if config.iterations > 0:
            save_grid(synset, run.grid_path(config.iterations))
            live.images("synthetic images", synset, config.iterations)
    result = DistillResult(synset=synset, config=config, seconds=elapsed, out=run.path if run else None, losses=losses)
    stop.enter("evaluation")
    if config.num_eval:
        result.accuracy = evaluator(synset, "synset", config.iterations, config.method)
        live.accuracy("accuracy", result.accuracy, config.iterations)
        if config.baseline:
            baseline_set = random_real_set(pool, config.ipc, config.seed, dataset, factor=config.factor)
            result.baseline = evaluator(baseline_set, "random_real", 0, "random real")
            live.accuracy("random real accuracy", result.baseline, config.iterations)
    result.memory = peak_memory(device)
    say(format_memory(result.memory))
    if run is not None:
        result.curve = curve_from_ledger(run.read_evaluations(), config.eval_models)
        if main:
            run.write_json("results.json", results_json(result))
            plot_run(run)
    dist.barrier()
    return result


def _row_states(syn: SyntheticImages) -> list[torch.Tensor]:
    """Every optimiser state tensor with one row per image (SGD's momentum, Adam's exp_avg and
    exp_avg_sq, ...): each class's rows are only right on the process that owns the class. Scalars
    (Adam's step count) are the same on every process."""
    shape = syn.images.shape
    return [v for state in syn.optimizer.state.values() for v in state.values()
            if isinstance(v, torch.Tensor) and v.shape == shape]


def _drift_message(iteration: int, drift: float, last_saved: int, run: RunDir | None) -> str:
    kept = f"; the last good checkpoint (iteration {last_saved}) in {run.path} is kept" if run is not None and last_saved > 0 else ""
    return (f"processes disagree at iteration {iteration}: the network every process trains the same way differs "
            f"between them (parameter checksums {drift:.3g} apart), so their image steps no longer make one set; "
            f"non-deterministic kernels are the likely cause: run on one process{kept}")


def _select(p: Prepared, overwrite: bool, say: Callable[[str], None], cache_dir: str | Path | None,
            stop: StopRequest) -> DistillResult:
    """A selection method's run: select (or, resumed, read back the selected set), write the run
    folder as a condensation does (config.json, synset.pt, synset.png, checkpoint.pt with the
    selection's seconds, results.json), and evaluate it into the ledger.

    Under ``torchrun`` rank 0 selects (or reads back) and sends the set to the other ranks, so one
    feature network is trained and every rank evaluates the same set; the evaluation networks are
    split across ranks as for a condensed set."""
    config, dataset, device, run, dist = p.config, p.dataset, p.device, p.run, p.dist
    stop.enter("selection")
    payload = None
    if dist.is_main:
        try:
            payload = ("set", *_selected(p, say, cache_dir))
        except BaseException as e:  # the other ranks wait for the set: send them the error instead
            if dist.active:
                dist.broadcast(("error", e if isinstance(e, Exception) else RuntimeError("interrupted on rank 0")))
            raise
    payload = dist.broadcast(payload)
    if payload[0] == "error":
        raise payload[1]
    _, synset, seconds, resumed = payload
    if run is not None and dist.is_main:
        if not resumed:
            run.create(overwrite=overwrite)
            run.evaluations_path.unlink(missing_ok=True)
            synset.save(run.file("synset.pt"))
            save_grid(synset, run.file("synset.png"))
            run.save_checkpoint({"iteration": 0, "seconds": seconds, "config": config.to_dict(), "compiled": False})
            stop.owns_files, stop.checkpoint = True, 0
        run.write_json("config.json", config.to_dict())
    dist.barrier()
    result = DistillResult(synset=synset, config=config, seconds=seconds, out=run.path if run else None)
    stop.enter("evaluation")
    if config.num_eval:
        result.accuracy = Evaluator(config, dataset, device, run, dist, say)(synset, "synset", 0, config.method)
    result.memory = peak_memory(device)
    if run is not None:
        result.curve = curve_from_ledger(run.read_evaluations(), config.eval_models)
        if dist.is_main:
            run.write_json("results.json", results_json(result))
    dist.barrier()
    return result


def _selected(p: Prepared, say: Callable[[str], None], cache_dir: str | Path | None) -> tuple[SyntheticSet, float, bool]:
    """(the selected set, the seconds its selection took, whether it was read back from a run)."""
    config, dataset, run, state = p.config, p.dataset, p.run, p.state
    if state is not None and run.file("synset.pt").is_file():
        say(f"resuming {run.path}: the set was selected, its evaluation continues")
        return SyntheticSet.load(run.file("synset.pt")), float(state.get("seconds", 0.0)), True
    start = time.perf_counter()
    synset = get_method(config.method).factory(dataset, config.ipc, config.seed, method_params_of(config),
                                               model=config.model, device=p.device, cache_dir=cache_dir, log=say)
    synset.meta.update({"iteration": 0, "config": config.to_dict()})
    seconds = time.perf_counter() - start
    say(f"{config.method}: selected {config.ipc} image(s)/class of {dataset.spec.name} in {seconds:.0f} s")
    return synset, seconds, False


def make_or_resume(config: DistillConfig, out: str | Path, **kwargs: Any) -> DistillResult:
    """``distill`` into ``out``, continuing the run there if it holds a checkpoint and starting it
    anew otherwise (what grids and applications do for each of their runs)."""
    resume = RunDir(out).checkpoint_path.exists()
    return distill(config, out, resume=resume, overwrite=not resume, **kwargs)
