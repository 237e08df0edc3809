"""What a collection accepts from a Python caller: plain strings as documents, and queries and items of its own
modality (anything else is refused with a message that names the collection's modality); and the collection's
one-line ``repr``."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from ..encoders.text_query import QueryEncoder
from ..errors import CollectionError, QueryError
from ..sources import Document, ImageItem

TEXT_ID_PREFIX = "text-"
TEXT_ID_HEX = 16  # hex digits of the SHA-1 kept: 64 bits, no collision expected below billions of texts
IMAGE_QUERY = "an image file's path, a PIL image or an HxWx3 uint8 array"


def text_id(text: str) -> str:
    """The id a plain string gets when added as a document: ``text-`` and the first 16 hex digits of the SHA-1 of
    its UTF-8 bytes. The same text always gets the same id, so adding it again updates it rather than storing
    it twice."""
    digest = hashlib.sha1(text.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest()
    return TEXT_ID_PREFIX + digest[:TEXT_ID_HEX]


def as_item(item: Any) -> Any:
    """A plain string as a ``Document`` (its id from ``text_id``); anything else as it is (``check_item``
    judges it)."""
    return Document(id=text_id(item), text=item) if isinstance(item, str) else item


def _article(noun: str) -> str:
    return f"an {noun}" if noun[:1].lower() in "aeiou" else f"a {noun}"


def is_a(path: Path, modality: str) -> str:
    """``news.aer is a text collection``: how each wrong-modality message starts."""
    return f"{path.name} is {_article(modality)} collection"


def check_modality(path: Path, modality: str, items: Sequence[Document | ImageItem]) -> None:
    """``CollectionError`` naming the first of ``items`` that the collection at ``path`` cannot hold."""
    for item in items:
        if (modality == "image") != isinstance(item, ImageItem):
            wanted = "ImageItems (retrieval.images.to_pixels)" if modality == "image" else "Documents or strings"
            got = "text" if isinstance(item, Document) else _article(type(item).__name__)
            raise CollectionError(f"{item.id}: {is_a(path, modality)}: add {wanted}, not {got}")


def check_queries(path: Path, modality: str, queries: Sequence[Any]) -> list[Any]:
    """``queries`` as a list; ``QueryError`` for the first of the wrong modality: on a text collection anything
    but a string, on an image collection a string that reads as words rather than a file's path (white space
    in it, or no file suffix, and no such file)."""
    queries = list(queries)
    for q in queries:
        if modality == "text" and not isinstance(q, str):
            raise QueryError(f"{is_a(path, modality)}: search it with text, not {_kind(q)}")
        if modality == "image" and isinstance(q, str) and _reads_as_words(q):
            raise QueryError(f"{is_a(path, modality)}: search it with {IMAGE_QUERY}, not text ({q[:60]!r})")
    return queries


def _kind(query: Any) -> str:
    """What a query that is not text is, in words: ``an array``, ``an image``, ``a path``, ``a float``..."""
    if hasattr(query, "__array_interface__") and not hasattr(query, "getpixel"):
        return "an array"
    if type(query).__module__.startswith("PIL."):
        return "an image"
    return "a path" if isinstance(query, Path) else _article(type(query).__name__)


def _reads_as_words(query: str) -> bool:
    try:
        if Path(query).exists():
            return False
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        pass
    return any(ch.isspace() for ch in query.strip()) or not Path(query).suffix


class Described(Protocol):
    """What ``describe`` reads of a collection."""

    path: Path
    modality: str
    _queries: QueryEncoder

    def __len__(self) -> int: ...


def describe(col: Described) -> str:
    """``<Collection news.aer: text, 300 items, ae 32 floats>`` (read from what is loaded: never the full
    encoder of a collection opened for queries)."""
    codes = col._queries
    name = getattr(codes, "name", type(codes).__name__)
    if codes.bits:
        size = f"{codes.short_bits}+{codes.bits} bits" if codes.short_bits else f"{codes.bits} bits"
    else:
        size = f"{codes.dim} floats"
    count = len(col)
    return f"<Collection {col.path.name}: {col.modality}, {count:,} item{'s' * (count != 1)}, {name} {size}>"
