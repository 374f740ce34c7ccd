"""CIFAR-10 / CIFAR-100 "python version": pickled batches, from the extracted folder or the .tar.gz.

Each batch is a dict with ``data`` (N x 3072 uint8: the R, G and B 32 x 32 planes in row-major
order, so a plain reshape gives N x 3 x 32 x 32) and ``labels`` (CIFAR-10) or ``fine_labels``
(CIFAR-100). Pickles are read with an unpickler that only admits the numpy array globals they need.
"""

from __future__ import annotations

import io
import pickle
import tarfile
import zlib
from pathlib import Path, PurePosixPath

import numpy as np
import torch

from ..errors import DatasetCorruptError
from ._common import RawData, to_label_tensor

__all__ = ["CIFAR10_BATCHES", "CIFAR100_BATCHES", "read_cifar_folder", "read_cifar_archive", "load_pickle"]

CIFAR10_BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
CIFAR100_BATCHES = {"train": ["train"], "test": ["test"]}


class _ArrayUnpickler(pickle.Unpickler):
    """Resolves only the globals a pickled numpy array needs; anything else is refused."""

    _NUMPY_FUNCS = {"_reconstruct", "scalar"}

    def find_class(self, module: str, name: str):  # noqa: D102 - pickle API
        if module in ("numpy", "numpy.core.multiarray", "numpy._core.multiarray"):
            if name in ("ndarray", "dtype"):
                return getattr(np, name)
            if name in self._NUMPY_FUNCS:
                try:
                    from numpy._core import multiarray  # numpy >= 2
                except ImportError:  # pragma: no cover - numpy 1.x
                    from numpy.core import multiarray
                return getattr(multiarray, name)
        if (module, name) == ("_codecs", "encode"):  # how protocol-2 pickles written by Python 3 store bytes
            import codecs

            return codecs.encode
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} (not part of a CIFAR batch)")


def load_pickle(data: bytes, where: Path | str) -> dict:
    """Unpickle one CIFAR batch (Python 2 or 3 pickle) -> dict with str keys."""
    try:
        obj = _ArrayUnpickler(io.BytesIO(data), encoding="latin1").load()
    except Exception as e:  # a damaged pickle can raise nearly anything (EOFError, ValueError, KeyError, ...)
        raise DatasetCorruptError(where, f"not a valid pickled CIFAR batch ({type(e).__name__}: {e})") from e
    if not isinstance(obj, dict):
        raise DatasetCorruptError(where, f"a CIFAR batch must be a dict, found {type(obj).__name__}")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _batch_arrays(batch: dict, where: Path | str, label_key: str) -> tuple[np.ndarray, list]:
    for key in ("data", label_key):
        if key not in batch:
            raise DatasetCorruptError(where, f"CIFAR batch has no {key!r} entry (keys: {', '.join(map(str, batch))})")
    data = np.asarray(batch["data"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DatasetCorruptError(where, f"'data' must be N x 3072 uint8, found {data.shape} {data.dtype}")
    return data, batch[label_key]


def _assemble(batches: dict[str, list[tuple[str, bytes]]], label_key: str, num_classes: int) -> RawData:
    """{split: [(where, pickle bytes), ...]} -> RawData (batches concatenated in order)."""
    out = []
    for split in ("train", "test"):
        datas, labels = [], []
        for where, blob in batches[split]:
            data, lab = _batch_arrays(load_pickle(blob, where), where, label_key)
            lab_t = to_label_tensor(lab, where, num_classes)
            if lab_t.numel() != data.shape[0]:
                raise DatasetCorruptError(where, f"{data.shape[0]} images but {lab_t.numel()} labels")
            datas.append(data)
            labels.append(lab_t)
        out += [torch.from_numpy(np.concatenate(datas)).view(-1, 3, 32, 32), torch.cat(labels)]
    return RawData(*out)


def _label_key(num_classes: int) -> str:
    return "fine_labels" if num_classes == 100 else "labels"


def read_cifar_folder(folder: Path, num_classes: int) -> RawData:
    """``cifar-10-batches-py/`` or ``cifar-100-python/`` -> RawData."""
    names = CIFAR100_BATCHES if num_classes == 100 else CIFAR10_BATCHES
    batches = {}
    for split, files in names.items():
        batches[split] = []
        for name in files:
            path = Path(folder) / name
            try:
                batches[split].append((path, path.read_bytes()))
            except OSError as e:
                raise DatasetCorruptError(path, f"cannot read: {e.strerror or e}") from e
    return _assemble(batches, _label_key(num_classes), num_classes)


def read_cifar_archive(archive: Path, num_classes: int) -> RawData:
    """``cifar-10-python.tar.gz`` / ``cifar-100-python.tar.gz`` -> RawData, without extracting to disk."""
    names = CIFAR100_BATCHES if num_classes == 100 else CIFAR10_BATCHES
    wanted = {n for files in names.values() for n in files}
    found: dict[str, tuple[str, bytes]] = {}
    try:
        with tarfile.open(archive, "r|gz") as tar:  # streaming: one pass over the archive
            for member in tar:
                base = PurePosixPath(member.name).name
                if member.isfile() and base in wanted and base not in found:
                    f = tar.extractfile(member)
                    found[base] = (member.name, f.read() if f is not None else b"")
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        raise DatasetCorruptError(archive, f"damaged or truncated tar.gz archive ({type(e).__name__}: {e})") from e
    missing = sorted(wanted - set(found))
    if missing:
        raise DatasetCorruptError(archive, f"archive lacks the batch file(s) {', '.join(missing)}")
    batches = {
        split: [(f"{archive} (member {found[n][0]})", found[n][1]) for n in files] for split, files in names.items()
    }
    return _assemble(batches, _label_key(num_classes), num_classes)
