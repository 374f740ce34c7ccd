"""Methods side by side at equal wall time on this machine (issue #27): DSA, DM and MTT (or any
registered methods) each condense for about ``--seconds`` and are evaluated the same way.

For every method a calibration run times a few iterations (after a warm-up one) in this
invocation; the method then runs ``seconds / (seconds per iteration)`` iterations, so the
methods spend the same condensation time, whatever their iterations cost. Each set is evaluated
with ``--num-eval`` networks under its method's own protocol (DSA augmentation, 1000 epochs for
all three; MTT with its learned learning rate). MTT's expert trajectories are trained first
(``--experts`` x ``--expert-epochs``, cached and reused) and their cost is reported apart, also
amortised over the runs that use them.

    python benchmarks/equal_time.py --dataset fashion-mnist --ipc 1 --seconds 900 --seeds 0
    python benchmarks/equal_time.py --dataset mnist --ipc 10 --seconds 3600 --set mtt.lr_img=100

Writes ``OUT/equal_time.md`` and ``.json``; every run is an ordinary run directory under ``OUT``
and resumes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import replace
from pathlib import Path

import torch

from condensation.config import DistillConfig, resolve
from condensation.data import DataError, load_dataset
from condensation.distill import distill, make_or_resume
from condensation.kernels import should_compile
from condensation.methods.experts import train_experts
from condensation.runs import RunDir
from time_to_accuracy import _value  # --set values: the same parsing


def calibrate(config: DistillConfig, dataset, folder: Path, iterations: int) -> float:
    """Median seconds per iteration over ``iterations`` timed iterations after a warm-up one, with
    the kernels of the long run (``config.compile`` is on or off, never auto: left to auto, the few
    calibration iterations would run eager and the long run compiled, faster than calibrated)."""
    cached = folder / "calibration.json"
    if cached.exists():
        known = json.loads(cached.read_text())
        if known.get("compile") == config.compile:
            return known["seconds_per_iteration"]
    fields = {**config.to_dict(), "iterations": iterations + 1, "num_eval": 0, "eval_every": 0, "baseline": False}
    distill(DistillConfig(**fields), folder, overwrite=True, dataset=dataset, progress=False, log=lambda m: None)
    times = [r["seconds"] for r in RunDir(folder).read_metrics() if "loss" in r][1:]
    value = statistics.median(times)
    cached.write_text(json.dumps({"seconds_per_iteration": value, "timed": times, "compile": config.compile}) + "\n")
    return value


def base_configs(dataset: str, methods: list[str], ipc: int, num_eval: int, common: dict,
                 per_method: dict[str, dict]) -> dict[str, DistillConfig]:
    """Each method's run at the ``fast`` preset's settings (DSA: 64 real images per class; the
    papers' image step), ``common`` then ``per_method[m]`` on top; ``compile`` resolved to on or
    off, so the calibration and the run it times use the same kernels."""
    bases = {}
    for method in methods:
        base = DistillConfig(dataset=dataset, method=method, ipc=ipc, preset="fast", num_eval=num_eval,
                             eval_every=0, baseline=False, **{**common, **per_method.get(method, {})})
        bases[method] = replace(base, compile="on" if should_compile(base.compile, True) else "off")
    return bases


def iterations_done(folder: Path) -> int:
    """The iterations the run in ``folder`` has logged (0: no run there)."""
    return max((int(r["iteration"]) for r in RunDir(folder).read_metrics() if "loss" in r), default=0)


def make_experts(base: DistillConfig, dataset, experts: int, epochs: int | None) -> dict:
    """Train (or reuse) MTT's expert buffer for ``base``; its cost, counted apart from condensation."""
    c = resolve(base, flip_ok=dataset.spec.flip_ok)
    epochs = epochs or c.max_start_epoch + c.expert_epochs
    start = time.perf_counter()
    buffer = train_experts(dataset, c.model, experts, epochs, lr_teacher=c.lr_teacher,
                           log=lambda m: print("  " + m, flush=True))
    infos = [buffer.info(k) for k in range(experts)]
    done = {"experts": experts, "epochs": epochs, "folder": str(buffer.folder),
            "seconds": sum(i["seconds"] for i in infos if i), "this_invocation": time.perf_counter() - start,
            "megabytes": buffer.size_bytes() / 2**20}
    print(f"experts: {experts} x {epochs} epochs, {done['seconds']:.0f} s of training, "
          f"{done['megabytes']:.0f} MiB", flush=True)
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--ipc", type=int, default=1)
    parser.add_argument("--methods", default="dsa,dm,mtt")
    parser.add_argument("--seconds", type=float, required=True, help="condensation time of every method")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--num-eval", type=int, default=5)
    parser.add_argument("--calibration-iterations", type=int, default=3)
    parser.add_argument("--experts", type=int, default=5, help="MTT's expert networks")
    parser.add_argument("--expert-epochs", type=int, default=None, help="epochs of each (default: what MTT needs)")
    parser.add_argument("--set", action="append", default=[], metavar="[METHOD.]KEY=VALUE",
                        help="override a setting of every method, or of one (mtt.lr_img=100)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    try:
        dataset = load_dataset(args.dataset)
    except DataError as e:
        parser.exit(2, f"{parser.prog}: {e}\n")
    out = args.out or Path("runs/equal_time") / f"{dataset.spec.name}_ipc{args.ipc}_{int(args.seconds)}s"
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    common: dict = {"factor": 1}  # plain sets: ipc training images per class, as the papers
    per_method: dict[str, dict] = {m: {} for m in methods}
    for item in args.set:
        key, _, value = item.partition("=")
        method, dot, name = key.strip().partition(".")
        (per_method.setdefault(method, {}) if dot else common)[name if dot else method] = _value(value.strip())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {dataset.spec.name} ipc {args.ipc}, "
          f"{args.seconds:.0f} s of condensation per method -> {out}")
    report: dict = {"dataset": dataset.spec.name, "ipc": args.ipc, "seconds": args.seconds, "runs": {}}
    seeds = [int(s) for s in args.seeds.split(",")]
    bases = base_configs(dataset.spec.name, methods, args.ipc, args.num_eval, common, per_method)
    if "mtt" in bases:  # experts first: their cost is counted apart
        report["experts"] = make_experts(bases["mtt"], dataset, args.experts, args.expert_epochs)
    # every calibration before any long run, so one quiet stretch times all the methods
    rates = {m: calibrate(b, dataset, out / m / "calibration", args.calibration_iterations) for m, b in bases.items()}
    counts = {m: max(1, round(args.seconds / s_it)) for m, s_it in rates.items()}  # the equal-time budget
    for method, s_it in rates.items():
        print(f"{method}: {s_it:.2f} s/iteration -> {counts[method]} iterations", flush=True)
    for method, base in bases.items():
        s_it = rates[method]
        for seed in seeds:
            # a run made under an earlier calibration may already hold more iterations: keep them
            # (a run cannot be shortened) and report the count it has
            iterations = max(counts[method], iterations_done(out / method / f"seed{seed}"))
            if iterations != counts[method]:
                print(f"  {method} seed {seed}: keeps the {iterations} iterations it already ran "
                      f"(this calibration asks for {counts[method]})", flush=True)
            config = DistillConfig(**{**base.to_dict(), "iterations": iterations, "seed": seed})
            result = make_or_resume(config, out / method / f"seed{seed}", dataset=dataset, progress=False,
                                    log=lambda m: None)
            evals = [r for r in RunDir(out / method / f"seed{seed}").read_evaluations()
                     if r["set"] == "synset" and r.get("iteration") == iterations]  # this set's networks only
            acc = next(iter(result.accuracy.values()))
            report["runs"][f"{method}/seed{seed}"] = {
                "method": method, "seed": seed, "iterations": iterations, "seconds_per_iteration": s_it,
                "budget_seconds": iterations * s_it, "condense_seconds": result.seconds,
                "eval_seconds": sum(r.get("seconds") or 0 for r in evals),
                "mean": acc["mean"], "std": acc["std"], "runs": acc["runs"], "lr": result.synset.meta.get("lr"),
            }
            print(f"  {method} seed {seed}: {100 * acc['mean']:.2f} ± {100 * acc['std']:.2f}% "
                  f"({iterations} iterations, {result.seconds:.0f} s of condensation)", flush=True)
            (out / "equal_time.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [f"# {dataset.spec.name}, ipc {args.ipc}: {args.seconds:.0f} s of condensation per method", "",
             "| method | seed | iterations | s/iteration | budget s | condensation s | accuracy % | evaluation s |",
             "|---|---|---|---|---|---|---|---|"]
    for r in report["runs"].values():
        lines.append(f"| {r['method']} | {r['seed']} | {r['iterations']} | {r['seconds_per_iteration']:.2f} | "
                     f"{r['budget_seconds']:.0f} | {r['condense_seconds']:.0f} | "
                     f"{100 * r['mean']:.2f} ± {100 * r['std']:.2f} | {r['eval_seconds']:.0f} |")
    if "experts" in report:
        e = report["experts"]
        runs = sum(1 for r in report["runs"].values() if r["method"] == "mtt")
        lines += ["", f"MTT's experts: {e['experts']} x {e['epochs']} epochs, {e['seconds']:.0f} s of training "
                  f"({e['seconds'] / max(1, runs):.0f} s per MTT run here; less per run the more runs share them), "
                  f"{e['megabytes']:.0f} MiB."]
    (out / "equal_time.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
