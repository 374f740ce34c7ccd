"""Image grids of synthetic sets: one row per class, de-normalised to real colours."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from .atomic import atomic_write
from .synset import SyntheticSet

__all__ = ["grid_image", "save_grid"]


def grid_image(synset: SyntheticSet, scale: int = 2, pad: int = 2, class_names: bool = True) -> Image.Image:
    """A Pillow image with class c's images in row c (left to right in file order).

    ``scale`` magnifies each pixel (nearest neighbour) so 28 px digits stay visible; ``class_names``
    writes each row's class name in a left margin.
    """
    pixels = synset.pixels()  # N x C x H x W in [0, 1]
    n, c, h, w = pixels.shape
    labels = synset.labels.cpu()
    rows = [torch.nonzero(labels == k).flatten() for k in range(synset.num_classes)]
    cols = max((len(r) for r in rows), default=0)
    if cols == 0:
        raise ValueError("the synthetic set is empty")
    tile_h, tile_w = h * scale, w * scale
    font = ImageFont.load_default()
    margin = 0
    if class_names:
        margin = max(int(ImageDraw.Draw(Image.new("L", (1, 1))).textlength(name, font=font)) for name in synset.classes) + 2 * pad
    width = margin + cols * (tile_w + pad) + pad
    height = synset.num_classes * (tile_h + pad) + pad
    canvas = np.full((height, width, 3), 255, dtype=np.uint8)
    tiles = (pixels * 255.0 + 0.5).clamp(0, 255).to(torch.uint8)
    tiles = tiles.repeat_interleave(scale, 2).repeat_interleave(scale, 3).permute(0, 2, 3, 1).numpy()
    if c == 1:
        tiles = np.repeat(tiles, 3, axis=3)
    for k, idx in enumerate(rows):
        top = pad + k * (tile_h + pad)
        for j, i in enumerate(idx.tolist()):
            left = margin + pad + j * (tile_w + pad)
            canvas[top : top + tile_h, left : left + tile_w] = tiles[i]
    image = Image.fromarray(canvas)
    if class_names:
        draw = ImageDraw.Draw(image)
        for k, name in enumerate(synset.classes):
            draw.text((pad, pad + k * (tile_h + pad) + tile_h // 2 - 5), name, fill=(0, 0, 0), font=font)
    return image


def save_grid(synset: SyntheticSet, path: str | os.PathLike, **kwargs) -> Path:
    """Write ``grid_image(synset, **kwargs)`` as a PNG (atomically); returns the path."""
    image = grid_image(synset, **kwargs)
    return atomic_write(path, lambda f: image.save(f, format="PNG"))
