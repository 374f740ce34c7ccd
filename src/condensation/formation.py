"""Multi-formation (ours, after IDC: Kim et al., "Dataset Condensation via Efficient Synthetic-Data
Parameterization", ICML 2022): one stored image holds ``factor`` x ``factor`` smaller images.

A stored image of H x W is cut into ``factor`` x ``factor`` tiles of H/factor x W/factor, and each
tile is enlarged back to H x W (bilinear). The storage stays one image per stored image; networks
train on ``factor**2`` times as many (blurrier) images. ``factor`` 1 is the plain set: stored and
training images are the same.

Order: stored image ``i`` decodes to training images ``i * factor**2 ... (i + 1) * factor**2 - 1``,
its tiles row by row, so a class-major stored set decodes to a class-major training set.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

__all__ = ["decode", "encode", "decode_labels", "check_factor"]


def check_factor(factor: int, image_size: tuple[int, int]) -> None:
    """Raise ``ValueError`` unless ``factor`` is a positive integer dividing both image sides."""
    if not isinstance(factor, int) or factor < 1:
        raise ValueError(f"factor must be a positive integer, got {factor!r}")
    h, w = image_size
    if h % factor or w % factor:
        raise ValueError(f"factor {factor} does not divide the {h}x{w} images; use a divisor of both sides (1 turns it off)")


def decode(images: Tensor, factor: int) -> Tensor:
    """N x C x H x W stored images -> N*factor**2 x C x H x W training images (differentiable)."""
    if factor == 1:
        return images
    n, c, h, w = images.shape
    th, tw = h // factor, w // factor
    # N, C, f, th, f, tw -> N, f, f, C, th, tw: the tiles of each image, row by row
    tiles = images.reshape(n, c, factor, th, factor, tw).permute(0, 2, 4, 1, 3, 5)
    tiles = tiles.reshape(n * factor * factor, c, th, tw)
    return F.interpolate(tiles, size=(h, w), mode="bilinear", align_corners=False)


def encode(images: Tensor, factor: int) -> Tensor:
    """N*factor**2 x C x H x W full-size images -> N x C x H x W stored images: each group of
    ``factor**2`` consecutive images is shrunk by averaging ``factor`` x ``factor`` blocks and laid
    out as the tiles of one stored image (the starting point of a run from real images)."""
    if factor == 1:
        return images
    m, c, h, w = images.shape
    k = factor * factor
    if m % k:
        raise ValueError(f"{m} images do not fill whole groups of factor**2 = {k}")
    small = F.avg_pool2d(images, factor)  # M x C x th x tw
    th, tw = small.shape[-2:]
    grid = small.reshape(m // k, factor, factor, c, th, tw).permute(0, 3, 1, 4, 2, 5)
    return grid.reshape(m // k, c, h, w).contiguous()


def decode_labels(labels: Tensor, factor: int) -> Tensor:
    """The labels of ``decode``'s images: each stored label repeated ``factor**2`` times."""
    return labels if factor == 1 else labels.repeat_interleave(factor * factor)
