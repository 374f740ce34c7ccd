"""Decoding image files with Pillow in a pool of processes, optionally to a square resolution.

An image is named by a ``Ref``: a file path, or ``(archive, member)`` for a member of a zip.
Images are decoded in chunks of consecutive refs; each chunk comes back as a uint8 array
n x C x H x W and is handed to the caller's ``write(start, chunk)`` in order, so the result does
not depend on the number of processes. Below ``PARALLEL_MIN`` images everything is decoded in
this process (a worker costs a few seconds to start: it imports the package once).

Progress goes to a tqdm bar on stderr, shown only when stderr is a terminal.
"""

from __future__ import annotations

import contextlib
import functools
import io
import multiprocessing
import os
import sys
import types
import warnings
import zipfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from ..env import decode_workers
from ..errors import DataError, DatasetCorruptError

__all__ = ["Ref", "Target", "fit_square", "probe_files", "decode_files", "describe", "default_workers", "PARALLEL_MIN"]

Ref = str | tuple[str, str]  # a file, or (zip archive, member)

PARALLEL_MIN = 2000  # fewer images are decoded in this process
CHUNK = 64  # images per task sent to a worker

_FIX = "remove or replace the file"


@dataclass(frozen=True)
class Target:
    """What every decoded image becomes: Pillow ``mode`` ("L": 1 channel, else "RGB": 3) and
    ``size`` (H, W). ``square``: the image's shorter side is resized to ``size[0]`` and the centre
    square kept (``fit_square``); otherwise an image of another size is an error."""

    mode: str
    size: tuple[int, int]
    square: bool = False

    @property
    def channels(self) -> int:
        return 1 if self.mode == "L" else 3


def default_workers() -> int:
    """Processes used for decoding: ``CONDENSATION_DECODE_WORKERS`` if set, else the CPUs this
    process may run on, at most 16."""
    explicit = decode_workers()
    if explicit is not None:
        return explicit
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(16, cpus))


def describe(ref: Ref) -> str:
    """A ref as named in messages."""
    return f"{ref[0]} (member {ref[1]})" if isinstance(ref, tuple) else str(ref)


class _Archives:
    """Zip archives opened once per process and kept open while decoding."""

    def __init__(self) -> None:
        self._open: dict[str, zipfile.ZipFile] = {}

    def read(self, archive: str, member: str) -> bytes:
        z = self._open.get(archive)
        if z is None:
            z = self._open[archive] = zipfile.ZipFile(archive)
        return z.read(member)

    def close(self) -> None:
        for z in self._open.values():
            z.close()
        self._open.clear()


_ARCHIVES = _Archives()


def _open(ref: Ref):
    from PIL import Image

    if isinstance(ref, tuple):
        return Image.open(io.BytesIO(_ARCHIVES.read(*ref)))
    return Image.open(ref)


def fit_square(img, side: int, extent: tuple[float, float] | None = None):
    """``img`` with its shorter side resized to ``side`` and centre-cropped to ``side`` x ``side``.

    Done as one resampling of the centre square (Pillow's bilinear filter, antialiased when
    shrinking, ``box`` may fall between pixels), which is what resizing the whole image and then
    cropping computes, without resampling the pixels that are cut away. ``extent`` (W, H) is the
    picture's extent in pixels when it differs from ``img.size`` (a JPEG decoded at reduced scale).
    """
    from PIL import Image

    w, h = extent if extent is not None else img.size
    if extent is None and (w, h) == (side, side):
        return img
    s = min(w, h)
    box = ((w - s) / 2, (h - s) / 2, (w + s) / 2, (h + s) / 2)
    return img.resize((side, side), Image.Resampling.BILINEAR, box=box)


def _pixels(ref: Ref, target: Target) -> np.ndarray:
    """One image as a uint8 C x H x W array."""
    h, w = target.size
    with _open(ref) as img:
        extent = None
        if target.square and img.format == "JPEG":
            # libjpeg decodes at 1/2, 1/4 or 1/8 scale for free; keep the shorter side >= the target
            drafted = img.draft("L" if target.mode == "L" else None, (w, h))
            if drafted is not None:
                extent = drafted[1][2:]
        img = img.convert(target.mode)
        if target.square:
            img = fit_square(img, h, extent)
        elif img.size != (w, h):
            raise DatasetCorruptError(
                describe(ref), f"image is {img.width}x{img.height}, expected {w}x{h}", "resize it, or " + _FIX
            )
        return np.asarray(img).reshape(h, w, target.channels).transpose(2, 0, 1)


def _decode_chunk(refs: Sequence[Ref], target: Target) -> np.ndarray:
    out = np.empty((len(refs), target.channels, *target.size), dtype=np.uint8)
    for i, ref in enumerate(refs):
        try:
            out[i] = _pixels(ref, target)
        except DatasetCorruptError:
            raise
        except Exception as e:  # UnidentifiedImageError, OSError (truncated), SyntaxError, ValueError, ...
            raise DatasetCorruptError(describe(ref), f"cannot decode image ({type(e).__name__}: {e})", _FIX) from None
    return out


def _probe_chunk(refs: Sequence[Ref]) -> list[tuple[str, tuple[int, int]]]:
    out = []
    for ref in refs:
        try:
            with _open(ref) as img:
                out.append((img.mode, (img.height, img.width)))
        except Exception as e:  # UnidentifiedImageError, OSError, SyntaxError, KeyError (zip member), ...
            raise DatasetCorruptError(describe(ref), f"not a readable image ({type(e).__name__}: {e})", _FIX) from None
    return out


def _executor(workers: int) -> ProcessPoolExecutor:
    """Worker processes: forked on Linux, as PyTorch's DataLoader workers are (they run only
    Pillow and numpy code, never torch or CUDA), spawned elsewhere."""
    ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    return ProcessPoolExecutor(workers, mp_context=ctx)


@contextlib.contextmanager
def _starting_workers():
    """While workers start: hide ``__main__`` from spawned ones, which need nothing from it (so a
    user's script without an ``if __name__ == "__main__"`` guard is not run again in each), and
    silence Python's warning about forking a process that has threads (torch's thread pools)."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*fork.*", category=DeprecationWarning)
            yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


def _map(fn: Callable, refs: Sequence[Ref], workers: int | None, desc: str | None) -> Iterator[tuple[int, object]]:
    """(start, fn(chunk)) for consecutive chunks of ``refs``, in order; in worker processes when
    there are many refs and more than one worker."""
    workers = default_workers() if workers is None else max(1, int(workers))
    starts = range(0, len(refs), CHUNK)
    chunks = [refs[i : i + CHUNK] for i in starts]
    interactive = sys.stderr is not None and sys.stderr.isatty()
    with tqdm(total=len(refs), desc=desc, unit="img", file=sys.stderr, disable=not interactive or len(refs) < PARALLEL_MIN,
              dynamic_ncols=True, leave=False) as bar:
        if workers == 1 or len(refs) < PARALLEL_MIN:
            try:
                for start, chunk in zip(starts, chunks):
                    yield start, fn(chunk)
                    bar.update(len(chunk))
            finally:
                _ARCHIVES.close()
            return
        pool = None
        try:
            pool = _executor(min(workers, len(chunks)))
            with _starting_workers():  # every task is submitted, so every worker started, in map()
                results = pool.map(fn, chunks)
        except (OSError, ImportError, NotImplementedError) as e:  # no processes here (a sandbox without semaphores, ...)
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
            warnings.warn(f"cannot start decoding processes ({e}); decoding in this process", stacklevel=3)
            yield from _map(fn, refs, 1, None)
            return
        try:
            for start, chunk, result in zip(starts, chunks, results):
                yield start, result
                bar.update(len(chunk))
        except BrokenProcessPool:
            raise DataError(
                "a decoding process ended abruptly (out of memory?); "
                "set CONDENSATION_DECODE_WORKERS=1 (or a small number) to decode with fewer processes"
            ) from None
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def probe_files(refs: Sequence[Ref], *, workers: int | None = None, desc: str | None = None) -> list[tuple[str, tuple[int, int]]]:
    """(Pillow mode, (H, W)) of each image, from its header only. ``DatasetCorruptError`` names
    the first unreadable file."""
    out: list[tuple[str, tuple[int, int]]] = []
    for _, result in _map(_probe_chunk, refs, workers, desc):
        out += result
    return out


def decode_files(
    refs: Sequence[Ref],
    target: Target,
    write: Callable[[int, np.ndarray], None],
    *,
    workers: int | None = None,
    desc: str | None = None,
) -> None:
    """Decode ``refs`` as ``target`` says; ``write(start, images)`` receives consecutive uint8
    n x C x H x W chunks in order. ``DatasetCorruptError`` names the first file that fails."""
    for start, images in _map(functools.partial(_decode_chunk, target=target), refs, workers, desc):
        write(start, images)
