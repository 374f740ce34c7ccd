"""The evaluation protocol: train fresh networks on a synthetic set, test them on the real test set.

Protocol (DC/DSA papers): SGD lr 0.01, momentum 0.9, weight decay 5e-4, batch 256; ``epochs``
epochs with the learning rate x0.1 (and momentum reset) at half; the reported figure is the
final test accuracy, as mean and population std over ``num_eval`` freshly initialised networks.
DSA and DM train with DSA augmentation (non-Siamese) for 1000 epochs; DC trains 300 epochs without
augmentation, except MNIST (classic ``crop_scale_rotate``) and BatchNorm ConvNets (``crop_noise``),
which get 1000 epochs with the classic augmentation.

Network k of model M is initialised from the stream ``(seed, "eval-net", M, k)`` whatever set it
is trained on, so a synthetic set and a baseline evaluated with one seed face the same networks.
The one call, a set or a file in and results out, is ``condensation.evaluate_set`` (``assess.py``),
which calling this module also runs: ``condensation.evaluate("runs/x/synset.pt")``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch

from .augment import DSA, ClassicAugment, default_strategy
from .kernels import EAGER, Kernels, resolve_micro_batch
from .methods.registry import find_method, list_methods
from .models import build_model
from .pools import EVAL_POOLS, POOL_NAMES, expand_models  # noqa: F401  (public here too)
from .rng import make_generator
from .summary import summarize
from .synset import SyntheticSet
from .train import Augment, accuracy, fit

__all__ = [
    "EvalProtocol",
    "protocol_for",
    "evaluate_synset",
    "evaluate_model",
    "evaluate_on",
    "eval_kernels",
    "summarize",
    "EVAL_POOLS",
    "expand_models",
    "check_fits",
]

def check_fits(synset: SyntheticSet, spec, what: str = "the synthetic set") -> None:
    """Raise ``ValueError`` if ``synset`` cannot be evaluated on ``spec``'s test set (other image
    shape, other classes, labels out of range)."""
    shape = tuple(synset.images.shape[1:])
    if shape != tuple(spec.shape) or synset.num_classes != spec.num_classes:
        raise ValueError(
            f"{what} holds {synset.num_classes} classes of {shape[0]}x{shape[1]}x{shape[2]} images, "
            f"but {spec.name} has {spec.num_classes} classes of {spec.shape[0]}x{spec.shape[1]}x{spec.shape[2]}; "
            "evaluate it against the dataset it was made from (--dataset)"
        )
    if synset.labels.numel() and not 0 <= int(synset.labels.min()) <= int(synset.labels.max()) < spec.num_classes:
        raise ValueError(f"{what} has labels outside 0..{spec.num_classes - 1}")



@dataclass
class EvalProtocol:
    """How a synthetic set is evaluated; ``augment`` is None, a DSA or a ClassicAugment."""

    epochs: int
    augment: Augment | None = None
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 256

    def fingerprint(self) -> str:
        """A short string that changes whenever the protocol would train differently."""
        d = self.describe()
        return ";".join(f"{k}={d[k]}" for k in sorted(d))

    def describe(self) -> dict:
        return {
            "epochs": self.epochs,
            "augment": repr(self.augment) if self.augment is not None else None,
            "lr": self.lr,
            "momentum": self.momentum,
            "weight_decay": self.weight_decay,
            "batch_size": self.batch_size,
        }


def protocol_names() -> tuple[str, ...]:
    """The names ``protocol_for`` takes: every registered method (its sets' protocol)."""
    return tuple(list_methods())


def uses_dsa_protocol(method: str, strategy: str | None = None) -> bool:
    """Whether sets made by ``method`` train with DSA augmentation when evaluated: methods
    registered with the ``dsa`` protocol, and any method given a ``strategy`` except those
    registered with DC's protocol that condense (DC itself)."""
    spec = find_method(method)
    if spec is not None and spec.protocol == "dsa":
        return True
    return strategy is not None and not (spec is not None and spec.condenses and spec.protocol == "dc")


def protocol_for(
    method: str,
    dataset: str,
    model: str = "convnet",
    *,
    strategy: str | None = None,
    flip_ok: bool = True,
    dsa_mode: str = "single",
    epochs: int | None = None,
    lr: float = 0.01,
    batch_size: int = 256,
) -> EvalProtocol:
    """The paper's evaluation protocol for a set made by ``method`` ("dc", "dsa", "dm", a coreset...).

    Methods registered with the DSA protocol (dsa, dm), and any method given a ``strategy`` but DC,
    evaluate with DSA; DC and the coreset baselines use DC's rule (classic augmentation for MNIST
    and ConvNetBN only).
    ``epochs`` overrides the protocol's epoch count; ``lr`` and ``batch_size`` are the networks'
    learning rate and batch (the authors' ``lr_net`` and ``batch_train``).
    """
    if uses_dsa_protocol(method, strategy):
        augment = DSA(strategy if strategy is not None else default_strategy(flip_ok), mode=dsa_mode)
        return EvalProtocol(epochs=epochs or 1000, augment=augment if augment.enabled else None, lr=lr, batch_size=batch_size)
    classic = None
    if model.lower() == "convnetbn":
        classic = ClassicAugment("crop_noise")
    elif dataset.lower() == "mnist":
        classic = ClassicAugment("crop_scale_rotate")
    return EvalProtocol(
        epochs=epochs or (1000 if classic is not None else 300), augment=classic, lr=lr, batch_size=batch_size
    )


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
    on_epoch: Callable[[], None] | None = None,
) -> float:
    """Train network number ``index`` of ``model`` on ``synset`` and return its test accuracy
    (``on_epoch()`` after every training epoch: a progress bar)."""
    synset = synset.decoded()  # the training images (a no-op for a plain or already decoded set)
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
        on_epoch=on_epoch,
    )
    return float(accuracy(net, test_images, test_labels, normalize, kernels=kernels))


# A callback after each trained network: (model, index, accuracy, seconds).
OnNetwork = Callable[[str, int, float, float], None]


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
    on_network: OnNetwork | None = None,
    kernels: Kernels = EAGER,
    done: Mapping[tuple[str, int], float] | None = None,
    indices: Sequence[int] | None = None,
    on_epoch: Callable[[], None] | None = None,
) -> dict[str, dict]:
    """Evaluate ``synset`` with ``num_eval`` fresh networks of each model.

    test_images: uint8 N x C x H x W on ``device`` (normalised batch by batch with ``normalize``).
    ``on_network(model, index, accuracy, seconds)`` is called after each network trained here
    (progress output, the run's ledger); ``done`` maps ``(model, index)`` to accuracies already
    paid for, which are reused instead of retrained; ``indices`` restricts training to those
    network numbers (a shard of a distributed evaluation; the others must be in ``done`` or are
    left out). ``kernels`` may hold compiled training and test paths; ``on_epoch()`` is called after
    every training epoch of every network.
    Returns ``{model: {"mean", "std", "runs"}}`` with accuracies as fractions, runs in index order.
    """
    device = torch.device(device)
    done = dict(done or {})
    wanted = set(range(num_eval)) if indices is None else set(indices)
    synset = synset.decoded().to(device)  # once, not once per network; a multi-formation set's training images
    results = {}
    for model in models:
        runs = {}
        for k in range(num_eval):
            if (model, k) in done:
                runs[k] = done[(model, k)]
                continue
            if k not in wanted:
                continue
            start = time.perf_counter()
            acc = evaluate_model(
                synset, model, test_images, test_labels, normalize, protocol, seed=seed, index=k, device=device,
                kernels=kernels, on_epoch=on_epoch,
            )
            runs[k] = acc
            if on_network is not None:
                on_network(model, k, acc, time.perf_counter() - start)
        if runs:
            results[model] = summarize([runs[k] for k in sorted(runs)])
    return results


COMPILE_TRAIN_STEPS, COMPILE_MIN_BATCH, COMPILE_TEST_NETWORKS = 2000, 64, 2  # see eval_kernels


def eval_kernels(compile: str, networks: int, protocol: EvalProtocol, train_images: int, test_images: int,
                 micro_batch: int | None) -> Kernels:
    """The kernels an evaluation of ``networks`` networks uses: ``compile`` on/off as given. Auto
    (measured, docs/results.md, issue #30) compiles training only where it pays back: at least
    ``COMPILE_TRAIN_STEPS`` steps on batches of ``COMPILE_MIN_BATCH`` images or more (on the 10
    images of an ipc-1 set a compiled step is no faster, and compiling costs tens of seconds with a
    cold cache); and the test pass from ``COMPILE_TEST_NETWORKS`` networks on (compiled, a pass over
    Fashion-MNIST's 10,000 test images took 9 s against 15 s; compiling it costs about 7 s with a
    cold cache, under a second with a warm one)."""
    batch = min(train_images, protocol.batch_size)
    steps = networks * protocol.epochs * -(-train_images // protocol.batch_size)
    train = steps >= COMPILE_TRAIN_STEPS and batch >= COMPILE_MIN_BATCH
    return Kernels.for_mode(compile, train, micro_batch, test_worth_it=networks >= COMPILE_TEST_NETWORKS)


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
    on_network: OnNetwork | None = None,
    on_model: Callable[[dict[str, dict]], None] | None = None,
    done: Mapping[tuple[str, int], float] | None = None,
    indices: Sequence[int] | None = None,
    on_epoch: Callable[[], None] | None = None,
) -> dict[str, dict]:
    """Evaluate ``synset`` on ``dataset``'s test split (already on ``device``) for every model,
    each with its own protocol ``protocol_of(model)``.

    ``compile`` (auto/on/off) and ``micro_batch`` (None: the device's default, 0: whole batches)
    choose the kernels; ``done`` / ``indices`` / ``on_network`` / ``on_epoch`` as in ``evaluate_synset``;
    ``on_model(results_so_far)`` is called after each model.
    """
    device = torch.device(device)
    results: dict[str, dict] = {}
    train_images = synset.decoded().images.shape[0]
    for model in models:
        protocol = protocol_of(model)
        networks_here = num_eval if indices is None else len(set(indices))
        kernels = eval_kernels(compile, networks_here, protocol, train_images, dataset.test.labels.shape[0],
                               resolve_micro_batch(micro_batch, device))
        results.update(
            evaluate_synset(
                synset, dataset.test.images, dataset.test.labels, dataset.normalize, models=[model],
                num_eval=num_eval, protocol=protocol, seed=seed, device=device, on_network=on_network, kernels=kernels,
                done=done, indices=indices, on_epoch=on_epoch,
            )
        )
        if on_model is not None:
            on_model(results)
    return results
