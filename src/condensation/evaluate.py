"""The evaluation protocol: train fresh networks on a synthetic set, test them on the real test set.

Protocol (DC/DSA papers): SGD lr 0.01, momentum 0.9, weight decay 5e-4, batch 256; ``epochs``
epochs with the learning rate x0.1 (and momentum reset) at half; the reported figure is the
final test accuracy, as mean and population std over ``num_eval`` freshly initialised networks.
DSA and DM train with DSA augmentation (non-Siamese) for 1000 epochs; DC trains 300 epochs without
augmentation, except MNIST (classic ``crop_scale_rotate``) and BatchNorm ConvNets (``crop_noise``),
which get 1000 epochs with the classic augmentation.

Network k of model M is initialised from the stream ``(seed, "eval-net", M, k)`` whatever set it
is trained on, so a synthetic set and a baseline evaluated with one seed face the same networks.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from .augment import DSA, ClassicAugment, default_strategy
from .kernels import EAGER, Kernels, resolve_micro_batch
from .models import build_model
from .rng import make_generator
from .synset import SyntheticSet
from .train import Augment, accuracy, fit

__all__ = ["EvalProtocol", "protocol_for", "evaluate_synset", "evaluate_model", "evaluate_on", "summarize"]


@dataclass
class EvalProtocol:
    """How a synthetic set is evaluated; ``augment`` is None, a DSA or a ClassicAugment."""

    epochs: int
    augment: Augment | None = None
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 256

    def describe(self) -> dict:
        return {
            "epochs": self.epochs,
            "augment": repr(self.augment) if self.augment is not None else None,
            "lr": self.lr,
            "momentum": self.momentum,
            "weight_decay": self.weight_decay,
            "batch_size": self.batch_size,
        }


def protocol_for(
    method: str,
    dataset: str,
    model: str = "convnet",
    *,
    strategy: str | None = None,
    flip_ok: bool = True,
    dsa_mode: str = "single",
    epochs: int | None = None,
) -> EvalProtocol:
    """The paper's evaluation protocol for a set made by ``method`` ("dc", "dsa", "dm", a coreset...).

    Methods trained with DSA (dsa, dm, and any method given a ``strategy``) evaluate with DSA; DC
    and the coreset baselines use DC's rule (classic augmentation for MNIST and ConvNetBN only).
    ``epochs`` overrides the protocol's epoch count.
    """
    method = method.lower()
    if method in ("dsa", "dm") or (strategy is not None and method != "dc"):
        augment = DSA(strategy if strategy is not None else default_strategy(flip_ok), mode=dsa_mode)
        return EvalProtocol(epochs=epochs or 1000, augment=augment if augment.enabled else None)
    classic = None
    if model.lower() == "convnetbn":
        classic = ClassicAugment("crop_noise")
    elif dataset.lower() == "mnist":
        classic = ClassicAugment("crop_scale_rotate")
    return EvalProtocol(epochs=epochs or (1000 if classic is not None else 300), augment=classic)


def evaluate_model(
    synset: SyntheticSet,
    model: str,
    test_images: torch.Tensor,
    test_labels: torch.Tensor,
    normalize: Callable[[torch.Tensor], torch.Tensor],
    protocol: EvalProtocol,
    *,
    seed: int,
    index: int,
    device: torch.device,
    kernels: Kernels = EAGER,
) -> float:
    """Train network number ``index`` of ``model`` on ``synset`` and return its test accuracy."""
    net = build_model(
        model,
        channels=synset.images.shape[1],
        image_size=tuple(synset.images.shape[-2:]),
        num_classes=synset.num_classes,
        generator=make_generator(seed, "eval-net", model, index),
    ).to(device)
    optimizer = torch.optim.SGD(
        net.parameters(), lr=protocol.lr, momentum=protocol.momentum, weight_decay=protocol.weight_decay
    )
    fit(
        net,
        synset.images.to(device),  # a no-op when evaluate_synset already moved the set
        synset.labels.to(device),
        optimizer=optimizer,
        epochs=protocol.epochs,
        batch_size=protocol.batch_size,
        augment=protocol.augment,
        generator=make_generator(seed, "eval-train", model, index),
        lr_drop_epoch=protocol.epochs // 2 or None,  # a 1-epoch run never drops
        kernels=kernels,
    )
    return float(accuracy(net, test_images, test_labels, normalize, kernels=kernels))


def summarize(runs: Sequence[float]) -> dict:
    """``{"mean", "std", "runs"}`` with the population std (as the authors' ``np.std``)."""
    runs = [float(r) for r in runs]
    if not runs:
        raise ValueError("no accuracies to summarise (num_eval must be at least 1)")
    mean = sum(runs) / len(runs)
    std = math.sqrt(sum((r - mean) ** 2 for r in runs) / len(runs))
    return {"mean": mean, "std": std, "runs": runs}


def evaluate_synset(
    synset: SyntheticSet,
    test_images: torch.Tensor,
    test_labels: torch.Tensor,
    normalize: Callable[[torch.Tensor], torch.Tensor],
    *,
    models: Sequence[str] = ("convnet",),
    num_eval: int = 5,
    protocol: EvalProtocol,
    seed: int = 0,
    device: torch.device | str = "cpu",
    on_network: Callable[[str, int, float, float], None] | None = None,
    kernels: Kernels = EAGER,
) -> dict[str, dict]:
    """Evaluate ``synset`` with ``num_eval`` fresh networks of each model.

    test_images: uint8 N x C x H x W on ``device`` (normalised batch by batch with ``normalize``).
    ``on_network(model, index, accuracy, seconds)`` is called after each network (progress output);
    ``kernels`` may hold compiled training and test paths.
    Returns ``{model: {"mean", "std", "runs"}}`` with accuracies as fractions.
    """
    device = torch.device(device)
    synset = synset.to(device)  # once, not once per network
    results = {}
    for model in models:
        runs = []
        for k in range(num_eval):
            start = time.perf_counter()
            acc = evaluate_model(
                synset, model, test_images, test_labels, normalize, protocol, seed=seed, index=k, device=device,
                kernels=kernels,
            )
            runs.append(acc)
            if on_network is not None:
                on_network(model, k, acc, time.perf_counter() - start)
        results[model] = summarize(runs)
    return results


def evaluate_on(
    synset: SyntheticSet,
    dataset,
    *,
    models: Sequence[str],
    num_eval: int,
    protocol_of: Callable[[str], EvalProtocol],
    seed: int = 0,
    device: torch.device | str = "cpu",
    compile: str = "auto",
    micro_batch: int | None = None,
    on_network: Callable[[str, int, float, float], None] | None = None,
    on_model: Callable[[dict[str, dict]], None] | None = None,
) -> dict[str, dict]:
    """Evaluate ``synset`` on ``dataset``'s test split (already on ``device``) for every model,
    each with its own protocol ``protocol_of(model)``.

    ``compile`` (auto/on/off) and ``micro_batch`` (None: the device's default, 0: whole batches)
    choose the kernels; ``on_model(results_so_far)`` is called after each model.
    """
    device = torch.device(device)
    results: dict[str, dict] = {}
    for model in models:
        protocol = protocol_of(model)
        kernels = Kernels.for_mode(compile, num_eval * protocol.epochs >= 2000, resolve_micro_batch(micro_batch, device))
        results.update(
            evaluate_synset(
                synset, dataset.test.images, dataset.test.labels, dataset.normalize, models=[model],
                num_eval=num_eval, protocol=protocol, seed=seed, device=device, on_network=on_network, kernels=kernels,
            )
        )
        if on_model is not None:
            on_model(results)
    return results
