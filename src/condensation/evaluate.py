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

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch

from .augment import DSA, ClassicAugment, default_strategy
from .kernels import EAGER, Kernels, resolve_micro_batch
from .methods.registry import find_method, list_methods
from .models import build_model
from .models.pools import EVAL_POOLS, POOL_NAMES, expand_models  # noqa: F401  (public here too)
from .rng import make_generator
from .summary import summarize
from .synset import SyntheticSet, learned_lr
from .train import Augment, accuracy, fit

__all__ = [
    "EvalProtocol",
    "protocol_for",
    "evaluate_synset",
    "evaluate_model",
    "evaluate_on",
    "evaluate_file",
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
) -> float:
    """Train network number ``index`` of ``model`` on ``synset`` and return its test accuracy."""
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
) -> dict[str, dict]:
    """Evaluate ``synset`` with ``num_eval`` fresh networks of each model.

    test_images: uint8 N x C x H x W on ``device`` (normalised batch by batch with ``normalize``).
    ``on_network(model, index, accuracy, seconds)`` is called after each network trained here
    (progress output, the run's ledger); ``done`` maps ``(model, index)`` to accuracies already
    paid for, which are reused instead of retrained; ``indices`` restricts training to those
    network numbers (a shard of a distributed evaluation; the others must be in ``done`` or are
    left out). ``kernels`` may hold compiled training and test paths.
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
                kernels=kernels,
            )
            runs[k] = acc
            if on_network is not None:
                on_network(model, k, acc, time.perf_counter() - start)
        if runs:
            results[model] = summarize([runs[k] for k in sorted(runs)])
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
    on_network: OnNetwork | None = None,
    on_model: Callable[[dict[str, dict]], None] | None = None,
    done: Mapping[tuple[str, int], float] | None = None,
    indices: Sequence[int] | None = None,
) -> dict[str, dict]:
    """Evaluate ``synset`` on ``dataset``'s test split (already on ``device``) for every model,
    each with its own protocol ``protocol_of(model)``.

    ``compile`` (auto/on/off) and ``micro_batch`` (None: the device's default, 0: whole batches)
    choose the kernels; ``done`` / ``indices`` / ``on_network`` as in ``evaluate_synset``;
    ``on_model(results_so_far)`` is called after each model.
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
                done=done, indices=indices,
            )
        )
        if on_model is not None:
            on_model(results)
    return results


def evaluate_file(
    path: str | os.PathLike,
    *,
    models: Sequence[str] = ("S",),
    num_eval: int = 5,
    epochs: int | None = None,
    protocol: str = "auto",
    strategy: str | None = None,
    seed: int = 0,
    device: str = "auto",
    data_dir: str | None = None,
    dataset=None,
    dataset_name: str | None = None,
    experiment: int | None = None,
    compile: str = "auto",
    micro_batch: int | None = None,
    lr: float | None = None,
    on_model: Callable[[dict[str, dict]], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, dict]:
    """Evaluate a synthetic-set file with the protocol of the method that made it (``protocol``
    "auto"), or the one named (dsa, dc, dm, random). ``models`` may name pools (see
    ``expand_models``; ``S`` is the set's own network without BatchNorm). A set condensed with DSA
    is evaluated with the strategy it was made with unless ``strategy`` is given.

    ``path`` is any format ``formats.load_sets`` reads; ``dataset_name`` names the dataset of a
    file that does not say (or overrides the one it names), ``dataset`` is an already loaded
    ``Dataset`` to test on. An authors' file of several experiments has each evaluated (or the one
    ``experiment`` picks), every set facing the same networks, and the accuracies pooled over
    experiments x networks as the paper reports them (each model's entry also lists
    ``experiments``). ``lr``: the networks' learning rate (default: the rate the set learned,
    ``meta["lr"]`` of a trajectory-matching set, else the one it was made with)."""
    from .data import load_dataset
    from .devices import device_from_flag
    from .formats import load_sets, pool_experiments, reported_accuracies

    log = log or (lambda msg: None)
    name_or_spec = dataset_name if dataset_name is not None else (dataset.spec if dataset is not None else None)
    sets = load_sets(path, dataset=name_or_spec, experiment=experiment)
    synset = sets[0]
    made_with = synset.meta.get("config") if isinstance(synset.meta.get("config"), dict) else {}
    names = expand_models(models, made_with.get("model", "convnet"))  # unknown names fail before any training
    protocol_name = str(protocol).lower()
    if protocol_name == "auto":
        protocol_name = str(made_with.get("eval_protocol") or synset.meta.get("method", "dsa")).lower()
    dev = device_from_flag(device)
    if dataset is None:
        dataset = load_dataset(synset.dataset, data_dir=data_dir)
    spec = dataset.spec
    for s in sets:
        check_fits(s, spec, what=str(path))
    if tuple(spec.mean) != tuple(synset.mean) or tuple(spec.std) != tuple(synset.std):
        log(f"warning: {path} was normalised with mean/std {synset.mean}/{synset.std}, the dataset uses {spec.mean}/{spec.std}")
    for model, runs in reported_accuracies(sets).items():
        r = summarize(runs)
        log(f"{path} reports {model}: {100 * r['mean']:.2f} ± {100 * r['std']:.2f}% over {len(runs)} networks")
    strategy = strategy if strategy is not None else made_with.get("strategy")
    dsa_mode = made_with.get("dsa_mode", "single")
    learned = learned_lr(synset.meta)
    if lr is None and learned is not None:
        lr = learned
        log(f"training with the learning rate the set learned, {lr:.6g} (pass --lr to use another)")
    lr = lr or made_with.get("lr_net", 0.01)
    dataset = dataset.to(dev)
    described: set[str] = set()

    def protocol_of(model: str) -> EvalProtocol:
        p = protocol_for(
            protocol_name, spec.name, model, strategy=strategy, flip_ok=spec.flip_ok, dsa_mode=dsa_mode, epochs=epochs,
            lr=lr, batch_size=made_with.get("batch_train", 256),
        )
        if model not in described:
            described.add(model)
            log(f"{model}: {num_eval} networks, {p.epochs} epochs, augmentation {p.augment!r}")
        return p

    def evaluate_one(s: SyntheticSet, on_model_done) -> dict[str, dict]:
        return evaluate_on(
            s, dataset, models=names, num_eval=num_eval, protocol_of=protocol_of, seed=seed, device=dev,
            compile=compile, micro_batch=micro_batch, on_model=on_model_done,
            on_network=lambda m, k, acc, sec: log(f"  {m} #{k + 1}/{num_eval}: {100 * acc:.2f}% ({sec:.0f}s)"),
        )

    if len(sets) == 1:
        return evaluate_one(synset, on_model)
    experiments = [int(s.meta.get("experiment", i)) for i, s in enumerate(sets)]
    per_experiment: list[dict[str, dict]] = []
    for i, s in enumerate(sets):
        log(f"experiment {experiments[i]} ({i + 1}/{len(sets)})")
        partial = (lambda r: on_model(pool_experiments([*per_experiment, r], experiments))) if on_model else None
        per_experiment.append(evaluate_one(s, partial))
    return pool_experiments(per_experiment, experiments)
