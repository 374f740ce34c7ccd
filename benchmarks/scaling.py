"""Projected DSA iteration time on 1-8 GPUs for CIFAR-100 and TinyImageNet (issue #9).

A model, not a measurement: there is no GPU here. What is measured (``FlopCounterMode`` on this
machine, on the networks the paper uses) is the arithmetic of the three parts of an iteration,
per class and per image; what is assumed is a GPU's sustained rate and its interconnect:

- matching step of one class: ``batch_real`` real images forward + parameter gradient, ``ipc``
  synthetic images forward + gradient with its graph + the matching loss's backward through it;
  ``outer_loop`` steps per iteration; classes split round robin over P ranks (ceil(C / P) each);
- inner loop: ``inner_loop`` epochs on all C x ipc synthetic images, repeated on every rank
  (every rank trains the same network; ``outer_loop - 1`` times per iteration);
- communication: after every matching step, one all-reduce of the synthetic images
  (C x ipc x image floats, as ``benchmarks/distributed.py`` measures: 31,364 bytes per
  iteration for Fashion-MNIST ipc 1), ring all-reduce: 2 (P-1)/P x bytes / bandwidth + latency.

DSA augmentation, the network's initialisation and Python overhead are left out (small next to
the convolutions at these sizes on a GPU). The same counting applied to Fashion-MNIST ipc 1 is
printed beside ``benchmarks/iteration_speed.py``'s count of the whole iteration as a check.

    python benchmarks/scaling.py [--gpu-tflops 10] [--bandwidth-gbs 20] [--latency-us 50]
"""

from __future__ import annotations

import argparse
import math

import torch
import torch.nn.functional as F

from condensation.config import loops_for_ipc
from condensation.models import build_model
from iteration_speed import count_flops  # this directory's benchmark: FLOPs of a call

SETTINGS = {  # dataset -> (channels, size, classes, network), as the papers run them
    "fashion-mnist": (1, 28, 10, "convnet"),
    "cifar100": (3, 32, 100, "convnet"),
    "tinyimagenet": (3, 64, 200, "convnetd4"),
}
BATCH_REAL = 256


def per_image_flops(channels: int, size: int, classes: int, network: str) -> dict[str, float]:
    """Counted FLOPs per image of: a real image in a matching step, a synthetic image in a
    matching step, an image in an inner-loop training step."""
    g = torch.Generator().manual_seed(0)
    net = build_model(network, channels=channels, image_size=size, num_classes=classes, generator=g)
    params = list(net.parameters())
    n = 8
    x = torch.randn(n, channels, size, size, generator=g)
    y = torch.arange(n) % classes

    def real():
        torch.autograd.grad(F.cross_entropy(net(x), y), params)

    def synthetic():
        syn = x.clone().requires_grad_(True)
        grads = torch.autograd.grad(F.cross_entropy(net(syn), y), params, create_graph=True)
        sum((gr * gr).sum() for gr in grads).backward()  # a loss of the gradients, back to the pixels

    def train():
        net.zero_grad()
        F.cross_entropy(net(x), y).backward()

    return {"real": count_flops(real) / n, "syn": count_flops(synthetic) / n, "train": count_flops(train) / n}


def iteration_flops(per: dict[str, float], classes: int, ipc: int, procs: int) -> tuple[float, float, int, int]:
    """(matching FLOPs on the busiest rank, inner-loop FLOPs, outer_loop, inner_loop)."""
    outer, inner = loops_for_ipc(ipc)
    mine = math.ceil(classes / procs)
    match = outer * mine * (BATCH_REAL * per["real"] + ipc * per["syn"])
    train = (outer - 1) * inner * classes * ipc * per["train"]
    return match, train, outer, inner


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gpu-tflops", type=float, default=10.0, help="sustained fp32/TF32 TFLOP/s of one GPU")
    parser.add_argument("--bandwidth-gbs", type=float, default=20.0, help="all-reduce bus bandwidth, GB/s")
    parser.add_argument("--latency-us", type=float, default=50.0, help="latency of one all-reduce, microseconds")
    parser.add_argument("--procs", default="1,2,4,8")
    args = parser.parse_args()
    procs = [int(p) for p in args.procs.split(",")]
    rate = args.gpu_tflops * 1e12

    per = {name: per_image_flops(*s) for name, s in SETTINGS.items()}
    for name, p in per.items():
        print(f"{name:<14} GFLOP per image: real match {p['real'] / 1e9:.3f}, synthetic match {p['syn'] / 1e9:.3f}, "
              f"inner-loop step {p['train'] / 1e9:.3f}")
    m, t, _, _ = iteration_flops(per["fashion-mnist"], 10, 1, 1)
    print(f"\ncheck: fashion-mnist ipc 1 modelled {(m + t) / 1e12:.3f} TFLOP per iteration "
          "(benchmarks/iteration_speed.py counts the whole iteration, DSA included)\n")

    print(f"Assumed: {args.gpu_tflops:g} TFLOP/s sustained per GPU, all-reduce {args.bandwidth_gbs:g} GB/s bus "
          f"bandwidth + {args.latency_us:g} us per call; seconds per iteration (speed-up over 1 GPU)")
    print(f"| dataset | ipc | loops | TFLOP/iter | {' | '.join(f'{p} GPU' + ('s' if p > 1 else '') for p in procs)} |")
    print(f"|---|---|---|---|{'---|' * len(procs)}")
    for name in ("cifar100", "tinyimagenet"):
        channels, size, classes, _ = SETTINGS[name]
        for ipc in (1, 10, 50):
            cells, base = [], None
            for p in procs:
                match, train, outer, inner = iteration_flops(per[name], classes, ipc, p)
                image_bytes = classes * ipc * channels * size * size * 4
                comm = 0.0 if p == 1 else outer * (2 * (p - 1) / p * image_bytes / (args.bandwidth_gbs * 1e9)
                                                   + args.latency_us * 1e-6)
                seconds = (match + train) / rate + comm
                base = base or seconds
                cells.append(f"{seconds:.2f} ({base / seconds:.1f}x)")
            m1, t1, outer, inner = iteration_flops(per[name], classes, ipc, 1)
            print(f"| {name} | {ipc} | {outer}/{inner} | {(m1 + t1) / 1e12:.1f} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
