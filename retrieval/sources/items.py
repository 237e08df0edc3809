"""What a corpus source yields: documents to index, and items it had to reject."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..ids import encodable, id_problem, normal_id, printable

SNIPPET_CHARS = 240  # what a search result shows of a text


@dataclass(frozen=True)
class Document:
    """One text item. ``id`` is stable for a source, so re-indexing updates it."""

    id: str
    text: str
    label: str | None = None
    source: str = ""
    note: str | None = None  # how the item was read, when that is worth telling (truncated, not UTF-8)

    @property
    def content(self) -> str:
        """What the encoder reads."""
        return self.text

    @property
    def snippet(self) -> str:
        """The start of the text, white space folded: what a search result shows."""
        return " ".join(self.text.split())[:SNIPPET_CHARS]


@dataclass(frozen=True)
class ImageItem:
    """One image, already brought to ``(32, 32, 3)`` uint8 by ``retrieval.images.to_pixels``."""

    id: str
    pixels: np.ndarray = field(repr=False)
    label: str | None = None
    source: str = ""

    @property
    def content(self) -> np.ndarray:
        return self.pixels

    snippet = ""  # an image has no text to show


@dataclass(frozen=True)
class Rejected:
    """An item that could not be read, with the reason in words."""

    id: str
    reason: str

    def __str__(self) -> str:
        return f"{self.id}: {self.reason}"


def check_item(item: object) -> Document | ImageItem | Rejected:
    """``item`` with its id in NFC form when it can be indexed; else a ``Rejected`` naming it and why (a bad
    id, text that is not a non-empty string, pixels that are not ``(32, 32, 3)`` uint8, a label that is not a
    string)."""
    if not isinstance(item, (Document, ImageItem)):
        return Rejected(printable(str(getattr(item, "id", repr(item)[:80]))), "not a Document or an ImageItem")
    name = printable(item.id) if isinstance(item.id, str) else repr(item.id)
    if why := id_problem(normal_id(item.id) if isinstance(item.id, str) else item.id):
        return Rejected(name, why)
    if item.label is not None and (not isinstance(item.label, str) or not encodable(item.label)):
        return Rejected(name, f"the label must be a string of valid Unicode, not {type(item.label).__name__}")
    if isinstance(item, Document):
        if not isinstance(item.text, str):
            return Rejected(name, f"the text must be a string, not {type(item.text).__name__}")
        if not item.text.strip():
            return Rejected(name, "empty text")
        if not encodable(item.text):
            return Rejected(name, "the text is not valid Unicode (it holds a lone surrogate)")
    else:
        pixels = item.pixels
        if not isinstance(pixels, np.ndarray) or pixels.shape != (32, 32, 3) or pixels.dtype != np.uint8:
            got = f"{pixels.dtype} {pixels.shape}" if isinstance(pixels, np.ndarray) else type(pixels).__name__
            return Rejected(name, f"the pixels must be a (32, 32, 3) uint8 array (images.to_pixels), not {got}")
    return item if normal_id(item.id) == item.id else replace(item, id=normal_id(item.id))


def contents(items: list[Document | ImageItem]) -> list[str] | np.ndarray:
    """What an encoder reads from ``items``: their texts, or their images stacked ``(n, 32, 32, 3)``."""
    if items and isinstance(items[0], ImageItem):
        return np.stack([i.pixels for i in items])
    return [i.content for i in items]
