"""Decoded caches: a dataset decoded once into uint8 arrays on disk, memory-mapped when reused.

A cache is a directory: ``train.npy``, ``test.npy`` (uint8 N x C x H x W), ``train_labels.npy``,
``test_labels.npy`` (int64 N) and ``meta.json`` (format, the source's signature, classes, the
training images' per-channel mean/std). The image arrays are written chunk by chunk as images are
decoded, never held whole in memory, into a temporary directory renamed into place once complete,
so a killed decode leaves no half cache. A cache is read by mapping its arrays copy-on-write: only
the rows a run indexes are read from disk, and nothing writes through to the files. The training
array is mapped for random access (no read-ahead), and freshly written arrays are dropped from the
page cache, so the pages resident in a run are those of the images it sampled. Those pages are
clean file cache: the kernel reclaims them under memory pressure, so a training set larger than
memory works, at the speed of the disk for rows not cached.

Datasets whose decoded images take less than ``MIN_CACHED_BYTES`` are decoded into memory on
every load instead (a second or two). When the cache directory cannot be written, decoding goes
to memory with a warning.
"""

from __future__ import annotations

import hashlib
import json
import math
import mmap
import os
import shutil
import sys
import uuid
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ..env import cache_dir
from ..stats import channel_histograms, stats_from_histograms
from ._common import RawData
from ._decode import PARALLEL_MIN, Ref, Target, decode_files

__all__ = ["FORMAT", "MIN_CACHED_BYTES", "cache_location", "open_cache", "decode_splits"]

FORMAT = "condensation-decoded-v1"
MIN_CACHED_BYTES = 32 << 20
SPLITS = ("train", "test")


def cache_location(kind: str, *key: object) -> Path:
    """The cache directory of one decoding of a source (``key``: its path and decoding settings)."""
    digest = hashlib.sha1(json.dumps([FORMAT, kind, *key], default=str).encode()).hexdigest()[:16]
    return cache_dir() / "decoded" / f"{kind}-{digest}"


def open_cache(directory: Path, signature: object) -> RawData | None:
    """The splits cached in ``directory`` (memory-mapped) if it holds a complete cache of a source
    with this ``signature``; None if there is none, it is stale or it is damaged (then rebuilt)."""
    meta_path = directory / "meta.json"
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("format") != FORMAT or meta.get("signature") != json.loads(json.dumps(signature)):
            return None
        shape = tuple(meta["shape"])
        out = []
        for split in SPLITS:
            images = map_npy(directory / f"{split}.npy", random_access=split == "train")
            labels = np.load(directory / f"{split}_labels.npy")
            if images.dtype != np.uint8 or images.shape[1:] != shape or labels.shape != (images.shape[0],):
                raise ValueError(f"{split} arrays are {images.dtype} {images.shape} / {labels.shape}, meta.json says {shape}")
            out += [torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64, copy=False))]
        stats = (tuple(meta["mean"]), tuple(meta["std"])) if meta.get("mean") is not None else None
        return RawData(*out, classes=tuple(meta["classes"]), mapped=True, stats=stats)
    except Exception as e:  # a damaged cache is rebuilt, never fatal
        warnings.warn(f"ignoring the damaged decoded cache {directory} ({type(e).__name__}: {e}); decoding again", stacklevel=3)
        return None


def map_npy(path: Path, random_access: bool = False) -> np.ndarray:
    """The array of a ``.npy`` file, memory-mapped copy-on-write (writable, never written back).

    random_access: tell the kernel that rows will be read in random order (``MADV_RANDOM``), so that
    reading one row reads (and keeps resident) only its pages, not a read-ahead window around it.
    """
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        offset = f.tell()
        if fortran or dtype != np.uint8:
            raise ValueError(f"{path.name} holds {dtype} {'Fortran' if fortran else 'C'}-order data, expected uint8 C-order")
        count = math.prod(shape)
        if os.fstat(f.fileno()).st_size < offset + count:
            raise ValueError(f"{path.name} is truncated")
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    if random_access and hasattr(mm, "madvise") and hasattr(mmap, "MADV_RANDOM"):
        mm.madvise(mmap.MADV_RANDOM)
    return np.frombuffer(mm, dtype=np.uint8, count=count, offset=offset).reshape(shape)


class _Sink:
    """One split's images, written chunk by chunk: into a .npy file, or into memory (``path=None``)."""

    def __init__(self, shape: tuple[int, ...], path: Path | None):
        self.shape, self.path, self.written = shape, path, 0
        self.row = math.prod(shape[1:])
        if path is None:
            self.array = np.empty(shape, dtype=np.uint8)
            return
        self.file = open(path, "wb")
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)), "fortran_order": False, "shape": shape}
        np.lib.format.write_array_header_1_0(self.file, header)
        self.offset = self.file.tell()

    def write(self, start: int, chunk: np.ndarray) -> None:
        if self.path is None:
            self.array[start : start + len(chunk)] = chunk
        else:
            self.file.seek(self.offset + start * self.row)
            self.file.write(np.ascontiguousarray(chunk).data)
        self.written += len(chunk)

    def close(self) -> None:
        if self.path is not None and not self.file.closed:
            self.file.flush()
            os.fsync(self.file.fileno())
            if hasattr(os, "posix_fadvise"):  # written pages leave the page cache: a run reads back only what it samples
                os.posix_fadvise(self.file.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
            self.file.close()

    def abort(self) -> None:
        if self.path is not None:
            self.file.close()


def decode_splits(
    refs: dict[str, Sequence[Ref]],
    labels: dict[str, np.ndarray],
    target: Target,
    classes: Sequence[str],
    directory: Path | None,
    signature: object,
    *,
    what: str,
    workers: int | None = None,
) -> RawData:
    """Decode the train and test images (``refs`` and int64 ``labels`` per split) as ``target``
    says, into the cache ``directory`` (None: into memory) and return them with the training
    images' mean/std. ``what`` names the dataset in progress output."""
    shape = (target.channels, *target.size)
    total = sum(len(refs[s]) for s in SPLITS)
    if directory is not None and total * math.prod(shape) < MIN_CACHED_BYTES:
        directory = None
    if directory is not None:
        try:
            return _decode(refs, labels, target, classes, directory, signature, what, workers)
        except OSError as e:
            warnings.warn(
                f"could not write the decoded cache {directory} ({e.strerror or e}); decoding into memory instead "
                "(set CONDENSATION_CACHE to a writable directory with room for datasets larger than memory)",
                stacklevel=3,
            )
    return _decode(refs, labels, target, classes, None, signature, what, workers)


def _decode(refs, labels, target, classes, directory, signature, what, workers) -> RawData:
    shape = (target.channels, *target.size)
    tmp = None
    if directory is not None:
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = directory.parent / f".{directory.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
    sinks: dict[str, _Sink] = {}
    try:
        hist = np.zeros((shape[0], 256), dtype=np.int64)
        total = sum(len(refs[s]) for s in SPLITS)
        if total >= PARALLEL_MIN and not (sys.stderr is not None and sys.stderr.isatty()):
            where = f" into {directory}" if directory is not None else ""
            print(f"decoding {total:,} images of {what}{where} (once)", file=sys.stderr, flush=True)
        for split in SPLITS:
            sink = sinks[split] = _Sink((len(refs[split]), *shape), tmp / f"{split}.npy" if tmp else None)

            def write(start: int, chunk: np.ndarray, sink=sink, split=split) -> None:
                sink.write(start, chunk)
                if split == "train":
                    hist[:] += channel_histograms(chunk)

            decode_files(refs[split], target, write, workers=workers, desc=f"decoding {what} {split}")
            sink.close()
        stats = stats_from_histograms(hist) if len(refs["train"]) else None
        if tmp is None:
            out = []
            for split in SPLITS:
                out += [torch.from_numpy(sinks[split].array), torch.from_numpy(np.asarray(labels[split], dtype=np.int64))]
            return RawData(*out, classes=tuple(classes), stats=stats)
        for split in SPLITS:
            np.save(tmp / f"{split}_labels.npy", np.asarray(labels[split], dtype=np.int64))
        meta = {
            "format": FORMAT, "signature": signature, "classes": list(classes), "shape": list(shape),
            "counts": {s: len(refs[s]) for s in SPLITS}, "mean": stats[0] if stats else None,
            "std": stats[1] if stats else None, "source": what,
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
        _publish(tmp, directory)
        tmp = None
    except BaseException:
        for sink in sinks.values():
            sink.abort()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    cached = open_cache(directory, signature)
    if cached is None:
        raise OSError(f"the cache just written in {directory} cannot be read back")
    return cached


def _publish(tmp: Path, directory: Path) -> None:
    """Rename the finished ``tmp`` to ``directory``, replacing a stale cache there; if another
    process published one meanwhile, keep theirs."""
    if directory.exists():
        shutil.rmtree(directory, ignore_errors=True)
    try:
        os.rename(tmp, directory)
    except OSError:
        if not (directory / "meta.json").is_file():
            raise
        shutil.rmtree(tmp, ignore_errors=True)
