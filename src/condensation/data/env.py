"""Environment settings of the data package: cache directory, extra data roots, offline mode.

``CONDENSATION_CACHE``    the per-user cache (default ``$XDG_CACHE_HOME/condensation`` or
                          ``~/.cache/condensation``); downloads and decoded caches go there.
``CONDENSATION_DATA``     extra directories to search, separated by ``os.pathsep``.
``CONDENSATION_OFFLINE``  ``1`` (or true/yes/on): never use the network.
``CONDENSATION_DECODE_WORKERS``  processes that decode image files (default: one per CPU, at most
                          16; ``1``: decode in the calling process).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir", "env_data_dirs", "offline", "decode_workers"]


def cache_dir() -> Path:
    """The per-user cache directory (it may not exist yet)."""
    explicit = os.environ.get("CONDENSATION_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "condensation"


def env_data_dirs() -> list[Path]:
    """The directories listed in ``CONDENSATION_DATA``, in order."""
    value = os.environ.get("CONDENSATION_DATA", "")
    return [Path(p).expanduser() for p in value.split(os.pathsep) if p.strip()]


def offline() -> bool:
    """True when ``CONDENSATION_OFFLINE`` asks for no network access."""
    return os.environ.get("CONDENSATION_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def decode_workers() -> int | None:
    """``CONDENSATION_DECODE_WORKERS`` as a positive integer, or None when unset (or invalid)."""
    try:
        value = int(os.environ.get("CONDENSATION_DECODE_WORKERS", ""))
    except ValueError:
        return None
    return value if value >= 1 else None
