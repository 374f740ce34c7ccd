"""Finding a built-in dataset's files on disk.

Roots are searched in order: explicit ``data_dir`` (one or several), ``$CONDENSATION_DATA``, the
per-user cache, then ``SYSTEM_LOCATIONS``. In each root the dataset is looked for in the root
itself, its ``raw/`` folder, and sub-folders (up to two levels) whose name is one of the
dataset's usual folder names compared loosely (``FashionMNIST`` = ``fashion-mnist`` = ``fashion_mnist``),
each with its own ``raw/``. The first root holding a complete layout wins; within a root, the
preferred layout wins (e.g. extracted CIFAR batches before the archive).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .env import cache_dir, env_data_dirs, offline
from .sources import SOURCES, Layout, Source
from .specs import parse_name

__all__ = [
    "SYSTEM_LOCATIONS",
    "Root",
    "Match",
    "search_roots",
    "candidate_dirs",
    "find_dataset",
    "match_in",
    "locate_dataset",
    "not_found_message",
]

# Searched last, for every dataset (e.g. the Debian package puts Fashion-MNIST in
# /usr/share/datasets/fashion-mnist). Tests replace this list.
SYSTEM_LOCATIONS: list[Path] = [Path("/usr/share/datasets")]

DataDir = str | os.PathLike | Iterable[str | os.PathLike] | None


@dataclass(frozen=True)
class Root:
    """A directory to search and why it is searched (``data_dir``, ``CONDENSATION_DATA``, ``cache``, ``system``)."""

    path: Path
    origin: str


@dataclass(frozen=True)
class Match:
    """Where a dataset was found: the directory, the layout matched and its files by role."""

    directory: Path
    layout: Layout
    files: dict[str, Path]


def _as_paths(data_dir: DataDir) -> list[Path]:
    if data_dir is None:
        return []
    if isinstance(data_dir, (str, os.PathLike)):
        text = os.fspath(data_dir)
        return [Path(p).expanduser() for p in text.split(os.pathsep) if p.strip()]
    return [p for item in data_dir for p in _as_paths(item)]


def search_roots(data_dir: DataDir = None) -> list[Root]:
    """The roots to search, in order, without duplicates."""
    roots = [Root(p, "data_dir") for p in _as_paths(data_dir)]
    roots += [Root(p, "CONDENSATION_DATA") for p in env_data_dirs()]
    roots.append(Root(cache_dir(), "cache"))
    roots += [Root(Path(p), "system") for p in SYSTEM_LOCATIONS]
    seen, out = set(), []
    for r in roots:
        key = os.path.abspath(r.path)
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def _squash(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch not in "-_ .")


def candidate_dirs(root: Path, folder_names: Iterable[str], depth: int = 2) -> list[Path]:
    """``root``, its ``raw/``, and (recursively, ``depth`` levels) sub-folders named like the dataset."""
    wanted = {_squash(n) for n in folder_names}
    out = [root]
    if (root / "raw").is_dir():
        out.append(root / "raw")
    if depth > 0:
        try:
            children = sorted(e.name for e in os.scandir(root) if e.is_dir() and _squash(e.name) in wanted)
        except OSError:
            children = []
        for name in children:
            out += candidate_dirs(root / name, folder_names, depth - 1)
    return out


def _named_for(d: Path) -> str:
    """The dataset name a folder suggests: its own name, or its parent's for a ``raw/`` folder."""
    return _squash(d.parent.name if d.name.lower() == "raw" else d.name)


def match_in(directory: Path, source: Source) -> Match | None:
    """The preferred layout of ``source`` found in or below ``directory``, if any.

    Folders named after a dataset that shares this one's file names (``source.conflicts``) are skipped.
    """
    if not directory.is_dir():
        return None
    other = {_squash(n) for n in source.conflicts}
    candidates = [d for d in candidate_dirs(directory, source.folder_names) if _named_for(d) not in other]
    for layout in source.layouts:
        for d in candidates:
            files = layout.match(d)
            if files is not None:
                return Match(d, layout, files)
    return None


def find_dataset(name: str, data_dir: DataDir = None) -> tuple[Match | None, list[Root]]:
    """Search the roots for built-in dataset ``name``: (first match or None, the roots searched)."""
    source = SOURCES[name]
    roots = search_roots(data_dir)
    for i, root in enumerate(roots):
        found = match_in(root.path, source)
        if found is not None:
            return found, roots[: i + 1]
    return None, roots


def locate_dataset(name: str, data_dir: DataDir = None) -> tuple[Path | None, list[Path]]:
    """Where the dataset's files are (the directory holding them, or None) and the places searched.

    Never downloads. ``imagefolder:PATH`` / ``npz:PATH`` are found if PATH exists.
    """
    kind, path = parse_name(name)
    if path is not None:
        exists = path.is_dir() if kind == "imagefolder" else path.is_file()
        return (path if exists else None), [path]
    found, roots = find_dataset(kind, data_dir)
    return (found.directory if found else None), [r.path for r in roots]


def not_found_message(source: Source, roots: list[Root], download_note: str) -> str:
    """A few lines: what is missing, the files expected, every place searched, and how to get them."""
    names = sorted({n for n in source.folder_names} | {source.name})
    lines = [f"dataset {source.name!r} not found.", "Expected one of:"]
    lines += [f"  - {layout.description}" for layout in source.layouts]
    lines.append(f"Searched, in order (each directory, its raw/ and sub-folders named {', '.join(names)}):")
    for r in roots:
        state = "" if r.path.is_dir() else ", does not exist"
        lines.append(f"  {r.path}  ({r.origin}{state})")
    lines.append(download_note)
    lines.append("To get it: " + how_to_get(source))
    return "\n".join(lines)


def how_to_get(source: Source) -> str:
    """One line: the ways to make ``source`` available."""
    get = []
    if source.install_hint:
        get.append(f"'{source.install_hint}'")
    get.append(f"put the files in {cache_dir() / source.name}/")
    get.append("pass --data-dir DIR (data_dir=DIR) or set CONDENSATION_DATA")
    online = "; downloaded automatically when online" if source.resources else ""
    return ", or ".join(get) + f". Official files: {source.homepage}{online}"


def missing_hint(name: str) -> str:
    """For a built-in dataset: every accepted form of its files and how to get them, in one line."""
    source = SOURCES[parse_name(name)[0]]
    forms = " | ".join(layout.description for layout in source.layouts)
    expects = f"expects one of: {forms}" if len(source.layouts) > 1 else f"expects {forms}"
    return f"{expects}; to get it: {how_to_get(source)}"


def download_blocked_reason(download: bool) -> str | None:
    """Why a download must not be attempted, or None if it may."""
    if not download:
        return "Download: not attempted (download=False)."
    if offline():
        return "Download: not attempted (CONDENSATION_OFFLINE is set; unset it to allow downloads)."
    return None
