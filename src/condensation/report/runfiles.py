"""A run directory's files, read once for its page."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..runs import RunDir, curve_from_ledger
from ..tables import format_accuracy
from .files import read_json, read_optional
from .text import SELECTIONS, factor_of, plural

__all__ = ["RunFiles", "accuracy_sentence"]


@dataclass
class RunFiles:
    """What a run directory holds, read once."""

    path: Path
    run: RunDir
    config: dict[str, Any]
    results: dict[str, Any] | None  # None: not finished (no results.json)
    metrics: list[dict[str, Any]]
    ledger: list[dict[str, Any]]

    @classmethod
    def read(cls, d: Path) -> "RunFiles":
        run = RunDir(d)
        return cls(d, run, read_json(d / "config.json"), read_optional(d / "results.json"), run.read_metrics(),
                   run.read_evaluations())

    def get(self, key: str) -> Any:
        """A value from results.json, else config.json."""
        return (self.results or {}).get(key, self.config.get(key))

    @property
    def method(self) -> str | None:
        return self.get("method")

    @property
    def ipc(self) -> Any:
        return self.get("ipc")

    @property
    def factor(self) -> int:
        return factor_of(self.results, self.config)

    @property
    def selected(self) -> bool:
        """A coreset: real images chosen by a rule, not condensed."""
        return str(self.method).lower() in SELECTIONS and not self.metrics

    @property
    def last_logged(self) -> int:
        return self.metrics[-1]["iteration"] if self.metrics else 0

    def curve(self) -> list[dict[str, Any]]:
        """Accuracy per evaluation point: results.json's, or (unfinished) from the ledger."""
        if self.results is not None:
            return list(self.results.get("curve") or [])
        return curve_from_ledger(self.ledger, list(self.config.get("eval_models") or []))


def accuracy_sentence(points: Sequence[Mapping[str, Any]]) -> str:
    """Evaluation points as words: ``convnet 67.27 ± 0.61% over 5 networks``."""
    return "; ".join(f"{p['model']} {format_accuracy(p)} over {plural(p.get('n'), 'network')}" for p in points)
