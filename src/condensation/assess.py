"""One call to evaluate a synthetic set: a ``SyntheticSet`` or a file in, the per-model results out
(``evaluate_set``; ``condensation.evaluate(...)`` calls it too). It loads the set's dataset, picks
the protocol of the method that made the set and runs ``evaluate.evaluate_on``."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from .evaluate import EvalProtocol, check_fits, evaluate_on, expand_models, protocol_for
from .summary import summarize
from .synset import SyntheticSet, learned_lr
from .tables import format_accuracy, networks

__all__ = ["evaluate_set", "evaluate_file"]


def evaluate_set(
    source: str | os.PathLike | SyntheticSet,
    *,
    models: Sequence[str] = ("S",),
    num_eval: int = 5,
    epochs: int | None = None,
    protocol: str = "auto",
    strategy: str | None = None,
    seed: int = 0,
    device: str = "auto",
    dataset=None,
    data_dir: str | None = None,
    experiment: int | None = None,
    compile: str = "auto",
    micro_batch: int | None = None,
    lr: float | None = None,
    on_model: Callable[[dict[str, dict]], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, dict]:
    """Evaluate a synthetic set in one call: ``num_eval`` fresh networks of each of ``models`` train
    on it and are tested on the real test set. Returns ``{model: {"mean", "std", "runs"}}``
    (accuracies as fractions; ``runs``: one per network). Also ``condensation.evaluate(...)``.

    ``source``: a ``SyntheticSet`` or a file in any format ``formats.load_sets`` reads (our
    ``synset.pt``, the authors' ``res_*.pt``, tensors, a PNG folder, an ``.npz``). The protocol is
    that of the method that made the set (``protocol="auto"``) or the one named (dsa, dc, dm,
    random, ...); ``epochs`` overrides its epochs (the papers': 1000 or 300, minutes per network
    on a CPU). ``models`` may name pools (``paper``, ``S``: the set's own network without BatchNorm,
    ...; see ``expand_models``). A set condensed with DSA is evaluated with the strategy it was
    made with unless ``strategy`` is given.

    ``dataset``: the dataset to test on, by name (for a file that does not say, or to override the
    one it names) or already loaded (a ``Dataset``); default: the set's own, found as ``distill``
    finds it (``data_dir`` first). An authors' file of several experiments has each evaluated (or
    the one ``experiment`` picks), every set facing the same networks, and the accuracies pooled
    over experiments x networks as the paper reports them (each model's entry also lists
    ``experiments``). ``lr``: the networks' learning rate (default: the rate the set learned,
    ``meta["lr"]`` of a trajectory-matching set, else the one it was made with). ``log`` receives progress lines (e.g. ``log=print``); ``on_model(results)``
    is called after each model."""
    from .data import Dataset, load_dataset
    from .devices import device_from_flag
    from .formats import load_sets, pool_experiments, reported_accuracies

    path = "the synthetic set" if isinstance(source, SyntheticSet) else source
    loaded = dataset if isinstance(dataset, Dataset) else None
    name_or_spec = loaded.spec if loaded is not None else dataset
    if isinstance(source, SyntheticSet):
        sets = [source]
    else:
        sets = load_sets(source, dataset=name_or_spec, experiment=experiment)
    dataset = loaded
    log = log or (lambda msg: None)
    synset = sets[0]
    made_with = synset.meta.get("config") if isinstance(synset.meta.get("config"), dict) else {}
    names = expand_models(models, made_with.get("model", "convnet"))  # unknown names fail before any training
    protocol_name = str(protocol).lower()
    if protocol_name == "auto":
        protocol_name = str(made_with.get("eval_protocol") or synset.meta.get("method", "dsa")).lower()
    dev = device_from_flag(device)
    if dataset is None:
        dataset = load_dataset(synset.dataset if name_or_spec is None else name_or_spec, data_dir=data_dir)
    spec = dataset.spec
    for s in sets:
        check_fits(s, spec, what=str(path))
    if tuple(spec.mean) != tuple(synset.mean) or tuple(spec.std) != tuple(synset.std):
        log(f"warning: {path} was normalised with mean/std {synset.mean}/{synset.std}, the dataset uses {spec.mean}/{spec.std}")
    for model, runs in reported_accuracies(sets).items():
        r = summarize(runs)
        log(f"{path} reports {model}: {format_accuracy(r)} over {networks(len(runs))}")
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


def evaluate_file(path: str | os.PathLike, *, dataset_name: str | None = None, dataset=None, **kwargs) -> dict[str, dict]:
    """``evaluate_set`` of a file (the name before ``evaluate_set`` took sets too): ``dataset_name``
    names the dataset, ``dataset`` is an already loaded one."""
    return evaluate_set(path, dataset=dataset if dataset is not None else dataset_name, **kwargs)
