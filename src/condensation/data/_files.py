"""Small file helpers: checksums, and the package's atomic writes re-exported for the readers."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..atomic import atomic_save as atomic_torch_save
from ..atomic import temp_path_for

__all__ = ["atomic_torch_save", "temp_path_for", "file_md5"]


def file_md5(path: Path, chunk: int = 1 << 22) -> str:
    """Hex MD5 of a file, read in chunks."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
