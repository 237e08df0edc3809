"""Measuring retrieval against labels (same label = relevant), used by ``aer eval``, ``aer bench`` and the
benchmark scripts.

- ``metrics``: precision@k, (m)AP and precision-recall over ranked labels; ``same_top_k`` for two indexes' top-k.
- ``baselines``: the classic spaces the codes must beat (LSA, TF-IDF, BM25; pixels, PCA), fitted and scored.
- ``labels``: ``aer eval``, a collection and the baselines on the user's own labelled items, leave-one-out.
- ``corpus``: ``Corpus``, the one labelled-corpus type, and the readers of the benchmark corpora.

Public names load on first use (PEP 562): ``retrieval.eval.metrics`` alone needs only NumPy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_names

_LAZY = {
    "Corpus": "corpus", "load_corpora": "corpus", "load_suite": "corpus", "evaluate_labels": "labels",
    "RankingScores": "metrics", "precision_by_label": "metrics", "same_top_k": "metrics",
    "score_baseline": "baselines",
}  # fmt: skip

if TYPE_CHECKING:
    from .baselines import score_baseline
    from .corpus import Corpus, load_corpora, load_suite
    from .labels import evaluate_labels
    from .metrics import RankingScores, precision_by_label, same_top_k

__getattr__, __dir__ = lazy_names(__name__, _LAZY)

__all__ = [
    "Corpus", "RankingScores", "evaluate_labels", "load_corpora", "load_suite", "precision_by_label", "same_top_k",
    "score_baseline",
]  # fmt: skip
