"""The data package's errors (defined with every other exception in ``condensation.errors``)."""

from ..errors import DataError, DatasetCorruptError, DatasetNotFoundError, DownloadError

__all__ = ["DataError", "DatasetNotFoundError", "DatasetCorruptError", "DownloadError"]
