"""Class-incremental learning with condensed memories (the DM paper's experiment, ``CL_DM.py``).

Protocol (reference §7.3): a class order drawn from the stream ``(seed, "class-order")`` is split
into ``steps`` groups. At step k the new classes are condensed (dsa, dc, dm: ``distill`` on a
dataset holding only those classes' training images) or selected (random, herding, kcenter,
forgetting: ``select_coreset`` on that same dataset) into ``ipc`` images per class, using only that
step's real data; the memory is the union of the sets of steps 0..k. A fresh network with an
output for every class of the dataset (as the authors) is trained from scratch on the memory and
tested on the test images of every class seen so far. Every memory is evaluated with the same
protocol: DSA augmentation (the dataset's default strategy, i.e. ``color_crop_cutout_flip_scale_rotate``
except for digits) and 1000 epochs unless ``eval_epochs`` says otherwise. Figures pool every
network of every seed (mean and population std over seeds x networks).

Step k of a seed draws its memory from the seed ``derive_seed(seed, "continual-step", k)`` (so the
steps' draws are independent); the evaluation networks of a seed are the same for every method
(initialised from ``(seed, "eval-net", model, index)``), so methods are compared on equal terms.

Layout of ``out`` (a re-run with the same settings recomputes nothing finished)::

    settings.json                          what the memories depend on (checked on a re-run)
    METHOD/seedS/stepK/synset.pt           memory of step K's classes (global labels), memory.json
    METHOD/seedS/stepK/condense/           the condensation run (dsa, dc, dm), resumable
    METHOD/seedS/evaluations.jsonl         one line per trained network (set "memory", iteration K)
    feature-networks/                      the coreset feature networks, one per (step, seed)
    continual.md, continual.csv, continual.json, plots/continual.png
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..atomic import atomic_write_text
from ..augment import default_strategy
from ..config import DistillConfig, resolve
from ..coreset import DEFAULT_FEATURE_EPOCHS, check_ipc
from ..data import Dataset, load_dataset
from ..devices import device_from_flag
from ..distill import make_or_resume
from ..evaluate import EvalProtocol, evaluate_synset, protocol_for, summarize
from ..labels import multi_formation_text, per_class
from ..methods import get_method, list_methods
from ..models import canonical_name
from ..rng import derive_seed, make_generator
from ..runs import RunDir
from ..synset import SyntheticSet
from ..tables import format_accuracy, pct, write_table
from .common import Log, default_log, kernels_for, open_out
from .subsets import class_subset, concat_sets, to_global

__all__ = ["memory_methods", "ContinualResult", "class_steps", "step_seed", "run_continual", "collect"]

SET_NAME = "memory"  # the ledger's set name; the iteration field holds the step
# DistillConfig fields the application sets itself (``condense`` may set any other).
_OWN_FIELDS = ("dataset", "method", "ipc", "seed", "num_eval", "baseline", "eval_every", "eval_models", "device",
               "data_dir", "model", "iterations", "batch_real", "compile", "micro_batch")


@dataclass
class ContinualResult:
    """Accuracy per step of every memory method, pooled over the seeds x networks finished so far.

    ``accuracy[method][k]`` is ``{"mean", "std", "runs"}`` (None until step k has a network);
    ``classes[seed][k]`` the classes step k of that seed adds; ``seconds[method][seed][k]`` what
    building that memory cost."""

    out: Path
    steps: int
    ipc: int
    classes_seen: list[int]
    accuracy: dict[str, list[dict | None]]
    per_seed: dict[str, dict[int, list[list[float]]]] = field(default_factory=dict)
    classes: dict[int, list[list[int]]] = field(default_factory=dict)
    seconds: dict[str, dict[int, list[float | None]]] = field(default_factory=dict)
    factors: dict[str, int] = field(default_factory=dict)  # a method's multi-formation factor (1: plain sets)


def memory_methods() -> list[str]:
    """Every registered method: the condensation methods, then the coreset selections."""
    return list_methods("condense") + list_methods("select")


def class_steps(num_classes: int, steps: int, seed: int) -> list[list[int]]:
    """The seed's class order (a permutation from the stream ``(seed, "class-order")``) split
    into ``steps`` consecutive groups, the first ones one class larger if it does not divide."""
    if not 1 <= steps <= num_classes:
        raise ValueError(f"--steps must be between 1 and the number of classes ({num_classes}), got {steps}")
    order = torch.randperm(num_classes, generator=make_generator(seed, "class-order"))
    return [g.tolist() for g in torch.tensor_split(order, steps)]


def step_seed(seed: int, step: int) -> int:
    """The seed of step ``step``'s condensation or selection (31 bits)."""
    return derive_seed(seed, "continual-step", step) & 0x7FFFFFFF


def _check(memories: Sequence[str], seeds: Sequence[int], num_eval: int, feature_epochs: int,
           condense: Mapping[str, Any]) -> tuple[list[str], list[int]]:
    memories = [str(m).lower() for m in memories]
    allowed = memory_methods()
    unknown = [m for m in memories if m not in allowed]
    if unknown or not memories:
        raise ValueError(f"unknown memory method {unknown[0] if unknown else '(none)'!r}; allowed: {', '.join(allowed)}")
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds must be distinct integers, got {seeds}")
    if len(set(memories)) != len(memories):
        raise ValueError(f"--memory lists a method twice: {','.join(memories)}")
    if num_eval < 1:
        raise ValueError(f"--num-eval must be at least 1, got {num_eval}")
    if "forgetting" in memories and feature_epochs < 2:
        raise ValueError("forgetting counts changes between epochs: it needs --feature-epochs 2 or more")
    own = sorted(set(condense) & set(_OWN_FIELDS))
    if own:
        raise ValueError(f"condense settings may not set {', '.join(own)}: continual learning sets them itself")
    return memories, seeds


def _config(**fields: Any) -> DistillConfig:
    """A ``DistillConfig``; an unknown field is a ``ValueError`` naming it."""
    try:
        return DistillConfig(**fields)
    except TypeError as e:
        raise ValueError(f"unknown condensation setting: {e}") from None


def run_continual(
    dataset: str | Dataset,
    steps: int,
    ipc: int,
    memories: Sequence[str] = ("dsa", "dm", "herding", "random"),
    seeds: Sequence[int] = (0, 1, 2),
    out: str | Path = "runs/continual",
    *,
    iterations: int | None = None,
    batch_real: int | None = None,
    condense: Mapping[str, Any] | None = None,
    num_eval: int = 3,
    eval_epochs: int | None = None,
    model: str = "convnet",
    strategy: str | None = None,
    feature_epochs: int = DEFAULT_FEATURE_EPOCHS,
    feature_model: str | None = None,
    device: str = "auto",
    compile: str = "auto",
    micro_batch: int | None = None,
    data_dir: str | None = None,
    log: Log | None = None,
) -> ContinualResult:
    """Run class-incremental learning with each memory method for each seed into ``out`` (see
    the module docstring), writing the tables and the plot after every step.

    ``iterations`` / ``batch_real`` set the condensation budget (default: the quick preset's);
    ``condense`` any other ``DistillConfig`` field of the condensation (``lr_img``, ``init``,
    ``preset``, ...). ``num_eval`` networks per (seed, step) are trained for ``eval_epochs``
    epochs (default 1000) with DSA ``strategy`` (default: the dataset's; ``"none"``: no
    augmentation). ``model`` condenses and learns; the coresets' feature network is
    ``feature_model`` (default: ``model``), trained ``feature_epochs`` epochs on each step's
    images. Adding methods or seeds, more networks or other epochs to a finished ``out`` computes
    only what is new; other memory settings are refused (``RunDirError``).
    """
    say = default_log(log)
    condense = dict(condense or {})
    memories, seeds = _check(memories, seeds, num_eval, feature_epochs, condense)
    model = canonical_name(model)
    feature_model = canonical_name(feature_model or model)
    if isinstance(dataset, str):
        dataset = load_dataset(dataset, data_dir=data_dir)
    spec = dataset.spec
    check_ipc(dataset, ipc)
    class_steps(spec.num_classes, steps, seeds[0])  # validates steps
    dev = device_from_flag(device)
    base = _config(dataset=spec.name, ipc=ipc, model=model, iterations=iterations, batch_real=batch_real, num_eval=0,
                   baseline=False, eval_every=0, device=device, compile=compile, micro_batch=micro_batch, **condense)
    for m in memories:
        if get_method(m).condenses:
            resolve(base.for_method(m), flip_ok=spec.flip_ok)  # bad settings fail before any work
    strategy = strategy if strategy is not None else default_strategy(spec.flip_ok)
    protocol = protocol_for("dsa", spec.name, model, strategy=strategy, flip_ok=spec.flip_ok, epochs=eval_epochs)
    settings = {"dataset": spec.name, "steps": steps, "ipc": ipc, "model": model, "iterations": iterations,
                "batch_real": batch_real, "condense": condense, "feature_epochs": feature_epochs,
                "feature_model": feature_model}
    out = open_out(out, settings, "continual")
    kernels = kernels_for(compile, protocol.epochs, num_eval, micro_batch, dev)
    fingerprint = protocol.fingerprint()
    say(f"continual learning on {spec.name}: {steps} steps, {ipc} image(s)/class, memories {', '.join(memories)}, "
        f"seeds {', '.join(map(str, seeds))}; {num_eval} network(s) x {protocol.epochs} epochs per step -> {out}")

    def write(plot: bool = True) -> ContinualResult:
        result = collect(out, spec.num_classes, steps, ipc, memories, seeds, model, fingerprint, num_eval)
        write_continual(result, spec.name, protocol, memories, seeds, num_eval, plot=plot)
        return result

    for seed in seeds:
        groups = class_steps(spec.num_classes, steps, seed)
        say(f"seed {seed}: classes per step {groups}")
        for method in memories:
            run = RunDir(out / method / f"seed{seed}")
            run.create()
            parts: list[SyntheticSet] = []
            changed = False
            for k, classes in enumerate(groups):
                label = f"{method} seed {seed} step {k + 1}/{steps}"
                memory, built = _memory(method, dataset, classes, ipc, seed, k, run.path / f"step{k}", base,
                                        feature_model, feature_epochs, out / "feature-networks", dev, label, say)
                parts.append(memory)
                seen = [c for g in groups[: k + 1] for c in g]
                trained = _evaluate(concat_sets(parts, {"method": method, "seed": seed, "step": k, "classes": seen}),
                                    dataset, seen, run, k, model, protocol, fingerprint, num_eval, seed, dev, kernels,
                                    label, say)
                if built or trained:  # tables as the run advances (an interrupted run keeps what finished)
                    write(plot=False)
                    changed = True
            if changed:
                write()
    return write()


def _memory(method: str, dataset: Dataset, classes: list[int], ipc: int, seed: int, step: int, folder: Path,
            base: DistillConfig, feature_model: str, feature_epochs: int, cache_dir: Path, device: torch.device,
            label: str, say: Log) -> tuple[SyntheticSet, bool]:
    """Step ``step``'s part of the memory: ``ipc`` images of each of ``classes``, made from those
    classes' training images only, with global labels; and whether it was built now (False: read back)."""
    path = folder / "synset.pt"
    if path.exists():
        return SyntheticSet.load(path), False
    sub = class_subset(dataset, classes)
    s = step_seed(seed, step)
    condenses = get_method(method).condenses
    say(f"{label}: {'condensing' if condenses else 'selecting'} classes {classes} "
        f"({len(sub.train)} training images) into {ipc} image(s)/class")
    config = base.for_method(method, seed=s, dataset=sub.spec.name)
    if not condenses:  # a coreset: its feature network, trained on this step's images
        config = dataclasses.replace(config, model=feature_model, feature_epochs=feature_epochs, num_eval=0)
    made = make_or_resume(config, folder / "condense", dataset=sub, progress=False, log=say, cache_dir=cache_dir)
    local, seconds = made.synset, made.seconds  # condensation or selection time, across resumptions
    memory = to_global(local, classes, dataset, {"method": method, "seed": s, "continual_seed": seed, "step": step,
                                                 "classes": classes})
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "memory.json", json.dumps(
        {"method": method, "seed": seed, "step": step, "step_seed": s, "classes": classes, "images": len(memory),
         "factor": memory.factor, "seconds": seconds}, indent=2) + "\n")
    memory.save(path)  # last: its presence marks the step's memory as finished
    return memory, True


def _evaluate(memory: SyntheticSet, dataset: Dataset, seen: list[int], run: RunDir, step: int, model: str,
              protocol: EvalProtocol, fingerprint: str, num_eval: int, seed: int, device: torch.device, kernels,
              label: str, say: Log) -> bool:
    """Train the networks of this step not yet in ``run``'s ledger on ``memory`` and test them on
    the test images of the classes ``seen``; each is appended to the ledger as it finishes.
    Returns whether any network was trained."""
    done = {key: acc for key, acc in run.finished_networks(SET_NAME, step, {model: fingerprint}).items()
            if key[1] < num_eval}
    if len(done) >= num_eval:
        return False
    lookup = torch.zeros(dataset.spec.num_classes, dtype=torch.bool)
    lookup[torch.tensor(seen)] = True
    idx = torch.nonzero(lookup[dataset.test.labels.cpu()]).flatten()
    test_images = dataset.test.images[idx.to(dataset.test.images.device)].to(device)
    test_labels = dataset.test.labels[idx.to(dataset.test.labels.device)].to(device)

    def record(m: str, k: int, acc: float, secs: float) -> None:
        run.append_evaluation({"set": SET_NAME, "iteration": step, "model": m, "index": k, "protocol": fingerprint,
                               "accuracy": acc, "seconds": round(secs, 3), "classes_seen": len(seen)})
        say(f"  {label}: network {k + 1}/{num_eval} {100 * acc:.2f}% on {len(seen)} classes ({secs:.0f}s)")

    evaluate_synset(memory, test_images, test_labels, dataset.normalize, models=[model], num_eval=num_eval,
                    protocol=protocol, seed=seed, device=device, on_network=record, kernels=kernels, done=done)
    return True


# ---------------------------------------------------------------------- results
def collect(out: str | Path, num_classes: int, steps: int, ipc: int, memories: Sequence[str], seeds: Sequence[int],
            model: str, fingerprint: str, num_eval: int) -> ContinualResult:
    """Everything ``out`` holds for these methods and seeds, pooled per step over seeds x networks."""
    out = Path(out)
    groups = {s: class_steps(num_classes, steps, s) for s in seeds}
    sizes = [len(g) for g in groups[seeds[0]]]
    seen = [sum(sizes[: k + 1]) for k in range(steps)]
    accuracy: dict[str, list[dict | None]] = {}
    per_seed: dict[str, dict[int, list[list[float]]]] = {}
    seconds: dict[str, dict[int, list[float | None]]] = {}
    factors: dict[str, int] = {}
    for method in memories:
        per_seed[method], seconds[method] = {}, {}
        for seed in seeds:
            run = RunDir(out / method / f"seed{seed}")
            factors[method] = factors.get(method) or _memory_factor(run.path / "step0")
            runs: list[dict[int, float]] = [{} for _ in range(steps)]
            for r in run.read_evaluations():
                k, i = int(r.get("iteration", -1)), int(r.get("index", -1))
                if (r.get("set") == SET_NAME and r.get("model") == model and r.get("protocol") == fingerprint
                        and 0 <= k < steps and 0 <= i < num_eval):
                    runs[k][i] = float(r["accuracy"])
            per_seed[method][seed] = [[d[i] for i in sorted(d)] for d in runs]
            seconds[method][seed] = [_memory_seconds(run.path / f"step{k}") for k in range(steps)]
        accuracy[method] = []
        for k in range(steps):
            pooled = [a for seed in seeds for a in per_seed[method][seed][k]]
            accuracy[method].append(summarize(pooled) if pooled else None)
    return ContinualResult(out, steps, ipc, seen, accuracy, per_seed, groups, seconds,
                           {m: factors.get(m) or 1 for m in memories})


def _memory_seconds(folder: Path) -> float | None:
    try:
        return float(json.loads((folder / "memory.json").read_text())["seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _memory_factor(folder: Path) -> int | None:
    """The multi-formation factor of a step's memory (None: not built yet)."""
    try:
        return int(json.loads((folder / "memory.json").read_text()).get("factor") or 1)
    except (OSError, ValueError, TypeError):
        return None


def write_continual(result: ContinualResult, dataset: str, protocol: EvalProtocol, memories: Sequence[str],
                    seeds: Sequence[int], num_eval: int, plot: bool = True) -> None:
    """``continual.md`` (steps x methods), ``continual.csv`` (one row per method and step),
    ``continual.json`` and, if ``plot``, ``plots/continual.png`` (accuracy against classes seen, one
    line per method)."""
    from ..plots import line_plot

    out, r = result.out, result
    factor = {m: r.factors.get(m, 1) for m in memories}
    name = {m: m if factor[m] <= 1 else f"{m} (factor {factor[m]})" for m in memories}  # as the table heads it
    stored = "memory (stored images)" if max(factor.values()) > 1 else "memory (images)"
    headers = ["step", "classes seen", stored, *(name[m] for m in memories)]
    rows = [[k + 1, r.classes_seen[k], r.ipc * r.classes_seen[k], *(format_accuracy(r.accuracy[m][k]) for m in memories)]
            for k in range(r.steps)]
    csv_rows = []
    for m in memories:
        for k in range(r.steps):
            a = r.accuracy[m][k]
            done_seeds = sum(1 for s in seeds if r.per_seed[m][s][k])
            secs = [x[k] for x in r.seconds[m].values() if x[k] is not None]
            csv_rows.append([m, k + 1, r.classes_seen[k], r.ipc * r.classes_seen[k], factor[m],
                             r.ipc * factor[m] ** 2 * r.classes_seen[k], pct(a["mean"]) if a else None,
                             pct(a["std"]) if a else None, len(a["runs"]) if a else 0, done_seeds,
                             f"{sum(secs) / len(secs):.1f}" if secs else None])
    cost = ", ".join(
        f"{m} {sum(v for x in r.seconds[m].values() for v in x if v is not None):.0f} s" for m in memories
    )
    orders = "; ".join(f"seed {s}: {' | '.join(','.join(map(str, g)) for g in r.classes[s])}" for s in seeds)
    notes = (
        f"Test accuracy (%) on the test images of every class seen so far, mean ± std pooled over seeds × networks "
        f"(seeds {', '.join(map(str, seeds))}; {num_eval} network(s) per seed and step). Each step adds {r.ipc} "
        f"image(s) per new class to the memory, made from that step's real images only; a fresh network with an "
        f"output for every class is trained from scratch on the whole memory for {protocol.epochs} epochs "
        f"(augmentation: {protocol.augment!r}).\n\nClasses per step: {orders}.\n\n"
        f"Time spent building memories (all seeds and steps): {cost}."
    )
    for m in memories:
        if factor[m] > 1:
            notes += (f"\n\n{name[m]}: {multi_formation_text(r.ipc, factor[m])}; its memory stores the images counted "
                      f"above and networks train on {factor[m] ** 2} times as many.")
    shared = set(factor.values())
    title = f"Continual learning: {dataset}, {r.steps} steps, {per_class(r.ipc, shared.pop() if len(shared) == 1 else 1)}"
    write_table(out / "continual.md", headers, rows, title=title, notes=notes)
    write_table(out / "continual.csv", ["method", "step", "classes_seen", "memory_images", "factor", "training_images",
                                        "mean", "std", "networks", "seeds", "memory_seconds_per_seed"], csv_rows)
    data = {
        "kind": "continual", "dataset": dataset, "steps": r.steps, "ipc": r.ipc, "seeds": list(seeds),
        "memories": list(memories), "num_eval": num_eval, "protocol": protocol.describe(),
        "factors": factor, "training_images_per_class": {m: r.ipc * factor[m] ** 2 for m in memories},
        "classes_seen": r.classes_seen, "classes": {str(s): g for s, g in r.classes.items()},
        "accuracy": {m: r.accuracy[m] for m in memories},
        "per_seed": {m: {str(s): v for s, v in r.per_seed[m].items()} for m in memories},
        "memory_seconds": {m: {str(s): v for s, v in r.seconds[m].items()} for m in memories},
    }
    atomic_write_text(out / "continual.json", json.dumps(data, indent=2) + "\n")
    if not plot:
        return
    series = []
    for m in memories:
        pts = [(r.classes_seen[k], a["mean"], a["std"]) for k, a in enumerate(r.accuracy[m]) if a is not None]
        if pts:
            series.append((name[m], [p[0] for p in pts], [p[1] for p in pts], [p[2] for p in pts]))
    line_plot(out / "plots" / "continual.png", series, xlabel="classes seen", ylabel="test accuracy on the classes seen",
              title=title, percent=True, integer_x=True)
