"""What a run pays before its steady state: the first iteration and a short evaluation network, as
ratios to a steady iteration, with torch.compile's cache cold and warm, and in eager mode.

Issue #30 item 3: a first iteration of 85 s against 16 s for the rest, and 33-43 s for one
evaluation network of 2 epochs. Each case runs in a fresh process (compilation is paid once per
process; the on-disk cache is what a later run reuses), all in one invocation:

* ``eager``: no compilation (``--compile off``);
* ``cold``: compiled, with an empty compile cache (a first run on a machine);
* ``warm``: compiled again with the cache the cold case filled (every later run);
* ``auto``: what ``--compile auto`` chooses for this run's size, with the warm cache.

Each process times iteration 1 and the next ``--iterations`` - 1 (the steady mean), then one
evaluation network of ``--eval-epochs`` epochs on the synthetic set with the kernels that
``evaluate_on`` would choose for ``--num-eval`` networks: its training and its pass over the test
set separately, and a second test pass (what the first one paid beyond compute).

    python benchmarks/first_iteration.py                     # Fashion-MNIST, DSA, ipc 1, 64 real images/class
    python benchmarks/first_iteration.py --batch-real 256 --iterations 4 --cases cold,warm
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def child(args: argparse.Namespace) -> dict:
    import torch

    from condensation.config import DistillConfig, method_params_of, resolve
    from condensation.data import load_dataset
    from condensation.distill import build_method, initial_images, make_synset
    from condensation.evaluate import eval_kernels, protocol_for
    from condensation.kernels import Kernels, should_compile
    from condensation.methods.base import RealPool, SyntheticImages
    from condensation.models import build_model
    from condensation.rng import make_generator
    from condensation.train import accuracy, fit

    t_start = time.perf_counter()
    dataset = load_dataset(args.dataset)
    spec = dataset.spec
    config = resolve(DistillConfig(dataset=args.dataset, method=args.method, ipc=args.ipc, batch_real=args.batch_real,
                                   iterations=args.iterations, compile=args.mode), flip_ok=spec.flip_ok)
    steps = getattr(method_params_of(config), "steps_per_iteration", lambda: 1)()
    compiled = should_compile(config.compile, config.iterations * steps >= 10)
    kernels = Kernels.for_mode("on" if compiled else "off", True, micro_batch=32)
    pool = RealPool(dataset.train.images, dataset.train.labels, spec.num_classes, dataset.normalize)
    method = build_method(config, pool, spec.channels, tuple(spec.image_size), kernels)
    syn = SyntheticImages(initial_images(config, pool, spec.channels, tuple(spec.image_size)), config.ipc,
                          spec.num_classes, config.lr_img, config.momentum_img)
    seconds = []
    for it in range(args.iterations):
        t0 = time.perf_counter()
        float(method.iteration(syn, it))
        seconds.append(time.perf_counter() - t0)
    synset = make_synset(syn.images, syn.labels, spec, config.ipc, {"method": config.method}).decoded()
    protocol = protocol_for(config.method, spec.name, flip_ok=spec.flip_ok, epochs=args.eval_epochs)
    ek = eval_kernels(args.mode, args.num_eval, protocol, synset.images.shape[0], dataset.test.labels.shape[0], 32)
    net = build_model("convnet", spec, generator=make_generator(0, "eval-net", "convnet", 0))
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    t0 = time.perf_counter()
    fit(net, synset.images, synset.labels, optimizer=opt, epochs=protocol.epochs, augment=protocol.augment,
        generator=make_generator(0, "eval-train"), lr_drop_epoch=protocol.epochs // 2 or None, kernels=ek)
    train = time.perf_counter() - t0
    tests = []
    for _ in range(2):
        t0 = time.perf_counter()
        float(accuracy(net, dataset.test.images, dataset.test.labels, dataset.normalize, kernels=ek))
        tests.append(time.perf_counter() - t0)
    return {"first": seconds[0], "steady": sum(seconds[1:]) / max(1, len(seconds) - 1), "compiled": compiled,
            "eval_compiled": ek.compile, "test_compiled": ek.compile_test, "eval_train": train, "eval_test": tests[0], "eval_test_again": tests[1],
            "threads": torch.get_num_threads(), "total": time.perf_counter() - t_start}


CASES = {"eager": ("off", False), "cold": ("on", True), "warm": ("on", False), "auto": ("auto", False)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--method", default="dsa")
    parser.add_argument("--ipc", type=int, default=1)
    parser.add_argument("--batch-real", type=int, default=64, help="real images per class per match (the fast preset's 64)")
    parser.add_argument("--iterations", type=int, default=3, help="iterations per case: the first, then the steady ones")
    parser.add_argument("--eval-epochs", type=int, default=2, help="epochs of the short evaluation network")
    parser.add_argument("--num-eval", type=int, default=5, help="networks the evaluation would train (for compile auto)")
    parser.add_argument("--cases", default="eager,cold,warm,auto", help="comma-separated: " + ", ".join(CASES))
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        args.mode = args.child
        print("RESULT " + json.dumps(child(args)), flush=True)
        return
    cache = tempfile.mkdtemp(prefix="first-iteration-cache-")
    import torch

    print(f"{args.dataset}, {args.method}, ipc {args.ipc}, {args.batch_real} real images/class, "
          f"{args.iterations} iterations per case, evaluation network of {args.eval_epochs} epochs; "
          f"torch {torch.__version__}, {os.cpu_count()} CPUs; compile cache {cache} (empty at the start)")
    print(f"{'case':<6} {'steady s/it':>11} {'first':>8} {'eval train':>10} {'eval test':>9} "
          f"{'test again':>10} {'eval total':>10}   (ratios to a steady iteration)")
    for name in [c.strip() for c in args.cases.split(",")]:
        mode, fresh = CASES[name]
        if fresh:
            cache = tempfile.mkdtemp(prefix="first-iteration-cache-")
        env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache}
        cmd = [sys.executable, __file__, "--child", mode, "--dataset", args.dataset, "--method", args.method,
               "--ipc", str(args.ipc), "--batch-real", str(args.batch_real), "--iterations", str(args.iterations),
               "--eval-epochs", str(args.eval_epochs), "--num-eval", str(args.num_eval)]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True)
        line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            sys.exit(f"case {name} failed:\n{out.stderr[-2000:]}")
        r = json.loads(line[len("RESULT "):])
        s = r["steady"]
        total = r["eval_train"] + r["eval_test"]
        flags = (("compiled" if r["compiled"] else "eager") + ("; evaluation training compiled" if r["eval_compiled"] else "")
                 + ("; test pass compiled" if r["test_compiled"] else ""))
        print(f"{name:<6} {s:>11.1f} {r['first'] / s:>7.2f}x {r['eval_train'] / s:>9.2f}x {r['eval_test'] / s:>8.2f}x "
              f"{r['eval_test_again'] / s:>9.2f}x {total / s:>9.2f}x   ({flags}; first {r['first']:.1f} s, "
              f"evaluation {total:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
