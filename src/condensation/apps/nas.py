"""Architecture search on a condensed proxy (the DC and DSA papers' experiment; the authors never
released its code).

Every candidate ConvNet (width, depth, activation, normalisation, pooling) is trained on three
training sets and tested on a validation split (``val_size`` images per class held out of the
training set and used by no training set; the DC paper ranks on 5,000 held-out training images;
the test split is never touched):

* ``condensed`` - the condensed set: ``synset`` (a file) or, by default, one condensed here with
  DSA at ``ipc`` images per class from the training images outside the validation split;
* ``random`` - random real images of the same size (the images a DSA run with real
  initialisation starts from: for a multi-formation proxy of factor F, F² random real images
  shrunk into each stored image, the same storage);
* ``target`` - ``target_size`` random real images per class (default: all of them), trained for
  ``target_epochs``: the ranking the proxies try to predict.

Each proxy is judged by the Spearman rank correlation of its candidates' mean accuracies with the
target's (over all candidates, and among the proxy's top ``top_k``; tied accuracies get average
ranks), the target accuracy of its top-1 architecture, the seconds spent training every
candidate on it (plus the condensation itself), and its storage.

Networks: ``num_nets`` per candidate and set; network k of a candidate starts from the same
weights (stream ``(seed, "eval-net", candidate, k)``) whichever set it trains on. All three sets
train with the DSA protocol (SGD lr 0.01, momentum 0.9, learning rate x0.1 at half) and the
dataset's DSA strategy (``strategy="none"``: no augmentation). The networks of one candidate are
one ``evaluate_synset`` call, so they train together wherever that batches networks; different
candidates have different architectures and cannot share a batched network.

``space``: ``small`` - the registry's one-factor variants of ConvNet (its W, D, A, N and P
evaluation pools; 16 architectures); ``paper`` - the DC paper's 720 (widths 32/64/128/256, depths
1-4, sigmoid/relu/leakyrelu, none/batch/layer/instance/group norm, none/max/avg pooling);
combinations that do not fit the image size are skipped and listed. Architectures not in the
registry are registered under ``nas_w{W}_d{D}_{act}_{norm}_{pooling}`` when first trained.

Layout of ``out`` (a re-run with the same settings recomputes nothing finished)::

    settings.json          what the sets and the split depend on (checked on a re-run)
    condense/              the condensation run (when no --synset is given), resumable
    evaluations.jsonl      one line per trained network: set, candidate, index, accuracy, seconds
    nas.md, nas.csv (one row per training set), candidates.csv, nas.json, plots/nas.png
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..atomic import atomic_write_text
from ..augment import default_strategy
from ..config import DistillConfig, resolve
from ..data import Dataset, DatasetSpec, load_dataset
from ..devices import device_from_flag
from ..distill import make_or_resume
from ..evaluate import check_fits, evaluate_synset, protocol_for, summarize
from ..labels import per_class, random_real_text
from ..methods import RealPool
from ..methods.start import make_synset, random_real_set
from ..rng import make_generator
from ..runs import RunDir
from ..synset import SyntheticSet
from ..tables import pct, write_table
from .common import Log, default_log, kernels_for, open_out
from .nas_space import NAS_SPACES, PAPER_GRID, Architecture, candidates, register_architecture
from .ranking import average_ranks, rank_summary, spearman
from .subsets import split_off, take

__all__ = [
    "NAS_SPACES", "PAPER_GRID", "SETS", "PROXIES", "Architecture", "candidates", "average_ranks", "spearman",
    "NasResult", "run_nas", "rank_summary",
]

SETS = ("condensed", "random", "target")
PROXIES = ("condensed", "random")


# ---------------------------------------------------------------------- the run
@dataclass
class NasResult:
    """Per-candidate accuracies and the per-set summary of what ``out`` holds so far."""

    out: Path
    candidates: list[dict[str, Any]]  # arch fields, name, and per set {"mean", "std", "runs"} (None: not yet)
    summary: list[dict[str, Any]]  # one per training set (condensed, random, target)
    skipped: list[tuple[Architecture, str]] = field(default_factory=list)


def _describe(spec: DatasetSpec) -> str:
    return f"{spec.name} ({spec.channels}x{spec.image_size[0]}x{spec.image_size[1]}, {spec.num_classes} classes)"


def run_nas(
    dataset: str | Dataset,
    ipc: int,
    space: str | Sequence[Architecture | str | Mapping[str, Any]] = "small",
    out: str | Path = "runs/nas",
    *,
    synset: str | Path | None = None,
    iterations: int | None = None,
    batch_real: int | None = None,
    condense: Mapping[str, Any] | None = None,
    target_size: int | None = None,
    val_size: int = 100,
    proxy_epochs: int = 300,
    target_epochs: int = 30,
    num_nets: int = 2,
    seed: int = 0,
    top_k: int = 10,
    strategy: str | None = None,
    device: str = "auto",
    compile: str = "off",
    micro_batch: int | None = None,
    data_dir: str | None = None,
    log: Log | None = None,
) -> NasResult:
    """Rank the architectures of ``space`` with each proxy and with the target (see the module
    docstring); writes the tables and the plot into ``out`` after every candidate.

    ``synset``: a condensed-set file to use as the proxy (any format ``condense evaluate`` reads);
    default: condense one with DSA (``iterations``, ``batch_real`` and any other ``DistillConfig``
    field in ``condense``, e.g. ``{"method": "dm"}``), from the images outside the validation
    split. ``ipc`` is then the random proxy's size too (a file's own ipc wins). ``target_size``
    real images per class form the target (None: every training image outside the validation
    split); ``val_size`` per class are held out for ranking. ``seed`` draws the split, the random
    proxy, the target subset, the condensation and the networks. ``compile`` defaults to off:
    every candidate is another architecture, which ``torch.compile`` would compile anew.
    """
    say = default_log(log)
    condense = dict(condense or {})
    if isinstance(dataset, str):
        dataset = load_dataset(dataset, data_dir=data_dir)
    spec = dataset.spec
    for name, value in (("ipc", ipc), ("val_size", val_size), ("proxy_epochs", proxy_epochs),
                        ("target_epochs", target_epochs), ("num_nets", num_nets), ("top_k", top_k)):
        if int(value) != value or value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be a positive integer, got {value!r}")
    if target_size is not None and target_size < 1:
        raise ValueError(f"--target-size must be a positive integer (real images per class), got {target_size}")
    smallest = int(torch.bincount(dataset.train.labels.cpu(), minlength=spec.num_classes).min())
    need = val_size + max(ipc, target_size or 1)
    if need > smallest:
        raise ValueError(
            f"--val-size {val_size} plus {'--target-size ' + str(target_size) if target_size else '--ipc ' + str(ipc)} "
            f"need {need} training images per class, but the smallest class of {spec.name} holds {smallest}; "
            "lower them"
        )
    archs, skipped = candidates(space, spec)
    dev = device_from_flag(device)
    config = None
    if synset is None:  # bad condensation settings fail before anything is written
        config = _condense_config(spec, ipc, seed, iterations, batch_real, condense, device, compile, micro_batch)
        resolve(config, flip_ok=spec.flip_ok)
    strategy = strategy if strategy is not None else default_strategy(spec.flip_ok)
    settings = {"dataset": spec.name, "ipc": ipc, "seed": seed, "val_size": val_size, "target_size": target_size,
                "synset": str(Path(synset).resolve()) if synset is not None else None, "iterations": iterations,
                "batch_real": batch_real, "condense": condense}
    out = open_out(out, settings, "nas")
    run = RunDir(out)

    # the split: validation images out of the training set; every training set is drawn from the rest
    pool_split, val_split = split_off(dataset.train, take(dataset.train, val_size, spec.num_classes,
                                                          make_generator(seed, "nas-validation")))
    pool = Dataset(spec, pool_split, val_split, dataset.source)
    sets, condense_seconds, method = {}, 0.0, "file"
    if synset is not None:
        sets["condensed"] = _load_proxy(synset, spec, say)
    else:
        sets["condensed"], condense_seconds = _condense(pool, out / "condense", config, say)
    method = str(sets["condensed"].meta.get("method", method))
    proxy_ipc, factor = sets["condensed"].ipc, sets["condensed"].factor
    real_pool = RealPool(pool_split.images, pool_split.labels, spec.num_classes, dataset.normalize)
    sets["random"] = random_real_set(real_pool, proxy_ipc, seed, pool, factor=factor)  # the condensed set's storage
    target_idx = (take(pool_split, target_size, spec.num_classes, make_generator(seed, "nas-target"))
                  if target_size is not None else torch.arange(len(pool_split)))
    sets["target"] = make_synset(dataset.normalize(pool_split.images[target_idx]), pool_split.labels[target_idx], spec,
                                 target_size or len(pool_split) // spec.num_classes, {"method": "target", "seed": seed})
    storage = {"condensed": sets["condensed"].images.numel() * 4}  # float32, as saved
    # real pixels: one byte each (random images shrunk into stored images are float32, as the condensed set)
    storage.update({s: sets[s].images.numel() * (4 if sets[s].factor > 1 else 1) for s in ("random", "target")})
    images = {s: len(sets[s]) for s in SETS}  # stored images
    training = {s: len(sets[s]) * sets[s].factor ** 2 for s in SETS}  # what networks train on

    protocols = {s: protocol_for("dsa", spec.name, "convnet", strategy=strategy, flip_ok=spec.flip_ok,
                                 epochs=target_epochs if s == "target" else proxy_epochs) for s in SETS}
    # a multi-formation random proxy is another set than the plain one of earlier runs: its own ledger entries
    fingerprints = {s: p.fingerprint() + (f"|factor{factor}" if s == "random" and factor > 1 else "")
                    for s, p in protocols.items()}
    kernels = {s: kernels_for(compile, protocols[s].epochs, num_nets, micro_batch, dev) for s in SETS}
    val_images, val_labels = val_split.images.to(dev), val_split.labels.to(dev)
    say(f"architecture search on {_describe(spec)}: {len(archs)} candidates ({len(skipped)} skipped), "
        f"{num_nets} network(s) each on {method} ({images['condensed']} images, {proxy_epochs} epochs), random real "
        f"({images['random']}), target ({images['target']} images, {target_epochs} epochs); ranked on "
        f"{len(val_split)} held-out training images -> {out}")
    info = {"method": method, "images": images, "training_images": training, "factor": factor,
            "ipc": proxy_ipc, "labels": _set_labels(method, proxy_ipc, factor), "storage": storage,
            "condense_seconds": condense_seconds,
            "proxy_epochs": proxy_epochs, "target_epochs": target_epochs, "num_nets": num_nets, "top_k": top_k,
            "val_images": len(val_split), "augment": repr(protocols["target"].augment), "seed": seed}

    def write() -> NasResult:
        result = collect(out, archs, skipped, fingerprints, num_nets, top_k, info)
        write_nas(result, spec.name, info)
        return result

    for i, arch in enumerate(archs):
        name = register_architecture(arch)
        trained = False
        for s in SETS:
            done = {key: acc for key, acc in run.finished_networks(s, 0, {name: fingerprints[s]}).items()
                    if key[1] < num_nets}
            if len(done) >= num_nets:
                continue
            trained = True

            def record(m: str, k: int, acc: float, secs: float, s: str = s) -> None:
                run.append_evaluation({"set": s, "iteration": 0, "model": m, "index": k, "protocol": fingerprints[s],
                                       "accuracy": acc, "seconds": round(secs, 3)})
                say(f"  [{i + 1}/{len(archs)}] {arch.label} on {s}: network {k + 1}/{num_nets} {100 * acc:.2f}% ({secs:.0f}s)")

            evaluate_synset(sets[s], val_images, val_labels, dataset.normalize, models=[name], num_eval=num_nets,
                            protocol=protocols[s], seed=seed, device=dev, on_network=record, kernels=kernels[s],
                            done=done)
        if trained:  # tables as the search advances (an interrupted run keeps what finished)
            write()
    return write()


def _set_labels(method: str, ipc: int, factor: int) -> dict[str, str]:
    """How the tables name each training set; a multi-formation proxy says what it stores and what
    networks train on, and its random-real proxy what it is."""
    if factor <= 1:
        return {"condensed": f"condensed ({method})", "random": "random real", "target": "target (real)"}
    return {"condensed": f"condensed ({method}, {per_class(ipc, factor)})",
            "random": f"random real ({random_real_text(ipc, factor)})", "target": "target (real)"}


def _load_proxy(path: str | Path, spec: DatasetSpec, say: Log) -> SyntheticSet:
    from ..formats import load_sets

    sets = load_sets(path, dataset=spec)
    if len(sets) > 1:
        say(f"{path} holds {len(sets)} sets (experiments); using the first")
    check_fits(sets[0], spec, what=str(path))
    say(f"proxy: {path} ({len(sets[0])} images); it may have been condensed from images this run holds out for "
        "validation - condense here (no --synset) for a clean split")
    return sets[0]


def _condense_config(spec: DatasetSpec, ipc: int, seed: int, iterations: int | None, batch_real: int | None,
                     condense: Mapping[str, Any], device: str, compile: str, micro_batch: int | None) -> DistillConfig:
    """The proxy's condensation: DSA unless ``condense`` says otherwise, no evaluation of its own."""
    fields = dict(dataset=spec.name, method="dsa", ipc=ipc, seed=seed, iterations=iterations, batch_real=batch_real,
                  num_eval=0, baseline=False, eval_every=0, device=device, compile=compile, micro_batch=micro_batch)
    try:
        return DistillConfig(**{**fields, **condense})
    except TypeError as e:
        raise ValueError(f"unknown condensation setting: {e}") from None


def _condense(pool: Dataset, folder: Path, config: DistillConfig, say: Log) -> tuple[SyntheticSet, float]:
    """The condensed proxy (read back if ``folder`` holds the finished run) and its condensation seconds."""
    run = RunDir(folder)
    if run.file("results.json").exists() and run.file("synset.pt").exists():
        return SyntheticSet.load(run.file("synset.pt")), float(run.read_json("results.json").get("seconds", 0.0))
    say(f"condensing the proxy ({config.method}, {config.ipc} image(s)/class) from {len(pool.train)} training images")
    made = make_or_resume(config, folder, dataset=pool, progress=False, log=say)
    return made.synset, made.seconds


# ---------------------------------------------------------------------- results
def collect(out: str | Path, archs: Sequence[Architecture], skipped: Sequence[tuple[Architecture, str]],
            fingerprints: Mapping[str, str], num_nets: int, top_k: int, info: Mapping[str, Any]) -> NasResult:
    """The ledger of ``out`` as per-candidate accuracies and the per-set summary (over the
    candidates finished on every set)."""
    out = Path(out)
    names = {a.name for a in archs}
    runs: dict[tuple[str, str], dict[int, float]] = {}
    seconds = {s: 0.0 for s in SETS}
    for r in RunDir(out).read_evaluations():
        s, m, k = r.get("set"), r.get("model"), int(r.get("index", -1))
        if s in fingerprints and m in names and r.get("protocol") == fingerprints[s] and 0 <= k < num_nets:
            runs.setdefault((s, m), {})[k] = float(r["accuracy"])
            seconds[s] += float(r.get("seconds") or 0.0)
    rows = []
    for a in archs:
        row: dict[str, Any] = {"name": a.name, **a.kwargs()}
        for s in SETS:
            got = runs.get((s, a.name), {})
            row[s] = summarize([got[k] for k in sorted(got)]) if len(got) >= num_nets else None
        rows.append(row)
    complete = [r for r in rows if all(r[s] is not None for s in SETS)]
    target = [r["target"]["mean"] for r in complete]
    summary = []
    for s in SETS:
        entry: dict[str, Any] = {"set": s, "images": info["images"][s], "bytes": info["storage"][s],
                                 "training_images": info.get("training_images", info["images"])[s],
                                 "train_seconds": seconds[s], "condense_seconds": info["condense_seconds"] if s == "condensed" else 0.0,
                                 "candidates": len(complete)}
        if complete:
            ranked = rank_summary([r[s]["mean"] for r in complete], target, top_k)
            best = complete[ranked.pop("top1")]
            entry.update(ranked, top1_name=best["name"], top1_label=Architecture(**{k: best[k] for k in PAPER_GRID}).label,
                         top1_proxy=best[s]["mean"], best_target=max(target))
        summary.append(entry)
    return NasResult(out, rows, summary, list(skipped))


def _num(value: float | None, digits: int = 2) -> str | None:
    return None if value is None else f"{value:.{digits}f}"


def write_nas(result: NasResult, dataset: str, info: Mapping[str, Any]) -> None:
    """``nas.md`` (summary and candidates), ``nas.csv`` (one row per training set),
    ``candidates.csv``, ``nas.json`` and ``plots/nas.png`` (proxy against target accuracy)."""
    from ..plots import scatter_plot

    out = result.out
    k = info["top_k"]
    labels = info.get("labels") or _set_labels(info["method"], info.get("ipc", 1), 1)
    multi = info.get("factor", 1) > 1
    k = min(k, result.summary[0]["candidates"]) or k
    headers = ["training set", "images", *(["training images"] if multi else []), "storage (bytes)", "Spearman ρ (all)",
               f"ρ (its top {k})", "top-1 architecture", "its target acc. %", "its target rank", "training time (s)",
               "condensation (s)"]
    rows, csv_rows = [], []
    for e in result.summary:
        s = e["set"]
        trains = [info["training_images"][s]] if multi else []
        rows.append([labels[s], e["images"], *trains, e["bytes"], _num(e.get("rho")), _num(e.get("rho_top")), e.get("top1_label"),
                     pct(e.get("top1_target")) if "top1_target" in e else None, e.get("top1_rank"),
                     f"{e['train_seconds']:.0f}", f"{e['condense_seconds']:.0f}" if s == "condensed" else "–"])
        csv_rows.append([s, e["images"], e["bytes"], _num(e.get("rho"), 4), _num(e.get("rho_top"), 4), e.get("top_k"),
                         e.get("top1_name"), pct(e.get("top1_target")) if "top1_target" in e else None,
                         e.get("top1_rank"), pct(e.get("best_target")) if "best_target" in e else None,
                         f"{e['train_seconds']:.3f}", f"{e['condense_seconds']:.3f}", e["candidates"],
                         e["training_images"]])
    cand_headers = ["architecture", "name", *(f"{labels[s]} %" for s in SETS)]
    cand_rows = [[Architecture(**{f: r[f] for f in PAPER_GRID}).label, r["name"],
                  *(pct(r[s]["mean"]) if r[s] else None for s in SETS)] for r in result.candidates]
    n_done = result.summary[0]["candidates"]
    skipped = "; ".join(f"{a.label} ({why})" for a, why in result.skipped[:8])
    notes = (
        f"Validation accuracy (%) on {info['val_images']} training images held out of every training set, mean over "
        f"{info['num_nets']} network(s) per candidate and set (network k starts from the same weights on every set). "
        f"Proxies train {info['proxy_epochs']} epochs, the target {info['target_epochs']}; augmentation "
        f"{info['augment']}. Spearman ρ ranks the {n_done} candidates finished on every set by their mean accuracy "
        f"(ties: average ranks); 'its top {k}' restricts it to the proxy's {k} best. Storage: the condensed set as "
        f"saved (float32), real images as uint8 pixels. Training time: every network of every candidate on that set; "
        f"the condensed proxy also cost its condensation."
        + (f" The condensed proxy is a multi-formation set (factor {info['factor']}): 'images' counts stored images, "
           f"networks train on 'training images' (each stored image's {info['factor']}×{info['factor']} tiles, "
           f"enlarged); the random proxy has the same storage: {random_real_text(info.get('ipc', 1), info['factor'])}."
           if multi else "")
        + (f"\n\nSkipped {len(result.skipped)} architecture(s) that do not fit the images: {skipped}"
           f"{' ...' if len(result.skipped) > 8 else ''}." if result.skipped else "")
    )
    text = (f"# Architecture search: {dataset}, {len(result.candidates)} candidates\n\n"
            + _md(headers, rows) + "\n\n## Candidates\n\n" + _md(cand_headers, cand_rows) + f"\n\n{notes}\n")
    atomic_write_text(out / "nas.md", text)
    write_table(out / "nas.csv", ["set", "images", "bytes", "spearman", "spearman_top", "top_k", "top1", "top1_target",
                                  "top1_target_rank", "best_target", "train_seconds", "condense_seconds", "candidates",
                                  "training_images"],
                csv_rows)
    write_table(out / "candidates.csv", ["name", *PAPER_GRID, *(f"{s}_mean" for s in SETS), *(f"{s}_std" for s in SETS)],
                [[r["name"], *(r[f] for f in PAPER_GRID), *(pct(r[s]["mean"]) if r[s] else None for s in SETS),
                  *(pct(r[s]["std"]) if r[s] else None for s in SETS)] for r in result.candidates])
    data = {"kind": "nas", "dataset": dataset, **{k2: v for k2, v in info.items()}, "summary": result.summary,
            "candidates": result.candidates, "skipped": [{**a.kwargs(), "reason": why} for a, why in result.skipped]}
    atomic_write_text(out / "nas.json", json.dumps(data, indent=2) + "\n")
    done = [r for r in result.candidates if all(r[s] is not None for s in SETS)]
    groups = [(labels[s], [r[s]["mean"] for r in done], [r["target"]["mean"] for r in done]) for s in PROXIES]
    scatter_plot(out / "plots" / "nas.png", groups, xlabel="proxy validation accuracy", ylabel="target validation accuracy",
                 title=f"architecture search on {dataset}: {len(done)} candidates", percent=True)


def _md(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    from ..tables import markdown_table

    return markdown_table(headers, rows)
