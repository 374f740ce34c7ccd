"""User datasets: ``imagefolder:PATH`` and ``npz:PATH``, whose spec is computed from the data.

Shape and classes come from the files; mean/std are the training split's per-channel pixel
statistics (x / 255), computed while decoding (image folders: stored with the decoded cache, so a
memory-mapped training set is never read whole). Specs are remembered per process (keyed by path,
resolution and a cheap fingerprint of the files), so ``get_spec`` after ``load_dataset`` does not
read the data twice.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import DatasetCorruptError, DatasetNotFoundError
from .readers import RawData, read_image_folder, read_npz
from .specs import DatasetSpec, custom_name
from .stats import channel_stats

__all__ = ["load_custom", "custom_spec"]

_SPECS: dict[tuple[str, str, int | None], tuple[tuple, DatasetSpec]] = {}


def _fingerprint(path: Path) -> tuple:
    """Size/mtime of the file, or mtimes of the folder and its sub-folders (two levels)."""
    if path.is_file():
        st = path.stat()
        return (st.st_size, st.st_mtime_ns)
    out = []
    for top in [path, *(e.path for e in os.scandir(path) if e.is_dir())]:
        out.append((str(top), os.stat(top).st_mtime_ns))
        if top != path:
            out += [(e.path, e.stat().st_mtime_ns) for e in os.scandir(top) if e.is_dir()]
    return tuple(out)


def _check_exists(kind: str, path: Path) -> None:
    ok = path.is_dir() if kind == "imagefolder" else path.is_file()
    if not ok:
        what = "a folder with one sub-folder of images per class" if kind == "imagefolder" else (
            "an .npz file with uint8 x_train, y_train, x_test, y_test"
        )
        raise DatasetNotFoundError(f"{kind}:{path}: {path} does not exist (expected {what})", name=f"{kind}:{path}", searched=[path])


def load_custom(kind: str, path: Path, resolution: int | None = None) -> tuple[DatasetSpec, RawData]:
    """Read ``imagefolder``/``npz`` data at ``path`` (image folders resized to ``resolution`` if
    given) and build its spec."""
    _check_exists(kind, path)
    raw = read_image_folder(path, resolution=resolution) if kind == "imagefolder" else read_npz(path)
    if raw.train_images.shape[0] == 0:
        raise DatasetCorruptError(path, "no training images")
    mean, std = raw.stats if raw.stats is not None else channel_stats(raw.train_images)
    std = tuple(s if s > 0 else 1.0 for s in std)  # a constant channel: leave it unscaled
    spec = DatasetSpec(
        name=custom_name(kind, path, resolution),
        channels=int(raw.train_images.shape[1]),
        image_size=tuple(raw.train_images.shape[2:]),
        classes=raw.classes or tuple(str(i) for i in range(int(raw.train_labels.max()) + 1)),
        mean=mean,
        std=std,
    )
    _SPECS[(kind, str(path), resolution)] = (_fingerprint(path), spec)
    return spec, raw


def custom_spec(kind: str, path: Path, resolution: int | None = None) -> DatasetSpec:
    """The spec of ``kind:path[@resolution]``, reading the data unless this process already did."""
    _check_exists(kind, path)
    known = _SPECS.get((kind, str(path), resolution))
    if known is not None and known[0] == _fingerprint(path):
        return known[1]
    return load_custom(kind, path, resolution)[0]
