"""Distributed condensation on this machine: one process against two (torchrun, gloo on CPU).

For each process count it launches ``torchrun --nproc-per-node N`` on this file's ``--worker``
mode, which runs a few DSA iterations (classes split across ranks, images merged after every
step) and reports, from rank 0: seconds per iteration, the part of it that every rank repeats
(the inner loop, which trains the same network on the full set on every rank), and the bytes each
process passed to all-reduce per iteration. Threads are split evenly (2 cores: 1 process x 2
threads, or 2 processes x 1 thread), so the comparison is at equal hardware.

On 2 CPU cores no speed-up is expected; the point is correctness (``tests/test_distributed.py``)
and the measured figures that ``docs/scaling.md`` projects from.

    python benchmarks/distributed.py [--ipc 1] [--iterations 3] [--procs 1,2] [--dataset fashion-mnist]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def worker(args: argparse.Namespace) -> None:
    import torch

    from condensation.config import DistillConfig, resolve
    from condensation.data import load_dataset
    from condensation.distill import initial_images
    from condensation.distributed import context
    from condensation.kernels import Kernels, resolve_micro_batch
    from condensation.methods import RealPool, SyntheticImages, build_method

    ctx = context(torch.device("cpu"))
    dataset = load_dataset(args.dataset)
    spec = dataset.spec
    config = resolve(DistillConfig(dataset=spec.name, method="dsa", ipc=args.ipc, batch_real=args.batch_real),
                     flip_ok=spec.flip_ok)
    kernels = Kernels.for_mode("off", True, resolve_micro_batch(None, torch.device("cpu")))
    pool = RealPool(dataset.train.images, dataset.train.labels, spec.num_classes, dataset.normalize)
    method = build_method(config, pool, spec.channels, spec.image_size, kernels)
    syn = SyntheticImages(initial_images(config, pool, spec.channels, spec.image_size), config.ipc, spec.num_classes,
                          config.lr_img, 0.5, classes=ctx.classes(spec.num_classes),
                          after_step=(lambda s: ctx.merge_rows(s.images.data, spec.num_classes)) if ctx.active else None)
    ctx.sum(method.iteration(syn, 0))  # warm-up
    ctx.barrier()
    times, inner = [], []
    before = ctx.bytes_reduced
    for it in range(1, args.iterations + 1):
        t0 = time.perf_counter()
        float(ctx.sum(method.iteration(syn, it)))
        times.append(time.perf_counter() - t0)
        if config.outer_loop > 1:  # time one inner loop (repeated on every rank)
            net = method.fresh_network(it)
            opt = torch.optim.SGD(net.parameters(), lr=config.lr_net)
            t0 = time.perf_counter()
            method.train_network(net, opt, syn, it, 0)
            inner.append((time.perf_counter() - t0) * (config.outer_loop - 1))
    per_iteration_bytes = (ctx.bytes_reduced - before) / args.iterations
    if ctx.is_main:
        print(json.dumps({
            "procs": ctx.world, "threads": torch.get_num_threads(), "ipc": args.ipc, "classes": spec.num_classes,
            "outer_loop": config.outer_loop, "inner_loop": config.inner_loop,
            "seconds_per_iteration": statistics.median(times),
            "inner_loop_seconds": statistics.median(inner) if inner else 0.0,
            "bytes_per_iteration": per_iteration_bytes,
            "image_bytes": syn.images.numel() * syn.images.element_size(),
        }), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--ipc", type=int, default=1)
    parser.add_argument("--batch-real", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--procs", default="1,2")
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    cores = os.cpu_count() or 1
    rows = []
    for n in (int(p) for p in args.procs.split(",")):
        env = {**os.environ, "OMP_NUM_THREADS": str(max(1, cores // n)), "PYTHONWARNINGS": "ignore"}
        env.pop("WORLD_SIZE", None)
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={n}", __file__,
               "--worker", "--dataset", args.dataset, "--ipc", str(args.ipc), "--batch-real", str(args.batch_real),
               "--iterations", str(args.iterations)]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"{n} process(es) failed:\n{done.stderr[-2000:]}")
        rows.append(json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][-1]))
    base = rows[0]["seconds_per_iteration"]
    print(f"{args.dataset}, DSA, ipc {args.ipc}, batch_real {args.batch_real}, {cores} cores")
    print(f"{'procs':>5} {'threads':>7} {'s/iter':>7} {'vs 1':>6} {'inner loop s':>12} {'all-reduce MB/iter':>18}")
    for r in rows:
        print(f"{r['procs']:>5} {r['threads']:>7} {r['seconds_per_iteration']:7.2f} {base / r['seconds_per_iteration']:5.2f}x "
              f"{r['inner_loop_seconds']:12.2f} {r['bytes_per_iteration'] / 1e6:18.3f}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
