"""IDX files (MNIST, Fashion-MNIST): gzip or raw, decoded with one ``numpy.frombuffer``.

Format: 2 zero bytes, a type byte (0x08 = uint8), a dimension count, then one big-endian uint32
per dimension, then the data in row-major order.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import DatasetCorruptError
from ._common import RawData, check_pair, to_label_tensor, to_nchw_tensor

__all__ = ["read_idx", "read_idx_dataset", "IDX_ROLES", "IdxChecksum"]

_GZIP_MAGIC = b"\x1f\x8b"
_IDX_TYPES = {0x08: "unsigned byte", 0x09: "signed byte", 0x0B: "short", 0x0C: "int", 0x0D: "float", 0x0E: "double"}

# role -> (file stem, dimensions)
IDX_ROLES = {
    "train_images": ("train-images-idx3-ubyte", 3),
    "train_labels": ("train-labels-idx1-ubyte", 1),
    "test_images": ("t10k-images-idx3-ubyte", 3),
    "test_labels": ("t10k-labels-idx1-ubyte", 1),
}


class IdxChecksum(NamedTuple):
    """MD5 of the uncompressed official file of this ``shape``; ``known`` maps other MD5s to what
    they are (e.g. MNIST's file where Fashion-MNIST's was expected), for the error message."""

    shape: tuple[int, ...]
    md5: str
    known: dict[str, str] = {}


def _read_bytes(path: Path) -> bytearray | np.ndarray:
    """The file's content in a writable buffer, gunzipped if it starts with the gzip magic (whatever its name)."""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
            if head != _GZIP_MAGIC:
                size = path.stat().st_size
                buf = bytearray(size)
                buf[: len(head)] = head
                got = len(head) + f.readinto(memoryview(buf)[len(head) :])
                return buf[:got] if got != size else buf
            f.seek(0)
            data = f.read()
    except OSError as e:
        raise DatasetCorruptError(path, f"cannot read: {e.strerror or e}") from e
    return _gunzip(data, path)


def _declared_size(head: bytes) -> int | None:
    """Total file size an IDX header declares (header + data), or None if ``head`` is no IDX header."""
    if len(head) < 4 or head[:2] != b"\x00\x00" or head[2] != 0x08 or not 1 <= head[3] <= 8:
        return None
    header = 4 + 4 * head[3]
    if len(head) < header:
        return None
    return header + int(np.prod(struct.unpack(f">{head[3]}I", head[4:header]), dtype=np.int64))


def _put(out: np.ndarray, pos: int, piece: bytes, path: Path) -> int:
    """Copy ``piece`` into ``out`` at ``pos``; returns the new position."""
    if pos + len(piece) > out.size:
        raise DatasetCorruptError(path, f"wrong size: the data run past the {out.size} bytes the IDX header declares")
    out[pos : pos + len(piece)] = np.frombuffer(piece, dtype=np.uint8)
    return pos + len(piece)


def _gunzip(data: bytes, path: Path, step: int = 1 << 20) -> bytearray | np.ndarray:
    """Decompress a gzip file, feeding the input in ``step``-byte slices. When the IDX header declares
    a plausible size, the output goes straight into one writable numpy buffer of that size."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    src = memoryview(data)
    try:
        head = d.decompress(src[:4096])
        offset = 4096
        size = _declared_size(head)
        if size is None or size > 1100 * len(data):  # not IDX (or absurd): read_idx will explain
            out = bytearray(head)
            if not d.eof:
                out += d.decompress(src[offset:])
                offset = len(data)
        else:
            out = np.empty(size, dtype=np.uint8)
            pos = _put(out, 0, head, path)
            while not d.eof and offset < len(data):
                pos = _put(out, pos, d.decompress(src[offset : offset + step]), path)
                offset += step
            out = out[:pos]
        if not d.eof:
            raise DatasetCorruptError(path, f"truncated gzip file ({len(data)} bytes, the compressed stream ends early)")
        unused = d.unused_data + bytes(src[offset:])
        if unused.startswith(_GZIP_MAGIC):  # further gzip members (rare); other trailing bytes are ignored, as gunzip does
            out = bytearray(out) + gzip.decompress(unused)
    except zlib.error as e:
        problem = "CRC check failed" if "incorrect data check" in str(e) else f"damaged gzip data ({e})"
        raise DatasetCorruptError(path, problem) from e
    except (OSError, EOFError) as e:  # gzip.BadGzipFile is an OSError
        raise DatasetCorruptError(path, f"damaged gzip data after the first member ({e})") from e
    return out


def read_idx(path: Path, ndim: int, checksum: IdxChecksum | None = None) -> np.ndarray:
    """The uint8 array stored in the IDX file ``path`` (``ndim`` dimensions, e.g. N x H x W).

    ``checksum``: a file of exactly ``checksum.shape`` (an official file) must have that MD5 of its
    uncompressed content; files of other shapes (e.g. small test fixtures) are not checked.
    """
    path = Path(path)
    data = memoryview(_read_bytes(path)).cast("B")
    if len(data) < 4:
        raise DatasetCorruptError(path, f"too short for an IDX file ({len(data)} bytes)")
    zero, dtype, dims = data[0:2], data[2], data[3]
    if zero != b"\x00\x00" or dtype not in _IDX_TYPES:
        raise DatasetCorruptError(path, f"bad IDX magic number 0x{bytes(data[:4]).hex()} (not an IDX file)")
    expected_magic = f"0x{0x0800 + ndim:08x}"
    if dtype != 0x08:
        raise DatasetCorruptError(
            path, f"IDX data type is {_IDX_TYPES[dtype]} (magic 0x{bytes(data[:4]).hex()}), expected unsigned byte ({expected_magic})"
        )
    if dims != ndim:
        raise DatasetCorruptError(path, f"bad IDX magic 0x{bytes(data[:4]).hex()}: {dims} dimensions, expected {ndim} ({expected_magic})")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetCorruptError(path, f"truncated IDX header ({len(data)} bytes)")
    shape = struct.unpack(f">{ndim}I", bytes(data[4:header]))
    count = int(np.prod(shape, dtype=np.int64))
    payload = len(data) - header
    if payload != count:
        what = "truncated" if payload < count else "wrong size"
        dims_text = "x".join(map(str, shape))
        raise DatasetCorruptError(path, f"{what}: header says {dims_text} = {count} bytes of data, the file holds {payload}")
    if checksum is not None and tuple(shape) == tuple(checksum.shape):
        got = hashlib.md5(data).hexdigest()
        if got != checksum.md5:
            known = checksum.known.get(got)
            hint = f"; this is {known}" if known else ""
            raise DatasetCorruptError(path, f"checksum mismatch: MD5 of the uncompressed content is {got}, expected {checksum.md5}{hint}")
    return np.frombuffer(data, dtype=np.uint8, count=count, offset=header).reshape(shape)


def read_idx_dataset(files: dict[str, Path], num_classes: int, checksums: dict[str, IdxChecksum] | None = None) -> RawData:
    """The four IDX files (roles of ``IDX_ROLES``) -> RawData, images N x 1 x H x W.

    ``checksums``: role -> ``IdxChecksum`` of the official file, see ``read_idx``.

    The files are read in parallel threads (gunzip and MD5 release the GIL).
    """
    checksums = checksums or {}
    with ThreadPoolExecutor(max_workers=len(IDX_ROLES)) as pool:
        futures = {
            role: pool.submit(read_idx, files[role], ndim, checksums.get(role)) for role, (_, ndim) in IDX_ROLES.items()
        }
        arrays = {role: f.result() for role, f in futures.items()}
    splits = []
    for split in ("train", "test"):
        images = to_nchw_tensor(arrays[f"{split}_images"], "NHW")
        labels = to_label_tensor(arrays[f"{split}_labels"], files[f"{split}_labels"], num_classes)
        check_pair(images, labels, files[f"{split}_images"], files[f"{split}_labels"])
        splits += [images, labels]
    return RawData(*splits)
