"""Every error the library raises on purpose. The CLI turns these into clean messages."""

import errno as _errno

from indexers.errors import IndexFileError, InvalidParameterError, RetrievalError

__all__ = [
    "CollectionError", "DeviceError", "EncoderFileError", "IndexFileError", "InvalidParameterError",
    "ItemNotFoundError", "MissingDependency", "NotFittedError", "QueryError", "RetrievalError", "SourceError",
    "StorageError", "UnavailableScoreError", "UnknownLabelWarning",
]  # fmt: skip


class SourceError(RetrievalError):
    """A corpus source cannot be read at all (missing path, unknown format)."""


class CollectionError(RetrievalError):
    """A collection directory is missing, foreign or inconsistent."""


class StorageError(CollectionError):
    """A collection's files could not be written (disk full, I/O error); ``errno`` says why when known."""

    def __init__(self, message: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno

    @property
    def disk_full(self) -> bool:
        """Whether the disk (or the user's quota) is full."""
        return self.errno in (_errno.ENOSPC, _errno.EDQUOT)


class UnavailableScoreError(CollectionError):
    """An outlier score this collection cannot give (e.g. reconstruction error of an encoder that does not
    reconstruct): the request, not the collection, is at fault."""


class NotFittedError(RetrievalError, ValueError, AttributeError):
    """An encoder was used before ``fit`` (or ``load``)."""


class EncoderFileError(RetrievalError):
    """An encoder's saved files are missing, foreign or tampered with."""


class QueryError(RetrievalError, ValueError):
    """A query cannot be encoded (empty, or no word of it is in the vocabulary)."""


class ItemNotFoundError(RetrievalError, KeyError):
    """An item id is not in the collection."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class DeviceError(RetrievalError):
    """The requested compute device is not available."""


class MissingDependency(RetrievalError, ImportError):
    """An optional dependency is not installed; the message names the ``pip install`` to run."""


class UnknownLabelWarning(UserWarning):
    """A search filter names a label no item has (a typo, most often); the message names the nearest labels."""
