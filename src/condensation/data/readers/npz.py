"""A ``.npz`` of uint8 arrays ``x_train``, ``y_train``, ``x_test``, ``y_test`` (optional ``classes``).

``x`` may be N x H x W (grayscale), N x H x W x C or N x C x H x W with C in {1, 3}; when both
readings are possible the one with square images wins, then N x H x W x C (numpy's convention).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..errors import DatasetCorruptError
from ._common import RawData, check_pair, to_label_tensor, to_nchw_tensor

__all__ = ["read_npz", "guess_layout"]

_KEYS = ("x_train", "y_train", "x_test", "y_test")


def guess_layout(shape: tuple[int, ...]) -> str | None:
    """"NHW", "NHWC" or "NCHW" for an image-array shape, or None if it fits none."""
    if len(shape) == 3:
        return "NHW"
    if len(shape) != 4:
        return None
    nchw = shape[1] in (1, 3)
    nhwc = shape[3] in (1, 3)
    if nchw and nhwc:
        square_nchw, square_nhwc = shape[2] == shape[3], shape[1] == shape[2]
        return "NCHW" if square_nchw and not square_nhwc else "NHWC"
    return "NCHW" if nchw else "NHWC" if nhwc else None


def read_npz(path: Path) -> RawData:
    """The .npz at ``path`` -> RawData (classes from ``classes`` if stored, else "0", "1", ...)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in _KEYS if k not in z.files]
            if missing:
                raise DatasetCorruptError(path, f"missing array(s) {', '.join(missing)} (found: {', '.join(z.files) or 'none'})")
            arrays = {k: z[k] for k in _KEYS}
            names = [str(c) for c in z["classes"]] if "classes" in z.files else None
    except DatasetCorruptError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as e:
        raise DatasetCorruptError(path, f"not a readable .npz ({type(e).__name__}: {e})") from e

    out, shapes = [], []
    for split in ("train", "test"):
        x = arrays[f"x_{split}"]
        if x.dtype != np.uint8:
            raise DatasetCorruptError(path, f"x_{split} must be uint8 (0..255), found {x.dtype}")
        layout = guess_layout(x.shape)
        if layout is None:
            raise DatasetCorruptError(path, f"x_{split} has shape {x.shape}; expected N x H x W, N x H x W x C or N x C x H x W with C 1 or 3")
        images = to_nchw_tensor(x, layout)
        labels = to_label_tensor(arrays[f"y_{split}"], f"{path} (y_{split})")
        check_pair(images, labels, f"{path} (x_{split})", f"{path} (y_{split})")
        shapes.append(tuple(images.shape[1:]))
        out += [images, labels]
    if shapes[0] != shapes[1]:
        raise DatasetCorruptError(path, f"train images are {shapes[0]} (C x H x W) but test images are {shapes[1]}")
    num_classes = max((int(t.max()) for t in (out[1], out[3]) if t.numel()), default=-1) + 1
    if names is not None:
        if len(names) < num_classes:
            raise DatasetCorruptError(path, f"'classes' has {len(names)} names but labels go up to {num_classes - 1}")
        num_classes = len(names)
    if num_classes < 1:
        raise DatasetCorruptError(path, "no labelled images")
    classes = tuple(names) if names is not None else tuple(str(i) for i in range(num_classes))
    return RawData(*out, classes=classes)
