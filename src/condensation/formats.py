"""Synthetic sets in the file formats the field uses: read any of them, write ours in each.

Read by ``load_sets(path, dataset=..., experiment=...)`` (every ``torch.load`` is
``weights_only=True``; the numpy scalars the authors' accuracy lists hold are allowed, nothing else):

``synset``       our ``synset.pt`` (see ``synset.py``): self-describing.
``authors``      the authors' ``res_<METHOD>_<DATASET>_<MODEL>_<ipc>ipc.pt``: ``torch.save`` of
                 ``{"data": [[images, labels], ...one per experiment], "accs_all_exps": {model: [accs]}}``,
                 images normalised; the dataset comes from the file name (MNIST, FashionMNIST, SVHN,
                 CIFAR10, CIFAR100, TinyImageNet) unless ``dataset`` is given.
``tensors``      an image tensor file (N x C x H x W, normalised; uint8 is taken as pixels) with its
                 labels file beside it (``images_best.pt`` + ``labels_best.pt``, ``images.pt`` +
                 ``labels.pt``), or a folder holding such a pair; ``dataset`` required.
``imagefolder``  a folder with one sub-folder of images per class (PNG, 8-bit pixels); sub-folder
                 ``k`` or ``k_name`` is class k, else a folder named like a class is that class,
                 else sorted order; ``dataset`` required (its mean/std normalise the pixels).
``npz``          the layout ``export_set(..., "npz")`` writes (below); ``images`` + ``labels`` suffice
                 if ``dataset`` is given.

Foreign formats carry no constants: mean/std/classes come from ``data.get_spec(dataset)``.

Written by ``export_set(synset, to, out)``: ``authors`` (a file; a folder OUT gets the authors' file
name), ``tensors`` (folder OUT with ``images.pt`` float32 N x C x H x W normalised and ``labels.pt``
int64 N), ``imagefolder`` (folder OUT with ``<k>_<class>/<n>.png``, pixels ``images * std + mean``
clipped and rounded to 8 bits, ``n`` the image's index in the set), ``npz`` (``images`` float32
N x C x H x W normalised, ``labels`` int64 N, ``pixels`` uint8 N x H x W x C viewable, ``mean`` and
``std`` float64 C, ``classes`` str K, ``dataset`` str, ``ipc`` int, ``meta`` JSON str; no pickles)
and ``synset``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .atomic import atomic_save, atomic_write
from .summary import summarize
from .synset import SynsetFormatError, SyntheticSet
from .torchfile import ACCEPTED, first_line as _first_line, refused as _refused, safe_torch_load

__all__ = [
    "READ_FORMATS",
    "EXPORT_FORMATS",
    "ACCEPTED",
    "detect_format",
    "load_sets",
    "export_set",
    "parse_authors_name",
    "authors_file_name",
    "pool_experiments",
    "reported_accuracies",
]

READ_FORMATS = ("synset", "authors", "tensors", "imagefolder", "npz")
EXPORT_FORMATS = ("authors", "tensors", "imagefolder", "npz", "synset")

# The authors' dataset names (file names) <-> ours.
_AUTHORS_DATASETS = {
    "mnist": "MNIST",
    "fashion-mnist": "FashionMNIST",
    "svhn": "SVHN",
    "cifar10": "CIFAR10",
    "cifar100": "CIFAR100",
    "tinyimagenet": "TinyImageNet",
}
_AUTHORS_NAME = re.compile(r"^res_(?P<method>[^_]+)_(?P<dataset>[^_]+)_(?P<model>.+)_(?P<ipc>\d+)ipc\.pt$")
_SELF_DESCRIBING = ("dataset", "mean", "std", "classes")

# ----------------------------------------------------------------------------- reading
def parse_authors_name(name: str) -> dict[str, Any] | None:
    """``res_DSA_CIFAR10_ConvNet_10ipc.pt`` -> ``{"method": "dsa", "dataset": "cifar10", "model":
    "ConvNet", "ipc": 10, "dataset_in_name": "CIFAR10"}`` (``dataset`` None if not one of the
    authors' datasets); None if the name is not in the authors' pattern."""
    m = _AUTHORS_NAME.match(Path(name).name)
    if m is None:
        return None
    ours = {v.lower(): k for k, v in _AUTHORS_DATASETS.items()}
    return {
        "method": m["method"].lower(),
        "dataset": ours.get(m["dataset"].lower()),
        "dataset_in_name": m["dataset"],
        "model": m["model"],
        "ipc": int(m["ipc"]),
    }


def detect_format(path: str | os.PathLike) -> str:
    """Which of ``READ_FORMATS`` ``path`` is, from its name and contents (a ``.pt`` is loaded)."""
    return _open(Path(path))[0]


def load_sets(
    path: str | os.PathLike,
    *,
    dataset: Any = None,
    experiment: int | None = None,
) -> list[SyntheticSet]:
    """Every synthetic set in ``path`` (one, except an authors' file with several experiments).

    ``dataset`` (a name or a ``DatasetSpec``) names the dataset of formats that do not say, and
    overrides the name of those that do (our files keep their own mean/std). ``experiment`` picks
    one set (0-based) of an authors' file; for other formats only 0 is valid. Each set's ``meta``
    says where it came from (``source``, ``file``; ``experiment`` for the authors' files). A file
    in none of the formats raises ``SynsetFormatError`` with one line naming the accepted ones.
    """
    path = Path(path)
    if experiment is not None and experiment < 0:
        raise ValueError(f"--experiment must be 0 or more, got {experiment}")
    kind, found = _open(path)
    if kind == "authors":
        return _read_authors(path, found, dataset, experiment)
    if experiment not in (None, 0):
        raise ValueError(f"{path} holds one synthetic set; --experiment {experiment} is only for the authors' files of several")
    if kind == "synset":
        return [_from_fields(path, found, dataset, "synset")]
    if kind == "npz":
        return [_read_npz(path, dataset)]
    if kind == "imagefolder":
        return [_read_imagefolder(path, dataset)]
    images_path, images = found
    return [_read_tensors(images_path, dataset, images)]


def _open(path: Path) -> tuple[str, Any]:
    """(format, what the reader needs): the loaded object for .pt files, (images file, tensor or
    None) for tensors, None for folders and .npz."""
    if not path.exists():
        raise FileNotFoundError(f"no synthetic-set file at {path}")
    if path.is_dir():
        files = _tensor_files_in(path)
        if files:
            return "tensors", (_pick_images_file(path, files), None)
        if _class_folders(path):
            return "imagefolder", None
        raise _refused(path, "a folder with neither class sub-folders of images nor an images .pt file")
    if path.suffix.lower() == ".npz" or _is_npz(path):
        return "npz", None
    obj = safe_torch_load(path)
    kind = _kind_of(path, obj)
    return kind, ((path, obj) if kind == "tensors" else obj)


def _is_npz(path: Path) -> bool:
    """A zip of ``.npy`` members (a torch file is a zip too, of ``data.pkl`` and storages)."""
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return bool(names) and all(n.endswith(".npy") for n in names)


def _kind_of(path: Path, obj: Any) -> str:
    if isinstance(obj, Mapping):
        if "data" in obj and ("accs_all_exps" in obj or isinstance(obj["data"], (list, tuple))):
            return "authors"
        if "images" in obj and "labels" in obj:
            return "synset"
        keys = ", ".join(sorted(map(str, obj))[:8])
        raise _refused(path, f"a dict with keys {keys}, neither images/labels nor the authors' data/accs_all_exps")
    if isinstance(obj, Tensor):
        return "tensors"
    raise _refused(path, f"holds a {type(obj).__name__}")


def _spec(path: Path, dataset: Any, inferred: str | None = None, hint: str = ""):
    from .data import get_spec

    name = dataset if dataset is not None else inferred
    if name is None:
        raise SynsetFormatError(
            f"{path}: no dataset is named in this format{hint}; pass --dataset NAME "
            "(its mean/std and classes are used)"
        )
    return get_spec(name)


def _tensor(path: Path, value: Any, what: str) -> Tensor:
    try:
        return torch.as_tensor(value).detach().cpu()
    except (TypeError, ValueError, RuntimeError) as e:
        raise _refused(path, f"{what} are not numbers ({_first_line(e)})") from None


def _as_labels(path: Path, labels: Any) -> Tensor:
    t = _tensor(path, labels, "labels")
    if t.ndim == 2 and 1 in t.shape:
        t = t.reshape(-1)
    if t.ndim != 1:
        raise _refused(path, f"labels must be N class indices, got shape {tuple(t.shape)} (soft labels are not supported)")
    if t.is_floating_point():
        if not torch.equal(t, t.round()):
            raise _refused(path, "labels must be integer class indices, got fractional values")
    elif t.dtype == torch.bool or t.is_complex():
        raise _refused(path, f"labels must be integer class indices, got {t.dtype}")
    return t.long()


def _as_images(path: Path, images: Any, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    """Float images as float32; uint8 images are pixels, normalised with ``mean``/``std``."""
    t = _tensor(path, images, "images")
    if t.ndim == 3 and len(mean) == 1:  # N x H x W grayscale
        t = t.unsqueeze(1)
    if t.ndim != 4:
        raise _refused(path, f"images must be N x C x H x W, got shape {tuple(t.shape)}")
    if t.dtype == torch.uint8:
        m = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        s = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
        return (t.float() / 255.0 - m) / s
    if not t.is_floating_point():
        raise _refused(path, f"images must be float (normalised) or uint8 (pixels), got {t.dtype}")
    return t.float().contiguous()


def _ipc(labels: Tensor, num_classes: int) -> int:
    """Images per class: the count of the most frequent label."""
    return int(torch.unique(labels, return_counts=True)[1].max()) if labels.numel() else 0


def _foreign(path: Path, images: Any, labels: Any, spec, meta: dict, ipc: int | None = None) -> SyntheticSet:
    """A set from images/labels of ``spec``'s dataset, checked against its shape and classes."""
    x = _as_images(path, images, spec.mean, spec.std)
    y = _as_labels(path, labels)
    if tuple(x.shape[1:]) != tuple(spec.shape):
        c, h, w = spec.shape
        raise SynsetFormatError(
            f"{path}: images are {'x'.join(map(str, x.shape[1:]))} but {spec.name} images are {c}x{h}x{w}; "
            "pass --dataset with the dataset the set was made from"
        )
    if x.shape[0] != y.shape[0]:
        raise _refused(path, f"{x.shape[0]} images but {y.shape[0]} labels")
    if y.numel() and not 0 <= int(y.min()) <= int(y.max()) < spec.num_classes:
        raise SynsetFormatError(f"{path}: labels outside 0..{spec.num_classes - 1} ({spec.name} has {spec.num_classes} classes)")
    return SyntheticSet(x, y, spec.mean, spec.std, spec.name, spec.classes, ipc or _ipc(y, spec.num_classes), meta)


def _from_fields(path: Path, d: Mapping[str, Any], dataset: Any, source: str) -> SyntheticSet:
    """Our synset dict or npz fields: self-describing if they hold dataset/mean/std/classes."""
    if not all(k in d for k in _SELF_DESCRIBING):
        meta = {"source": source, "file": path.name}
        return _foreign(path, d["images"], d["labels"], _spec(path, dataset), meta, _opt_int(d.get("ipc")))
    try:
        mean = tuple(float(v) for v in np.asarray(d["mean"]).reshape(-1))
        std = tuple(float(v) for v in np.asarray(d["std"]).reshape(-1))
        classes = tuple(str(c) for c in np.asarray(d["classes"]).reshape(-1).tolist())
        meta = d.get("meta", {})
        if isinstance(meta, (str, np.ndarray)):  # npz: JSON text
            meta = json.loads(str(np.asarray(meta)))
        meta, name, ipc = dict(meta), str(np.asarray(d["dataset"])), _opt_int(d.get("ipc"))
        factor = _opt_int(d.get("factor", 1))  # a multi-formation set's stored images; SyntheticSet checks it
    except (TypeError, ValueError) as e:
        raise _refused(path, f"malformed mean/std/classes/dataset/ipc/meta/factor ({_first_line(e)})") from None
    x = _as_images(path, d["images"], mean, std)
    y = _as_labels(path, d["labels"])
    try:
        synset = SyntheticSet(x, y, mean, std, name, classes, ipc or _ipc(y, len(classes)), meta, factor)
    except SynsetFormatError as e:
        raise SynsetFormatError(f"{path}: {e}") from None
    if dataset is not None:
        synset = replace(synset, dataset=_spec(path, dataset).name)
    return synset


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(np.asarray(value))


def _read_authors(path: Path, d: Mapping[str, Any], dataset: Any, experiment: int | None) -> list[SyntheticSet]:
    data = d["data"]
    if not isinstance(data, (list, tuple)) or not data:
        raise _refused(path, "an authors' file whose 'data' holds no (images, labels) pairs")
    for k, pair in enumerate(data):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise _refused(path, f"an authors' file whose data[{k}] is not an (images, labels) pair")
    n = len(data)
    if experiment is not None and experiment >= n:
        raise ValueError(f"{path} holds {n} experiment(s) (0..{n - 1}); --experiment {experiment} is not one")
    parsed = parse_authors_name(path.name)
    hint = " (its name is not res_METHOD_DATASET_MODEL_Nipc.pt)" if parsed is None else (
        f" ({parsed['dataset_in_name']!r} in its name is not one of {', '.join(_AUTHORS_DATASETS.values())})"
    )
    spec = _spec(path, dataset, parsed["dataset"] if parsed else None, hint)
    config: dict[str, Any] = {}
    if parsed is not None:
        from .models import canonical_name

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
        out.append(_foreign(path, images, labels, spec, meta, parsed["ipc"] if parsed else None))
    return out


# The labels (and learning-rate) file beside an images file: images_best.pt -> labels_best.pt, lr_best.pt.
_BESIDE = {
    "labels": (("images", "labels"), ("image", "label"), ("imgs", "labels"), ("img", "label")),
    "lr": (("images", "lr"), ("image", "lr"), ("imgs", "lr"), ("img", "lr")),
}
_IMAGE_WORDS = ("images", "image", "imgs", "img")


def _beside(images_path: Path, kind: str) -> list[Path]:
    """Candidate ``kind`` files for ``images_path``, most specific first."""
    name = images_path.name
    out = [images_path.with_name(name.replace(a, b, 1)) for a, b in _BESIDE[kind] if a in name][:1]
    out.append(images_path.with_name(f"{kind}.pt"))
    return list(dict.fromkeys(p for p in out if p != images_path))


def _tensor_files_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.pt") if p.is_file() and any(p.name.lower().startswith(w) for w in _IMAGE_WORDS))


def _pick_images_file(folder: Path, files: list[Path]) -> Path:
    if len(files) == 1:
        return files[0]
    for name in ("images_best.pt", "images.pt"):
        if folder / name in files:
            return folder / name
    raise SynsetFormatError(f"{folder}: several image tensor files ({', '.join(p.name for p in files[:5])}); pass one of them")


def _read_tensors(path: Path, dataset: Any, images: Tensor | None = None) -> SyntheticSet:
    if images is None:
        images = safe_torch_load(path)
        if not isinstance(images, Tensor):
            raise _refused(path, f"holds a {type(images).__name__}, not an image tensor")
    if images.ndim == 1:
        raise _refused(path, "holds a vector (labels?); pass the images file, its labels file is found beside it")
    candidates = _beside(path, "labels")
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        raise SynsetFormatError(
            f"{path}: an image tensor needs its labels beside it; looked for {', '.join(p.name for p in candidates)}"
        )
    labels = safe_torch_load(found)
    if not isinstance(labels, Tensor):
        raise _refused(found, f"holds a {type(labels).__name__}, not a labels tensor")
    meta: dict[str, Any] = {"source": "tensors", "file": path.name, "labels_file": found.name}
    lr_file = next((p for p in _beside(path, "lr") if p.is_file()), None)
    if lr_file is not None:  # trajectory matching's learned learning rate: kept, not used
        lr = safe_torch_load(lr_file)
        if isinstance(lr, Tensor) and lr.numel() == 1:
            meta["syn_lr"] = float(lr)
    return _foreign(path, images, labels, _spec(path, dataset), meta)


def _class_folders(folder: Path) -> list[tuple[str, list[Path]]]:
    """[(sub-folder name, sorted image files)] for each visible sub-folder holding images."""
    from .data.readers._images import is_image_name

    out = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        files = sorted(Path(entry.path) / f.name for f in os.scandir(entry.path) if f.is_file() and is_image_name(f.name))
        if files:
            out.append((entry.name, files))
    return out


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "class"


def _folder_labels(folder: Path, names: list[str], classes: Sequence[str]) -> list[int]:
    """Label of each class folder: its leading number, else the class it is named after, else its
    position in sorted order (torchvision's ImageFolder rule) when every class has a folder."""
    numbers = [re.match(r"\d+", n) for n in names]
    by_name = {_safe_name(c).lower(): i for i, c in enumerate(classes)}
    if all(numbers):
        labels = [int(m.group()) for m in numbers]
    elif all(_safe_name(n).lower() in by_name for n in names):
        labels = [by_name[_safe_name(n).lower()] for n in names]
    elif len(names) == len(classes):
        labels = list(range(len(names)))
    else:
        raise SynsetFormatError(
            f"{folder}: {len(names)} class folders for {len(classes)} classes; name them 0..{len(classes) - 1} "
            "(optionally followed by _name) or after the classes"
        )
    if len(set(labels)) != len(labels) or max(labels) >= len(classes):
        raise SynsetFormatError(f"{folder}: class folders {', '.join(names[:5])} do not map to distinct classes 0..{len(classes) - 1}")
    return labels


def _read_imagefolder(folder: Path, dataset: Any) -> SyntheticSet:
    from PIL import Image

    from .data.readers._images import decode_images

    spec = _spec(folder, dataset)
    groups = _class_folders(folder)
    labels_of = _folder_labels(folder, [name for name, _ in groups], spec.classes)
    items = [(label, f) for label, (_, files) in zip(labels_of, groups) for f in files]
    stems = [f.stem for _, f in items]
    if all(s.isdigit() for s in stems) and len(set(map(int, stems))) == len(stems):
        items.sort(key=lambda t: int(t[1].stem))  # our exports name files by their index in the set
    else:
        items.sort(key=lambda t: (t[0], t[1].name))
    files = [f for _, f in items]
    mode = "L" if spec.channels == 1 else "RGB"
    arr = decode_images(len(files), lambda i: Image.open(files[i]), lambda i: str(files[i]), spec.image_size, mode)
    pixels = torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()
    labels = torch.tensor([label for label, _ in items], dtype=torch.long)
    return _foreign(folder, spec.normalize(pixels), labels, spec, {"source": "imagefolder", "file": folder.name})


def _read_npz(path: Path, dataset: Any) -> SyntheticSet:
    try:
        with np.load(path, allow_pickle=False) as z:
            fields = {k: z[k] for k in z.files}
    except Exception as e:  # BadZipFile, object arrays (pickles), truncated members
        raise _refused(path, f"not a readable .npz ({type(e).__name__}: {_first_line(e)})") from None
    if "images" not in fields or "labels" not in fields:
        raise _refused(path, f"an .npz with arrays {', '.join(sorted(fields)[:8])}, not images and labels")
    return _from_fields(path, fields, dataset, "npz")


# ----------------------------------------------------------------------------- accuracies
def reported_accuracies(sets: Sequence[SyntheticSet]) -> dict[str, list[float]]:
    """The accuracies an authors' file reports for ``sets``: {their model name: runs}."""
    out: dict[str, list[float]] = {}
    for s in sets:
        for model, runs in (s.meta.get("reported_accs") or {}).items():
            out.setdefault(model, []).extend(float(r) for r in runs)
    return out


def pool_experiments(results: Sequence[Mapping[str, Mapping]], experiments: Sequence[int] | None = None) -> dict[str, dict]:
    """Pool per-experiment ``{model: {"mean", "std", "runs"}}`` as the papers report them: mean and
    population std over every experiment x network. Each model's entry gains ``experiments``: the
    per-experiment summaries (``experiment`` = its index in the file)."""

    experiments = list(experiments) if experiments is not None else list(range(len(results)))
    pooled: dict[str, dict] = {}
    for model in dict.fromkeys(m for r in results for m in r):
        per = [(e, r[model]) for e, r in zip(experiments, results) if model in r]
        summary = summarize([acc for _, r in per for acc in r["runs"]])
        summary["experiments"] = [{"experiment": e, **{k: r[k] for k in ("mean", "std", "runs")}} for e, r in per]
        pooled[model] = summary
    return pooled


# ----------------------------------------------------------------------------- writing
def authors_file_name(synset: SyntheticSet) -> str:
    """``res_<METHOD>_<DATASET>_<MODEL>_<ipc>ipc.pt`` in the authors' spelling (a custom dataset
    is named after its file or folder)."""
    from .models import display_name

    method = str(synset.meta.get("method") or "dsa").upper()
    dataset = _AUTHORS_DATASETS.get(synset.dataset)
    if dataset is None:
        dataset = re.sub(r"[^A-Za-z0-9]", "", Path(synset.dataset.split(":", 1)[-1]).stem) or "custom"
    config = synset.meta.get("config") if isinstance(synset.meta.get("config"), Mapping) else {}
    try:
        model = display_name(config.get("model") or "convnet")
    except ValueError:
        model = str(config.get("model"))
    return f"res_{re.sub(r'[^A-Za-z0-9]', '', method)}_{dataset}_{model}_{synset.ipc}ipc.pt"


def export_set(
    synset: SyntheticSet | Sequence[SyntheticSet],
    to: str,
    out: str | os.PathLike,
    *,
    overwrite: bool = False,
) -> Path:
    """Write ``synset`` in format ``to`` (one of ``EXPORT_FORMATS``) at ``out``; returns the path written.

    ``authors`` takes a list of sets (one experiment each) too; an ``out`` that is a folder (or
    does not end in ``.pt``) gets the authors' file name inside it. ``tensors`` and ``imagefolder``
    write the folder ``out`` (built beside it and renamed into place). An existing ``out`` is
    replaced only with ``overwrite``, and a folder only if it holds nothing but such an export.
    A multi-formation set (``factor`` > 1) keeps its stored images only in ``synset``; every other
    format gets the decoded images networks train on, since other tools cannot decode them.
    """
    to = str(to).lower()
    if to not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {to!r}; choose from {', '.join(EXPORT_FORMATS)}")
    sets = [synset] if isinstance(synset, SyntheticSet) else list(synset)
    if not sets:
        raise ValueError("nothing to export")
    if to != "synset":
        sets = [s.decoded() for s in sets]
    if len(sets) > 1 and to != "authors":
        raise ValueError(f"{len(sets)} synthetic sets (experiments); pick one with --experiment to export as {to}")
    first = sets[0]
    out = Path(out)
    if to == "authors":
        if out.is_dir() or out.suffix != ".pt":
            out = out / authors_file_name(first)
        _check_file_target(out, overwrite)
        return atomic_save(_authors_dict(sets), out)
    if to == "synset":
        _check_file_target(out, overwrite)
        return first.save(out)
    if to == "npz":
        _check_file_target(out, overwrite)
        fields = _npz_fields(first)
        return atomic_write(out, lambda f: np.savez(f, **fields))
    return _write_folder(out, overwrite, to, lambda tmp: (_write_tensors if to == "tensors" else _write_pngs)(first, tmp))


def _check_file_target(out: Path, overwrite: bool) -> None:
    if out.is_dir():
        raise SynsetFormatError(f"{out} is a folder; give a file name")
    if out.exists() and not overwrite:
        raise SynsetFormatError(f"{out} exists; pass --overwrite to replace it")


def _authors_dict(sets: Sequence[SyntheticSet]) -> dict[str, Any]:
    """Their layout: one [images, labels] list per experiment, and the accuracies (from a file of theirs)."""
    data = [[s.images.detach().float().cpu().contiguous(), s.labels.detach().long().cpu().contiguous()] for s in sets]
    return {"data": data, "accs_all_exps": reported_accuracies(sets)}


def _npz_fields(s: SyntheticSet) -> dict[str, np.ndarray]:
    d = s.to_dict()
    return {
        "images": d["images"].numpy(),
        "labels": d["labels"].numpy(),
        "pixels": _pixels_u8(s).permute(0, 2, 3, 1).numpy(),
        "mean": np.asarray(s.mean, dtype=np.float64),
        "std": np.asarray(s.std, dtype=np.float64),
        "classes": np.asarray(s.classes, dtype=str),
        "dataset": np.asarray(s.dataset),
        "ipc": np.asarray(s.ipc, dtype=np.int64),
        "meta": np.asarray(json.dumps(s.meta, default=str)),
    }


def _pixels_u8(s: SyntheticSet) -> Tensor:
    """N x C x H x W uint8: ``images * std + mean`` clipped to [0, 1], rounded to 8 bits."""
    return (s.pixels() * 255.0 + 0.5).floor_().clamp_(0, 255).to(torch.uint8)


def _write_tensors(s: SyntheticSet, folder: Path) -> None:
    d = s.to_dict()
    torch.save(d["images"], folder / "images.pt")
    torch.save(d["labels"], folder / "labels.pt")


def _write_pngs(s: SyntheticSet, folder: Path) -> None:
    from PIL import Image

    pixels = _pixels_u8(s).permute(0, 2, 3, 1).numpy()
    labels = s.labels.cpu().tolist()
    width = len(str(max(s.num_classes - 1, 0)))
    names = [f"{k:0{width}d}" + ("" if c == str(k) else f"_{_safe_name(c)}") for k, c in enumerate(s.classes)]
    digits = len(str(max(len(s) - 1, 0)))
    for name in names:
        (folder / name).mkdir()
    for i, (label, tile) in enumerate(zip(labels, pixels)):
        Image.fromarray(tile[..., 0] if tile.shape[-1] == 1 else tile).save(folder / names[label] / f"{i:0{digits}d}.png")


def _ours(folder: Path, to: str) -> bool:
    """Whether ``folder`` holds nothing but an export of kind ``to`` (safe to replace)."""
    from .data.readers._images import is_image_name

    entries = list(folder.iterdir())
    if to == "tensors":
        return all(e.is_file() and e.suffix == ".pt" for e in entries)
    return all(e.is_dir() and all(f.is_file() and is_image_name(f.name) for f in e.iterdir()) for e in entries)


def _write_folder(out: Path, overwrite: bool, to: str, fill) -> Path:
    """Fill a temporary folder beside ``out``, then rename it to ``out`` (replacing an old export)."""
    if out.exists():
        if not out.is_dir():
            raise SynsetFormatError(f"{out} is a file; {to} export writes a folder")
        if any(out.iterdir()):
            if not overwrite:
                raise SynsetFormatError(f"{out} is not empty; pass --overwrite to replace it, or choose another OUT")
            if not _ours(out, to):
                raise SynsetFormatError(f"{out} holds files other than a {to} export; choose another OUT")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent))
    old = None
    try:
        fill(tmp)
        os.chmod(tmp, 0o777 & ~_umask())
        if out.exists():  # move the old export aside, and back if the new one cannot take its place
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            os.replace(out, old / out.name)
            try:
                os.replace(tmp, out)
            except OSError:
                os.replace(old / out.name, out)
                raise
        else:
            os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
