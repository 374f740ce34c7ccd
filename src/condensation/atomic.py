"""Crash-safe writes: every file (or folder) is written to a temporary one beside it and renamed into
place, so a killed process never leaves a half-written file behind.

A write that fails (no permission, disk full, a parent that is a file, ...) raises ``WriteError``,
an ``OSError`` whose message is one line naming the target and the reason (``cannot write
out/set.npz: Permission denied``), and leaves no temporary file behind."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import torch

from .errors import WriteError

__all__ = ["WriteError", "temp_path_for", "atomic_write", "atomic_save", "atomic_write_text", "atomic_write_folder"]


def temp_path_for(path: Path) -> Path:
    """A fresh temporary file beside ``path`` (same file system, so ``os.replace`` is atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    return Path(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def _writing(target: Path) -> Iterator[None]:
    """Turn an ``OSError`` raised inside into a ``WriteError`` naming ``target``."""
    try:
        yield
    except WriteError:
        raise
    except OSError as e:
        reason = e.strerror or str(e) or type(e).__name__
        raise WriteError(e.errno, reason, str(target)) from e


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``write(binary_file)`` on a temporary file, then rename it to ``path``.

    The file gets the permissions a plain ``open(path, "w")`` would give (0666 minus the umask),
    not the private 0600 of a temporary file. If writing fails (disk full, ...), ``path`` keeps
    its previous content."""
    path = Path(path)
    with _writing(path):
        tmp = temp_path_for(path)
        try:
            with open(tmp, "wb") as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
    return path


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save(obj)`` to ``path`` atomically."""
    return atomic_write(path, lambda f: torch.save(obj, f))


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write(path, lambda f: f.write(text.encode()))


def atomic_write_folder(path: str | os.PathLike, fill: Callable[[Path], Any]) -> Path:
    """Call ``fill(folder)`` on a temporary folder beside ``path``, then rename it to ``path``.

    An existing folder ``path`` is moved aside, removed once the new one is in place, and put back
    if it cannot be; deciding whether it may be replaced is the caller's job. The folder gets the
    permissions of a plain ``mkdir`` (0777 minus the umask)."""
    path = Path(path)
    with _writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent))
        old = None
        try:
            fill(tmp)
            os.chmod(tmp, 0o777 & ~_umask())
            if path.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
                os.replace(path, old / path.name)
                try:
                    os.replace(tmp, path)
                except OSError:
                    os.replace(old / path.name, path)
                    raise
            else:
                os.replace(tmp, path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
    return path
