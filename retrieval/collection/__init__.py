"""A collection: an encoder, a code index and a metadata store in one directory, and everything done to it.

- ``collection``: ``Collection``, the noun (open, add / update / delete, info); its searches come from
  ``search`` (encode the queries, search the index among the items a ``filters`` filter lets through, join the
  hits (``hits``) with the store's rows).
- ``directory``: its files on disk (manifest, atomic build, write lock, digests, the store's URL); ``store``
  the metadata store (SQLAlchemy), ``store_check`` reads its bytes back.
- ``ingest``: the one ingest path (``index_source``, ``add_source``); ``outliers``: outlier scores.
- ``verify`` checks a collection end to end, ``repair`` mends what is safe; ``summary``: what ``aer info``
  prints, read from the files alone.

Public names load on first use (PEP 562), so importing ``retrieval.collection.directory`` (as ``aer info``
does) loads neither the encoders nor the index.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_names

_LAZY = {
    "AddReport": "collection", "Collection": "collection", "Item": "collection", "Hit": "hits",
    "IndexReport": "ingest", "add_source": "ingest", "index_source": "ingest",
}  # fmt: skip

if TYPE_CHECKING:
    from .collection import AddReport, Collection, Item
    from .hits import Hit
    from .ingest import IndexReport, add_source, index_source

__getattr__, __dir__ = lazy_names(__name__, _LAZY)

__all__ = ["AddReport", "Collection", "Hit", "IndexReport", "Item", "add_source", "index_source"]
