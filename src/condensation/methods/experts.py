"""Expert trajectories for trajectory matching (MTT, Cazenavette et al., CVPR 2022): networks
trained on the whole real training set, their parameters saved after every epoch.

The recipe is MTT's ``buffer.py``: ``model`` freshly initialised, plain SGD (``lr_teacher`` 0.01,
no momentum, no weight decay, constant rate), batch 256, DSA augmentation of every batch (the
dataset's strategy, one op per batch). Expert ``k`` starts from ``(seed, "expert-net", k)`` and
epoch ``e`` draws its shuffling and augmentation from ``(seed, "expert-train", k, e)``, so an
expert interrupted after any epoch continues bit-identically, and (the rate being constant) an
expert trained for more epochs later is the same expert, longer.

A buffer is a folder (default: the user cache, ``experts/<dataset>_<model>_<key>``) keyed by
everything the trajectories depend on (``recipe.json``: dataset and a fingerprint of its
training data, model and its parameter layout, the recipe, the seed). It holds one file per
expert, ``expert_NNN.pt``: ``params`` (epochs + 1) x P float32, the flattened parameters in
``named_parameters`` order at the start and after each epoch, and ``test_accuracy`` per epoch.
Each epoch rewrites the file atomically (and ``expert_NNN.json`` beside it: epochs, test accuracy,
seconds), so a killed run loses at most the epoch in progress. A BatchNorm network's running
statistics are not part of a trajectory (the student trains in train mode); after a resume
only its logged test accuracy can differ.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from torch import Tensor

from .._version import __version__
from ..atomic import atomic_save, atomic_write_text
from ..augment import DSA, default_strategy
from ..data import Dataset
from ..data.env import cache_dir as user_cache_dir
from ..errors import ConfigError
from ..kernels import Kernels, resolve_micro_batch, should_compile
from ..models import build_model, canonical_name
from ..rng import derive_seed, make_generator
from ..train import accuracy, fit

__all__ = ["ExpertRecipe", "ExpertBuffer", "train_experts", "default_buffer_dir", "flat_parameters", "parameter_layout"]

Log = Callable[[str], None]
_FORMAT = 1


@dataclass(frozen=True)
class ExpertRecipe:
    """How the experts train (MTT's defaults): everything but the number of experts and epochs."""

    dataset: str
    data: str  # Dataset.fingerprint() of the training split
    model: str
    lr_teacher: float = 0.01
    batch_size: int = 256
    strategy: str = ""
    seed: int = 0

    @classmethod
    def of(cls, dataset: Dataset, model: str, *, lr_teacher: float = 0.01, seed: int = 0) -> "ExpertRecipe":
        return cls(dataset.spec.name, dataset.fingerprint(), canonical_name(model), float(lr_teacher),
                   strategy=default_strategy(dataset.spec.flip_ok), seed=int(seed))

    def key(self) -> str:
        """A short hash of the recipe: the buffer folder's name ends with it."""
        return f"{derive_seed(0, *sorted(asdict(self).items())):016x}"[:12]


def default_buffer_dir(recipe: ExpertRecipe) -> Path:
    """``<user cache>/experts/<dataset>_<model>_<key>``."""
    name = re.sub(r"[^A-Za-z0-9.-]+", "_", recipe.dataset).strip("_")[-60:]
    return user_cache_dir() / "experts" / f"{name}_{recipe.model}_{recipe.key()}"


def flat_parameters(net: nn.Module) -> Tensor:
    """The network's parameters in ``named_parameters`` order, flattened into one float32 vector (CPU)."""
    return torch.cat([p.detach().reshape(-1).float().cpu() for p in net.parameters()])


def parameter_layout(net: nn.Module) -> list[list]:
    """[name, shape] of every parameter, in order: what a trajectory's flat vectors are made of."""
    return [[name, list(p.shape)] for name, p in net.named_parameters()]


class ExpertBuffer:
    """The trajectories of one recipe in ``folder``: which experts exist, their epochs, loading."""

    def __init__(self, folder: str | Path, recipe: ExpertRecipe, layout: list[list]):
        self.folder, self.recipe, self.layout = Path(folder), recipe, layout
        self._cache: dict[int, Tensor] = {}

    @classmethod
    def open(cls, folder: str | Path, recipe: ExpertRecipe, layout: list[list], *, create: bool = False) -> "ExpertBuffer":
        """The buffer in ``folder`` for ``recipe``; a folder made for another recipe is refused with
        one line (``ConfigError``). ``create``: make the folder and its ``recipe.json`` if missing."""
        folder = Path(folder)
        saved_path = folder / "recipe.json"
        mine = {"format": _FORMAT, "recipe": asdict(recipe), "layout": layout}
        if saved_path.is_file():
            try:
                saved = json.loads(saved_path.read_text())
            except (OSError, ValueError):
                raise ConfigError(f"{folder}: recipe.json is unreadable; delete the folder to train its experts again") from None
            if saved.get("recipe") != mine["recipe"] or saved.get("layout") != layout:
                other = saved.get("recipe", {})
                raise ConfigError(
                    f"{folder} holds expert trajectories of {other.get('model', '?')} on {other.get('dataset', '?')}"
                    f" (another recipe or data than {recipe.model} on {recipe.dataset}); choose another --experts-dir"
                )
        elif create:
            folder.mkdir(parents=True, exist_ok=True)
            atomic_write_text(saved_path, json.dumps({**mine, "version": __version__}, indent=2) + "\n")
        return cls(folder, recipe, layout)

    def path(self, k: int) -> Path:
        return self.folder / f"expert_{k:03d}.pt"

    def info(self, k: int) -> dict[str, Any] | None:
        """Expert ``k``'s ``expert_NNN.json`` (epochs, test accuracy per epoch, seconds), or None."""
        try:
            return json.loads(self.path(k).with_suffix(".json").read_text())
        except (OSError, ValueError):
            return None

    def epochs(self) -> dict[int, int]:
        """Expert index -> epochs saved (experts with at least one)."""
        out = {}
        for p in sorted(self.folder.glob("expert_*.json")):
            try:
                out[int(p.stem.split("_")[1])] = int(json.loads(p.read_text())["epochs"])
            except (OSError, ValueError, KeyError, IndexError):  # a damaged file: that expert trains again
                continue
        return out

    def experts_with(self, epochs: int) -> list[int]:
        """The experts that reach ``epochs`` epochs, in index order."""
        return [k for k, e in sorted(self.epochs().items()) if e >= epochs]

    def trajectory(self, k: int) -> Tensor:
        """Expert ``k``'s parameters: (epochs + 1) x P float32 (loaded once)."""
        if k not in self._cache:
            self._cache[k] = torch.load(self.path(k), map_location="cpu", weights_only=True)["params"]
        return self._cache[k]

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.folder.glob("*") if p.is_file())


def _state(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        return None


def train_experts(
    dataset: Dataset, model: str, experts: int, epochs: int, *, lr_teacher: float = 0.01, seed: int = 0,
    folder: str | Path | None = None, device: torch.device | str = "cpu", compile: str = "auto",
    micro_batch: int | None = None, log: Log | None = None,
) -> ExpertBuffer:
    """Make sure experts ``0..experts-1`` of the recipe have ``epochs`` epochs each: train what is
    missing (resuming each expert after its last saved epoch), reuse what exists. Returns the buffer."""
    log = log or (lambda msg: None)
    device = torch.device(device)
    recipe = ExpertRecipe.of(dataset, model, lr_teacher=lr_teacher, seed=seed)
    spec = dataset.spec
    probe = build_model(recipe.model, spec, generator=make_generator(seed, "expert-net", 0))
    buffer = ExpertBuffer.open(folder or default_buffer_dir(recipe), recipe, parameter_layout(probe), create=True)
    train = dataset.train.to(device)
    test = dataset.test.to(device)
    images = dataset.normalize(train.images)
    augment = DSA(recipe.strategy)
    kernels = Kernels.for_mode("on" if should_compile(compile, epochs * experts >= 2) else "off", True,
                               resolve_micro_batch(micro_batch, device))
    for k in range(experts):
        state = _state(buffer.path(k))
        done = int(state["epochs"]) if state else 0
        if done >= epochs:
            continue
        net = build_model(recipe.model, spec, generator=make_generator(seed, "expert-net", k)).to(device)
        params, accs, seconds = [flat_parameters(net)], [], 0.0
        if state:  # continue after the last saved epoch: its parameters are the network's
            params, accs, seconds = list(state["params"].unbind(0)), list(state["test_accuracy"]), float(state["seconds"])
            _load_flat(net, params[-1].to(device))
        optimizer = torch.optim.SGD(net.parameters(), lr=recipe.lr_teacher)  # MTT's: no momentum, no decay: no state
        for e in range(done, epochs):
            start = time.perf_counter()
            fit(net, images, train.labels, optimizer=optimizer, epochs=1, batch_size=recipe.batch_size, augment=augment,
                generator=make_generator(seed, "expert-train", k, e), kernels=kernels)
            acc = float(accuracy(net, test.images, test.labels, dataset.normalize, kernels=kernels))
            seconds += time.perf_counter() - start
            params.append(flat_parameters(net))
            accs.append(acc)
            atomic_save({"epochs": e + 1, "params": torch.stack(params), "test_accuracy": accs, "seconds": seconds},
                        buffer.path(k))
            atomic_write_text(buffer.path(k).with_suffix(".json"), json.dumps(
                {"epochs": e + 1, "test_accuracy": accs, "seconds": round(seconds, 3)}) + "\n")
            log(f"expert {k + 1}/{experts} epoch {e + 1}/{epochs}: test accuracy {100 * acc:.2f}% "
                f"({seconds:.0f} s for this expert; buffer {buffer.size_bytes() / 2**20:.1f} MiB)")
    return buffer


def _load_flat(net: nn.Module, flat: Tensor) -> None:
    with torch.no_grad():
        offset = 0
        for p in net.parameters():
            p.copy_(flat[offset: offset + p.numel()].view_as(p))
            offset += p.numel()
