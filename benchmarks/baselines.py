"""Every baseline beside the methods: random, herding, k-center, forgetting, DC, DSA and DM.

Fashion-MNIST at 1 and 10 images per class by default, each method with the settings of its paper
(``condense reproduce``: DC from noise, DSA and DM from real images; coresets evaluated with DC's
protocol), at a stated reduced budget, beside the published figures (``published.csv``). A thin
wrapper over ``condense reproduce``: the grid resumes, so a long measurement can be made in pieces.

    python benchmarks/baselines.py --ipc 1 --seeds 0,1 --iterations 30 --dm-iterations 300 --num-eval 5
    python benchmarks/baselines.py --ipc 10 --seeds 0 --iterations 10 --dm-iterations 300 --num-eval 5

Condensation methods run ``--iterations`` (DM ``--dm-iterations``: its iterations are ~20-80x
cheaper); every cell is evaluated with ``--num-eval`` networks per seed.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from condensation.reproduce import run_reproduce
from condensation.tables import format_accuracy

METHODS = ("random", "herding", "kcenter", "forgetting", "dc", "dsa", "dm")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--ipc", default="1")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--iterations", type=int, default=30, help="DC and DSA iterations")
    parser.add_argument("--dm-iterations", type=int, default=300, help="DM iterations")
    parser.add_argument("--num-eval", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("runs/baselines"))
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    methods = args.methods.split(",")
    started = time.perf_counter()
    results = []
    for ipc in (int(i) for i in args.ipc.split(",")):
        results += run_reproduce(methods, [args.dataset], [ipc], args.out / f"ipc{ipc}", seeds=seeds,
                                 overrides={"iterations": args.iterations, "num_eval": args.num_eval, "baseline": False},
                                 method_overrides={"dm": {"iterations": args.dm_iterations}})
    print(f"{args.dataset}, seeds {seeds}, {args.num_eval} networks each; DC/DSA {args.iterations} iterations, "
          f"DM {args.dm_iterations}; {time.perf_counter() - started:.0f} s in this invocation")
    print(f"{'ipc':>3} {'method':<11} {'ours %':>16} {'paper %':>12} {'time s':>8}")
    for r in results:
        paper = r.cell.paper
        ref = "–" if not paper else f"{paper['mean']}" + (f" ± {paper['std']}" if paper.get("std") is not None else "")
        print(f"{r.cell.info['ipc']:>3} {r.cell.info['method']:<11} {format_accuracy(r.main()):>16} {ref:>12} {r.seconds:8.0f}")
    print(f"tables: {args.out}/ipc*/results.md")


if __name__ == "__main__":
    main()
