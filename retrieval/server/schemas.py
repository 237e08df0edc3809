"""The API's request and response bodies (they are also what ``/docs`` shows)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .limits import MAX_K


class HitOut(BaseModel):
    id: str
    score: float
    label: str | None
    snippet: str = Field(description="What to show of a text item: the passage that best matches the query.")
    source: str
    highlights: list[tuple[int, int]] = Field(
        default_factory=list,
        description="The query's words in the snippet: [start, end) offsets in Unicode code points (not UTF-16).",
    )


class SearchOut(BaseModel):
    hits: list[HitOut]
    took_ms: float


class SearchBody(BaseModel):
    """``{"q": TEXT, "k": K}`` or ``{"like": ID, "k": K}``, with optional filters."""

    model_config = ConfigDict(extra="forbid")

    q: str | None = Field(None, min_length=1, description="Query text (text collections).")
    like: str | None = Field(None, min_length=1, description="Find items like this stored item id.")
    k: int = Field(10, ge=1, le=MAX_K, description="How many hits.")
    label: str | list[str] | None = Field(None, description="Keep only hits with this label (or one of these).")
    id_prefix: str | None = Field(None, min_length=1, description="Keep only hits whose id starts with this.")

    @model_validator(mode="after")
    def _one_query(self) -> SearchBody:
        if (self.q is None) == (self.like is None):
            raise ValueError("give exactly one of 'q' (text) and 'like' (an item id)")
        return self


class NewItem(BaseModel):
    """One text item to add; an ``id`` already there is updated."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=1000)
    text: str
    label: str | None = Field(None, max_length=1000)


class Rejection(BaseModel):
    id: str
    reason: str


class AddOut(BaseModel):
    added: int
    updated: int
    rejected: list[Rejection]
    outlier_scores: dict[str, float]
    items: int


class DeleteOut(BaseModel):
    deleted: list[str]
    items: int


class ItemOut(BaseModel):
    id: str
    label: str | None
    source: str
    snippet: str
    thumbnail: str | None = None
    text: str | None = Field(None, description="The whole stored text (GET /items/{id}; null where only a snippet "
                                               "is kept, and in /sample).")  # fmt: skip


class SampleOut(BaseModel):
    """What the search page offers before a search: a few stored items, one per label first, and the labels."""

    items: list[ItemOut]
    labels: list[str] = Field(description="The collection's distinct labels, sorted (at most the first 100).")
    labels_total: int = Field(description="How many distinct labels the collection has.")


class HealthOut(BaseModel):
    status: str
    items: int


def where_of(label: str | list[str] | None, id_prefix: str | None) -> dict[str, Any] | None:
    """The ``where=`` filter of ``Collection.search`` for these parameters (``None``: no filter)."""
    where: dict[str, Any] = {}
    if label:
        where["label"] = label if isinstance(label, str) else list(label)
    if id_prefix:
        where["id_prefix"] = id_prefix
    return where or None


class ImageSearchForm(BaseModel):
    """The text fields of an image search upload."""

    k: int = Field(10, ge=1, le=MAX_K)
    label: list[str] | None = None
    id_prefix: str | None = Field(None, min_length=1)


class OutliersOut(SearchOut):
    score: str  # which outlier score ranked them
