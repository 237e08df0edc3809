"""Outlier scores of a collection's items: reconstruction error, distance to the k-th nearest code, both, or
how well the image autoencoder can tell which way up an image is.

- ``reconstruction``: how badly the collection's autoencoder reconstructs the item (kept in the store when the
  item was added; autoencoders and PCA only).
- ``knn``: the distance from the item's code to the ``k``-th nearest stored code, searched in the collection's
  own index (a stored item leaves itself out): ``1 - cosine`` for cosine codes, the Euclidean distance for
  ``l2`` codes, the Hamming distance in bits for binary codes. Works for every encoder.
- ``combined``: the mean of the two, each z-scored against the stored items' own scores (their mean and
  standard deviation), so neither scale dominates.
- ``orientation``: image autoencoders trained with the orientation head (``orientation`` > 0): the mean
  cross-entropy of the true transformation over the image's transformed copies (``retrieval.nn.orientation``:
  its four quarter-turns, or with ``transforms=geometric`` GEOM's 72 flips × shifts × turns and GEOM's simple
  score), read from the images (stored items: their stored thumbnails).

Higher is always less typical. ``DEFAULT_SCORE`` is ``auto``: ``orientation`` where the encoder has the head,
else ``knn`` (every encoder has it). Measured by ``aer bench anomaly`` (CIFAR-10, ten one-class splits;
its page: benchmarks/results/anomaly/README.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from indexers import CodeIndex

from ..defaults import AUTO, CHOICES, DEFAULT_K, DEFAULT_SCORE, SCORES
from ..encoders.base import Encoder
from ..errors import CollectionError, InvalidParameterError, UnavailableScoreError
from ..sources import Document, ImageItem, contents
from .hits import Hit, hit_of
from .search import check_k
from .store import MetadataStore

SEARCH_BATCH = 4096  # query rows per index search (bounds the memory of one search)


class Collection(Protocol):
    """What the scores need of a ``retrieval.Collection`` (a protocol, so that the collection can import this
    module without a cycle)."""

    path: Path
    encoder: Encoder
    index: CodeIndex
    store: MetadataStore

    def search_codes(self, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...


def check_score(score: str) -> str:
    """``score`` if it is one of ``CHOICES``; else ``InvalidParameterError`` naming them."""
    if score not in CHOICES:
        choices = ", ".join(repr(s) for s in CHOICES)
        raise InvalidParameterError(f"The 'score' parameter must be one of {choices}. Got {score!r} instead.")
    return score


def resolve_score(col: Collection, score: str) -> str:
    """The score ``score`` names in ``col``: ``AUTO`` is ``orientation`` where the collection's encoder was
    trained with the orientation head (the best of the scores on the anomaly suite), else ``knn`` (every
    encoder has it)."""
    check_score(score)
    if score != AUTO:
        return score
    return "orientation" if _has_orientation(col.encoder) else "knn"


def describe_score(col: Collection, score: str, k: int = DEFAULT_K) -> str:
    """One line for people: what ``score`` measures in ``col`` (what ``aer outliers`` prints)."""
    score = resolve_score(col, score)
    knn = f"distance to the {_ordinal(k)} nearest stored code ({_distance_name(col.index.metric)})"
    return {
        "reconstruction": f"reconstruction error of {col.encoder.describe()}",
        "knn": knn,
        "combined": f"mean of the z-scored reconstruction error and {knn}",
        "orientation": _describe_orientation(col.encoder),
    }[score]


# --- scores of the stored items -------------------------------------------------------------------


def knn_scores(col: Collection, k: int = DEFAULT_K) -> dict[str, float]:
    """Each stored item's distance to its ``k``-th nearest other stored code, by item id."""
    keys, scores = stored_scores(col, "knn", k)
    return _by_id(col, keys, scores)


def outlier_scores(col: Collection, score: str = DEFAULT_SCORE, k: int = DEFAULT_K) -> dict[str, float]:
    """Each stored item's ``score`` by item id (items without one, e.g. no reconstruction error, are left out)."""
    keys, scores = stored_scores(col, score, k)
    return _by_id(col, keys, scores)


def top_outliers(col: Collection, n: int = 20, score: str = DEFAULT_SCORE, k: int = DEFAULT_K) -> list[Hit]:
    """The ``n`` least typical stored items under ``score``, highest first, as hits whose score is it."""
    keys, scores = stored_scores(col, score, k)
    order = np.lexsort((keys, -scores))[:n]  # ties: the lower key first
    records = col.store.by_keys(keys[order].tolist())
    return [hit_of(records[key], s) for key, s in zip(keys[order].tolist(), scores[order].tolist()) if key in records]


def stored_scores(col: Collection, score: str = DEFAULT_SCORE, k: int = DEFAULT_K) -> tuple[np.ndarray, np.ndarray]:
    """``(keys, scores)`` of the stored items under ``score``; the kNN score leaves each item out of its own search."""
    score = resolve_score(col, score)
    check_k(k)
    if score == "reconstruction":
        return _stored_errors(col)
    if score == "orientation":
        return _stored_orientation(col)
    keys, codes = stored_codes(col)
    knn = knn_distances(col, codes, k, own_keys=keys)
    if score == "knn":
        return keys, knn
    err_keys, errors = _stored_errors(col)
    has = np.isin(keys, err_keys)
    errors_by_key = dict(zip(err_keys.tolist(), errors.tolist()))
    keys, knn = keys[has], knn[has]
    errors = np.array([errors_by_key[key] for key in keys.tolist()], dtype=np.float64)
    return keys, combine(errors, knn, errors, knn)


# --- scores of new items -------------------------------------------------------------------------


def score_items(col: Collection, items: Sequence[Any], score: str = DEFAULT_SCORE, k: int = DEFAULT_K) -> np.ndarray:
    """``score`` of items that are not in ``col`` (items, texts or images, as ``add`` or ``search`` takes them).

    Their codes and reconstruction errors come from one encoder pass; the kNN score searches all stored codes
    (an item that is stored finds itself at distance 0: use ``outlier_scores`` for those)."""
    score = resolve_score(col, score)
    items = list(items)
    raw = contents(items) if items and isinstance(items[0], (Document, ImageItem)) else items
    if score == "orientation":
        return _orientation_errors(col, raw)
    codes, errors = col.encoder.encode_with_errors(raw)
    if errors is None and score != "knn":
        raise UnavailableScoreError(
            f"{col.path}: no {score} score: {col.encoder.describe()} does not reconstruct its input; "
            "the 'knn' score works for every encoder"
        )
    return score_codes(col, codes, score, errors=errors, k=k)


def score_codes(
    col: Collection, codes: np.ndarray, score: str = DEFAULT_SCORE, errors: np.ndarray | None = None, k: int = DEFAULT_K
) -> np.ndarray:
    """``score`` of new items given their ``codes`` (as the encoder makes them) and, for ``reconstruction`` and
    ``combined``, their reconstruction ``errors``; ``combined`` is normalised by the stored items' scores."""
    score = resolve_score(col, score)
    check_k(k)
    if score == "orientation":
        raise CollectionError("the 'orientation' score is read from the images, not their codes: use score_items")
    if score != "knn" and errors is None:
        raise CollectionError(f"no reconstruction errors given (errors=...): the {score!r} score needs them")
    if score == "reconstruction":
        return np.asarray(errors, dtype=np.float64)
    knn = knn_distances(col, codes, k)
    if score == "knn":
        return knn
    _, ref_errors = _stored_errors(col)
    keys, ref_codes = stored_codes(col)
    return combine(np.asarray(errors, dtype=np.float64), knn, ref_errors, knn_distances(col, ref_codes, k, keys))


# --- the parts ---------------------------------------------------------------------------------------


def combine(errors: np.ndarray, knn: np.ndarray, ref_errors: np.ndarray, ref_knn: np.ndarray) -> np.ndarray:
    """The combined score: the mean of ``errors`` and ``knn``, each z-scored by its reference scores
    (the stored items'), so that a new item and a stored one are on the same scale."""
    return (_z(errors, ref_errors) + _z(knn, ref_knn)) / 2


def knn_distances(col: Collection, codes: np.ndarray, k: int, own_keys: np.ndarray | None = None) -> np.ndarray:
    """Distance from each code to its ``k``-th nearest stored code; with ``own_keys`` (row ``i`` is the stored
    item ``own_keys[i]``) each row's own key is skipped. Where fewer than ``k`` others exist, the farthest found;
    ``inf`` where none."""
    check_k(k)
    extra = 0 if own_keys is None else 1
    out = np.empty(len(codes), dtype=np.float64)
    for start in range(0, len(codes), SEARCH_BATCH):
        rows = slice(start, start + SEARCH_BATCH)
        scores, keys = col.search_codes(codes[rows], k + extra)
        valid = keys >= 0
        if own_keys is not None:
            valid &= keys != own_keys[rows, None]
        out[rows] = _kth(to_distances(scores, col.index.metric, col.encoder.bits), valid, k)
    return out


def to_distances(scores: np.ndarray, metric: str, bits: int | None = None) -> np.ndarray:
    """Search scores (higher = closer) as distances: ``1 - cosine``, Euclidean, or Hamming bits (``bits``: the
    length of the code the scores come from, the long one of two-stage codes)."""
    scores = np.asarray(scores, dtype=np.float64)
    if metric == "cosine":
        return 1.0 - scores
    if metric == "l2":
        return -scores
    return np.rint((1.0 - scores) * (bits or 1))


def stored_codes(col: Collection) -> tuple[np.ndarray, np.ndarray]:
    """``(keys, codes)`` of every stored item, read back from the index (as the index holds them)."""
    index = col.index
    keys = np.sort(index.keys())
    try:
        if hasattr(index, "reconstruct_batch"):
            codes = index.reconstruct_batch(keys)
        else:
            codes = np.stack([index.reconstruct(key) for key in keys.tolist()]) if len(keys) else np.empty((0, 0))
    except KeyError as exc:
        raise CollectionError(f"{col.path}: its {index.spec} index cannot give back stored code {exc}") from None
    return keys, codes


def _kth(distances: np.ndarray, valid: np.ndarray, k: int) -> np.ndarray:
    """Per row, the ``k``-th smallest valid distance (rows come nearest first), else the last valid one."""
    d = np.where(valid, distances, np.inf)
    d = np.sort(d, axis=1)[:, :k]
    count = valid.sum(1)
    at = np.clip(np.minimum(count, k) - 1, 0, None)
    kth = d[np.arange(len(d)), at]
    return np.where(count > 0, kth, np.inf)


def _describe_orientation(encoder: Encoder) -> str:
    if getattr(encoder, "transforms", "rotations") == "geometric":
        return (f"how badly {encoder.describe()} tells the image's 72 geometric transformations apart (flip × "
                "shifts × quarter-turns, GEOM's score: mean cross-entropy of the true one)")
    return (f"how badly {encoder.describe()} tells the image's four quarter-turns apart (mean cross-entropy of the "
            "true turn)")


def _has_orientation(encoder: Encoder) -> bool:
    return bool(getattr(encoder, "orientation", 0)) and hasattr(encoder, "orientation_errors")


def _orientation_errors(col: Collection, images: Sequence[Any]) -> np.ndarray:
    """The orientation score of ``images``; an error naming the fix where the encoder has no orientation head."""
    _check_orientation(col)
    return np.asarray(col.encoder.orientation_errors(images), dtype=np.float64)


def _check_orientation(col: Collection) -> None:
    if not _has_orientation(col.encoder):
        raise UnavailableScoreError(
            f"{col.path}: no orientation score: {col.encoder.describe()} has no orientation head (it was not trained "
            "to tell quarter-turns apart: image autoencoders with -o orientation=1 are); the 'knn' score works for "
            "every encoder"
        )


def _stored_orientation(col: Collection) -> tuple[np.ndarray, np.ndarray]:
    """``(keys, orientation scores)`` of the stored items, from their stored thumbnails."""
    _check_orientation(col)  # an encoder without the head says so before any thumbnail is looked for
    keys = np.sort(col.index.keys())
    scores = np.empty(len(keys), dtype=np.float64)
    for start in range(0, len(keys), SEARCH_BATCH):
        chunk = keys[start : start + SEARCH_BATCH]
        pixels = col.store.thumbnail_pixels(chunk.tolist())
        missing = [key for key in chunk.tolist() if key not in pixels]
        if missing:
            raise CollectionError(f"{col.path}: no stored thumbnail for item key {missing[0]}: no orientation score")
        scores[start : start + len(chunk)] = _orientation_errors(col, np.stack([pixels[key] for key in chunk.tolist()]))
    return keys, scores


def _stored_errors(col: Collection) -> tuple[np.ndarray, np.ndarray]:
    """``(keys, reconstruction errors)`` of the stored items that have one; an error if none has."""
    by_id = col.store.outlier_scores()
    if not by_id and getattr(col.encoder, "decoder", None) is False:
        raise UnavailableScoreError(
            f"{col.path}: no reconstruction errors: its encoder was saved without the decoder (the default, which "
            "keeps collections small); index with -o decoder=true for the 'reconstruction' and 'combined' scores, "
            "or use the 'knn' score"
        )
    if not by_id:
        raise UnavailableScoreError(
            f"{col.path}: no reconstruction errors ({col.encoder.describe()} does not reconstruct its input, or its "
            "items were added before scores were kept); the 'knn' score works for every encoder"
        )
    key_of = col.store.keys_of(list(by_id))
    keys = np.array([key_of[i] for i in by_id], dtype=np.int64)
    return keys, np.array(list(by_id.values()), dtype=np.float64)


def _by_id(col: Collection, keys: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    records = col.store.by_keys(keys.tolist())
    return {records[key].id: s for key, s in zip(keys.tolist(), scores.tolist()) if key in records}


def _z(x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    ref = ref[np.isfinite(ref)]
    if not len(ref):
        return np.zeros(len(x))
    return (x - ref.mean()) / max(float(ref.std()), 1e-12)


def _distance_name(metric: str) -> str:
    return {"cosine": "1 - cosine", "l2": "Euclidean"}.get(metric, "Hamming bits")


def _ordinal(k: int) -> str:
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"
