"""Writing a synthetic set in each format (atomically: a killed or failed export leaves the old
file or folder, and no temporary one)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..atomic import atomic_save, atomic_write, atomic_write_folder
from ..errors import SynsetFormatError
from ..synset import SyntheticSet
from .authors import authors_dict, authors_file_name
from .imagefolder import is_imagefolder_export, write_pngs
from .npz import npz_fields
from .tensors import is_tensors_export, write_mtt, write_tensors

__all__ = ["EXPORT_FORMATS", "export_set"]

EXPORT_FORMATS = ("authors", "tensors", "mtt", "imagefolder", "npz", "synset")


def export_set(
    synset: SyntheticSet | Sequence[SyntheticSet],
    to: str,
    out: str | os.PathLike,
    *,
    overwrite: bool = False,
    accuracies: Mapping[str, Sequence[float]] | None = None,
) -> Path:
    """Write ``synset`` in format ``to`` (one of ``EXPORT_FORMATS``) at ``out``; returns the path written.

    ``authors`` takes a list of sets (one experiment each) too; an ``out`` that is a folder (or
    does not end in ``.pt``) gets the authors' file name inside it. Its ``accs_all_exps`` is
    ``accuracies`` ({the authors' model name: accuracies as fractions}, e.g. ``run_accuracies`` of
    a run's ``synset.pt``) if given, else what the sets report (read from an authors' file), else
    ``{}``. ``tensors`` and ``imagefolder`` write the folder ``out`` (built beside it and renamed
    into place). An existing ``out`` is replaced only with ``overwrite``, and a folder only if it
    holds nothing but such an export. A multi-formation set (``factor`` > 1) keeps its stored
    images only in ``synset``; every other format gets the decoded images networks train on,
    since other tools cannot decode them. A failed write raises ``WriteError`` (an ``OSError``)
    naming ``out``.
    """
    to = str(to).lower()
    if to not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {to!r}; choose from {', '.join(EXPORT_FORMATS)}")
    sets = [synset] if isinstance(synset, SyntheticSet) else list(synset)
    if not sets:
        raise ValueError("nothing to export")
    if to != "synset":
        sets = [s.decoded() for s in sets]
    if len(sets) > 1 and to != "authors":
        raise ValueError(f"{len(sets)} synthetic sets (experiments); pick one with --experiment to export as {to}")
    first = sets[0]
    out = Path(out)
    if to == "authors":
        if out.is_dir() or out.suffix != ".pt":
            out = out / authors_file_name(first)
        _check_file_target(out, overwrite)
        return atomic_save(authors_dict(sets, accuracies), out)
    if to == "synset":
        _check_file_target(out, overwrite)
        return first.save(out)
    if to == "npz":
        _check_file_target(out, overwrite)
        fields = npz_fields(first)
        return atomic_write(out, lambda f: np.savez(f, **fields))
    _check_folder_target(out, overwrite, to)
    fill = {"tensors": write_tensors, "mtt": write_mtt}.get(to, write_pngs)
    return atomic_write_folder(out, lambda tmp: fill(first, tmp))


def _check_file_target(out: Path, overwrite: bool) -> None:
    if out.is_dir():
        raise SynsetFormatError(f"{out} is a folder; give a file name")
    if out.exists() and not overwrite:
        raise SynsetFormatError(f"{out} exists; pass --overwrite to replace it")


def _check_folder_target(out: Path, overwrite: bool, to: str) -> None:
    """An existing ``out`` must be a folder, empty, or (with ``overwrite``) an earlier export of kind ``to``."""
    if not out.exists():
        return
    if not out.is_dir():
        raise SynsetFormatError(f"{out} is a file; {to} export writes a folder")
    if any(out.iterdir()):
        if not overwrite:
            raise SynsetFormatError(f"{out} is not empty; pass --overwrite to replace it, or choose another OUT")
        ours = is_tensors_export(out) if to in ("tensors", "mtt") else is_imagefolder_export(out)
        if not ours:
            raise SynsetFormatError(f"{out} holds files other than a {to} export; choose another OUT")
