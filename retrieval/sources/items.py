"""What a corpus source yields: documents to index, and items it had to reject."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Document:
    """One text item. ``id`` is stable for a source, so re-indexing updates it."""

    id: str
    text: str
    label: str | None = None
    source: str = ""


@dataclass(frozen=True)
class Rejected:
    """An item that could not be read, with the reason in words."""

    id: str
    reason: str

    def __str__(self) -> str:
        return f"{self.id}: {self.reason}"
