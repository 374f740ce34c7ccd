"""A run directory: config, metrics log, results, checkpoint. Every write is atomic or append-only,
so a killed run loses nothing already written.

Layout: ``config.json`` (resolved settings), ``metrics.jsonl`` (one JSON object per line),
``checkpoint.pt`` (state to resume from), ``synset.pt`` / ``synset.png`` (the product) and
``results.json`` (final accuracies).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from .atomic import atomic_save, atomic_write_text

__all__ = ["RunDir"]


class RunDir:
    """The files of one run under ``path``."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def metrics_path(self) -> Path:
        return self.file("metrics.jsonl")

    @property
    def checkpoint_path(self) -> Path:
        return self.file("checkpoint.pt")

    def create(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)

    def write_json(self, name: str, obj: Any) -> Path:
        atomic_write_text(self.file(name), json.dumps(obj, indent=2) + "\n")
        return self.file(name)

    def append_metrics(self, record: dict[str, Any]) -> None:
        """Append one line to ``metrics.jsonl`` (flushed, so it survives a kill)."""
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()

    def read_metrics(self) -> list[dict[str, Any]]:
        if not self.metrics_path.exists():
            return []
        records = []
        for line in self.metrics_path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                break  # a line cut short by a kill: everything after it is gone too
        return records

    def truncate_metrics(self, last_iteration: int) -> None:
        """Keep only the records up to ``last_iteration`` (those after a checkpoint are redone)."""
        kept = [r for r in self.read_metrics() if r.get("iteration", 0) <= last_iteration]
        atomic_write_text(self.metrics_path, "".join(json.dumps(r) + "\n" for r in kept))

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        atomic_save(state, self.checkpoint_path)

    def load_checkpoint(self) -> dict[str, Any]:
        return torch.load(self.checkpoint_path, map_location="cpu", weights_only=True)
