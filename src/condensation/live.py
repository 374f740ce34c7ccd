"""Live metrics for long runs: ``--log tensorboard`` or ``--log wandb`` streams the matching loss,
the seconds per iteration, every evaluation's accuracy and the image grid while a run works.

Off by default and never a hard dependency: the package is imported only when asked for, and a
missing one is a one-line ``ConfigError`` naming the ``pip install`` before the run starts
(``check_live_log``). TensorBoard writes into ``RUN/tensorboard/`` (``tensorboard --logdir RUN``);
wandb into ``RUN/wandb/`` under the project ``condensation`` (its own login or offline mode apply).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError
from .synset import SyntheticSet
from .viz import grid_image

__all__ = ["LIVE_LOGS", "LiveLog", "check_live_log", "open_live_log"]

LIVE_LOGS = ("tensorboard", "wandb")
_PACKAGES = {"tensorboard": "tensorboard", "wandb": "wandb"}


def check_live_log(kind: str | None, out: Any = None) -> None:
    """``ConfigError`` in one line if ``--log kind`` cannot work here (package missing, no folder)."""
    if kind is None:
        return
    if kind not in _PACKAGES:
        raise ConfigError(f"invalid --log {kind!r}; allowed: {', '.join(LIVE_LOGS)}")
    package = _PACKAGES[kind]
    if importlib.util.find_spec(package) is None:
        raise ConfigError(f"--log {kind} needs the {package} package, which is not installed: pip install {package}")
    if out is None:
        raise ConfigError(f"--log {kind} needs an output folder (--out) to write into")


class LiveLog:
    """The interface the loop calls; this base class logs nothing (``--log`` not given)."""

    def scalar(self, tag: str, value: float, step: int) -> None:
        pass

    def images(self, tag: str, synset: SyntheticSet, step: int) -> None:
        pass

    def accuracy(self, prefix: str, results: dict[str, dict], step: int) -> None:
        """Each model's mean accuracy (in %) of one evaluation, as ``prefix/model``."""
        for model, r in results.items():
            self.scalar(f"{prefix}/{model}", 100 * float(r["mean"]), step)

    def close(self) -> None:
        pass


class TensorBoardLog(LiveLog):
    def __init__(self, folder: Path, config: dict[str, Any]) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(folder / "tensorboard"))
        self.writer.add_text("config", "```\n" + json.dumps(config, indent=2) + "\n```", 0)

    def scalar(self, tag: str, value: float, step: int) -> None:
        self.writer.add_scalar(tag, value, step)

    def images(self, tag: str, synset: SyntheticSet, step: int) -> None:
        self.writer.add_image(tag, np.asarray(grid_image(synset)), step, dataformats="HWC")
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class WandbLog(LiveLog):
    def __init__(self, folder: Path, config: dict[str, Any]) -> None:
        import wandb

        self.wandb = wandb
        self.run = wandb.init(project="condensation", name=folder.name, dir=str(folder), config=config)

    def scalar(self, tag: str, value: float, step: int) -> None:
        self.run.log({tag: value}, step=step)

    def images(self, tag: str, synset: SyntheticSet, step: int) -> None:
        self.run.log({tag: self.wandb.Image(grid_image(synset))}, step=step)

    def close(self) -> None:
        self.run.finish()


_BACKENDS: dict[str, type[LiveLog]] = {"tensorboard": TensorBoardLog, "wandb": WandbLog}


def open_live_log(kind: str | None, folder: str | Path | None, config: dict[str, Any]) -> LiveLog:
    """The live log ``kind`` writing for the run in ``folder`` (a no-op ``LiveLog`` for None)."""
    if kind is None or folder is None:
        return LiveLog()
    check_live_log(kind, folder)
    return _BACKENDS[kind](Path(folder), config)
