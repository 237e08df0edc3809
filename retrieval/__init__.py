"""ae-retrieval: deep-autoencoder codes for documents and images, searched with FAISS.

>>> import retrieval
>>> col = retrieval.open("news.aer")
>>> col
<Collection news.aer: text, 11,314 items, ae 32 floats>
>>> col.search("orbital launch of the shuttle", k=10)
>>> col.add(["a new launch window"])  # a plain string is a Document, its id "text-" + 16 hex digits of its SHA-1

Importing the package is cheap: each public name (and each submodule, e.g. ``retrieval.images``) is imported
on first use (PEP 562), so ``aer --help`` does not load torch or scikit-learn. It leaves its host process
alone: no environment variable, thread pool or random generator changes (``retrieval.threads.set_threads``
sizes the pools when a program asks; the ``aer`` command does it for its own process).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .lazy import lazy_names

__version__ = "0.1.0"

# public name -> the submodule that defines it (imported when the name is first asked for)
_LAZY = {
    "AddReport": "collection.collection", "Collection": "collection.collection",
    "ENCODERS": "encoders", "Encoder": "encoders", "create_encoder": "encoders", "load_encoder": "encoders",
    "CollectionError": "errors", "DeviceError": "errors", "EncoderFileError": "errors", "IndexFileError": "errors",
    "InvalidParameterError": "errors", "ItemNotFoundError": "errors", "MissingDependency": "errors",
    "NotFittedError": "errors", "QueryError": "errors", "RetrievalError": "errors", "SourceError": "errors",
    "UnknownLabelWarning": "errors",
    "Hit": "collection.hits",
    "IndexReport": "collection.ingest", "add_source": "collection.ingest", "index_source": "collection.ingest",
    "Snapshot": "collection.snapshot", "snapshot": "collection.snapshot", "restore": "collection.restore",
    "Document": "sources", "ImageItem": "sources", "Rejected": "sources",
}  # fmt: skip

if TYPE_CHECKING:  # what the names are, for type checkers and editors
    from .collection.collection import AddReport, Collection
    from .encoders import ENCODERS, Encoder, create_encoder, load_encoder
    from .errors import (
        CollectionError,
        DeviceError,
        EncoderFileError,
        IndexFileError,
        InvalidParameterError,
        ItemNotFoundError,
        MissingDependency,
        NotFittedError,
        QueryError,
        RetrievalError,
        SourceError,
        UnknownLabelWarning,
    )
    from .collection.hits import Hit
    from .collection.ingest import IndexReport, add_source, index_source
    from .collection.restore import restore
    from .collection.snapshot import Snapshot, snapshot
    from .sources import Document, ImageItem, Rejected


__getattr__, __dir__ = lazy_names(__name__, _LAZY)


def open(  # noqa: A001
    path: str | Path, *, device: str = "auto", db: str | None = None, ray: str | None = None, for_queries: bool = False
) -> Collection:
    """Open the collection at ``path`` for searching and adding (``db``: its metadata database URL, when
    it was made with one; ``AER_DATABASE_URL`` otherwise; ``ray``: a Ray cluster address whose actors hold
    and search the index shards in parallel; ``for_queries``: mainly to search, so a text encoder's query side
    runs in NumPy and the full encoder loads only if needed: ``Collection.open``)."""
    from .collection.collection import Collection

    cluster = None
    if ray:
        from .cluster import RayCluster  # Ray is optional

        cluster = RayCluster(ray)
    return Collection.open(path, device=device, db=db, cluster=cluster, for_queries=for_queries)


__all__ = [
    "ENCODERS", "AddReport", "Collection", "CollectionError", "DeviceError", "Document", "Encoder",
    "EncoderFileError", "Hit", "ImageItem", "IndexFileError", "IndexReport", "InvalidParameterError",
    "ItemNotFoundError", "MissingDependency", "NotFittedError", "QueryError", "Rejected", "RetrievalError",
    "SourceError", "UnknownLabelWarning", "add_source", "create_encoder", "index_source", "load_encoder", "open",
    "Snapshot", "restore", "snapshot",
]  # fmt: skip
