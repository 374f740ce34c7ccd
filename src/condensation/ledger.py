"""Evaluating a run's sets into its ledger (``evaluations.jsonl``: one line per trained network,
so an interrupted evaluation resumes), and what a finished run writes in ``results.json``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ._version import __version__
from .config import DistillConfig
from .data import Dataset
from .distributed import Context
from .evaluate import EvalProtocol, evaluate_on, protocol_for
from .methods import get_method
from .runs import RunDir
from .summary import summarize
from .synset import SyntheticSet, learned_lr
from .tables import format_accuracy

__all__ = ["DistillResult", "Evaluator", "eval_protocol", "eval_lr", "results_json", "format_results"]


@dataclass
class DistillResult:
    """What a run produced: the synthetic set, its accuracies and the random-real baseline's."""

    synset: SyntheticSet
    config: DistillConfig
    accuracy: dict[str, dict] = field(default_factory=dict)
    baseline: dict[str, dict] = field(default_factory=dict)
    seconds: float = 0.0
    out: Path | None = None
    losses: list[float] = field(default_factory=list)  # matching loss of every iteration
    curve: list[dict] = field(default_factory=list)  # {"iteration", "model", "mean", "std"} per evaluation point
    memory: dict = field(default_factory=dict)  # peak host (and device) memory of the process


def eval_lr(config: DistillConfig, synset: SyntheticSet | None = None) -> float:
    """The evaluation networks' learning rate: ``--eval-lr`` if given, else the rate the set learned
    (``meta["lr"]``, trajectory matching), else ``lr_net``."""
    learned = learned_lr(synset.meta) if synset is not None else None
    return config.eval_lr or (learned if learned is not None else config.lr_net)


def eval_protocol(config: DistillConfig, spec, model: str, lr: float | None = None) -> EvalProtocol:
    """How a set made with ``config`` is evaluated on ``model``: the method's protocol (or
    ``config.eval_protocol``), with the learning rate ``lr`` (default ``eval_lr(config)``) and
    the config's ``batch_train``."""
    return protocol_for(
        config.eval_protocol or config.method,
        spec.name,
        model,
        strategy=config.strategy,
        flip_ok=spec.flip_ok,
        dsa_mode=config.dsa_mode,
        epochs=config.eval_epochs,
        lr=lr or eval_lr(config),
        batch_size=config.batch_train,
    )


class Evaluator:
    """Evaluates sets of one run, recording every network in the run's ledger as it finishes and
    reusing what the ledger already holds (so an interrupted evaluation resumes)."""

    def __init__(self, config: DistillConfig, dataset: Dataset, device: torch.device, run: RunDir | None,
                 dist: Context, log: Callable[[str], None]):
        self.config, self.dataset, self.device, self.run, self.dist, self.log = config, dataset, device, run, dist, log
        self.progress: Any = None  # a progress.RunProgress: a bar or lines with the time left
        # the protocols of a set that learned no rate; a call with a set that did uses its rate
        self.protocols = {m: eval_protocol(config, dataset.spec, m) for m in config.eval_models}
        self.fingerprints = {m: p.fingerprint() for m, p in self.protocols.items()}

    def __call__(self, synset: SyntheticSet, set_name: str, iteration: int, label: str) -> dict[str, dict]:
        c = self.config
        lr = eval_lr(c, synset)  # a set that learned its rate is evaluated with it
        self.protocols = {m: eval_protocol(c, self.dataset.spec, m, lr) for m in c.eval_models}
        self.fingerprints = {m: p.fingerprint() for m, p in self.protocols.items()}
        done = self.run.finished_networks(set_name, iteration, self.fingerprints) if self.run is not None else {}
        done = self.dist.broadcast(done)
        if done:
            self.log(f"  {label}: {len(done)} network(s) already evaluated, reused")

        trained: dict[tuple[str, int], float] = {}
        watch = self.progress.evaluation(label, set_name, iteration, list(c.eval_models)) if self.progress else None

        def record(model: str, k: int, acc: float, secs: float) -> None:
            trained[(model, k)] = acc
            if self.run is not None and self.dist.is_main:  # in the ledger before it is announced
                self._append(set_name, iteration, model, k, acc, round(secs, 3))
            if watch is not None:
                watch.network(model, k, c.num_eval, acc, secs)
            else:
                self.log(f"  {label} {model} #{k + 1}/{c.num_eval}: {100 * acc:.2f}% ({secs:.0f} s)")

        try:
            return self._evaluate(synset, set_name, iteration, done, trained, record, watch)
        finally:
            if watch is not None:
                watch.close()

    def _evaluate(self, synset: SyntheticSet, set_name: str, iteration: int, done: dict, trained: dict,
                  record: Callable, watch: Any) -> dict[str, dict]:
        c = self.config
        results: dict[str, dict] = {}
        for model in c.eval_models:
            evaluate_on(
                synset, self.dataset, models=[model], num_eval=c.num_eval, protocol_of=self.protocols.__getitem__,
                seed=c.seed, device=self.device, compile=c.compile, micro_batch=c.micro_batch, on_network=record,
                done=done, indices=self.dist.networks(c.num_eval), on_epoch=watch.epoch if watch is not None else None,
            )
            runs = dict(done)
            for rank, part in enumerate(self.dist.gather({k: v for k, v in trained.items() if k[0] == model})):
                runs.update(part)
                if rank > 0 and self.run is not None and self.dist.is_main:  # other ranks' networks
                    for (m, k), acc in sorted(part.items()):
                        self._append(set_name, iteration, m, k, acc, None)
            results[model] = summarize([runs[(model, k)] for k in range(c.num_eval)])
        return results

    def _append(self, set_name: str, iteration: int, model: str, k: int, acc: float, secs: float | None) -> None:
        self.run.append_evaluation({
            "set": set_name, "iteration": iteration, "model": model, "index": k,
            "protocol": self.fingerprints[model], "accuracy": acc, "seconds": secs,
        })


def format_results(results: dict[str, dict]) -> str:
    """``convnet 67.27 ± 0.61%, mlp 50.10%`` (a single network's accuracy without ±)."""
    return ", ".join(f"{m} {format_accuracy(r)}" for m, r in results.items())


def results_json(result: DistillResult) -> dict[str, Any]:
    """The content of ``results.json``: the same keys for every method. ``ipc`` counts stored
    images per class, ``training_images_per_class`` what networks train on (``ipc * factor**2``
    for a multi-formation set); ``meta`` is the set file's provenance (without the settings,
    which ``config.json`` holds)."""
    config = result.config
    return {
        "accuracy": result.accuracy,
        "iteration": config.iterations,
        "seconds": result.seconds,
        "baseline": {"random_real": result.baseline} if result.baseline else {},
        "curve": result.curve,
        "dataset": config.dataset,
        "method": config.method,
        "ipc": config.ipc,
        "factor": config.factor,
        "training_images_per_class": config.ipc * config.factor**2,
        "seed": config.seed,
        "num_eval": config.num_eval,
        "eval_models": list(config.eval_models),
        "eval_protocol": config.eval_protocol or get_method(config.method).protocol,
        "memory": result.memory,
        "meta": {k: v for k, v in result.synset.meta.items() if k != "config"},
        "version": __version__,
    }
