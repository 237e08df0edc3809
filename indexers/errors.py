"""The root of every error the project raises on purpose, and the index layer's own errors.

The root lives in the lowest layer so that ``indexers`` need not import ``retrieval``; ``retrieval.errors``
re-exports it.
"""


class RetrievalError(Exception):
    """Base class for ae-retrieval errors."""


class IndexFileError(RetrievalError):
    """An index file is missing, damaged or not one this package writes."""


class InvalidParameterError(RetrievalError, ValueError):
    """A parameter's value is not one the function takes (the message names the parameter and the value)."""


class IndexWriteError(IndexFileError):
    """An index file could not be written (disk full, I/O error); ``errno`` says why when known."""

    def __init__(self, message: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno
