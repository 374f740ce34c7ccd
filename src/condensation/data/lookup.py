"""A dataset's spec from its name: built-in constants, or read from a user's files."""

from __future__ import annotations

from .custom import custom_spec
from .specs import DatasetSpec, builtin_spec, parse_name, resolution_of

__all__ = ["get_spec"]


def get_spec(name: str | DatasetSpec) -> DatasetSpec:
    """The spec of a dataset by name (case-insensitive, aliases accepted), or ``name`` itself if a spec.

    For ``imagefolder:PATH[@N]`` / ``npz:PATH`` this reads the data once per process to compute the
    shape, classes and mean/std (``DatasetNotFoundError`` / ``DatasetCorruptError`` if it cannot).
    """
    if isinstance(name, DatasetSpec):
        return name
    kind, path = parse_name(name)
    if path is None:
        return builtin_spec(kind)
    return custom_spec(kind, path, resolution_of(name))
