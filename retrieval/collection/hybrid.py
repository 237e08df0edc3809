"""Search modes: ``codes`` (the nearest codes), ``keyword`` (BM25 over the keyword index, ``keywords``) and
``hybrid`` (the two rankings fused by reciprocal rank fusion, as LanceDB, Qdrant and Weaviate offer).

Reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009) scores an item ``sum 1 / (c + rank)`` over the
rankings it is in (rank from 1, ``c`` = 60 as in the paper), so it needs no calibration between a cosine
similarity and a BM25 score. Each ranking is taken ``max(2 k, HYBRID_DEPTH)`` deep, among the items a filter
lets through (the filter applies to both).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..defaults import HYBRID_DEPTH, RRF_K, SEARCH_MODE, SEARCH_MODES
from ..errors import InvalidParameterError, QueryError
from . import keywords


def resolve_mode(col: Any, mode: str | None) -> str:
    """The mode a search runs in: ``mode`` checked, or the default (``SEARCH_MODE`` where the collection keeps a
    keyword index, else ``codes``). Asking for ``keyword`` or ``hybrid`` where there is no keyword index is a
    ``CollectionError`` saying why (``keywords.read``)."""
    if mode is None:
        return SEARCH_MODE if keywords.keeps(col) else "codes"
    if mode not in SEARCH_MODES:
        raise InvalidParameterError(f"The 'mode' parameter must be one of {', '.join(SEARCH_MODES)}. Got {mode!r} instead.")
    if mode != "codes":
        keywords.read(col)
    return mode


def search(
    col: Any, queries: Sequence[Any], k: int, where: Any, mode: str, oversample: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` ``(scores, keys)`` per query in ``keyword`` or ``hybrid`` mode (key -1 where fewer are found); the
    codes' ranking is ``col.code_search``'s (re-scored with float codes where the collection keeps them)."""
    bad = next((q for q in queries if not isinstance(q, str)), None)
    if bad is not None:
        raise QueryError(f"{mode} search takes text queries. Got a {type(bad).__name__} instead.")
    index = keywords.read(col)
    allowed = col.matching_keys(where)
    if mode == "keyword":
        return index.search(list(queries), k, allowed)
    depth = max(2 * k, HYBRID_DEPTH)
    _, by_words = index.search(list(queries), depth, allowed)
    by_codes, failed = _code_rankings(col, queries, depth, where, oversample)
    for q, error in failed.items():
        if not (by_words[q] >= 0).any():  # neither side found anything: say why the codes could not
            raise error
    return fuse([by_codes, by_words], k)


def _code_rankings(
    col: Any, queries: Sequence[str], depth: int, where: Any, oversample: float | None
) -> tuple[np.ndarray, dict[int, QueryError]]:
    """The codes' top ``depth`` keys per query; a query that cannot be encoded (no word of the encoder's
    vocabulary) gets an empty ranking, its error kept."""
    keys = np.full((len(queries), depth), -1, np.int64)
    try:
        return col.code_search(queries, depth, where, oversample)[1], {}
    except QueryError:
        pass
    failed: dict[int, QueryError] = {}
    for q, query in enumerate(queries):  # one at a time, to find the ones that cannot be encoded
        try:
            row = col.code_search([query], depth, where, oversample)[1][0]
            keys[q, : len(row)] = row  # a collection smaller than depth gives a shorter row
        except QueryError as exc:
            failed[q] = exc
    return keys, failed


def fuse(rankings: Sequence[np.ndarray], k: int, constant: int = RRF_K) -> tuple[np.ndarray, np.ndarray]:
    """Reciprocal rank fusion of ``rankings`` (each ``(n_queries, depth)`` keys, best first, -1 for none): the top
    ``k`` ``(scores, keys)`` per query by ``sum 1 / (constant + rank)``, rank from 1. Ties go to the item met
    first reading the rankings rank by rank, the first ranking first."""
    n = len(rankings[0])
    scores = np.zeros((n, k), np.float32)
    keys = np.full((n, k), -1, np.int64)
    weights = 1.0 / (constant + np.arange(1, max(r.shape[1] for r in rankings) + 1))
    for q in range(n):
        fused: dict[int, float] = {}
        rows = [r[q].tolist() for r in rankings]
        for rank in range(max(map(len, rows))):
            for row in rows:
                if rank < len(row) and (key := row[rank]) >= 0:
                    fused[key] = fused.get(key, 0.0) + weights[rank]
        best = sorted(fused.items(), key=lambda kv: -kv[1])[:k]  # stable: ties keep the order met
        keys[q, : len(best)] = [key for key, _ in best]
        scores[q, : len(best)] = [score for _, score in best]
    return scores, keys
