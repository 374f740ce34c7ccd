"""Peak resident memory of a DSA iteration on a generated 100-class, 64x64 image folder, for 250, 500
and 1,000 images per class: it stays below a fixed bound because the decoded training set is
memory-mapped and an iteration reads only the images it samples.

Steps (each size in fresh processes, so every peak is that step's own):
1. generate, once, 100 classes x 1,000 random-ish 64x64 JPEGs under --dir (in parallel; reused);
   the 250- and 500-per-class folders are symbolic links to the first images of each class;
2. decode each folder once into its memory-mapped cache (in parallel; --dir/cache; reused);
3. load the dataset from the cache and run one DSA iteration: ipc 1, batch_real 32 (not the
   paper's 256) and ConvNet of width 32 (convnetw32, not 128), to keep three iterations over 100
   classes affordable on a CPU (--model convnet costs about 3x more), no evaluation; report the
   process's peak resident set (VmHWM, which counts mapped file pages too).

Exit status 1 if an iteration's peak exceeds --bound-mib. Whole run on two cores: about 7 minutes of
CPU the first time (generating and decoding), about 3 when images and caches are reused.
Usage: python benchmarks/memory.py [--dir DIR] [--per-class 250,500,1000] [--model convnetw32] [--bound-mib 768]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

DEFAULT_DIR = Path("/tmp/condensation-memory-bench")
CLASSES, SIZE = 100, 64


# ---------------------------------------------------------------------------- step 1: images
def _make_class(args: tuple[Path, int, int, int]) -> int:
    """``count`` JPEGs of class ``c``: a class colour, smooth random structure, a little noise."""
    from PIL import Image

    folder, c, count, size = args
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(c)
    colour = rng.uniform(40, 215, 3)
    for k in range(count):
        path = folder / f"{k:04d}.jpg"
        if path.exists():
            continue
        coarse = rng.uniform(-60, 60, (8, 8, 3)) + colour
        smooth = np.asarray(Image.fromarray(np.clip(coarse, 0, 255).astype(np.uint8)).resize((size, size), Image.Resampling.BICUBIC))
        pixels = np.clip(smooth + rng.normal(0, 12, (size, size, 3)), 0, 255).astype(np.uint8)
        tmp = path.with_suffix(".tmp")
        Image.fromarray(pixels).save(tmp, format="JPEG", quality=90)
        os.replace(tmp, path)
    return count


def generate(root: Path, classes: int, per_class: int, size: int, workers: int) -> float:
    """The largest folder, ``root/n{per_class}`` (once); seconds spent."""
    full = root / f"n{per_class}"
    if (full / ".complete").exists():
        return 0.0
    t0 = time.perf_counter()
    jobs = [(full / f"class{c:03d}", c, per_class, size) for c in range(classes)]
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_make_class, jobs))
    (full / ".complete").write_text("")
    return time.perf_counter() - t0


def subset(root: Path, full_per_class: int, per_class: int) -> Path:
    """``root/n{per_class}``: symbolic links to the first ``per_class`` images of each class."""
    full, out = root / f"n{full_per_class}", root / f"n{per_class}"
    if per_class == full_per_class or (out / ".complete").exists():
        return out
    for cls in sorted(p for p in full.iterdir() if p.is_dir()):
        (out / cls.name).mkdir(parents=True, exist_ok=True)
        for f in sorted(cls.iterdir())[:per_class]:
            link = out / cls.name / f.name
            if not link.is_symlink():
                link.symlink_to(f)
    (out / ".complete").write_text("")
    return out


# ---------------------------------------------------------------------------- steps 2 and 3 (child processes)
def _status() -> dict[str, int]:
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
                out[key] = int(rest.split()[0]) * 1024
    return out


def child_decode(folder: Path) -> dict:
    import resource

    from condensation.data import load_dataset

    t0 = time.perf_counter()
    ds = load_dataset(f"imagefolder:{folder}@{SIZE}")
    seconds = time.perf_counter() - t0
    workers_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return {"seconds": seconds, "peak": _status()["VmHWM"], "workers_peak": workers_peak,
            "train": len(ds.train), "test": len(ds.test), "mapped": ds.train.mapped}


def _mapped_rss(name: str) -> int:
    """Resident bytes of this process's mappings of files called ``name`` (from /proc/self/smaps)."""
    total, inside = 0, False
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split()
            if head and "-" in head[0] and ":" not in head[0]:
                inside = len(head) > 5 and head[5].endswith("/" + name)
            elif inside and line.startswith("Rss:"):
                total += int(head[1]) * 1024
    return total


def child_iterate(folder: Path, batch_real: int, model: str) -> dict:
    import torch

    from condensation.config import DistillConfig
    from condensation.data import load_dataset
    from condensation.distill import distill
    from condensation.memory import peak_memory

    torch.set_num_threads(2)
    imported = _status()["VmRSS"]
    t0 = time.perf_counter()
    ds = load_dataset(f"imagefolder:{folder}@{SIZE}")
    loaded = time.perf_counter() - t0
    after_load = _status()
    config = DistillConfig(dataset=ds.spec.name, method="dsa", ipc=1, iterations=1, batch_real=batch_real, model=model,
                           num_eval=0, baseline=False, compile="off", device="cpu")
    t0, c0 = time.perf_counter(), time.process_time()
    distill(config, dataset=ds, progress=False, log=lambda msg: None)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    end = _status()
    return {"imported": imported, "after_load": after_load["VmRSS"], "load_seconds": loaded, "seconds": seconds, "cpu": cpu,
            "peak": peak_memory()["host_peak_bytes"], "anon_end": end["RssAnon"], "train_resident": _mapped_rss("train.npy"),
            "train": len(ds.train), "train_bytes": int(ds.train.images.numel()), "mapped": ds.train.mapped}


def run_child(args: list[str], cache: Path) -> dict:
    env = {**os.environ, "CONDENSATION_CACHE": str(cache), "CONDENSATION_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, __file__, *args], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"child {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------- main
def mib(n: float) -> str:
    return f"{n / 2**20:,.0f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"where the images and caches are kept (default {DEFAULT_DIR})")
    p.add_argument("--per-class", default="250,500,1000", help="images per class of each measured folder (the largest is generated)")
    p.add_argument("--classes", type=int, default=CLASSES, help=f"classes (default {CLASSES})")
    p.add_argument("--batch-real", type=int, default=32, help="real images per class per match (default 32)")
    p.add_argument("--model", default="convnetw32", help="network whose gradients are matched (default convnetw32)")
    p.add_argument("--bound-mib", type=float, default=768.0, help="the stated bound on an iteration's peak RSS, MiB (default 768: less than the decoded training set alone at 1,000 images per class, 938 MiB)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--decode", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--iterate", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.decode:
        print(json.dumps(child_decode(args.decode)))
        return 0
    if args.iterate:
        print(json.dumps(child_iterate(args.iterate, args.batch_real, args.model)))
        return 0

    sizes = sorted(int(s) for s in args.per_class.split(","))
    full, classes = sizes[-1], args.classes
    root = args.dir / f"c{classes}"
    root.mkdir(parents=True, exist_ok=True)
    gen = generate(root, classes, full, SIZE, args.workers)
    print(f"images: {classes} classes x {full} JPEGs of {SIZE}x{SIZE} in {root / f'n{full}'}"
          + (f" (generated in {gen:.0f} s)" if gen else " (reused)"), flush=True)
    rows = []
    for n in sizes:
        folder = subset(root, full, n)
        d = run_child(["--decode", str(folder)], args.dir / "cache")
        it = run_child(["--iterate", str(folder), "--batch-real", str(args.batch_real), "--model", args.model], args.dir / "cache")
        rows.append((n, d, it))
        print(f"  {n} per class: decoded in {d['seconds']:.0f} s, iteration peak {mib(it['peak'])} MiB", flush=True)

    print(f"\nDSA, ipc 1, {args.model}, batch_real {args.batch_real}, one iteration on the CPU; {classes} classes of {SIZE}x{SIZE} "
          "images (80 % train, 20 % test per class). Memory in MiB; peaks are VmHWM of each step's own process.")
    head = ("images/class", "train images", "decoded train set", "decode s", "decode peak", "decode worker peak",
            "after import", "after load", "iteration CPU s", "iteration peak", "anon at end", "train set resident at end")
    print("| " + " | ".join(head) + " |")
    print("|" + "---:|" * len(head))
    for n, d, it in rows:
        cells = (f"{n:,}", f"{it['train']:,}", mib(it["train_bytes"]), f"{d['seconds']:.0f}", mib(d["peak"]), mib(d["workers_peak"]),
                 mib(it["imported"]), mib(it["after_load"]), f"{it['cpu']:.0f}", mib(it["peak"]), mib(it["anon_end"]),
                 mib(it["train_resident"]))
        print("| " + " | ".join(cells) + " |")
    peaks = [it["peak"] for _, _, it in rows]
    growth = peaks[-1] - peaks[0]
    data_growth = rows[-1][2]["train_bytes"] - rows[0][2]["train_bytes"]
    print(f"\nbound: {args.bound_mib:.0f} MiB for every size; largest peak {mib(max(peaks))} MiB. From {sizes[0]} to {sizes[-1]} "
          f"images per class the decoded training set grows by {mib(data_growth)} MiB and the iteration peak by "
          f"{growth / 2**20:+,.0f} MiB ({growth / data_growth:+.1%} of it).")
    unmapped = [n for n, _, it in rows if not it["mapped"]]
    ok = max(peaks) <= args.bound_mib * 2**20 and not unmapped
    if unmapped:
        print(f"not memory-mapped (below the cache threshold): {unmapped} images per class")
    print("within the bound" if ok else "BOUND EXCEEDED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
