"""The authors' result files ``res_<METHOD>_<DATASET>_<MODEL>_<ipc>ipc.pt``: ``torch.save`` of
``{"data": [[images, labels], ...one per experiment], "accs_all_exps": {model: [accs]}}``, images
normalised, accuracies fractions (every network of every experiment, in experiment order)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..models import canonical_name, display_name
from ..synset import SyntheticSet
from ..torchfile import refused
from .accuracies import reported_accuracies
from .common import foreign, spec_for

__all__ = ["AUTHORS_DATASETS", "parse_authors_name", "authors_file_name", "read_authors", "authors_dict"]

# The authors' dataset names (file names) <-> ours.
AUTHORS_DATASETS = {
    "mnist": "MNIST",
    "fashion-mnist": "FashionMNIST",
    "svhn": "SVHN",
    "cifar10": "CIFAR10",
    "cifar100": "CIFAR100",
    "tinyimagenet": "TinyImageNet",
}
_NAME = re.compile(r"^res_(?P<method>[^_]+)_(?P<dataset>[^_]+)_(?P<model>.+)_(?P<ipc>\d+)ipc\.pt$")


def parse_authors_name(name: str) -> dict[str, Any] | None:
    """``res_DSA_CIFAR10_ConvNet_10ipc.pt`` -> ``{"method": "dsa", "dataset": "cifar10", "model":
    "ConvNet", "ipc": 10, "dataset_in_name": "CIFAR10"}`` (``dataset`` None if not one of the
    authors' datasets); None if the name is not in the authors' pattern."""
    m = _NAME.match(Path(name).name)
    if m is None:
        return None
    ours = {v.lower(): k for k, v in AUTHORS_DATASETS.items()}
    return {
        "method": m["method"].lower(),
        "dataset": ours.get(m["dataset"].lower()),
        "dataset_in_name": m["dataset"],
        "model": m["model"],
        "ipc": int(m["ipc"]),
    }


def authors_file_name(synset: SyntheticSet) -> str:
    """``res_<METHOD>_<DATASET>_<MODEL>_<ipc>ipc.pt`` in the authors' spelling (a custom dataset
    is named after its file or folder)."""
    method = str(synset.meta.get("method") or "dsa").upper()
    dataset = AUTHORS_DATASETS.get(synset.dataset)
    if dataset is None:
        dataset = re.sub(r"[^A-Za-z0-9]", "", Path(synset.dataset.split(":", 1)[-1]).stem) or "custom"
    config = synset.meta.get("config") if isinstance(synset.meta.get("config"), Mapping) else {}
    try:
        model = display_name(config.get("model") or "convnet")
    except ValueError:
        model = str(config.get("model"))
    return f"res_{re.sub(r'[^A-Za-z0-9]', '', method)}_{dataset}_{model}_{synset.ipc}ipc.pt"


def read_authors(path: Path, d: Mapping[str, Any], dataset: Any, experiment: int | None) -> list[SyntheticSet]:
    """One set per experiment of the loaded file ``d`` (or the one ``experiment`` picks); each set's
    ``meta["reported_accs"]`` holds its share of ``accs_all_exps``."""
    data = d["data"]
    if not isinstance(data, (list, tuple)) or not data:
        raise refused(path, "an authors' file whose 'data' holds no (images, labels) pairs")
    for k, pair in enumerate(data):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise refused(path, f"an authors' file whose data[{k}] is not an (images, labels) pair")
    n = len(data)
    if experiment is not None and experiment >= n:
        raise ValueError(f"{path} holds {n} experiment(s) (0..{n - 1}); --experiment {experiment} is not one")
    parsed = parse_authors_name(path.name)
    hint = " (its name is not res_METHOD_DATASET_MODEL_Nipc.pt)" if parsed is None else (
        f" ({parsed['dataset_in_name']!r} in its name is not one of {', '.join(AUTHORS_DATASETS.values())})"
    )
    spec = spec_for(path, dataset, parsed["dataset"] if parsed else None, hint)
    config: dict[str, Any] = {}
    if parsed is not None:
        try:
            config["model"] = canonical_name(parsed["model"])
        except ValueError:
            pass
    accs = d.get("accs_all_exps") if isinstance(d.get("accs_all_exps"), Mapping) else {}
    out = []
    for k in range(n) if experiment is None else [experiment]:
        meta: dict[str, Any] = {"source": "authors", "file": path.name, "experiment": k, "experiments": n}
        if parsed is not None:
            meta["method"] = parsed["method"]
        if config:
            meta["config"] = dict(config)
        reported = {}
        for model, runs in accs.items():
            runs = [float(r) for r in runs]
            if runs and len(runs) % n == 0:
                per = len(runs) // n
                reported[str(model)] = runs[k * per : (k + 1) * per]
        if reported:
            meta["reported_accs"] = reported
        images, labels = data[k]
        out.append(foreign(path, images, labels, spec, meta, parsed["ipc"] if parsed else None))
    return out


def authors_dict(sets: Sequence[SyntheticSet], accuracies: Mapping[str, Sequence[float]] | None = None) -> dict[str, Any]:
    """Their layout: one [images, labels] pair per experiment, and ``accuracies`` as
    ``accs_all_exps`` (default: what the sets report, read from a file of theirs)."""
    data = [[s.images.detach().float().cpu().contiguous(), s.labels.detach().long().cpu().contiguous()] for s in sets]
    accs = reported_accuracies(sets) if accuracies is None else {str(m): [float(a) for a in r] for m, r in accuracies.items()}
    return {"data": data, "accs_all_exps": accs}
