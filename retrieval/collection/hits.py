"""A search result, and how a search's ``(scores, keys)`` become results."""

from __future__ import annotations

import gc
from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

import numpy as np

Spans = tuple[tuple[int, int], ...]  # (start, end) character ranges of a snippet


class Hit(NamedTuple):
    """One item found by a search (or listed by ``outliers``); a higher ``score`` is always closer (more unusual).
    Immutable; a named tuple because a search makes one per hit (a third of a frozen dataclass's cost).

    What the score measures follows the collection's metric: the cosine similarity of the codes (``cosine``),
    the negated Euclidean distance (``l2``), ``1 - hamming / bits`` (binary codes); for ``outliers``, the
    item's outlier score. ``snippet``: what to show of a text item (a search's: the passage of its text that best
    matches the query, ``retrieval.collection.passages``); ``highlights``: the query's words in it, as
    ``(start, end)`` character spans.
    """

    id: str
    score: float
    label: str | None
    source: str
    snippet: str
    highlights: Spans = ()

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()


class _Record(Protocol):
    id: str
    label: str | None
    source: str
    snippet: str


def hit_of(record: _Record, score: float) -> Hit:
    """A stored item's record with its score, as a hit."""
    return Hit(record.id, float(score), record.label, record.source, record.snippet)


def assemble_hits(scores: np.ndarray, keys: np.ndarray, rows: Mapping[int, tuple]) -> list[list[Hit]]:
    """One list of hits per query row from the store's ``(key, id, source, label, snippet)`` rows by key; keys
    without a row (-1, or not in the store yet) are skipped."""
    out = []
    collecting = gc.isenabled()
    gc.disable()  # a batch makes thousands of tuples, none in a cycle: each GC pass would walk the whole heap
    try:
        for row_scores, row_keys in zip(scores.tolist(), keys.tolist()):
            out.append([Hit(r[1], s, r[3], r[2], r[4]) for s, key in zip(row_scores, row_keys)
                        if (r := rows.get(key)) is not None])  # fmt: skip
    finally:
        if collecting:
            gc.enable()
    return out
