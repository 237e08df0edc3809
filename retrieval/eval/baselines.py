"""The spaces the codes are measured against, fitted on the same items: LSA, TF-IDF and BM25 for texts (the classic
spaces they must beat) and all-MiniLM-L6-v2 (the transformer they learn from); pixels and PCA for images.

One implementation serves the generalisation suite (``aer bench general``) and ``aer eval``: ``score_baseline``
fits baseline ``name`` on a database's contents and scores P@k either for queries from outside it (test split
against train split) or leave-one-out, for database items themselves (each query's own item left out of its
ranking). LSA, TF-IDF, pixels and PCA are the project's own encoders (what ``aer index --encoder lsa --dim 50``
fits), searched exactly; so is MiniLM (``--encoder minilm``: the bundled model, offline, nothing to fit; inside
``sentence.embedding_cache`` its embeddings are reused); BM25 is the ``bm25s`` library, with its own tokeniser and
English stop-words.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from indexers import create_index, default_spec

from ..encoders import Encoder, create_encoder
from ..errors import InvalidParameterError, RetrievalError
from .metrics import precision_by_label

KS = (10, 100)
CHUNK = 256  # queries ranked at a time
ENCODE_BATCH = 5000  # database items encoded (and indexed) at a time
# name: (modality, project encoder or None for BM25, its options)
BASELINES: dict[str, tuple[str, str | None, dict[str, Any]]] = {
    "lsa-32": ("text", "lsa", {"dim": 32}),
    "lsa-50": ("text", "lsa", {"dim": 50}),
    "lsa-50-10k": ("text", "lsa", {"dim": 50, "vocab_size": 10_000}),  # the vocabulary the default `ae` reads
    "tfidf": ("text", "tfidf", {}),
    "tfidf-10k": ("text", "tfidf", {"vocab_size": 10_000}),
    "bm25": ("text", None, {}),
    "minilm": ("text", "minilm", {}),
    "pixels": ("image", "pixels", {}),
    "pca-64": ("image", "pca", {"dim": 64}),
}
SUITE_BASELINES = {
    "text": ("lsa-32", "lsa-50", "lsa-50-10k", "tfidf", "tfidf-10k", "bm25", "minilm"),
    "image": ("pixels", "pca-64"),
}
EVAL_BASELINES = {"text": ("lsa-50", "tfidf", "bm25"), "image": ("pixels", "pca-64")}

Contents = Sequence[str] | np.ndarray  # texts, or (n, 32, 32, 3) uint8 images


class Ranker(Protocol):
    """A baseline fitted on a database: ranks it for queries."""

    def rank(self, queries: Contents, k: int) -> np.ndarray:
        """``(n_queries, k)`` database positions, best first (-1 where the database has fewer)."""


class EncoderRanker:
    """A project encoder fitted on the database, its codes searched exactly (the index ``aer index`` makes for
    small collections: ``IDMap2,Flat``, cosine or L2 as the encoder says)."""

    def __init__(self, encoder: Encoder, database: Contents) -> None:
        t0 = time.perf_counter()
        self.encoder = encoder.fit(database)
        self.fit_s = time.perf_counter() - t0
        self.index = create_index(default_spec(encoder.metric), encoder.dim, encoder.metric)
        for start in range(0, len(database), ENCODE_BATCH):
            stop = min(start + ENCODE_BATCH, len(database))
            self.index.add(np.arange(start, stop, dtype=np.int64), self.encoder.encode(database[start:stop]))

    def rank(self, queries: Contents, k: int) -> np.ndarray:
        return self.index.search(self.encoder.encode(queries), k)[1]


class Bm25Ranker:
    """Okapi BM25 (``bm25s`` defaults: Lucene variant, k1 1.5, b 0.75) over ``bm25s.tokenize`` tokens."""

    def __init__(self, database: Sequence[str]) -> None:
        import bm25s

        t0 = time.perf_counter()
        self._bm25s = bm25s
        self.size = len(database)
        self.model = bm25s.BM25()
        self.model.index(self._tokens(database, ids=True), show_progress=False)
        self.fit_s = time.perf_counter() - t0

    def _tokens(self, texts: Sequence[str], ids: bool = False) -> Any:
        return self._bm25s.tokenize(list(texts), stopwords="en", return_ids=ids, show_progress=False)

    def rank(self, queries: Sequence[str], k: int) -> np.ndarray:
        found, _ = self.model.retrieve(self._tokens(queries), k=min(k, self.size), show_progress=False)
        out = np.full((len(queries), k), -1, dtype=np.int64)
        out[:, : found.shape[1]] = found
        return out


def fit_baseline(name: str, database: Contents) -> EncoderRanker | Bm25Ranker:
    """Baseline ``name`` (a key of ``BASELINES``) fitted on ``database``; ``RetrievalError`` when it cannot be
    fitted on these items (too few images for 64 components, a vocabulary too small for LSA-50)."""
    if name not in BASELINES:
        raise InvalidParameterError(f"The 'name' parameter must be one of {', '.join(BASELINES)}. Got {name!r}.")
    _, encoder, options = BASELINES[name]
    if encoder is None:
        return Bm25Ranker(database)
    if encoder == "lsa" and len(database) <= options["dim"]:
        raise InvalidParameterError(f"{name}: {options['dim']} dimensions need more items; got {len(database)}")
    try:
        return EncoderRanker(create_encoder(encoder, progress=False, **options), database)
    except ValueError as exc:  # scikit-learn's refusals (e.g. an empty vocabulary)
        if isinstance(exc, RetrievalError):
            raise
        raise InvalidParameterError(f"{name}: cannot be fitted on these items ({exc})") from exc


@dataclass
class BaselineScore:
    """A baseline's P@k on one set of queries, and what fitting it cost."""

    name: str
    precision: dict[str, float | None]  # "p@10", "p@100"; None when it could not be fitted
    fit_s: float = 0.0  # fitting the model (encoder, or BM25's index)
    build_s: float = 0.0  # fitting, then encoding and indexing the database
    error: str | None = None  # why it could not be fitted

    def as_dict(self) -> dict[str, Any]:
        """P@k, costs, and the error when there is one."""
        return {**self.precision, "fit_s": self.fit_s, "build_s": self.build_s,
                **({"error": self.error} if self.error else {})}  # fmt: skip


def score_baseline(
    name: str,
    database: Contents,
    labels: Sequence[str | None],
    *,
    queries: Contents | None = None,
    query_labels: Sequence[str] | None = None,
    leave_out: np.ndarray | None = None,
    ks: Sequence[int] = KS,
) -> BaselineScore:
    """Fit baseline ``name`` on ``database`` (whose items have ``labels``) and score P@k (same label = relevant).

    Either ``queries`` with their ``query_labels`` (rank the whole database), or ``leave_out``: the database
    positions of the items that are the queries, each left out of its own ranking.
    """
    if (queries is None) == (leave_out is None):
        raise InvalidParameterError("score_baseline needs either 'queries' (with 'query_labels') or 'leave_out'")
    t0 = time.perf_counter()
    try:
        ranker = fit_baseline(name, database)
    except RetrievalError as exc:
        return BaselineScore(name, {f"p@{k}": None for k in ks}, error=str(exc))
    build_s = time.perf_counter() - t0
    depth = max(ks)
    if leave_out is not None:
        positions = ranked_leaving_out(ranker, database, leave_out, depth)
        query_labels = [labels[i] for i in leave_out]
    else:
        positions = np.concatenate([ranker.rank(queries[s : s + CHUNK], depth) for s in range(0, len(queries), CHUNK)])
    ranked = [[labels[p] for p in row if p >= 0] for row in positions]
    return BaselineScore(name, precision_by_label(query_labels, ranked, ks), ranker.fit_s, build_s)


def ranked_leaving_out(ranker: Ranker, database: Contents, leave_out: np.ndarray, k: int) -> np.ndarray:
    """The top ``k`` of each database item at ``leave_out`` as a query, the item itself left out."""
    out = np.full((len(leave_out), k), -1, dtype=np.int64)
    for start in range(0, len(leave_out), CHUNK):
        own = np.asarray(leave_out[start : start + CHUNK])
        found = ranker.rank(_take(database, own), k + 1)
        for row, (self_pos, hits) in enumerate(zip(own, found)):
            kept = hits[(hits != self_pos) & (hits >= 0)][:k]
            out[start + row, : len(kept)] = kept
    return out


def _take(contents: Contents, positions: np.ndarray) -> Contents:
    if isinstance(contents, np.ndarray):
        return contents[positions]
    return [contents[i] for i in positions]


def ratios(
    subject: dict[str, Any], baselines: dict[str, dict[str, Any]], references: Sequence[str], ks: Sequence[int] = KS
) -> dict[str, Any]:
    """``subject``'s P@k divided by the best of ``references`` among ``baselines`` (best per metric), and
    which baseline that was; ``None`` where no reference could be fitted or the best scored 0."""
    out: dict[str, Any] = {"reference": {}}
    for k in ks:
        metric = f"p@{k}"
        scored = [(baselines[r][metric], r) for r in references if baselines.get(r, {}).get(metric) is not None]
        best, name = max(scored) if scored else (None, None)
        out[metric] = subject[metric] / best if best else None
        out["reference"][metric] = name
    return out
