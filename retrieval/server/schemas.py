"""The API's request and response bodies (they are also what ``/docs`` shows)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..defaults import SEARCH_MODE
from .limits import MAX_DEPTH, MAX_K


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
    warnings: list[str] = Field(
        default_factory=list,
        description="What the search warns of, e.g. a filter label no item has (naming the nearest labels).",
    )


OFFSET_HELP = (f"Skip this many of the best hits: the next page of k is offset=k (offset + k at most {MAX_DEPTH}). "
               "Pages are disjoint and in order on an exhaustive index and for a filtered search; on an approximate "
               "index deep pages are approximate (an item may repeat or be skipped between pages).")


def check_depth(k: int, offset: int) -> None:
    """Refuse a page that reaches deeper than ``MAX_DEPTH`` into the ranking."""
    if offset + k > MAX_DEPTH:
        raise ValueError(f"offset + k must be at most {MAX_DEPTH}. Got {offset} + {k} = {offset + k} instead.")


class LabelOut(BaseModel):
    label: str
    items: int = Field(description="How many items have the label.")


class LabelsOut(BaseModel):
    """The collection's labels with their item counts, most items first."""

    labels: list[LabelOut]
    total: int = Field(description="How many distinct labels the collection has (``labels`` may list fewer).")


SearchMode = Literal["codes", "keyword", "hybrid"]  # retrieval.defaults.SEARCH_MODES
MODE_HELP = (f"Text collections: codes (the nearest codes), keyword (BM25 over the words) or hybrid (the two fused by "
             f"reciprocal rank fusion); default: {SEARCH_MODE} where the collection keeps a keyword index, else codes.")


OVERSAMPLE_HELP = ("Binary collections that keep float codes: re-score the Hamming top (offset + k) × oversample with "
                   "them (default: the collection's, 4); 0: the Hamming ranking alone.")
MAX_OVERSAMPLE = 100


class SearchBody(BaseModel):
    """``{"q": TEXT, "k": K}`` or ``{"like": ID, "k": K}``, with optional filters."""

    model_config = ConfigDict(extra="forbid")

    q: str | None = Field(None, min_length=1, description="Query text (text collections).")
    like: str | None = Field(None, min_length=1, description="Find items like this stored item id.")
    k: int = Field(10, ge=1, le=MAX_K, description="How many hits.")
    offset: int = Field(0, ge=0, description=OFFSET_HELP)
    label: str | list[str] | None = Field(None, description="Keep only hits with this label (or one of these).")
    id_prefix: str | None = Field(None, min_length=1, description="Keep only hits whose id starts with this.")
    mode: SearchMode | None = Field(None, description=MODE_HELP)
    oversample: float | None = Field(None, ge=0, le=MAX_OVERSAMPLE, description=OVERSAMPLE_HELP)

    @model_validator(mode="after")
    def _one_query(self) -> SearchBody:
        if (self.q is None) == (self.like is None):
            raise ValueError("give exactly one of 'q' (text) and 'like' (an item id)")
        if self.like is not None and self.mode not in (None, "codes"):
            raise ValueError(f"'like' searches by the item's code; mode {self.mode!r} takes a text query 'q'")
        check_depth(self.k, self.offset)
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
    offset: int = Field(0, ge=0)
    label: list[str] | None = None
    id_prefix: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _depth(self) -> ImageSearchForm:
        check_depth(self.k, self.offset)
        return self


class OutliersOut(SearchOut):
    score: str  # which outlier score ranked them
