"""Downloading a dataset's official files into the cache, with MD5 verification.

Each file is streamed to a temporary file beside its destination (with a tqdm bar), its MD5
checked, then renamed into place, so an interrupted download never leaves a partial file under
the real name. Network failures raise ``DownloadError`` (the caller falls back to a not-found
error); a checksum mismatch raises ``DatasetCorruptError``.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from ._files import file_md5, temp_path_for
from .errors import DatasetCorruptError, DownloadError
from .sources import Resource, Source

__all__ = ["DownloadError", "fetch", "download_source", "TIMEOUT"]

TIMEOUT = 10.0  # seconds, for the connection and for each read


def _reason(e: BaseException) -> str:
    if isinstance(e, urllib.error.HTTPError):
        return f"HTTP {e.code} {e.reason}"
    if isinstance(e, urllib.error.URLError):
        return str(e.reason)
    if isinstance(e, TimeoutError):
        return "timed out"
    return f"{type(e).__name__}: {e}"


def fetch(resource: Resource, directory: Path, timeout: float = TIMEOUT) -> Path:
    """Download ``resource`` into ``directory`` (kept if already there with the right MD5)."""
    dest = directory / resource.filename
    if dest.is_file() and resource.md5 is not None and file_md5(dest) == resource.md5:
        return dest
    try:
        tmp = temp_path_for(dest)
    except OSError as e:
        raise DownloadError(f"cannot write to {directory}: {e.strerror or e}") from e
    try:
        request = urllib.request.Request(resource.url, headers={"User-Agent": "condensation-data/1"})
        digest = hashlib.md5()
        with urllib.request.urlopen(request, timeout=timeout) as response, open(tmp, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=resource.filename, disable=None, leave=False) as bar:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
        got = digest.hexdigest()
        if resource.md5 is not None and got != resource.md5:
            raise DatasetCorruptError(resource.url, f"checksum mismatch after download: MD5 {got}, expected {resource.md5} (discarded)")
        os.replace(tmp, dest)
    except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
        raise DownloadError(f"{resource.url}: {_reason(e)}") from e
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def download_source(source: Source, directory: Path, timeout: float = TIMEOUT) -> Path:
    """Fetch every official file of ``source`` into ``directory``; stops at the first failure."""
    print(f"downloading {source.name} into {directory}/ ...", file=sys.stderr, flush=True)
    for resource in source.resources:
        fetch(resource, directory, timeout)
    return directory
