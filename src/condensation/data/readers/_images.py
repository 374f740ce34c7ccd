"""Decoding a few image files with Pillow into one uint8 array, in a thread pool (synthetic-set
folders; datasets are decoded in processes by ``_decode``).

Pillow releases the GIL while decoding, so threads give a near-linear speed-up; the loop is over
files (each file is one sample), never over pixels.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from tqdm import tqdm

from ..errors import DatasetCorruptError

__all__ = ["IMAGE_EXTENSIONS", "GRAY_MODES", "is_image_name", "decode_images", "workers"]

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm"})
# Pillow modes that hold a single intensity channel (alpha, if any, is dropped).
GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "F"})

Opener = Callable[[int], Any]  # index -> PIL.Image.Image (opened lazily)


def is_image_name(name: str) -> bool:
    """True for a visible file whose extension is a common image format."""
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def _chunks(count: int, n: int) -> list[range]:
    step = max(1, -(-count // (n * 4)))
    return [range(i, min(i + step, count)) for i in range(0, count, step)]


def decode_images(
    count: int,
    open_image: Opener,
    describe: Callable[[int], str],
    size: tuple[int, int],
    mode: str,
    resize: bool = False,
    desc: str | None = None,
) -> np.ndarray:
    """Decode ``count`` images into a uint8 array N x H x W x C (C = 1 for mode "L", 3 for "RGB").

    ``open_image(i)`` returns the i-th image (a PIL image); ``describe(i)`` names it in errors.
    An image of another size is resized (bilinear) when ``resize``, else it is an error.
    """
    from PIL import Image

    h, w = size
    channels = 1 if mode == "L" else 3
    out = np.empty((count, h, w, channels), dtype=np.uint8)

    def work(indices: range) -> int:
        for i in indices:
            try:
                with open_image(i) as img:
                    img = img.convert(mode)
                    if img.size != (w, h):
                        if not resize:
                            raise DatasetCorruptError(describe(i), f"image is {img.width}x{img.height}, expected {w}x{h}")
                        img = img.resize((w, h), Image.Resampling.BILINEAR)
                    out[i] = np.asarray(img).reshape(h, w, channels)
            except DatasetCorruptError:
                raise
            except Exception as e:  # UnidentifiedImageError, OSError (truncated), SyntaxError, ValueError
                raise DatasetCorruptError(describe(i), f"cannot decode image ({type(e).__name__}: {e})") from e
        return len(indices)

    with tqdm(total=count, desc=desc, unit="img", disable=True if count < 5000 else None, leave=False) as bar:
        if count < 256:
            bar.update(work(range(count)))
        else:
            with ThreadPoolExecutor(workers()) as pool:
                for done in pool.map(work, _chunks(count, workers())):
                    bar.update(done)
    return out
