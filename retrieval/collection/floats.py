"""Float codes kept beside a binary code, and the exact re-scoring of the Hamming candidates with them (what Qdrant
calls oversampling and rescoring).

A binary collection whose bits come from a real-valued code (bits by a learned rotation: ``Encoder.has_float_code``)
may keep each item's real-valued code too, as float32 bytes in the metadata store's ``float_codes`` table, written
in the same transaction as the item's row (so adds, updates and deletes keep them in step, and a failed write leaves
neither). The index still holds only the bits. A search then takes the index's top ``depth × oversample`` by
Hamming distance and orders them by the cosine similarity of their float codes to the query's (the float encoder's
own metric), keeping the top ``depth``: the score of a hit is that cosine. ``oversample=0`` searches the bits alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..defaults import KEEP_FLOAT, OVERSAMPLE
from ..errors import InvalidParameterError

KEPT = "float_codes"  # the manifest's entry: {"dim": D, "dtype": "float32", "metric": "cosine"}
DTYPE = np.float32


def can_keep(encoder: Any) -> bool:
    """Whether ``encoder`` makes bits from a real-valued code it can also give (bits by rotation)."""
    has = getattr(encoder, "has_float_code", None)
    return bool(has is not None and has())


def manifest_entry(encoder: Any, keep: bool | None) -> dict[str, Any]:
    """The manifest entry of a new collection around ``encoder``: ``{KEPT: {...}}`` where it keeps float codes
    (``keep``; ``None``: ``KEEP_FLOAT`` for a binary text encoder that can), else nothing. Asking for them from
    an encoder whose code has no float side is an ``InvalidParameterError``."""
    if keep is None:
        keep = KEEP_FLOAT and encoder.modality == "text" and can_keep(encoder)
    if not keep:
        return {}
    if not can_keep(encoder):
        raise InvalidParameterError(
            "The 'keep_float' parameter applies to binary codes made from a float code (bits by rotation: "
            f"ae, conv-ae, dense-ae with bits and binarise=rotation). Got it for {_describe(encoder)}."
        )
    width = getattr(encoder, "_units", lambda: None)()  # the float code's width, before any bits
    return {KEPT: {"dim": int(width), "dtype": "float32", "metric": "cosine"}}


def _describe(encoder: Any) -> str:
    try:
        return encoder.describe()
    except Exception:  # noqa: BLE001 - only for the message
        return type(encoder).__name__


def encode(
    encoder: Any, pool: Callable[[list[Any]], tuple[np.ndarray, Any]] | None, items: list[Any], keep: bool
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Codes, reconstruction errors and, with ``keep``, the float codes of raw ``items``: on a cluster's encoding
    ``pool`` when there is one (the float codes then in this process), else by ``encoder`` in one forward pass."""
    if not keep:
        return *(pool(items) if pool is not None else encoder.encode_with_errors(items)), None
    if pool is None:
        return encoder.encode_with_floats(items)
    return *pool(items), encoder.encode_with_floats(items)[2]


def width(manifest: Mapping[str, Any]) -> int | None:
    """The width of the float codes a collection keeps (``None``: it keeps none)."""
    entry = manifest.get(KEPT)
    return int(entry["dim"]) if isinstance(entry, dict) and "dim" in entry else None


def to_bytes(codes: np.ndarray) -> list[bytes]:
    """Each row of ``codes`` as the bytes the store keeps (float32, native little-endian order)."""
    return [row.tobytes() for row in np.ascontiguousarray(codes, dtype="<f4")]


def from_bytes(stored: Mapping[int, bytes], dim: int) -> dict[int, np.ndarray]:
    """The float codes of ``stored`` bytes by key; a value of the wrong length (damage) is left out."""
    size = dim * np.dtype(DTYPE).itemsize
    return {key: np.frombuffer(value, dtype="<f4") for key, value in stored.items() if len(value) == size}


def check_oversample(oversample: float | None) -> None:
    """Refuse an ``oversample`` that is not 0 (no re-scoring) or a number of at least 1."""
    ok = isinstance(oversample, (int, float, np.integer, np.floating)) and not isinstance(oversample, bool)
    if oversample is not None and not (ok and (oversample == 0 or 1 <= oversample < math.inf)):
        raise InvalidParameterError(
            "The 'oversample' parameter must be 0 (no re-scoring) or a number of at least 1. "
            f"Got {oversample!r} instead."
        )


def factor(manifest: Mapping[str, Any], oversample: float | None, path: Any = "this collection") -> float:
    """How many times deeper than asked to take the Hamming candidates (0: no re-scoring): ``oversample`` checked,
    or ``OVERSAMPLE`` where the collection keeps float codes; ``oversample`` above 0 for a collection that keeps
    none is an ``InvalidParameterError`` saying so."""
    check_oversample(oversample)
    if width(manifest) is None:
        if oversample:
            raise InvalidParameterError(
                f"{path}: keeps no float codes, so 'oversample' does not apply (a binary collection keeps them when "
                "made with keep_float=True, aer index --keep-float)"
            )
        return 0.0
    return float(OVERSAMPLE if oversample is None else oversample)


def candidates(depth: int, oversample: float) -> int:
    """How many Hamming candidates a re-scored search of ``depth`` hits takes."""
    return max(depth, math.ceil(depth * oversample))


def rescore(
    query_floats: np.ndarray, keys: np.ndarray, codes: Mapping[int, np.ndarray], depth: int
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``depth`` ``(scores, keys)`` per query: its candidate ``keys`` (``-1``: none) ordered by the cosine of
    their float ``codes`` to the query's row of ``query_floats``, best first (ties: the Hamming order). A candidate
    without a float code comes after every one with, in Hamming order, scored ``-inf``."""
    n = len(keys)
    out_scores = np.full((n, depth), -np.inf, np.float32)
    out_keys = np.full((n, depth), -1, np.int64)
    query_floats = _unit(np.asarray(query_floats, np.float32))
    for q in range(n):
        row = keys[q][keys[q] >= 0]
        have = np.fromiter((key in codes for key in row.tolist()), bool, len(row))
        scores = np.full(len(row), -np.inf, np.float32)
        if have.any():
            matrix = np.stack([codes[key] for key in row[have].tolist()]).astype(np.float32)
            scores[have] = _unit(matrix) @ query_floats[q]
        order = np.argsort(-scores, kind="stable")[:depth]
        out_keys[q, : len(order)] = row[order]
        out_scores[q, : len(order)] = scores[order]
    return out_scores, out_keys


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
