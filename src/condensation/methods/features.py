"""The coreset baselines' feature network: a network trained on the whole real training set, whose
embeddings herding and k-center rank and whose training record forgetting counts.

``feature_network``: ``model`` (default ConvNet) initialised from ``(seed, "coreset-net", model)``,
trained for ``epochs`` epochs with the evaluation protocol's SGD (lr 0.01, momentum 0.9, weight
decay 5e-4, batch 256, learning rate x0.1 and momentum reset at half), shuffled from ``(seed,
"coreset-train", model)``. After every epoch one inference pass over the training set records
which images it classifies correctly (Toneva et al. record at every mini-batch presentation
instead; one forward-only pass per epoch costs less than the epoch's training and judges every
image with the same weights). Weights and that record are cached in one file keyed by dataset,
model, epochs, seed and a fingerprint of the training data, so herding, k-center and forgetting
at every ipc share one training run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
from torch import Tensor

from .._version import __version__
from ..atomic import atomic_save
from ..data import Dataset
from ..data.env import cache_dir as user_cache_dir
from ..kernels import Kernels, default_micro_batch, resolve_micro_batch
from ..models import build_model, canonical_name
from ..rng import make_generator
from ..train import fit

__all__ = ["DEFAULT_FEATURE_EPOCHS", "FeatureNetwork", "feature_network", "train_feature_network", "embeddings"]

DEFAULT_FEATURE_EPOCHS = 4  # small enough for a CPU; --feature-epochs raises it
_CACHE_FORMAT = 1
_BATCH = 256  # training batch, as the evaluation protocol
_INFER_BATCH = 500

Log = Callable[[str], None]


@dataclass
class FeatureNetwork:
    """A network trained on the real training data, in eval mode on the device, with the record
    ``correct`` (bool epochs x n, CPU) of which training images it classified correctly after each
    epoch. ``path`` is its cache file (None: not cached); ``trained`` says whether it was trained
    by this call (False: read from the cache)."""

    net: nn.Module
    correct: Tensor
    model: str
    epochs: int
    path: Path | None = None
    trained: bool = True


def _cache_key(dataset: Dataset, model: str, epochs: int, seed: int) -> dict:
    return {"format": _CACHE_FORMAT, "dataset": dataset.spec.name, "model": model, "epochs": int(epochs),
            "seed": int(seed), "data": dataset.fingerprint()}


def _cache_file(directory: Path, key: dict) -> Path:
    name = re.sub(r"[^A-Za-z0-9.-]+", "_", key["dataset"]).strip("_")[-60:]
    return directory / f"{name}_{key['model']}_e{key['epochs']}_s{key['seed']}_{key['data'][:12]}.pt"


def _kernels(device: torch.device) -> Kernels:
    return Kernels.for_mode("off", False, resolve_micro_batch(None, device))


def _build(model: str, dataset: Dataset, seed: int) -> nn.Module:
    return build_model(model, dataset.spec, generator=make_generator(seed, "coreset-net", model))


@torch.inference_mode()
def _correct(net: nn.Module, images: Tensor, labels: Tensor, kernels: Kernels) -> Tensor:
    """Which of ``images`` (normalised, on the device) ``net`` classifies as ``labels``: bool n."""
    net.eval()
    return torch.cat([
        kernels.predict(net, x).argmax(1) == y for x, y in zip(images.split(_INFER_BATCH), labels.split(_INFER_BATCH))
    ])


@torch.inference_mode()
def embeddings(net: nn.Module, images: Tensor, normalize: Callable[[Tensor], Tensor], batch_size: int | None = None) -> Tensor:
    """``net.embed`` of uint8 ``images`` (N x C x H x W on the network's device), normalised and
    embedded batch by batch in eval mode: N x D float. ``batch_size`` defaults to the device's
    micro-batch (cache-sized on a CPU, see ``kernels``) or 500."""
    net.eval()
    batch_size = batch_size or default_micro_batch(images.device) or _INFER_BATCH
    return torch.cat([net.embed(normalize(x)) for x in images.split(batch_size)])


def train_feature_network(
    dataset: Dataset, seed: int, *, model: str = "convnet", epochs: int = DEFAULT_FEATURE_EPOCHS,
    device: torch.device | str = "cpu", log: Log | None = None,
) -> tuple[nn.Module, Tensor]:
    """Train the feature network from scratch (see the module docstring); returns it (eval mode,
    on ``device``) and the correctness record (bool epochs x n, CPU)."""
    log = log or (lambda msg: None)
    device = torch.device(device)
    train = dataset.train.to(device)
    images = dataset.normalize(train.images)
    net = _build(model, dataset, seed).to(device)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    generator = make_generator(seed, "coreset-train", model)
    kernels = _kernels(device)
    drop = epochs // 2 or None
    log(f"training the feature network ({model}, {epochs} epochs) on {len(train)} images of {dataset.spec.name}")
    record = []
    for epoch in range(epochs):  # one epoch per call: the same steps as fit(epochs=epochs, lr_drop_epoch=drop)
        fit(net, images, train.labels, optimizer=optimizer, epochs=1, batch_size=_BATCH, generator=generator,
            lr_drop_epoch=0 if epoch == drop else None, kernels=kernels)
        record.append(_correct(net, images, train.labels, kernels))
        log(f"  epoch {epoch + 1}/{epochs}: {100 * float(record[-1].float().mean()):.2f}% of the training images correct")
    net.eval()
    return net, torch.stack(record).cpu()


def feature_network(
    dataset: Dataset, seed: int, *, model: str = "convnet", epochs: int = DEFAULT_FEATURE_EPOCHS,
    device: torch.device | str = "cpu", cache_dir: str | Path | None = None, cache: bool = True, log: Log | None = None,
) -> FeatureNetwork:
    """The feature network for (dataset, model, epochs, seed): read from the cache if there, else
    trained and written there atomically. ``cache_dir`` defaults to
    ``$CONDENSATION_CACHE/coreset-networks``; ``cache=False`` neither reads nor writes it. An
    unreadable or mismatching cache file is replaced."""
    log = log or (lambda msg: None)
    model = canonical_name(model)
    if epochs < 1:
        raise ValueError(f"--feature-epochs must be at least 1, got {epochs}")
    device = torch.device(device)
    path = None
    if cache:
        key = _cache_key(dataset, model, epochs, seed)
        path = _cache_file(Path(cache_dir) if cache_dir is not None else user_cache_dir() / "coreset-networks", key)
        loaded = _load(path, key, dataset, seed, device, log)
        if loaded is not None:
            return loaded
    net, correct = train_feature_network(dataset, seed, model=model, epochs=epochs, device=device, log=log)
    if path is not None:
        atomic_save({
            "key": key, "version": __version__, "correct": correct,
            "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()},
        }, path)
        log(f"feature network cached in {path}")
    return FeatureNetwork(net, correct, model, epochs, path, trained=True)


def _load(path: Path, key: dict, dataset: Dataset, seed: int, device: torch.device, log: Log) -> FeatureNetwork | None:
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state["key"] != key:
            raise ValueError("made for other settings")
        correct = state["correct"].bool()
        if correct.shape != (key["epochs"], len(dataset.train)):
            raise ValueError(f"record of shape {tuple(correct.shape)}")
        net = _build(key["model"], dataset, seed)
        net.load_state_dict(state["state_dict"])
    except Exception as e:  # a damaged or foreign file of any kind: train again and replace it
        log(f"ignoring the cached feature network {path} ({type(e).__name__}: {e}); training it again")
        return None
    log(f"reusing the cached feature network {path}")
    return FeatureNetwork(net.to(device).eval(), correct, key["model"], key["epochs"], path, trained=False)
