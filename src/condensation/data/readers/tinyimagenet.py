"""Tiny ImageNet: the official ``tiny-imagenet-200`` folder or zip, or a preprocessed ``.pt``.

Folder layout: ``wnids.txt``, ``train/<wnid>/images/*.JPEG`` (500 per class) and
``val/images/*.JPEG`` labelled by ``val/val_annotations.txt``; the val split is the test split.
Labels index the spec's sorted wnids. The 110k JPEGs are decoded once, in a pool of processes,
into a decoded cache (``_cache``: uint8 arrays memory-mapped when reused), reused while the source
is unchanged. A preprocessed ``.pt`` saved by ``torch.save`` (zip format) is memory-mapped too.
"""

from __future__ import annotations

import hashlib
import os
import threading
import zipfile
from pathlib import Path, PurePosixPath

import numpy as np
import torch

from ..errors import DatasetCorruptError
from ._cache import decode_splits, open_cache
from ._common import RawData, check_pair, to_label_tensor
from ._decode import Ref, Target
from ._images import is_image_name

__all__ = ["read_tinyimagenet_pt", "read_tinyimagenet_tree", "decoded_cache_dir"]


# ---------------------------------------------------------------------------- preprocessed .pt
def _images_nchw(images: torch.Tensor, where: str) -> torch.Tensor:
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.dim() != 4:
        desc = f"{images.dtype} {tuple(images.shape)}" if isinstance(images, torch.Tensor) else type(images).__name__
        raise DatasetCorruptError(where, f"images must be a 4-d uint8 tensor, found {desc}")
    if images.shape[1] != 3 and images.shape[3] == 3:  # N x H x W x C
        images = images.permute(0, 3, 1, 2)
    if tuple(images.shape[1:]) != (3, 64, 64):
        raise DatasetCorruptError(where, f"images must be N x 3 x 64 x 64, found {tuple(images.shape)}")
    return images.contiguous()


def read_tinyimagenet_pt(path: Path, classes: tuple[str, ...]) -> RawData:
    """A ``.pt`` dict with classes, images_train, labels_train, images_val, labels_val -> RawData.

    If its ``classes`` are wnids in another order, labels are remapped to the order of ``classes``.
    """
    path = Path(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)  # read where indexed
        mapped = True
    except Exception:  # the legacy (non-zip) format cannot be mapped
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
            mapped = False
        except Exception as e:  # truncated zip, bad pickle, disallowed globals, ...
            raise DatasetCorruptError(path, f"not a readable torch file ({type(e).__name__}: {e})") from e
    raw = _from_dict(obj, path, classes)
    if mapped and isinstance(obj, dict):
        # mapped only if the images needed no copy (already N x 3 x 64 x 64, contiguous)
        raw.mapped = all(
            isinstance(obj[k], torch.Tensor) and obj[k].data_ptr() == t.data_ptr()
            for k, t in (("images_train", raw.train_images), ("images_val", raw.test_images))
        )
    return raw


def _from_dict(obj: object, path: Path, classes: tuple[str, ...]) -> RawData:
    keys = ("classes", "images_train", "labels_train", "images_val", "labels_val")
    missing = [k for k in keys if not isinstance(obj, dict) or k not in obj]
    if missing:
        raise DatasetCorruptError(path, f"missing key(s) {', '.join(missing)}")
    file_classes = [str(c) for c in obj["classes"]]
    remap = None
    if sorted(file_classes) == sorted(classes) and file_classes != list(classes):
        index = {c: i for i, c in enumerate(classes)}
        remap = torch.tensor([index[c] for c in file_classes], dtype=torch.int64)
    elif len(file_classes) != len(classes):
        raise DatasetCorruptError(path, f"{len(file_classes)} classes, expected {len(classes)}")
    out = []
    for split in ("train", "val"):
        images = _images_nchw(obj[f"images_{split}"], f"{path} (images_{split})")
        labels = obj[f"labels_{split}"]
        labels = to_label_tensor(labels.numpy() if isinstance(labels, torch.Tensor) else labels, path, len(classes))
        if remap is not None:
            labels = remap[labels]
        check_pair(images, labels, path, path)
        out += [images, labels]
    return RawData(*out)


# ---------------------------------------------------------------------------- folder or zip
class _Tree:
    """Read-only view of the ``tiny-imagenet-200`` tree in a folder or a zip, by relative posix path."""

    def __init__(self, source: Path):
        self.source = source
        self._zip: zipfile.ZipFile | None = None
        self._lock = threading.Lock()
        self._prefix = ""
        if source.is_file():
            try:
                self._zip = zipfile.ZipFile(source)
                names = self._zip.namelist()
            except (zipfile.BadZipFile, OSError, EOFError) as e:
                raise DatasetCorruptError(source, f"damaged or truncated zip archive ({e})") from e
            tops = sorted((n for n in names if PurePosixPath(n).name == "wnids.txt"), key=len)
            if not tops:
                raise DatasetCorruptError(source, "archive has no wnids.txt (not the tiny-imagenet-200 zip?)")
            self._prefix = tops[0][: -len("wnids.txt")]
            self._by_dir: dict[str, list[str]] = {}  # folder -> files directly in it (relative paths)
            for n in names:
                if n.startswith(self._prefix) and not n.endswith("/"):
                    rel = n[len(self._prefix) :]
                    self._by_dir.setdefault(str(PurePosixPath(rel).parent), []).append(rel)

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def ref(self, rel: str) -> Ref:
        """The file or zip member at ``rel``, for the decoding processes."""
        return (str(self.source), self._prefix + rel) if self._zip is not None else str(self.source / rel)

    def describe(self, rel: str) -> str:
        return f"{self.source} (member {self._prefix}{rel})" if self._zip is not None else str(self.source / rel)

    def read(self, rel: str) -> bytes:
        try:
            if self._zip is not None:
                with self._lock:
                    return self._zip.read(self._prefix + rel)
            return (self.source / rel).read_bytes()
        except KeyError as e:
            raise DatasetCorruptError(self.source, f"archive lacks {self._prefix}{rel}") from e
        except (OSError, zipfile.BadZipFile, EOFError) as e:
            raise DatasetCorruptError(self.describe(rel), f"cannot read ({e})") from e

    def list_images(self, rel_dir: str) -> list[str]:
        """Sorted image files directly inside ``rel_dir`` (relative paths)."""
        if self._zip is not None:
            files = self._by_dir.get(rel_dir.rstrip("/"), [])
        else:
            try:
                files = [f"{rel_dir}/{e.name}" for e in os.scandir(self.source / rel_dir) if e.is_file()]
            except OSError as e:
                raise DatasetCorruptError(self.source / rel_dir, f"missing or unreadable folder ({e.strerror or e})") from e
        files = sorted(f for f in files if is_image_name(PurePosixPath(f).name))
        if not files:
            raise DatasetCorruptError(self.describe(rel_dir), "no images in this folder")
        return files


def _index(tree: _Tree, classes: tuple[str, ...]) -> tuple[list[str], list[int], list[str], list[int]]:
    """Relative image paths and labels of the train and val splits."""
    index = {c: i for i, c in enumerate(classes)}
    wnids = tree.read("wnids.txt").decode("utf-8", "replace").split()
    unknown = [w for w in wnids if w not in index]
    if unknown or not wnids:
        problem = f"unknown class id(s) {', '.join(unknown[:5])}" if unknown else "no class ids"
        raise DatasetCorruptError(tree.describe("wnids.txt"), f"{problem} (expected Tiny ImageNet's 200 wnids)")
    train_files, train_labels = [], []
    for wnid in sorted(set(wnids), key=index.__getitem__):
        files = tree.list_images(f"train/{wnid}/images")
        train_files += files
        train_labels += [index[wnid]] * len(files)
    val_files, val_labels = [], []
    lines = tree.read("val/val_annotations.txt").decode("utf-8", "replace").splitlines()
    for n, line in enumerate(lines, 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 2 or fields[1] not in index:
            raise DatasetCorruptError(tree.describe("val/val_annotations.txt"), f"line {n}: cannot parse {line.strip()!r}")
        val_files.append(f"val/images/{fields[0]}")
        val_labels.append(index[fields[1]])
    if not val_files:
        raise DatasetCorruptError(tree.describe("val/val_annotations.txt"), "no annotations")
    return train_files, train_labels, val_files, val_labels


def _signature(source: Path) -> list:
    """Cheap fingerprint of the source: size and mtime of the files that define it."""
    files = [source] if source.is_file() else [source / "wnids.txt", source / "val" / "val_annotations.txt"]
    sig = [str(source)]
    for f in files:
        st = f.stat()
        sig += [st.st_size, st.st_mtime_ns]
    return sig


def decoded_cache_dir(cache_dir: Path, source: Path) -> Path:
    """Where the decoded images of ``source`` are cached."""
    key = hashlib.sha1(str(source.resolve()).encode()).hexdigest()[:16]
    return cache_dir / f"decoded-{key}"


def read_tinyimagenet_tree(source: Path, classes: tuple[str, ...], cache: Path | None = None, *, workers: int | None = None) -> RawData:
    """The ``tiny-imagenet-200`` folder or zip -> RawData (val as test), cached in the directory ``cache``."""
    source = Path(source)
    signature = _signature(source)
    if cache is not None:
        cached = open_cache(cache, signature)
        if cached is not None and cached.classes == tuple(classes):
            return cached
    tree = _Tree(source)
    try:
        train_files, train_labels, val_files, val_labels = _index(tree, classes)
    finally:
        tree.close()
    labels = {
        "train": to_label_tensor(np.asarray(train_labels, dtype=np.int64), source, len(classes)).numpy(),
        "test": to_label_tensor(np.asarray(val_labels, dtype=np.int64), source, len(classes)).numpy(),
    }
    refs = {"train": [tree.ref(f) for f in train_files], "test": [tree.ref(f) for f in val_files]}
    raw = decode_splits(refs, labels, Target("RGB", (64, 64)), classes, cache, signature, what="Tiny ImageNet", workers=workers)
    check_pair(raw.train_images, raw.train_labels, source, source)
    return raw
