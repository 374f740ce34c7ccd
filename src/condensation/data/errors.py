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

    def __reduce__(self):  # picklable, so that decoding processes can raise it
        return (type(self), (str(self), self.name, self.searched))


class DatasetCorruptError(DataError):
    """A dataset file exists but cannot be used as it is: ``path`` names it, ``problem`` says what
    is wrong and ``fix`` (optional) what to do about it; the message is ``"path: problem; fix"``."""

    def __init__(self, path: Path | str, problem: str, fix: str | None = None):
        self.path = Path(path)
        self.problem = problem
        self.fix = fix
        self._where = str(path)
        super().__init__(f"{path}: {problem}" + (f"; {fix}" if fix else ""))

    def __reduce__(self):  # picklable, so that decoding processes can raise it
        return (type(self), (self._where, self.problem, self.fix))
