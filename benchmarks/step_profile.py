"""Where one compiled step spends its time, part by part, against this machine's matmul peak.

Two steps, Fashion-MNIST, ConvNet, compiled, micro-batches of 32 (the CPU defaults):

- ``eval``: one evaluation training step (ipc 1: 10 images with DSA, forward + backward + SGD);
- ``grad``: one micro-batch of the real-image gradient of a DSA iteration (32 real images of one
  class, forward + parameter gradients; 8 of them per class at ``batch_real`` 256).

Each step runs ``--steps`` times under ``torch.profiler``. Self times are grouped into the 3x3
convolutions by layer (oneDNN, forward and backward), the kernels ``torch.compile`` generated
(GroupNorm, ReLU, pooling, loss: memory-bound), the optimiser and the rest. Each convolution's
FLOPs come from ``FlopCounterMode`` on the eager step, so every part prints its GFLOP/s and its
ratio to the floor (FLOPs / matmul peak measured in this run). The profiler adds overhead: the
unprofiled step time (timed before and after the profile) is printed too, and the parts' shares
are what to compare.

    python benchmarks/step_profile.py [--what eval,grad] [--steps 50]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import torch
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

from condensation.data import load_dataset
from condensation.distill import random_real_set
from condensation.evaluate import protocol_for
from condensation.kernels import Kernels
from condensation.methods.base import RealPool
from condensation.models import build_model
from condensation.rng import make_generator

from iteration_speed import print_machine_peak

CONV_OPS = ("aten::convolution_backward", "aten::mkldnn_convolution", "aten::convolution_overrideable",
            "aten::_slow_conv2d_forward", "aten::_slow_conv2d_backward")


def make_step(what: str, dataset, kernels: Kernels):
    """(step function, network) for the ``eval`` or ``grad`` step."""
    spec = dataset.spec
    net = build_model("convnet", spec, generator=make_generator(0))
    if what == "eval":
        pool = RealPool(dataset.train.images, dataset.train.labels, spec.num_classes, dataset.normalize)
        synset = random_real_set(pool, 1, 0, dataset)
        augment = protocol_for("dsa", spec.name, flip_ok=spec.flip_ok).augment
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
        gen = make_generator(0, "step")

        def step() -> None:
            x = augment(synset.images, gen)
            opt.zero_grad(set_to_none=True)
            kernels.backward(net, x, synset.labels)
            opt.step()
    else:
        x = dataset.normalize(dataset.train.images[:32])
        y = dataset.train.labels[:32]
        params = list(net.parameters())

        def step() -> None:
            kernels.grad(net, x, y, params)
    return step, net


def conv_flops(step, net) -> dict[str, float]:
    """FLOPs of each Conv2d of ``net`` in one eager ``step``, by the layer's input size."""
    counter = FlopCounterMode(display=False)
    with counter:
        step()
    flops = {}
    for name, module in net.named_modules():
        if isinstance(module, torch.nn.Conv2d):
            key = next((k for k in counter.get_flop_counts() if k.endswith(name)), None)
            flops[name] = float(sum(counter.get_flop_counts()[key].values())) if key else 0.0
    return flops


def conv_keys(net, example: torch.Tensor) -> dict[tuple, str]:
    """(weight shape, input width) -> Conv2d name: how a profiled op's input shapes name its layer."""
    keys: dict[tuple, str] = {}
    hooks = [m.register_forward_pre_hook(
        lambda m, a, n=n: keys.__setitem__((tuple(m.weight.shape), a[0].shape[-1]), n))
        for n, m in net.named_modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        net(example)
    for h in hooks:
        h.remove()
    return keys


def conv_layer(shapes: list, keys: dict[tuple, str]) -> str:
    """The layer of a profiled convolution op, from its input shapes (activations, weight, ...)."""
    known = {w for w, _ in keys}
    weights = [tuple(s) for s in shapes if s and tuple(s) in known]
    for s in shapes:
        if s and len(s) == 4:
            for w in weights:
                if (w, s[-1]) in keys:
                    return keys[(w, s[-1])]
    return "?"


def timed(step, steps: int) -> float:
    """Mean seconds per unprofiled step."""
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t0) / steps


def profile_step(what: str, dataset, steps: int, peak: float) -> None:
    kernels = Kernels(compile=True, micro_batch=32)
    step, net = make_step(what, dataset, kernels)
    eager_step, eager_net = make_step(what, dataset, Kernels(compile=False, micro_batch=32))
    flops = conv_flops(eager_step, eager_net)
    keys = conv_keys(net, dataset.normalize(dataset.train.images[:2]))
    total_flops = FlopCounterMode(display=False)
    with total_flops:
        eager_step()
    step_flops = float(total_flops.get_total_flops())
    for _ in range(10):  # warm-up and compilation
        step()
    before = timed(step, steps)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for _ in range(steps):
            step()
    after = timed(step, steps)
    unprofiled = (before + after) / 2
    parts: dict[str, float] = defaultdict(float)
    for event in prof.key_averages(group_by_input_shape=True):
        ms = event.self_cpu_time_total / 1e3 / steps
        if event.key in CONV_OPS:
            parts[f"conv {conv_layer(event.input_shapes, keys)}"] += ms
        elif "CompiledFxGraph" in event.key or event.key.startswith("graph_"):
            parts["compiled kernels (norm, ReLU, pool, loss)"] += ms
        elif "Optimizer" in event.key:
            parts["optimiser"] += ms
        else:
            parts["rest (dispatch, linear, copies, DSA)"] += ms
    profiled = sum(parts.values())
    label = "evaluation step, 10 images" if what == "eval" else "real-gradient micro-batch, 32 images"
    print(f"\n{label}: {unprofiled * 1e3:.1f} ms unprofiled ({before * 1e3:.1f} before the profile, "
          f"{after * 1e3:.1f} after), {step_flops / 1e9:.2f} GFLOP, "
          f"{step_flops / unprofiled / 1e9:.0f} GFLOP/s, {unprofiled / (step_flops / (peak * 1e9)):.2f}x floor")
    print(f"{'part':<42} {'ms':>7} {'share':>6} {'GFLOP':>7} {'GFLOP/s':>8} {'x floor':>8}")
    for name, ms in sorted(parts.items(), key=lambda kv: -kv[1]):
        f = flops.get(name.removeprefix("conv "), 0.0) if name.startswith("conv ") else 0.0
        rate = f"{f / ms / 1e6:8.0f}" if f else f"{'-':>8}"
        ratio = f"{ms / 1e3 / (f / (peak * 1e9)):8.2f}" if f else f"{'-':>8}"
        print(f"{name:<42} {ms:7.2f} {ms / profiled:6.1%} {f / 1e9:7.3f} {rate} {ratio}")
    print(f"{'all (profiled)':<42} {profiled:7.2f} {1:6.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--what", default="eval,grad", help="comma-separated: eval, grad")
    parser.add_argument("--steps", type=int, default=50, help="profiled steps (and as many timed unprofiled)")
    args = parser.parse_args()
    whats = [w.strip() for w in args.what.split(",")]
    bad = [w for w in whats if w not in ("eval", "grad")]
    if bad:
        parser.error(f"unknown step {bad[0]!r}; allowed: eval, grad")
    dataset = load_dataset("fashion-mnist")
    peak = print_machine_peak()
    for what in whats:
        profile_step(what, dataset, args.steps, peak)


if __name__ == "__main__":
    main()
