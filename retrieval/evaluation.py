"""Retrieval metrics over ranked labels: precision@k and (m)AP, as the benchmarks report them.

Protocol: each query's ranking of the database; an item is relevant when it has the query's label.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def relevance(query_labels: Sequence, ranked_labels: np.ndarray) -> np.ndarray:
    """Boolean ``(n_queries, depth)``: is the item at each rank of the query's label?"""
    return np.asarray(ranked_labels) == np.asarray(query_labels)[:, None]


def precision_at(rel: np.ndarray, k: int) -> np.ndarray:
    """Per-query precision over the first ``k`` ranks."""
    return rel[:, :k].sum(axis=1) / k


def average_precision(rel: np.ndarray, n_relevant: np.ndarray) -> np.ndarray:
    """Per-query AP of the ranking in ``rel``: the mean, over all ``n_relevant`` relevant items,
    of the precision at each one's rank (relevant items below the depth of ``rel`` count 0).
    Over a full ranking this is the usual AP; over the top 1000 it is AP@1000 in that sense."""
    hits = np.cumsum(rel, axis=1)
    ranks = np.arange(1, rel.shape[1] + 1)
    return (hits / ranks * rel).sum(axis=1) / np.maximum(n_relevant, 1)


class RankingScores:
    """Accumulates P@k and AP over query chunks, so a full ranking never needs to fit in memory."""

    def __init__(self, database_labels: Sequence, ks: Sequence[int] = (10, 100)) -> None:
        labels, counts = np.unique(np.asarray(database_labels, dtype=object).astype(str), return_counts=True)
        self._n_rel = dict(zip(labels, counts))
        self.ks = tuple(ks)
        self._prec: dict[int, list[np.ndarray]] = {k: [] for k in self.ks}
        self._ap: list[np.ndarray] = []

    def add(self, query_labels: Sequence, ranked_labels: np.ndarray) -> None:
        """Score one chunk: ``ranked_labels[i]`` are the labels of query ``i``'s ranking."""
        q = np.asarray(query_labels, dtype=object).astype(str)
        rel = relevance(q, np.asarray(ranked_labels, dtype=object).astype(str))
        for k in self.ks:
            self._prec[k].append(precision_at(rel, k))
        self._ap.append(average_precision(rel, np.array([self._n_rel.get(x, 0) for x in q])))

    def result(self) -> dict[str, float]:
        out = {f"p@{k}": float(np.concatenate(v).mean()) for k, v in self._prec.items()}
        out["map"] = float(np.concatenate(self._ap).mean())
        out["queries"] = int(sum(len(a) for a in self._ap))
        return out
