"""What a run says while it works, from its first second to its last line.

* A start line: the dataset and where its files were found, the method, ipc and factor, the preset
  with its budget beside the paper's, the device and threads, the output folder.
* Iterations: a bar on a terminal, else about 20 lines. The first iteration pays for compilation
  (and warm-up), so it says so instead of an estimate; later estimates leave it out and count the
  evaluation still to come (every network of every evaluation point, the random-real baseline's
  too), each network priced by a short timing of its model (``network_seconds``) until real ones
  have been trained.
* Evaluation networks: a bar over their epochs on a terminal, else one line per network, each
  with the time left.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from tqdm.auto import tqdm

from .config import DistillConfig
from .evaluate import EvalProtocol
from .kernels import EAGER
from .methods import get_method
from .models import build_model
from .rng import make_generator
from .train import accuracy, fit

__all__ = ["RunProgress", "network_seconds", "duration", "progress_mode"]

NetworkKey = tuple[str, int, str, int]  # (set, iteration, model, index)


def duration(seconds: float) -> str:
    """``40 s``, ``12 min``, ``3.2 h``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def progress_mode(progress: bool | str) -> str | None:
    """``True`` -> "bar" on a terminal, else "lines"; "bar"/"lines" as given; False -> None."""
    if progress is True:
        return "bar" if sys.stderr.isatty() else "lines"
    return progress or None


def network_seconds(model: str, spec: Any, protocol: EvalProtocol, train_images: int, test_images: int,
                    device: torch.device, micro_batch: int | None = None) -> float:
    """About how long one evaluation network of ``model`` takes (eager mode): a few training steps
    and one test batch are timed on stand-in images and scaled to the protocol's epochs and the
    test set. Uses its own random stream: no run's draws change."""
    g = make_generator(0, "eta-probe", model)
    net = build_model(model, spec, generator=g).to(device)
    batch = max(1, min(train_images, protocol.batch_size))
    x = torch.randn(batch, *spec.shape, generator=g).to(device)
    y = (torch.arange(batch) % spec.num_classes).to(device)
    opt = torch.optim.SGD(net.parameters(), lr=protocol.lr, momentum=protocol.momentum)
    kernels = EAGER if micro_batch is None else type(EAGER)(False, micro_batch)
    run = lambda epochs: fit(net, x, y, optimizer=opt, epochs=epochs, batch_size=batch,  # noqa: E731
                             augment=protocol.augment, generator=g, kernels=kernels)
    run(1)  # warm-up
    t0 = time.perf_counter()
    run(3)
    step = (time.perf_counter() - t0) / 3
    test_batch = min(500, test_images)
    xt = torch.zeros(test_batch, *spec.shape, dtype=torch.uint8, device=device)
    t0 = time.perf_counter()
    accuracy(net, xt, torch.zeros(test_batch, dtype=torch.long, device=device), lambda v: v.float(), kernels=kernels)
    test = (time.perf_counter() - t0) * test_images / test_batch
    return protocol.epochs * math.ceil(train_images / protocol.batch_size) * step + test


class RunProgress:
    """The output of one run (``say`` receives the lines). ``mode``: "bar", "lines" or None."""

    def __init__(self, config: DistillConfig, dataset: Any, device: torch.device, say: Callable[[str], None],
                 mode: str | None, protocols: dict[str, EvalProtocol], networks: list[int], start: int = 0,
                 main: bool = True, estimate: Callable[[str], float] | None = None) -> None:
        self.config, self.dataset, self.device, self.say, self.mode = config, dataset, device, say, mode if main else None
        self.protocols, self.start = protocols, start
        self.seconds: list[float] = []  # iterations run by this process
        self.per_network: dict[str, list[float]] = {}
        self._estimates: dict[str, float] = {}
        self._estimate = estimate or self._probe
        self.remaining = set(self._plan(networks, start))
        self.bar: Any = None
        self.compiled = False

    # ------------------------------------------------------------------ the start
    def start_line(self, run_path: Any, compiled: bool, cache: Any = None) -> None:
        if self.mode is None:
            return
        c, ds = self.config, self.dataset
        spec = get_method(c.method)
        where = f" (read from {ds.source})" if getattr(ds, "source", None) else ""
        images = f"{c.ipc} image{'s' if c.ipc != 1 else ''}/class"
        if c.factor > 1:
            images += f", each holding {c.factor}x{c.factor} training images (--factor {c.factor})"
        paper = spec.preset("paper", c.ipc) if "paper" in spec.preset_names() else {}
        epochs = sorted({p.epochs for p in self.protocols.values()})
        evaluation = (f"{c.num_eval} evaluation network(s) of {'/'.join(map(str, epochs))} epochs per model"
                      if c.num_eval else "no evaluation")
        budget = f"{c.iterations} iterations, {evaluation}"
        if paper and c.preset != "paper":
            budget += f"; the paper's budget: {paper.get('iterations', '?')} iterations, {paper.get('num_eval', '?')} networks"
        threads = f", {torch.get_num_threads()} threads" if self.device.type == "cpu" else ""
        into = f"writing {run_path}" if run_path is not None else "writing no files (no output folder)"
        self.say(f"{c.method.upper()} on {ds.spec.name}{where}: {images}; preset {c.preset}: {budget}; "
                 f"{self.device.type}{threads}; {into}")
        self.compiled = compiled
        if compiled and self.start < c.iterations:
            where = f" (cached in {cache} for later runs)" if cache else ""
            self.say(f"compiling the first-order paths with torch.compile: the first iteration takes longer{where}")

    # ------------------------------------------------------------------ iterations
    def iteration_bar(self, desc: str) -> Any:
        c = self.config
        self.bar = tqdm(range(self.start, c.iterations), initial=self.start, total=c.iterations, desc=desc, unit="it",
                        disable=self.mode != "bar", dynamic_ncols=True, file=sys.stderr,
                        bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]")
        if self.start < c.iterations:
            self.bar.set_postfix_str("first iteration: compiling" if self.compiled else "first iteration", refresh=False)
        return self.bar

    def iteration(self, done: int, loss: float, seconds: float) -> None:
        """After each iteration: the bar's text, or a line every 5% of the run (and the first)."""
        self.seconds.append(seconds)
        if self.mode is None:
            return
        c = self.config
        first = len(self.seconds) == 1
        left = "" if first else self.left(done)
        if self.mode == "bar" and self.bar is not None:
            self.bar.set_postfix_str(f"loss {loss:.4f}, {seconds:.1f} s/it" + (f", {left}" if left else ""), refresh=False)
            return
        every = max(1, c.iterations // 20)
        if first or done % every == 0 or done == c.iterations:
            paid = "compilation and warm-up" if self.compiled else "warm-up"
            note = f"{seconds:.1f} s: the first iteration includes {paid}" if first else f"{seconds:.1f} s/it, {left}"
            self.say(f"iteration {done}/{c.iterations}: loss {loss:.4f} ({note})")

    def left(self, done: int) -> str:
        """``about 12 min left (8 min of iterations, 4 min for 6 evaluation networks)``."""
        steady = self.seconds[1:] or self.seconds
        iterations = (self.config.iterations - done) * sum(steady) / len(steady)
        networks = list(self.remaining)
        evaluation = sum(self.network_estimate(k[2]) for k in networks)
        if not networks:
            return f"about {duration(iterations)} left"
        return (f"about {duration(iterations + evaluation)} left ({duration(iterations)} of iterations, "
                f"{duration(evaluation)} for {len(networks)} evaluation network{'s' if len(networks) != 1 else ''})")

    def close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    # ------------------------------------------------------------------ evaluation
    def _plan(self, networks: list[int], start: int) -> list[NetworkKey]:
        """Every evaluation network the run still trains (before reading its ledger)."""
        c = self.config
        if not c.num_eval:
            return []
        points = [("synset", it) for it in range(1, c.iterations) if c.eval_every and it % c.eval_every == 0 and it >= start]
        points.append(("synset", c.iterations))
        if c.baseline:
            points.append(("random_real", 0))
        return [(s, it, m, k) for s, it in points for m in c.eval_models for k in networks]

    def forget(self, records: list[dict]) -> None:
        """Networks the ledger already holds are not trained again."""
        for r in records:
            self.remaining.discard((r.get("set"), r.get("iteration"), r.get("model"), r.get("index")))

    def network_estimate(self, model: str) -> float:
        done = self.per_network.get(model)
        if done:
            return sum(done) / len(done)
        if model not in self._estimates:
            self._estimates[model] = self._estimate(model)
        return self._estimates[model]

    def _probe(self, model: str) -> float:
        c, spec = self.config, self.dataset.spec
        try:
            return network_seconds(model, spec, self.protocols[model], c.ipc * c.factor**2 * spec.num_classes,
                                   int(self.dataset.test.labels.shape[0]), self.device,
                                   micro_batch=32 if self.device.type == "cpu" else None)
        except Exception:  # an estimate must never stop a run
            return 0.0

    def evaluation(self, label: str, set_name: str, iteration: int, models: list[str]) -> "EvaluationProgress":
        return EvaluationProgress(self, label, set_name, iteration, models)


class EvaluationProgress:
    """One evaluation's networks: a bar over their epochs (terminal) or a line per network."""

    def __init__(self, run: RunProgress, label: str, set_name: str, iteration: int, models: list[str]) -> None:
        self.run, self.label, self.set_name, self.iteration = run, label, set_name, iteration
        todo = [k for k in run.remaining if k[0] == set_name and k[1] == iteration and k[2] in models]
        self.bar = None
        if run.mode == "bar" and todo:
            epochs = sum(run.protocols[k[2]].epochs for k in todo)
            self.bar = tqdm(total=epochs, desc=f"evaluating {label}", unit="epoch", dynamic_ncols=True, file=sys.stderr,
                            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} epochs [{elapsed}<{remaining}{postfix}]")

    def epoch(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def network(self, model: str, k: int, num_eval: int, acc: float, seconds: float) -> None:
        run = self.run
        run.per_network.setdefault(model, []).append(seconds)
        run.remaining.discard((self.set_name, self.iteration, model, k))
        line = f"  {self.label} {model} #{k + 1}/{num_eval}: {100 * acc:.2f}% ({seconds:.0f} s"
        if self.bar is not None:
            self.bar.write(line + ")", file=sys.stderr)
            return
        if run.mode == "lines" and run.remaining:
            line += f"; about {duration(sum(run.network_estimate(key[2]) for key in run.remaining))} of evaluation left"
        run.say(line + ")")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
