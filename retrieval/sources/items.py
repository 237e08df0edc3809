"""What a corpus source yields: documents to index, and items it had to reject."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

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


def contents(items: list[Document | ImageItem]) -> list[str] | np.ndarray:
    """What an encoder reads from ``items``: their texts, or their images stacked ``(n, 32, 32, 3)``."""
    if items and isinstance(items[0], ImageItem):
        return np.stack([i.pixels for i in items])
    return [i.content for i in items]
