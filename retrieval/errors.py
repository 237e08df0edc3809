"""Every error the library raises on purpose. The CLI turns these into clean messages."""


class RetrievalError(Exception):
    """Base class for ae-retrieval errors."""


class SourceError(RetrievalError):
    """A corpus source cannot be read at all (missing path, unknown format)."""


class CollectionError(RetrievalError):
    """A collection directory is missing, foreign or inconsistent."""


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
