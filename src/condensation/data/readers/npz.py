"""A ``.npz`` of uint8 arrays ``x_train``, ``y_train``, ``x_test``, ``y_test`` (optional ``classes``,
a vector of class names in label order, used as the spec's class names).

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


_SAVE_HINT = "save it with np.savez(PATH, x_train=..., y_train=..., x_test=..., y_test=...), optionally classes=np.array(names)"


def _class_names(arr: np.ndarray, path: Path) -> list[str]:
    fix = "store the class names as a vector of strings: classes=np.array(names, dtype=str)"
    if arr.ndim != 1 or arr.dtype.kind not in "USiu":
        raise DatasetCorruptError(path, f"'classes' must be a vector of names, found {arr.dtype} {arr.shape}", fix)
    names = [c.decode("utf-8", "replace") if isinstance(c, bytes) else str(c) for c in arr.tolist()]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise DatasetCorruptError(path, f"'classes' names {dup!r} more than once", "give every class its own name")
    return names


def read_npz(path: Path) -> RawData:
    """The .npz at ``path`` -> RawData (classes from ``classes`` if stored, else "0", "1", ...)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in _KEYS if k not in z.files]
            if missing:
                raise DatasetCorruptError(
                    path, f"missing array(s) {', '.join(missing)} (found: {', '.join(z.files) or 'none'})", _SAVE_HINT
                )
            arrays = {}
            for k in (*_KEYS, "classes"):
                if k not in z.files:
                    continue
                try:
                    arrays[k] = z[k]
                except ValueError as e:  # object arrays need pickle, which is refused
                    raise DatasetCorruptError(
                        path, f"{k} is an array of Python objects ({e})", "store plain numeric arrays (and classes as strings)"
                    ) from None
            names = _class_names(arrays["classes"], path) if "classes" in arrays else None
    except DatasetCorruptError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as e:
        raise DatasetCorruptError(path, f"not a readable .npz ({type(e).__name__}: {e})", _SAVE_HINT) from e

    out, shapes = [], []
    for split in ("train", "test"):
        x = arrays[f"x_{split}"]
        if x.dtype != np.uint8:
            raise DatasetCorruptError(
                path, f"x_{split} must be uint8 pixels (0..255), found {x.dtype}",
                "convert before saving, e.g. x.astype(np.uint8), or np.round(x * 255).astype(np.uint8) for floats in [0, 1]",
            )
        layout = guess_layout(x.shape)
        if layout is None:
            raise DatasetCorruptError(
                path, f"x_{split} has shape {x.shape}", "store images as N x H x W, N x H x W x C or N x C x H x W with C 1 or 3"
            )
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
            raise DatasetCorruptError(
                path, f"'classes' has {len(names)} names but labels go up to {num_classes - 1}", "give one name per class, in label order"
            )
        num_classes = len(names)
    if num_classes < 1:
        raise DatasetCorruptError(path, "no labelled images")
    classes = tuple(names) if names is not None else tuple(str(i) for i in range(num_classes))
    return RawData(*out, classes=classes)
