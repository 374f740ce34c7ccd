"""A run directory: config, metrics log, evaluation ledger, results, checkpoint. Every write is
atomic or append-only, so a killed run loses nothing already written.

Layout: ``config.json`` (resolved settings), ``metrics.jsonl`` (one JSON object per iteration),
``evaluations.jsonl`` (one JSON object per trained evaluation network, appended as it finishes),
``checkpoint.pt`` (state to resume from), ``synset.pt`` / ``synset.png`` (the product, also
refreshed at every checkpoint), ``results.json`` (final accuracies), ``grids/`` (the images at
each evaluation point) and ``plots/`` (curves).
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from .atomic import atomic_save, atomic_write_text
from .errors import RunDirError
from .summary import summarize

__all__ = ["RunDir", "RunDirError", "RUN_FILES", "EvalKey", "curve_from_ledger"]

# Everything a run writes; ``--overwrite`` removes exactly these (and nothing else a user keeps there).
# ``selection.json``: what coreset runs of earlier versions wrote.
RUN_FILES = (
    "config.json", "metrics.jsonl", "evaluations.jsonl", "checkpoint.pt", "synset.pt", "synset.png",
    "results.json", "report.html", "selection.json",
)
RUN_DIRS = ("grids", "plots")
# What a run writes into them: the image grids by iteration and the plots of ``plots.plot_run``.
RUN_GRID = re.compile(r"iter_\d{6,}\.png")
RUN_PLOTS = ("loss.png", "accuracy.png", "init_vs_result.png")
LIVE_DIRS = ("tensorboard", "wandb")  # --log: written whole by the run

EvalKey = tuple[str, int, str, int, str]  # (set, iteration, model, index, protocol fingerprint)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            break  # a line cut short by a kill: everything after it is gone too
    return records


def _append_jsonl(path: Path, record: dict[str, Any]) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


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
    def evaluations_path(self) -> Path:
        return self.file("evaluations.jsonl")

    @property
    def checkpoint_path(self) -> Path:
        return self.file("checkpoint.pt")

    # ------------------------------------------------------------------ life cycle
    def holds_run(self) -> bool:
        """True if the directory holds any file a run writes."""
        return self.path.is_dir() and any(self.file(n).exists() for n in RUN_FILES + RUN_DIRS + LIVE_DIRS)

    def is_nonempty(self) -> bool:
        return self.path.is_dir() and any(self.path.iterdir())

    def check_new(self, overwrite: bool = False) -> None:
        """Refuse to start a new run where one (or anything else) already is, unless ``overwrite``.

        Called before any file is written, so a refused run leaves the directory untouched."""
        if self.path.exists() and not self.path.is_dir():
            raise RunDirError(f"--out {self.path} is a file, not a directory")
        if overwrite or not self.is_nonempty():
            return
        if self.holds_run() and not self.checkpoint_path.exists():
            raise RunDirError(
                f"{self.path} already holds a run that stopped before its first checkpoint, so there is nothing to "
                "resume; pass --overwrite to start it again, or choose another --out"
            )
        if self.holds_run():
            raise RunDirError(
                f"{self.path} already holds a run; pass --resume to continue it, --overwrite to replace it, or choose another --out"
            )
        raise RunDirError(
            f"{self.path} already holds other files; choose another --out, or pass --overwrite to write the run "
            "among them (only the files a run writes are replaced)"
        )

    def written_files(self) -> list[Path]:
        """The files in the directory that a run writes (and ``--overwrite`` removes): those named in
        ``RUN_FILES``, the grids ``grids/iter_NNNNNN.png`` and the plots ``RUN_PLOTS`` in ``plots/``."""
        files = [self.file(n) for n in RUN_FILES if self.file(n).is_file()]
        grids, plots = self.file("grids"), self.file("plots")
        if grids.is_dir():
            files += sorted(p for p in grids.iterdir() if p.is_file() and RUN_GRID.fullmatch(p.name))
        files += [plots / n for n in RUN_PLOTS if (plots / n).is_file()]
        return files

    def create(self, overwrite: bool = False) -> None:
        """Make the directory; with ``overwrite``, first remove the files a previous run wrote
        (``remove_run_files``). ``RunDirError`` in the user's words if the folder cannot be made."""
        if overwrite and self.path.is_dir():
            self.remove_run_files()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RunDirError(cannot_create(self.path, e)) from None

    def remove_run_files(self) -> None:
        """Remove what a run wrote here (``written_files``, and its live logs): nothing else, so a
        user's own files stay, and ``grids/`` and ``plots/`` go only if that leaves them empty."""
        for path in self.written_files():
            path.unlink(missing_ok=True)
        for name in RUN_DIRS:
            try:
                self.file(name).rmdir()
            except OSError:  # absent, or holds files the run did not write
                pass
        for name in LIVE_DIRS:
            shutil.rmtree(self.file(name), ignore_errors=True)

    def contents(self) -> list[str]:
        """What the run has written, in a reader's order: files by name, folders as ``grids/``
        (with how many images) and ``plots/`` (with their names)."""
        out = [n for n in RUN_FILES if self.file(n).is_file()]
        for name in RUN_DIRS + LIVE_DIRS:
            folder = self.file(name)
            files = sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) if folder.is_dir() else []
            if files:
                what = {"grids": f"{len(files)} images", "plots": ", ".join(files)}.get(name, "the live log")
                out.append(f"{name}/ ({what})")
        return out

    # ------------------------------------------------------------------ files
    def write_json(self, name: str, obj: Any) -> Path:
        atomic_write_text(self.file(name), json.dumps(obj, indent=2) + "\n")
        return self.file(name)

    def read_json(self, name: str) -> Any:
        return json.loads(self.file(name).read_text())

    def append_metrics(self, record: dict[str, Any]) -> None:
        """Append one line to ``metrics.jsonl`` (flushed, so it survives a kill)."""
        _append_jsonl(self.metrics_path, record)

    def read_metrics(self) -> list[dict[str, Any]]:
        return _read_jsonl(self.metrics_path)

    def truncate_metrics(self, last_iteration: int) -> None:
        """Keep only the records up to ``last_iteration`` (those after a checkpoint are redone)."""
        kept = [r for r in self.read_metrics() if r.get("iteration", 0) <= last_iteration]
        atomic_write_text(self.metrics_path, "".join(json.dumps(r) + "\n" for r in kept))

    # ------------------------------------------------------------------ evaluation ledger
    def append_evaluation(self, record: dict[str, Any]) -> None:
        """Record one trained evaluation network: ``set`` ("synset", "random_real", ...),
        ``iteration``, ``model``, ``index``, ``protocol`` (fingerprint), ``accuracy``, ``seconds``."""
        _append_jsonl(self.evaluations_path, record)

    def read_evaluations(self) -> list[dict[str, Any]]:
        return _read_jsonl(self.evaluations_path)

    def finished_networks(self, set_name: str, iteration: int, protocol_of: dict[str, str]) -> dict[tuple[str, int], float]:
        """``{(model, index): accuracy}`` already recorded for ``set_name`` at ``iteration`` under
        the protocol fingerprint ``protocol_of[model]`` (records of another protocol are ignored)."""
        done: dict[tuple[str, int], float] = {}
        for r in self.read_evaluations():
            if r.get("set") == set_name and r.get("iteration") == iteration and protocol_of.get(r.get("model")) == r.get("protocol"):
                done[(r["model"], int(r["index"]))] = float(r["accuracy"])
        return done

    def drop_evaluations_after(self, iteration: int) -> None:
        """Forget records of iterations after ``iteration`` (a resumed run recomputes those)."""
        kept = [r for r in self.read_evaluations() if r.get("iteration", 0) <= iteration]
        if self.evaluations_path.exists():
            atomic_write_text(self.evaluations_path, "".join(json.dumps(r) + "\n" for r in kept))

    # ------------------------------------------------------------------ checkpoint
    def save_checkpoint(self, state: dict[str, Any]) -> None:
        atomic_save(state, self.checkpoint_path)

    def load_checkpoint(self) -> dict[str, Any]:
        return torch.load(self.checkpoint_path, map_location="cpu", weights_only=True)

    def grid_path(self, iteration: int) -> Path:
        return self.file("grids") / f"iter_{iteration:06d}.png"

    def grids(self) -> Iterable[tuple[int, Path]]:
        """(iteration, PNG) of every saved grid, in order."""
        folder = self.file("grids")
        if not folder.is_dir():
            return []
        out = []
        for p in sorted(folder.glob("iter_*.png")):
            try:
                out.append((int(p.stem.split("_")[1]), p))
            except (IndexError, ValueError):
                continue
        return out


def cannot_create(path: Path, error: OSError) -> str:
    """Why folder ``path`` could not be made, in words: ``cannot create the folder /proc/x: /proc
    does not allow new folders there (No such file or directory); choose another --out``."""
    parent = next((p for p in path.absolute().parents if p.exists()), None)
    reason = error.strerror or type(error).__name__
    if parent is not None and not parent.is_dir():
        why = f"{parent} is a file, not a folder"
    elif error.errno in (errno.EACCES, errno.EPERM):
        why = f"no permission to create folders in {parent}"
    elif error.errno == errno.EROFS:
        why = f"{parent} is on a read-only file system"
    elif error.errno == errno.ENOSPC:
        why = "the disk is full"
    elif error.errno == errno.ENOENT and parent is not None:
        why = f"{parent} does not allow new folders ({reason})"
    else:
        why = reason
    return f"cannot create the folder {path}: {why}; choose another --out"


def curve_from_ledger(records: list[dict], models) -> list[dict]:
    """Accuracy per (iteration, model) of the synthetic set: ``[{"iteration", "model", "mean", "std", "n"}]``."""
    by_point: dict[tuple[int, str], dict[int, float]] = {}
    for r in records:
        if r.get("set") == "synset" and r.get("model") in models:
            by_point.setdefault((int(r["iteration"]), r["model"]), {})[int(r["index"])] = float(r["accuracy"])
    out = []
    for (it, model), runs in sorted(by_point.items()):
        s = summarize(list(runs.values()))
        out.append({"iteration": it, "model": model, "mean": s["mean"], "std": s["std"], "n": len(runs)})
    return out
