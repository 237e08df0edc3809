"""ae-retrieval: deep-autoencoder codes for documents and images, searched with FAISS.

>>> import retrieval
>>> col = retrieval.open("news.aer")
>>> col.search("orbital launch of the shuttle", k=10)
"""

from __future__ import annotations

import os
from pathlib import Path

from . import threads  # first: OpenMP's wait policy must be set before torch and faiss load

# isort: split
from .collection import AddReport, Collection
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
)
from .hit import Hit
from .indexing import IndexReport, add_source, index_source
from .sources import Document, ImageItem, Rejected

__version__ = "0.1.0"

if os.environ.get(threads.ENV):
    threads.set_threads()


def open(path: str | Path, *, device: str = "auto", db: str | None = None, ray: str | None = None) -> Collection:  # noqa: A001
    """Open the collection at ``path`` for searching and adding (``db``: its metadata database URL, when
    it was made with one; ``AER_DATABASE_URL`` otherwise; ``ray``: a Ray cluster address whose actors hold
    and search the index shards in parallel)."""
    cluster = None
    if ray:
        from .cluster import RayCluster  # Ray is optional

        cluster = RayCluster(ray)
    return Collection.open(path, device=device, db=db, cluster=cluster)


__all__ = [
    "ENCODERS", "AddReport", "Collection", "CollectionError", "DeviceError", "Document", "Encoder",
    "EncoderFileError", "Hit", "ImageItem", "IndexFileError", "IndexReport", "InvalidParameterError",
    "ItemNotFoundError", "MissingDependency", "NotFittedError", "QueryError", "Rejected", "RetrievalError",
    "SourceError", "add_source", "create_encoder", "index_source", "load_encoder", "open",
]  # fmt: skip
