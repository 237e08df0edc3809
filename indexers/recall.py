"""Recall of an approximate search against exact search: one ``recall_at_k``, and a probe that keeps the exact
top-k of a few queries up to date while codes stream past (``queries x k`` memory, not a second copy of the codes).
"""

from __future__ import annotations

import numpy as np

from .bits import hamming_distances
from .errors import InvalidParameterError
from .spec import METRICS


def recall_at_k(
    found_keys: np.ndarray,
    true_keys: np.ndarray,
    k: int,
    *,
    found_scores: np.ndarray | None = None,
    true_scores: np.ndarray | None = None,
    tolerance: float = 1e-5,
) -> float:
    """Mean over queries of the share of the true top-``k`` that the found top-``k`` holds.

    ``found_keys``, ``true_keys``: one row per query, best first, ``-1`` for no result (only the first ``k``
    columns count). A query's true set is its true keys other than ``-1``; queries with none are left out
    (1.0 when every query is). With ``found_scores`` and ``true_scores`` (higher is closer, as ``search``
    gives) a found item counts when it is as close as the true ``k``-th neighbour (within ``tolerance``), so
    an item tied with it at the same distance is not a miss.
    """
    found = np.atleast_2d(np.asarray(found_keys))[:, :k]
    truth = np.atleast_2d(np.asarray(true_keys))[:, :k]
    if len(found) != len(truth):
        raise InvalidParameterError(f"{len(found)} rows of found keys for {len(truth)} rows of true keys")
    if (found_scores is None) != (true_scores is None):
        raise InvalidParameterError("Give both 'found_scores' and 'true_scores', or neither.")
    sizes = (truth >= 0).sum(axis=1)
    if found_scores is None:
        hits = np.array([np.isin(f[f >= 0], t[t >= 0]).sum() for f, t in zip(found, truth)], dtype=np.int64)
    else:
        fs = np.atleast_2d(np.asarray(found_scores, dtype=np.float64))[:, : found.shape[1]]
        ts = np.atleast_2d(np.asarray(true_scores, dtype=np.float64))[:, : truth.shape[1]]
        kth = ts[np.arange(len(ts)), np.maximum(sizes - 1, 0)][:, None] if ts.shape[1] else np.zeros((len(ts), 1))
        hits = ((fs >= kth - tolerance) & (found >= 0)).sum(axis=1)
    asked = sizes > 0
    if not asked.any():
        return 1.0
    return float(np.mean(np.minimum(hits[asked], sizes[asked]) / sizes[asked]))


class RecallProbe:
    """Exact top-``k`` of ``queries`` over every code passed to :meth:`update`.

    ``metric`` is ``cosine``, ``l2`` or ``hamming`` (packed codes); scores follow the indexes'
    convention (higher is closer), so they compare with what ``index.search`` returns.
    """

    def __init__(self, queries: np.ndarray, k: int = 10, metric: str = "cosine") -> None:
        if metric not in METRICS:
            raise InvalidParameterError(f"The 'metric' parameter must be one of {METRICS}. Got {metric!r} instead.")
        self.metric, self.k = metric, k
        self.queries = self._prepared(queries)
        self.best = np.full((len(self.queries), 0), -np.inf, dtype=np.float64)
        self.best_keys = np.full((len(self.queries), 0), -1, dtype=np.int64)

    def update(self, keys: np.ndarray, codes: np.ndarray) -> None:
        """Fold a batch of added ``codes`` (under ``keys``) into the exact top-``k``."""
        keys = np.asarray(keys, dtype=np.int64).reshape(-1)
        scores = np.concatenate([self.best, self._scores(self._prepared(codes))], axis=1)
        all_keys = np.concatenate([self.best_keys, np.broadcast_to(keys, (len(self.queries), len(keys)))], axis=1)
        order = np.argsort(-scores, axis=1, kind="stable")[:, : self.k]
        self.best = np.take_along_axis(scores, order, axis=1)
        self.best_keys = np.take_along_axis(all_keys, order, axis=1)

    def recall(self, index: object) -> float:
        """Share of ``index``'s top-``k`` that is as close as the exact ``k``-th neighbour (1.0 = exact)."""
        if self.best.shape[1] == 0:
            return 1.0
        found, keys = index.search(self.queries, self.best.shape[1])  # type: ignore[attr-defined]
        return recall_at_k(keys, self.best_keys, self.best.shape[1], found_scores=found, true_scores=self.best)

    def _prepared(self, codes: np.ndarray) -> np.ndarray:
        if self.metric == "hamming":
            return np.atleast_2d(np.asarray(codes, dtype=np.uint8))
        codes = np.atleast_2d(np.asarray(codes, dtype=np.float32))
        if self.metric == "cosine":
            codes = codes / np.maximum(np.linalg.norm(codes, axis=1, keepdims=True), 1e-12)
        return codes

    def _scores(self, codes: np.ndarray) -> np.ndarray:
        q = self.queries
        if self.metric == "hamming":
            return 1.0 - hamming_distances(q, codes) / (8 * q.shape[1])
        if self.metric == "cosine":
            return q.astype(np.float64) @ codes.T.astype(np.float64)
        d2 = (q**2).sum(1)[:, None] + (codes**2).sum(1)[None, :] - 2 * q @ codes.T
        return -np.sqrt(np.maximum(d2, 0)).astype(np.float64)
