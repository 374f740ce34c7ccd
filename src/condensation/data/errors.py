"""Errors raised by the data package: one base class, one for missing data, one for bad files."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DataError", "DatasetNotFoundError", "DatasetCorruptError"]


class DataError(Exception):
    """Base class of every data-loading error; ``str(e)`` is a message meant for the user."""


class DatasetNotFoundError(DataError):
    """The dataset's files are in none of the searched places (and could not be downloaded).

    ``name`` is the dataset, ``searched`` the directories looked at, in order.
    """

    def __init__(self, message: str, name: str = "", searched: list[Path] | None = None):
        super().__init__(message)
        self.name = name
        self.searched = list(searched or [])


class DatasetCorruptError(DataError):
    """A dataset file exists but cannot be used: ``path`` names it, ``problem`` says what is wrong."""

    def __init__(self, path: Path | str, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")
