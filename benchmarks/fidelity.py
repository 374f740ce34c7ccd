"""Fidelity to the authors' numbers at a CPU-sized budget (issue #3), not part of the test suite.

Fashion-MNIST, ipc 1, init real, ConvNet, batch_real 256, 30 iterations, 5 evaluation networks:
DSA, DC, and random real images (the runs' own starting images) under each method's evaluation
protocol, for several seeds. Each run is a normal run directory under ``--out``; a finished run
is skipped, an interrupted one resumes, so the grid can be stopped and restarted.

The authors' code at this budget (issue #3): DSA 66.6 +- 0.3 (random real 58.4 +- 0.6 under DSA's
evaluation), DC 67.4 +- 0.6 (random real 49.6 +- 0.3 under DC's evaluation).

    python benchmarks/fidelity.py [--seeds 0,1,2] [--iterations 30] [--num-eval 5] [--out runs/fidelity]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

from condensation.config import DistillConfig
from condensation.data import load_dataset
from condensation.distill import distill

AUTHORS = {"dsa": (66.6, 0.3, 58.4, 0.6), "dc": (67.4, 0.6, 49.6, 0.3)}


def pooled(runs: list[float]) -> tuple[float, float]:
    """Mean and population std in percent over all networks (the authors' convention)."""
    mean = sum(runs) / len(runs)
    return 100 * mean, 100 * math.sqrt(sum((r - mean) ** 2 for r in runs) / len(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--methods", default="dsa,dc")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--ipc", type=int, default=1)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--batch-real", type=int, default=256)
    parser.add_argument("--num-eval", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("runs/fidelity"))
    args = parser.parse_args()

    dataset = load_dataset(args.dataset)
    methods = [m.strip() for m in args.methods.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    table: dict[str, dict[str, list[float]]] = {}
    per_seed = []
    start = time.perf_counter()
    for method in methods:
        for seed in seeds:
            out = args.out / f"{method}_{args.dataset}_ipc{args.ipc}_it{args.iterations}_seed{seed}"
            if (out / "results.json").exists():
                results = json.loads((out / "results.json").read_text())
            else:
                config = DistillConfig(
                    dataset=args.dataset, method=method, ipc=args.ipc, init="real", iterations=args.iterations,
                    batch_real=args.batch_real, num_eval=args.num_eval, seed=seed,
                )
                distill(config, out, resume=(out / "checkpoint.pt").exists(), dataset=dataset)
                results = json.loads((out / "results.json").read_text())
            syn = results["accuracy"]["convnet"]["runs"]
            rnd = results["baseline"]["random_real"]["convnet"]["runs"]
            table.setdefault(method, {"syn": [], "random": []})
            table[method]["syn"] += syn
            table[method]["random"] += rnd
            per_seed.append((method, seed, pooled(syn), pooled(rnd), results["seconds"] / args.iterations))
            print(f"{method} seed {seed}: {pooled(syn)[0]:.2f} ± {pooled(syn)[1]:.2f} "
                  f"(random real {pooled(rnd)[0]:.2f} ± {pooled(rnd)[1]:.2f}), "
                  f"{results['seconds'] / args.iterations:.1f} s/iteration", flush=True)

    print(f"\n{args.dataset}, ipc {args.ipc}, {args.iterations} iterations, batch_real {args.batch_real}, "
          f"{args.num_eval} networks per seed, seeds {args.seeds} ({time.perf_counter() - start:.0f} s)\n")
    print("| method | ours | ours: random real | authors' code | authors': random real |")
    print("|---|---|---|---|---|")
    for method in methods:
        s_mean, s_std = pooled(table[method]["syn"])
        r_mean, r_std = pooled(table[method]["random"])
        a = AUTHORS.get(method)
        ref = f"{a[0]:.1f} ± {a[1]:.1f} | {a[2]:.1f} ± {a[3]:.1f}" if a and args.ipc == 1 else "– | –"
        print(f"| {method.upper()} | {s_mean:.2f} ± {s_std:.2f} | {r_mean:.2f} ± {r_std:.2f} | {ref} |")
    print("\nper seed:")
    print("| method | seed | ours | random real | s/iteration |")
    print("|---|---|---|---|---|")
    for method, seed, (sm, ss), (rm, rs), spi in per_seed:
        print(f"| {method.upper()} | {seed} | {sm:.2f} ± {ss:.2f} | {rm:.2f} ± {rs:.2f} | {spi:.1f} |")


if __name__ == "__main__":
    main()
