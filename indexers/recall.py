"""Recall of an approximate index against exact search, measured while the codes stream past.

The exact top-k of a few probe queries is kept up to date batch by batch as codes are added, so the
ground truth costs ``queries x k`` memory, not a second copy of the codes.
"""

from __future__ import annotations

import numpy as np

from .binary_index import hamming_distances


class RecallProbe:
    """Exact top-``k`` scores of ``queries`` over every code passed to :meth:`update`.

    ``metric`` is ``cosine``, ``l2`` or ``hamming`` (packed codes); scores follow the indexes'
    convention (higher is closer), so they compare with what ``index.search`` returns.
    """

    def __init__(self, queries: np.ndarray, k: int = 10, metric: str = "cosine") -> None:
        if metric not in ("cosine", "l2", "hamming"):
            raise ValueError(f"The 'metric' parameter must be cosine, l2 or hamming. Got {metric!r} instead.")
        self.metric, self.k = metric, k
        self.queries = self._prepared(queries)
        self.best = np.full((len(self.queries), 0), -np.inf, dtype=np.float64)

    def update(self, keys: np.ndarray, codes: np.ndarray) -> None:
        """Fold a batch of added ``codes`` into the exact top-``k``."""
        del keys  # recall is judged by score, which is robust to ties at the k-th place
        scores = np.concatenate([self.best, self._scores(self._prepared(codes))], axis=1)
        keep = min(self.k, scores.shape[1])
        self.best = -np.sort(-scores, axis=1)[:, :keep]

    def recall(self, index: object) -> float:
        """Share of ``index``'s top-``k`` that is as close as the exact ``k``-th neighbour (1.0 = exact)."""
        if self.best.shape[1] == 0:
            return 1.0
        k = self.best.shape[1]
        found, keys = index.search(self.queries, k)  # type: ignore[attr-defined]
        threshold = self.best[:, -1:] - 1e-5  # float rounding between numpy and faiss
        hits = ((found >= threshold) & (keys >= 0)).sum(axis=1)
        return float(hits.mean() / k)

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
