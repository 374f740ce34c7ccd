"""Pictures on a page: PNG files read as-is, synthetic sets rendered in memory, ``<img>`` sizing."""

from __future__ import annotations

import base64
import html
import io
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Png", "Rendered", "render_synset", "img", "evenly", "MAX_GRIDS", "PAGE_WIDTH", "HALF_WIDTH",
           "GRID_WIDTH", "GRID_HEIGHT", "THUMB_WIDTH"]

MAX_GRIDS = 12  # a run's grid sequence shows at most this many (evenly spaced, first and last kept)
PAGE_WIDTH = 1100  # px of content; wider images are scaled down, narrower grids magnified
HALF_WIDTH = 540  # two images side by side
GRID_WIDTH = 560  # a small grid is magnified (integer factor, up to 4) to about this width ...
GRID_HEIGHT = 480  # ... and no taller than this (a one-column grid of many classes stays on screen)
THUMB_WIDTH = 160  # the same for the small per-row images of a grid (magnified up to 3x)


class Png:
    """A PNG's bytes and size, read from its header."""

    def __init__(self, data: bytes):
        if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
            raise ValueError("not a PNG")
        self.data = data
        self.width, self.height = struct.unpack(">II", data[16:24])

    @classmethod
    def read(cls, path: Path) -> "Png | None":
        """The PNG at ``path``, or None if it is missing or not a PNG."""
        try:
            return cls(path.read_bytes())
        except (OSError, ValueError):
            return None

    def uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.data).decode("ascii")


@dataclass
class Rendered:
    """A synthetic-set file drawn as a grid (one row per class), with the file's ``meta``."""

    png: Png
    meta: dict[str, Any]
    factor: int


def render_synset(path: Path) -> Rendered | None:
    """``path`` (a ``synset.pt``) drawn with ``viz.grid_image`` in memory; None if it is missing or
    unreadable (the page shows the rest)."""
    if not path.is_file():
        return None
    try:
        from ..synset import SyntheticSet
        from ..viz import grid_image

        synset = SyntheticSet.load(path)
        buf = io.BytesIO()
        grid_image(synset).save(buf, format="PNG")
        return Rendered(Png(buf.getvalue()), dict(synset.meta), int(synset.factor))
    except Exception:  # a file cut short by a kill, another format, ...
        return None


def img(png: Png, alt: str, *, grid: bool, fit: int = GRID_WIDTH, limit: int = PAGE_WIDTH, most: int = 4,
        tallest: int = GRID_HEIGHT) -> tuple[str, int]:
    """An ``<img>`` of ``png`` and its displayed width in px. A grid narrower than ``fit`` is
    magnified by an integer factor (up to ``most``, and no taller than ``tallest``) and drawn with
    crisp pixels; anything wider than ``limit`` is scaled down to fit."""
    scale = max(1, min(most, fit // max(1, png.width), tallest // max(1, png.height))) if grid else 1
    width = png.width * scale
    crisp = grid and width <= limit  # nearest-neighbour only when not shrinking
    width = min(width, limit)
    height = round(png.height * width / png.width)
    cls = ' class="px"' if crisp else ""
    alt = html.escape(alt, quote=True)
    return f'<img{cls} src="{png.uri()}" width="{width}" height="{height}" alt="{alt}">', width


def evenly(items: list, most: int) -> list:
    """At most ``most`` of ``items``, evenly spaced, the first and the last kept."""
    if len(items) <= most:
        return items
    picks = sorted({round(i * (len(items) - 1) / (most - 1)) for i in range(most)})
    return [items[i] for i in picks]
