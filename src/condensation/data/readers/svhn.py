"""SVHN cropped digits: ``train_32x32.mat`` / ``test_32x32.mat`` (MATLAB v5, read by scipy).

``X`` is H x W x C x N uint8 and ``y`` is N x 1 with digits 1..9 and 10 for the digit 0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DatasetCorruptError, DataError
from ._common import RawData, check_pair, to_label_tensor, to_nchw_tensor

__all__ = ["read_svhn_mat", "read_svhn"]


def read_svhn_mat(path: Path):
    """One .mat file -> (images N x 3 x 32 x 32 uint8 tensor, labels int64 tensor in 0..9)."""
    import scipy.io

    path = Path(path)
    try:
        mat = scipy.io.loadmat(path, variable_names=("X", "y"))
    except DataError:
        raise
    except Exception as e:  # scipy raises ValueError, TypeError, OSError, ... on damaged files
        raise DatasetCorruptError(path, f"not a readable MATLAB file ({type(e).__name__}: {e})") from e
    for key in ("X", "y"):
        if key not in mat:
            found = ", ".join(k for k in mat if not k.startswith("__")) or "none"
            raise DatasetCorruptError(path, f"missing variable {key!r} (variables found: {found})")
    x, y = np.asarray(mat["X"]), np.asarray(mat["y"])
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[2] != 3:
        raise DatasetCorruptError(path, f"'X' must be H x W x 3 x N uint8, found {x.shape} {x.dtype}")
    y = y.reshape(-1)
    labels = to_label_tensor(y, path, num_classes=11)
    labels[labels == 10] = 0
    images = to_nchw_tensor(x, "HWCN")
    check_pair(images, labels, path, path)
    return images, labels


def read_svhn(train: Path, test: Path) -> RawData:
    """The train and test .mat files -> RawData."""
    return RawData(*read_svhn_mat(train), *read_svhn_mat(test))
