"""Datasets as uint8 tensors + spec, and ``load_dataset``, which finds, fetches and decodes them.

A split read from a decoded cache is memory-mapped (``Split.mapped``): its images are a view of a
file on disk, and only the rows that are indexed are ever read into memory. Such a training split
stays on the host when the dataset moves to a GPU (its labels move); ``RealPool`` gathers each
sampled batch on the host and copies only that batch to the device.
"""

from __future__ import annotations

import hashlib

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from .custom import load_custom
from .discovery import DataDir, download_blocked_reason, find_dataset, match_in, not_found_message
from .download import DownloadError, download_source
from .env import cache_dir
from .errors import DatasetCorruptError, DatasetNotFoundError
from .readers import RawData
from .sources import SOURCES
from .lookup import get_spec
from .specs import DatasetSpec, parse_name, resolution_of

__all__ = ["Split", "Dataset", "load_dataset"]


@dataclass(frozen=True, eq=False)
class Split:
    """One split: images uint8 N x C x H x W (contiguous), labels int64 N.

    mapped: the images are a memory-mapped view of a decoded cache, always on the host; the labels
    may then sit on another device (the compute device, see ``device``). Otherwise both tensors
    are on the same device.
    """

    images: Tensor
    labels: Tensor
    mapped: bool = False

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(f"images must be uint8 N x C x H x W, got {self.images.dtype} {tuple(self.images.shape)}")
        if self.labels.dtype != torch.int64 or self.labels.dim() != 1:
            raise ValueError(f"labels must be an int64 vector, got {self.labels.dtype} {tuple(self.labels.shape)}")
        if self.images.shape[0] != self.labels.shape[0]:
            raise ValueError(f"{self.images.shape[0]} images but {self.labels.shape[0]} labels")
        if self.mapped and self.images.device.type != "cpu":
            raise ValueError(f"memory-mapped images live on the host, got them on {self.images.device}")
        if not self.mapped and self.images.device != self.labels.device:
            raise ValueError(f"images on {self.images.device} but labels on {self.labels.device}")

    def __len__(self) -> int:
        return self.labels.shape[0]

    @property
    def device(self) -> torch.device:
        """Where the labels are, and where gathered images are used (the images' device unless mapped)."""
        return self.labels.device

    def to(self, device: torch.device | str, keep_mapped: bool = True) -> Split:
        """A new Split on ``device``. Memory-mapped images stay on the host (only the labels move)
        unless ``keep_mapped=False``, which copies them whole to a non-CPU ``device``."""
        device = torch.device(device)
        if self.mapped and (keep_mapped or device.type == "cpu"):
            return Split(self.images, self.labels.to(device), mapped=True)
        return Split(self.images.to(device), self.labels.to(device))


@dataclass(frozen=True, eq=False)
class Dataset:
    """A dataset: spec, train and test splits, and where the files were read from."""

    spec: DatasetSpec
    train: Split
    test: Split
    source: Path | None = None

    @property
    def device(self) -> torch.device:
        return self.train.device

    def to(self, device: torch.device | str) -> Dataset:
        """A new Dataset on ``device``. A memory-mapped training split keeps its images on the host
        (``RealPool`` copies only the sampled batches to the device); the test split, which every
        evaluation reads whole, moves entirely."""
        return Dataset(self.spec, self.train.to(device), self.test.to(device, keep_mapped=False), self.source)

    def fingerprint(self) -> str:
        """A short hash of the training split and the normalisation: what a network trained on
        this data (a coreset's feature network, an expert trajectory) is cached under, so that a
        custom dataset changed under the same name is not mistaken for the old one."""
        h = hashlib.blake2b(digest_size=8)
        for t in (self.train.images, self.train.labels):
            h.update(repr(tuple(t.shape)).encode())
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
        h.update(repr((tuple(self.spec.mean), tuple(self.spec.std))).encode())
        return h.hexdigest()

    def normalize(self, images: Tensor) -> Tensor:
        """uint8 ... x C x H x W -> float32 ``(x/255 - mean) / std`` (see ``DatasetSpec.normalize``)."""
        return self.spec.normalize(images)

    def denormalize(self, x: Tensor) -> Tensor:
        """Normalised images -> float32 pixels in [0, 1] (see ``DatasetSpec.denormalize``)."""
        return self.spec.denormalize(x)

    def __repr__(self) -> str:
        c, h, w = self.spec.shape
        mapped = ", memory-mapped" if self.train.mapped else ""
        return (
            f"Dataset({self.spec.name!r}, {c}x{h}x{w}, {self.spec.num_classes} classes, "
            f"train={len(self.train)}, test={len(self.test)}, device={self.device}{mapped})"
        )


def _build(spec: DatasetSpec, raw: RawData, source: Path | None) -> Dataset:
    for split, images, labels in (("train", raw.train_images, raw.train_labels), ("test", raw.test_images, raw.test_labels)):
        if tuple(images.shape[1:]) != spec.shape:
            raise DatasetCorruptError(
                source or spec.name, f"{split} images are {tuple(images.shape[1:])} (C x H x W), {spec.name} expects {spec.shape}"
            )
        if labels.numel() and int(labels.max()) >= spec.num_classes:
            raise DatasetCorruptError(source or spec.name, f"{split} labels reach {int(labels.max())}, {spec.name} has {spec.num_classes} classes")
    return Dataset(
        spec,
        Split(raw.train_images, raw.train_labels, mapped=raw.mapped),
        Split(raw.test_images, raw.test_labels, mapped=raw.mapped),
        source,
    )


def load_dataset(name: str | DatasetSpec, data_dir: DataDir = None, download: bool = True) -> Dataset:
    """Find (or download), decode and return a dataset as uint8 tensors on the CPU (memory-mapped
    when read from a decoded cache).

    name: a built-in name or alias (``"fashion-mnist"``, ``"CIFAR10"``, ...), ``imagefolder:PATH``,
    ``imagefolder:PATH@N`` (every image resized to N x N: shorter side to N, centre crop),
    ``npz:PATH``, or a ``DatasetSpec`` (used as given, e.g. with other mean/std).
    data_dir: a directory or a list of directories searched first (see ``discovery``).
    download: fetch the official files into the cache when nothing is found (never when
    ``CONDENSATION_OFFLINE=1``).

    Raises ``DatasetNotFoundError`` (what is expected, where it looked, how to get it),
    ``DatasetCorruptError`` (which file, what is wrong) or ``ValueError`` (unknown name).
    """
    spec = name if isinstance(name, DatasetSpec) else None
    text = spec.name if spec is not None else name
    kind, path = parse_name(text)
    if path is not None:
        custom, raw = load_custom(kind, path, resolution_of(text))
        return _build(spec or custom, raw, path)

    spec = spec or get_spec(kind)
    source = SOURCES[kind]
    found, roots = find_dataset(kind, data_dir)
    if found is None:
        note = download_blocked_reason(download)
        if note is None:
            target = cache_dir() / kind
            try:
                download_source(source, target)
                found = match_in(target, source)
                note = "Download: finished, but the files were not recognised." if found is None else ""
            except DownloadError as e:
                note = f"Download failed: {e}"
        if found is None:
            raise DatasetNotFoundError(not_found_message(source, roots, note), name=kind, searched=[r.path for r in roots])
    raw = found.layout.read(found.files, spec)
    return _build(spec, raw, found.directory)
