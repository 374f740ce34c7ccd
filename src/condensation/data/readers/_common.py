"""What every reader returns, and the checks they share."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..errors import DatasetCorruptError

__all__ = ["RawData", "to_nchw_tensor", "to_label_tensor", "check_pair"]


@dataclass
class RawData:
    """Decoded train and test splits: images uint8 N x C x H x W (contiguous), labels int64 N.

    ``classes`` is set by readers whose files carry class names (image folders, npz, TinyImageNet .pt).
    ``mapped``: the image tensors are views of memory-mapped files (a decoded cache), read only
    where indexed. ``stats``: the training images' per-channel (mean, std) when the reader computed
    them while decoding (so that nobody has to read every image again).
    """

    train_images: Tensor
    train_labels: Tensor
    test_images: Tensor
    test_labels: Tensor
    classes: tuple[str, ...] | None = None
    mapped: bool = False
    stats: tuple[tuple[float, ...], tuple[float, ...]] | None = None


def to_nchw_tensor(array: np.ndarray, layout: str) -> Tensor:
    """A uint8 array in ``layout`` ("NHWC", "NCHW", "HWCN" or "NHW") -> contiguous N x C x H x W tensor.

    Shares memory with ``array`` when it is already contiguous N x C x H x W and writable.
    """
    if not array.flags.writeable:
        array = array.copy()
    t = torch.from_numpy(array)
    if layout == "NHW":
        t = t.unsqueeze(1)
    elif layout == "NHWC":
        t = t.permute(0, 3, 1, 2)
    elif layout == "HWCN":
        t = t.permute(3, 2, 0, 1)
    elif layout != "NCHW":
        raise ValueError(f"unknown layout {layout!r}")
    return t.contiguous()


def to_label_tensor(labels: np.ndarray | list, path: Path | str, num_classes: int | None = None) -> Tensor:
    """Integer labels (any int dtype, N or N x 1) -> int64 tensor N; values must lie in [0, num_classes)."""
    arr = np.asarray(labels)
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise DatasetCorruptError(path, f"labels must be a vector, got shape {arr.shape}", "store one class index per image")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.issubdtype(arr.dtype, np.floating) or not np.all(arr == np.round(arr)):
            raise DatasetCorruptError(path, f"labels must be integers, got dtype {arr.dtype}", "store class indices, e.g. y.astype(np.int64)")
    t = torch.from_numpy(arr.astype(np.int64, copy=True))
    if t.numel():
        lo, hi = int(t.min()), int(t.max())
        if lo < 0 or (num_classes is not None and hi >= num_classes):
            limit = f"[0, {num_classes})" if num_classes is not None else ">= 0"
            raise DatasetCorruptError(path, f"label values range over [{lo}, {hi}], expected {limit}", "number the classes 0, 1, ..., K-1")
    return t


def check_pair(images: Tensor, labels: Tensor, images_path: Path | str, labels_path: Path | str) -> None:
    """Image and label counts of one split must agree."""
    if images.shape[0] != labels.shape[0]:
        where = str(images_path) if str(images_path) == str(labels_path) else f"{images_path} / {labels_path}"
        raise DatasetCorruptError(where, f"{images.shape[0]} images but {labels.shape[0]} labels", "store one label per image")
