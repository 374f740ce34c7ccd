"""Every exception the package raises on purpose, in one place.

Each message is meant for the user: one line that names what is wrong and the fix. The CLI prints
``str(e)`` of these (and of ``OSError``/``ValueError``) as ``condense COMMAND: error: ...`` with
exit status 2; ``CONDENSATION_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "DataError",
    "DatasetNotFoundError",
    "DatasetCorruptError",
    "DownloadError",
    "ConfigError",
    "RunDirError",
    "SynsetFormatError",
    "DivergenceError",
    "RankDriftError",
    "ReportError",
    "WriteError",
    "RunInterrupted",
    "USER_ERRORS",
]


# ---------------------------------------------------------------------- data
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


class DownloadError(DataError):
    """A download failed for a network or file-system reason; the message says why in one line."""


# ---------------------------------------------------------------------- settings and runs
class ConfigError(ValueError):
    """An invalid setting; the message names the allowed values."""


class RunDirError(RuntimeError):
    """The output directory cannot be used as asked: it holds another run, has no checkpoint to
    resume, or its checkpoint cannot be resumed (unreadable, other settings, past the requested
    iterations)."""


class DivergenceError(RuntimeError):
    """The loss or the images became NaN or infinite, or the images left the data's range by far
    (``divergence``); the last good files are kept."""


class RankDriftError(RuntimeError):
    """Under ``torchrun``: the network every process trains identically differs between processes
    (non-deterministic kernels), so their steps no longer make one set; the last good files are kept."""


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C (SIGINT) or SIGTERM. The message says where it stopped, what is
    kept and how to continue; ``status`` is the exit status (130 for SIGINT, 143 for SIGTERM)."""

    def __init__(self, message: str, status: int = 130):
        super().__init__(message)
        self.status = status


# ---------------------------------------------------------------------- files and pages
class SynsetFormatError(ValueError):
    """A file that is not a valid synthetic-set file."""


class ReportError(ValueError):
    """The directory is not one a report can be made of, or one of its files is unreadable."""


class WriteError(OSError):
    """A file or folder could not be written: ``OSError(errno, strerror, target)`` whose message
    is ``cannot write TARGET: REASON``, naming the file asked for, not the temporary one."""

    def __str__(self) -> str:
        return f"cannot write {self.filename}: {self.strerror}"


# What the CLI turns into one line and exit status 2.
USER_ERRORS: tuple[type[BaseException], ...] = (
    DataError, ConfigError, SynsetFormatError, RunDirError, DivergenceError, RankDriftError, ReportError, OSError,
    ValueError,
)
