"""Accuracy against wall-clock time: how long until a set is as good as the paper's?

Fashion-MNIST (or ``--dataset mnist``), ipc 1 (issue #7) or ``--ipc 10``/``50`` (issue #29), DSA or
``--method M``. For each seed, runs a preset
(default ``quick``; any ``DistillConfig`` field can be overridden with ``--set key=value``) and
evaluates the set every ``--eval-every`` iterations with ``--num-eval`` fresh networks under the
paper's protocol (1000 epochs with DSA augmentation, the full test set). In the same run it times
a few iterations of the ``paper`` preset and one evaluation network, and projects the paper
preset's time at the same ipc (1000 iterations + 20 networks); the target is the DSA paper's
figure for the dataset and ipc (Table 1: Fashion-MNIST 70.6 / 84.6 / 88.7 %, MNIST 88.7 / 97.8 /
99.2 % at ipc 1 / 10 / 50) within ``--target-ratio`` of that time (default 1/5 at ipc 1, 1/20
above). The preset's time is its condensation time plus the evaluation of its final set
(``--num-eval`` networks); the intermediate evaluations only draw the curve.

``--after LABEL`` chains two stages: each seed starts from the set of the same seed under
``OUT/LABEL`` (``init_from``, e.g. a DM set refined by DSA), and that stage's condensation time is
added to this one's.

A multi-formation configuration (``--preset fast`` at ipc 1 uses factor 2) is labelled with what
it stores and what networks train on, in the printed lines, the plot and the JSON/CSV; the paper's
figure, for plain sets of one image per class, is then printed and drawn as another setting, not
as a target the set meets.

Writes ``OUT/time_to_accuracy_LABEL.csv`` (one row per evaluation point of every finished seed
under ``OUT/LABEL``, whichever invocation ran it), ``.png`` and ``.json``, and prints each seed's
ratio of time to the projection. Runs resume (each seed is an ordinary run directory under
``OUT/LABEL``); ``--skip-paper`` reuses the projection an earlier invocation of the label saved.

    python benchmarks/time_to_accuracy.py --preset fast --eval-every 0 --seeds 0,1,2 --label fast
    python benchmarks/time_to_accuracy.py --preset quick --set iterations=200 --seeds 0,1,2 --eval-every 50
    python benchmarks/time_to_accuracy.py --preset quick --set lr_img=0.3 --set batch_real=64 --label lr0.3-b64
    python benchmarks/time_to_accuracy.py --dataset mnist --preset fast --eval-every 0 --seeds 0 --label mnist-fast
    python benchmarks/time_to_accuracy.py --ipc 10 --method dm --set iterations=1000 --eval-every 0 --label dm10
    python benchmarks/time_to_accuracy.py --ipc 10 --after dm10 --set iterations=50 --eval-every 0 --label dm10-dsa50
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from condensation.config import DistillConfig, resolve
from condensation.data import DataError, load_dataset
from condensation.distill import distill, initial_images, random_real_set
from condensation.evaluate import evaluate_synset, protocol_for
from condensation.kernels import Kernels, resolve_micro_batch, should_compile
from condensation.labels import paper_beside, per_class
from condensation.methods import RealPool, SyntheticImages, build_method
from condensation.plots import line_plot
from condensation.published import published
from condensation.runs import RunDir
from condensation.tables import csv_text

DATASETS = ("fashion-mnist", "mnist")  # the two whose real data lie on this machine


def _value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return None if text == "None" else text


def describe(label: str, factor: int, ipc: int = 1) -> str:
    """The label as printed and plotted: a multi-formation configuration says its storage."""
    return label if factor <= 1 else f"{label} ({per_class(ipc, factor)})"


def target_text(paper_mean: float, factor: int, ipc: int = 1, ratio: float = 0.2) -> str:
    """The printed target: the time ratio, and the paper's accuracy, which only plain sets are
    measured against (beside a multi-formation set it is another setting)."""
    if factor <= 1:
        return f"target <= {ratio:g} and >= {paper_mean:.1f}%"
    return f"target <= {ratio:g}; " + paper_beside(f"the paper's {paper_mean:.1f}%", ipc, factor)


def paper_line_label(paper_mean: float, factor: int, ipc: int = 1) -> str:
    """The plot's horizontal line for the paper's figure."""
    return paper_beside(f"paper {paper_mean}", ipc, factor)


def plot(path: Path, by_seed: dict, dataset_name: str, label: str, paper_mean: float, factor: int,
         vlines: list, ipc: int = 1, method: str = "DSA") -> Path:
    """Accuracy against condensation seconds, one line per seed, the paper's figure as a line."""
    series = [(f"seed {s}", [r[3] for r in rs], [r[4] / 100 for r in rs], [r[5] / 100 for r in rs])
              for s, rs in by_seed.items()]
    return line_plot(path, series, xlabel="condensation seconds", ylabel="test accuracy",
                     title=f"{dataset_name} ipc {ipc}, {method}: {describe(label, factor, ipc)}",
                     hlines=[(paper_line_label(paper_mean, factor, ipc), paper_mean / 100)], vlines=vlines,
                     percent=True)


def time_paper_preset(dataset, iterations: int, device: torch.device, ipc: int = 1) -> tuple[float, float]:
    """(seconds per paper-preset DSA iteration, seconds per evaluation network) at ``ipc``, measured now."""
    config = resolve(DistillConfig(dataset=dataset.spec.name, method="dsa", ipc=ipc, preset="paper"),
                     flip_ok=dataset.spec.flip_ok)
    spec = dataset.spec
    kernels = Kernels.for_mode("on" if should_compile("auto", True) else "off", True, resolve_micro_batch(None, device))
    pool = RealPool(dataset.train.images, dataset.train.labels, spec.num_classes, dataset.normalize)
    method = build_method(config, pool, spec.channels, spec.image_size, kernels)
    syn = SyntheticImages(initial_images(config, pool, spec.channels, spec.image_size), ipc, spec.num_classes, 0.1, 0.5)
    method.iteration(syn, 0)  # warm-up (compilation)
    times = []
    for it in range(1, iterations + 1):
        t0 = time.perf_counter()
        float(method.iteration(syn, it))
        times.append(time.perf_counter() - t0)
    synset = random_real_set(pool, ipc, 0, dataset)
    protocol = protocol_for("dsa", spec.name, flip_ok=spec.flip_ok)
    kernels_eval = Kernels.for_mode("auto", True, resolve_micro_batch(None, device))
    evaluate_synset(synset, dataset.test.images, dataset.test.labels, dataset.normalize, models=["convnet"], num_eval=1,
                    protocol=protocol.__class__(**{**protocol.__dict__, "epochs": 5}), seed=99, device=device,
                    kernels=kernels_eval)  # warm-up
    t0 = time.perf_counter()
    evaluate_synset(synset, dataset.test.images, dataset.test.labels, dataset.normalize, models=["convnet"], num_eval=1,
                    protocol=protocol, seed=98, device=device, kernels=kernels_eval)
    return statistics.median(times), time.perf_counter() - t0


def condense_seconds(run: RunDir) -> float:
    """The condensation seconds a run's iterations took (its metrics)."""
    return sum(r["seconds"] for r in run.read_metrics() if "loss" in r)


def earlier_stage(run: RunDir) -> float:
    """Condensation seconds of the stage this run started from (``init_from``, recorded by
    ``--after`` in ``stage.json``), else 0."""
    stage = run.file("stage.json")
    return json.loads(stage.read_text())["seconds"] if stage.exists() else 0.0


def curve(run: RunDir, final_iteration: int) -> list[dict]:
    """Per evaluation point: iteration, condensation seconds so far (an earlier stage's included),
    mean, std, networks; and the seconds spent evaluating the final set."""
    seconds = {}
    total = earlier_stage(run)
    for r in run.read_metrics():
        if "loss" in r:
            total += r["seconds"]
            seconds[r["iteration"]] = total
    seconds[0] = earlier_stage(run)
    points: dict[int, dict[int, dict]] = {}
    for r in run.read_evaluations():
        if r["set"] == "synset":
            points.setdefault(r["iteration"], {})[r["index"]] = r
    rows = []
    for it, nets in sorted(points.items()):
        accs = [n["accuracy"] for n in nets.values()]
        mean = sum(accs) / len(accs)
        std = (sum((a - mean) ** 2 for a in accs) / len(accs)) ** 0.5
        rows.append({"iteration": it, "condense_seconds": seconds.get(it), "mean": mean, "std": std, "networks": len(accs),
                     "eval_seconds": sum(n.get("seconds") or 0.0 for n in nets.values()), "final": it == final_iteration})
    return rows


def label_rows(label_dir: Path, label: str) -> list[list]:
    """CSV rows of every finished seed directory under ``label_dir`` (``seed<N>`` with results.json)."""
    rows = []
    seed_dirs = {int(d.name[4:]): d for d in label_dir.glob("seed*") if d.name[4:].isdigit()}
    for seed, seed_dir in sorted(seed_dirs.items()):
        run = RunDir(seed_dir)
        if not run.file("results.json").exists():
            continue
        points = curve(run, run.read_json("config.json")["iterations"])
        final = points[-1]
        total = final["condense_seconds"] + final["eval_seconds"]
        factor = int(run.read_json("config.json").get("factor") or 1)
        for p in points:
            rows.append([label, seed, p["iteration"], round(p["condense_seconds"], 1),
                         round(100 * p["mean"], 2), round(100 * p["std"], 2), p["networks"],
                         round(p["eval_seconds"], 1), round(total, 1) if p["final"] else None, factor])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="fashion-mnist", choices=DATASETS)
    parser.add_argument("--ipc", type=int, default=1, choices=(1, 10, 50))
    parser.add_argument("--method", default="dsa", help="the condensation method of this stage (default dsa)")
    parser.add_argument("--after", default=None, metavar="LABEL",
                        help="start each seed from the set of that seed under OUT/LABEL, counting its time")
    parser.add_argument("--target-ratio", type=float, default=None,
                        help="time target as a fraction of the paper preset's (default 1/5 at ipc 1, 1/20 above)")
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a DistillConfig field")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--num-eval", type=int, default=5)
    parser.add_argument("--paper-iterations", type=int, default=None,
                        help="paper-preset iterations timed, median (default 3 at ipc 1, 1 above)")
    parser.add_argument("--label", default=None, help="name of this configuration in the CSV (default: the preset)")
    parser.add_argument("--out", type=Path, default=Path("runs/time_to_accuracy"))
    parser.add_argument("--skip-paper", action="store_true", help="do not time the paper preset (no ratio printed)")
    args = parser.parse_args()
    if args.num_eval < 5:
        parser.error("the paper's protocol here needs --num-eval 5 or more")

    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key.strip()] = _value(value.strip())
    label = args.label or (("" if args.dataset == "fashion-mnist" else args.dataset + "-")
                           + ("" if args.ipc == 1 else f"ipc{args.ipc}-") + ("" if args.method == "dsa" else args.method + "-")
                           + args.preset + "".join(f"_{k}{v}" for k, v in overrides.items()))
    ratio_target = args.target_ratio or (0.2 if args.ipc == 1 else 0.05)
    paper_iterations = args.paper_iterations or (3 if args.ipc == 1 else 1)
    paper_figure = published("dsa", args.dataset, args.ipc)  # percent as printed: DSA paper Table 1
    target = paper_figure["mean"] / 100
    try:
        dataset = load_dataset(args.dataset)
    except DataError as e:  # the library's own message says where the files go
        parser.exit(2, f"{parser.prog}: {e}\n")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {device}")
    try:
        factor = resolve(DistillConfig(dataset=args.dataset, method=args.method, ipc=args.ipc, preset=args.preset,
                                       **overrides), flip_ok=dataset.spec.flip_ok).factor
    except ValueError as e:  # an unknown method or setting: the library's one line
        parser.exit(2, f"{parser.prog}: {e}\n")
    shown = describe(label, factor, args.ipc)
    if factor > 1:
        print(f"{shown}: multi-formation, each stored image holds {factor}x{factor} tiles networks train on; "
              f"the paper's {paper_figure['mean']}% is for plain sets of {args.ipc} image(s)/class, another setting")

    for seed in (int(s) for s in args.seeds.split(",")):
        out = args.out / label / f"seed{seed}"
        run = RunDir(out)
        start = {}
        if args.after:  # stage two: the first stage's set of this seed, and its condensation time
            first = RunDir(args.out / args.after / f"seed{seed}")
            if not first.file("synset.pt").exists():
                parser.exit(2, f"{parser.prog}: --after {args.after}: no finished set for seed {seed} in "
                               f"{first.path}; run that label first\n")
            start = {"init_from": str(first.file("synset.pt"))}
        config = DistillConfig(dataset=args.dataset, method=args.method, ipc=args.ipc, preset=args.preset, seed=seed,
                               eval_every=args.eval_every, num_eval=args.num_eval, baseline=False,
                               **{**overrides, **start})
        t0 = time.perf_counter()
        result = distill(config, out, resume=run.checkpoint_path.exists(), dataset=dataset, progress=False,
                         log=lambda m: None)
        if args.after:  # beside the run's own files, once it has made its folder
            run.file("stage.json").write_text(json.dumps({"after": args.after, "seconds": condense_seconds(first)}) + "\n")
        final = curve(run, result.config.iterations)[-1]
        total = final["condense_seconds"] + final["eval_seconds"]
        print(f"{shown} seed {seed}: {100 * final['mean']:.2f} ± {100 * final['std']:.2f}% after "
              f"{result.config.iterations} iterations; condensation {final['condense_seconds']:.0f} s + evaluation "
              f"{final['eval_seconds']:.0f} s = {total:.0f} s ({time.perf_counter() - t0:.0f} s in this invocation)")
    # the CSV and the plot cover every finished seed under the label, not only this invocation's
    rows = label_rows(args.out / label, label)
    by_seed = {}
    for r in rows:
        by_seed.setdefault(r[1], []).append(r)
    args.out.mkdir(parents=True, exist_ok=True)
    csv_path = args.out / f"time_to_accuracy_{label}.csv"
    csv_path.write_text(csv_text(["config", "seed", "iteration", "condense_seconds", "mean", "std", "networks",
                                  "final_eval_seconds", "total_seconds", "factor"], rows))

    json_path = args.out / f"time_to_accuracy_{label}.json"
    if args.skip_paper:
        paper = json.loads(json_path.read_text()) if json_path.exists() else None
        if paper:
            print(f"paper preset: the projection of an earlier run of this label, "
                  f"{paper['paper_projected_seconds']:.0f} s")
    else:
        t_it, t_net = time_paper_preset(dataset, paper_iterations, device, args.ipc)
        paper = {"paper_seconds_per_iteration": t_it, "paper_seconds_per_network": t_net,
                 "paper_projected_seconds": 1000 * t_it + 20 * t_net}
        print(f"paper preset, measured now: {t_it:.2f} s/iteration, {t_net:.1f} s/network -> projected "
              f"1000 iterations + 20 networks = {paper['paper_projected_seconds']:.0f} s")
    vlines = []
    if paper:
        projected = paper["paper_projected_seconds"]
        finals = {r[1]: r for r in rows if r[8] is not None}
        for seed, r in sorted(finals.items()):
            print(f"{shown} seed {seed}: {r[4]:.2f} ± {r[5]:.2f}% in {r[8]:.0f} s = {r[8] / projected:.3f} x the "
                  f"paper preset ({target_text(100 * target, factor, args.ipc, ratio_target)})")
        totals = {seed: r[8] for seed, r in finals.items()}
        json_path.write_text(json.dumps({
            "label": label, "dataset": args.dataset, "ipc": args.ipc, "method": args.method, "after": args.after,
            "factor": factor, "training_images_per_class": args.ipc * factor**2, "target_ratio": ratio_target,
            "paper_setting": "the paper's setting" if factor <= 1 else "another setting: the paper's figure is for plain sets",
            **{k: paper[k] for k in ("paper_seconds_per_iteration", "paper_seconds_per_network",
                                                     "paper_projected_seconds")},
            "preset_seconds_per_seed": totals,
            "ratio": sum(totals.values()) / len(totals) / projected if totals else None,
        }, indent=2) + "\n")
        final_eval = [r[7] for r in finals.values()]
        if final_eval:  # the x axis is condensation time: the budget left for it is the target less the final evaluation
            vlines = [(f"1/{round(1 / ratio_target)} of the paper preset, less the final evaluation",
                       projected * ratio_target - sum(final_eval) / len(final_eval))]
    png = plot(args.out / f"time_to_accuracy_{label}.png", by_seed, dataset.spec.name, label, paper_figure["mean"],
               factor, vlines, args.ipc, args.method.upper() + (f" after {args.after}" if args.after else ""))
    print(f"wrote {csv_path} and {png}")


if __name__ == "__main__":
    main()
