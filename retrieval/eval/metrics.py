"""Retrieval metrics over ranked labels: precision@k and (m)AP, as the benchmarks report them.

Protocol: each query's ranking of the database; an item is relevant when it has the query's label.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def relevance(query_labels: Sequence, ranked_labels: np.ndarray) -> np.ndarray:
    """Boolean ``(n_queries, depth)``: is the item at each rank of the query's label?"""
    return np.asarray(ranked_labels) == np.asarray(query_labels)[:, None]


def precision_at(rel: np.ndarray, k: int) -> np.ndarray:
    """Per-query precision over the first ``k`` ranks."""
    return rel[:, :k].sum(axis=1) / k


def precision_by_label(
    query_labels: Sequence, ranked_labels: Sequence[Sequence], ks: Sequence[int] = (10, 100)
) -> dict[str, float]:
    """Mean P@k for each of ``ks``: ``ranked_labels[i]`` are the labels of query ``i``'s ranking, best first.

    ``None`` (an unlabelled item) is never relevant; a ranking shorter than ``k`` counts its missing ranks as misses.
    """
    ids: dict = {}
    queries = np.array([ids.setdefault(lab, len(ids)) for lab in query_labels], dtype=np.int64)
    depth = max(ks)
    ranked = np.full((len(queries), depth), -1, dtype=np.int64)
    for i, row in enumerate(ranked_labels):
        row = list(row)[:depth]
        ranked[i, : len(row)] = [-1 if lab is None else ids.get(lab, -1) for lab in row]
    rel = relevance(queries, ranked) & (ranked >= 0)
    return {f"p@{k}": float(precision_at(rel, k).mean()) for k in ks}


def average_precision(rel: np.ndarray, n_relevant: np.ndarray) -> np.ndarray:
    """Per-query AP of the ranking in ``rel``: the mean, over all ``n_relevant`` relevant items,
    of the precision at each one's rank (relevant items below the depth of ``rel`` count 0).
    Over a full ranking this is the usual AP."""
    hits = np.cumsum(rel, axis=1)
    ranks = np.arange(1, rel.shape[1] + 1)
    return (hits / ranks * rel).sum(axis=1) / np.maximum(n_relevant, 1)


def average_precision_at(rel: np.ndarray, k: int) -> np.ndarray:
    """Per-query AP@k as the hashing literature reports it on CIFAR-10: the mean precision at the
    ranks of the relevant items *retrieved* in the top ``k`` (0 when none is)."""
    rel = rel[:, :k]
    hits = np.cumsum(rel, axis=1)
    ranks = np.arange(1, rel.shape[1] + 1)
    return (hits / ranks * rel).sum(axis=1) / np.maximum(rel.sum(axis=1), 1)


RECALL_LEVELS = np.linspace(0.0, 1.0, 11)


def interpolated_precision(rel: np.ndarray, n_relevant: np.ndarray, levels: np.ndarray = RECALL_LEVELS) -> np.ndarray:
    """Per query and recall level ``r``: the highest precision at any rank whose recall is at least ``r``
    (the classic 11-point interpolated precision; 0 where the ranking never reaches ``r``).
    ``rel`` must be the whole ranking for recall 1 to be reachable."""
    hits = np.cumsum(rel, axis=1)
    precision = hits / np.arange(1, rel.shape[1] + 1)
    best_after = np.maximum.accumulate(precision[:, ::-1], axis=1)[:, ::-1]
    recall = hits / np.maximum(n_relevant, 1)[:, None]
    out = np.zeros((len(rel), len(levels)))
    rows = np.arange(len(rel))
    for j, level in enumerate(levels):
        reached = recall >= level - 1e-9
        first = reached.argmax(axis=1)
        out[:, j] = np.where(reached[rows, first], best_after[rows, first], 0.0)
    return out


class RankingScores:
    """Accumulates P@k and AP over query chunks, so a full ranking never needs to fit in memory.

    Labels may be any hashable values; ``label_ids`` turns them into the integer ids that ``add``
    compares quickly (pass ids to ``add`` when scoring millions of ranks).
    """

    def __init__(
        self,
        database_labels: Sequence,
        ks: Sequence[int] = (10, 100),
        map_at: int | None = None,
        full_ranking: bool = True,
    ) -> None:
        """``full_ranking``: ``add`` gets whole rankings, so whole-ranking mAP and the 11-point
        precision-recall curve are reported (pass ``False`` when rankings are truncated)."""
        self._ids: dict = {}
        self.map_at = map_at
        self.full_ranking = full_ranking
        self._ap_at: list[np.ndarray] = []
        self._pr: list[np.ndarray] = []
        db = self.label_ids(database_labels)
        self._n_rel = np.bincount(db[db >= 0], minlength=len(self._ids))
        self.ks = tuple(ks)
        self._prec: dict[int, list[np.ndarray]] = {k: [] for k in self.ks}
        self._ap: list[np.ndarray] = []

    def label_ids(self, labels: Sequence) -> np.ndarray:
        """Integer ids of ``labels`` (new labels get new ids; ``None`` gets -1, never relevant)."""
        out = np.empty(len(labels), dtype=np.int64)
        for i, lab in enumerate(labels):
            out[i] = -1 if lab is None else self._ids.setdefault(lab, len(self._ids))
        return out

    def add(self, query_labels: Sequence, ranked_labels: np.ndarray) -> None:
        """Score one chunk: ``ranked_labels[i]`` are the labels (or label ids) of query ``i``'s ranking."""
        q, ranked = self._as_ids(query_labels), self._as_ids(ranked_labels)
        rel = relevance(q, ranked) & (ranked >= 0)
        for k in self.ks:
            self._prec[k].append(precision_at(rel, k))
        n_rel = np.where(q >= 0, self._n_rel[np.clip(q, 0, None)] if len(self._n_rel) else 0, 0)
        self._ap.append(average_precision(rel, n_rel))
        if self.full_ranking:
            self._pr.append(interpolated_precision(rel, n_rel))
        if self.map_at:
            self._ap_at.append(average_precision_at(rel, self.map_at))

    def _as_ids(self, labels: Sequence | np.ndarray) -> np.ndarray:
        arr = np.asarray(labels)
        if arr.dtype.kind in "iu":
            return arr.astype(np.int64, copy=False)
        return self.label_ids(arr.ravel().tolist()).reshape(arr.shape)

    def result(self) -> dict[str, Any]:
        out: dict[str, Any] = {f"p@{k}": float(np.concatenate(v).mean()) for k, v in self._prec.items()}
        if self.full_ranking:
            out["map"] = float(np.concatenate(self._ap).mean())
            curve = np.concatenate(self._pr).mean(axis=0)
            out["pr_curve"] = {"recall": RECALL_LEVELS.round(2).tolist(), "precision": curve.round(5).tolist()}
        if self.map_at:
            out[f"map@{self.map_at}"] = float(np.concatenate(self._ap_at).mean())
        out["queries"] = int(sum(len(a) for a in self._ap))
        return out


def same_top_k(
    first: tuple[np.ndarray, np.ndarray], second: tuple[np.ndarray, np.ndarray], atol: float
) -> float:
    """Share of query rows whose top-k ``(scores, keys)`` agree, ties aside: the scores equal in order (within
    ``atol``), the keys equal wherever a score is not tied (two indexes, e.g. a CPU one and its GPU copy)."""
    (fs, fk), (ss, sk) = first, second
    agree = 0
    for row in range(len(fs)):
        if not np.allclose(fs[row], ss[row], atol=atol):
            continue
        tied = np.zeros(len(fs[row]), dtype=bool)
        close = np.abs(np.diff(fs[row])) <= atol
        tied[:-1] |= close
        tied[1:] |= close
        tied |= np.abs(fs[row] - fs[row][-1]) <= atol  # the last place's score may continue beyond k
        agree += bool((fk[row][~tied] == sk[row][~tied]).all())
    return agree / max(1, len(fs))
