"""Two-stage binary search (Krizhevsky & Hinton 2011): a short code's hash ball gives a shortlist, a long code ranks it.

Each item has a short code (e.g. 32 bits) and a long code (e.g. 256 bits) under the same key, given joined in one
packed row, short code first (``join_codes``), which is what a two-stage encoder produces. A query's
shortlist is every item whose short code is within Hamming distance ``radius`` of the query's (a hash lookup
over all ``radius``-bit flips, so its cost does not grow with the collection); the shortlist is ranked by exact
long-code Hamming distance. Fallback rule: a query whose shortlist holds fewer than ``k`` items is answered by
exhaustive long-code search instead. That is what topping the shortlist up with exhaustive results and
re-ranking would give, since both rank by the same long-code distance.

Code lengths must be multiples of 8 (faiss packs bytes); the short code is hashed whole, so at most 64 bits. A
28-bit code can be padded with 4 constant zero bits to 32: constant bits leave Hamming distances unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .base import CodeIndex
from .binary_flat import BinaryFlatIndex
from .binary_hash import BinaryHashIndex
from .bits import MISSING_DISTANCE, check_nbits, popcount_rows
from .errors import IndexFileError, InvalidParameterError
from .files import arrays_bytes, read_arrays, write_arrays
from .spec import MAX_HASH_BITS

FORMAT = "ae-retrieval-two-stage"
DEFAULT_RADIUS = 2
MAX_CANDIDATES = 1 << 20  # candidates re-ranked at once; bounds memory when shortlists are large


def join_codes(short_codes: np.ndarray, long_codes: np.ndarray) -> np.ndarray:
    """One packed row per item: its short code's bytes, then its long code's."""
    return np.ascontiguousarray(np.hstack([np.atleast_2d(short_codes), np.atleast_2d(long_codes)]), dtype=np.uint8)


@dataclass(frozen=True)
class TwoStageStats:
    """Per query: how many items the short-code hash ball held, and whether exhaustive search answered instead."""

    shortlist_sizes: np.ndarray
    fell_back: np.ndarray


class TwoStageIndex(CodeIndex):
    """Short-code hash shortlist, long-code re-ranking, exhaustive fallback; scores ``1 - long hamming / long_bits``."""

    metric = "hamming"

    def __init__(self, short_bits: int = 32, long_bits: int = 256, radius: int = DEFAULT_RADIUS, use_gpu: bool = False):
        if not isinstance(short_bits, (int, np.integer)) or not 8 <= short_bits <= MAX_HASH_BITS or short_bits % 8:
            raise InvalidParameterError(
                f"The 'short_bits' parameter of TwoStageIndex must be a multiple of 8 from 8 to {MAX_HASH_BITS}. "
                f"Got {short_bits!r} instead."
            )
        check_nbits(long_bits, "TwoStageIndex (long codes)")
        self.short = BinaryHashIndex(short_bits, 1, short_bits, nflip=0)
        self.long = BinaryFlatIndex(long_bits, use_gpu=use_gpu)
        self.radius = radius

    @property
    def structure(self) -> str:
        return f"TwoStage{self.short_bits}"

    @property
    def radius(self) -> int:
        """Hamming radius of the short-code shortlist (inclusive); saved with the index."""
        return self.short.nflip

    @radius.setter
    def radius(self, value: int) -> None:
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or not 0 <= value <= self.short_bits:
            raise InvalidParameterError(
                f"The 'radius' parameter of TwoStageIndex must be an int in [0, {self.short_bits}]. "
                f"Got {value!r} instead."
            )
        self.short.nflip = int(value)

    def params(self) -> dict[str, int]:
        return {"radius": self.radius}

    def set_params(self, params: Mapping[str, int]) -> None:
        """``radius``."""
        for name, value in params.items():
            if name != "radius":
                raise InvalidParameterError(f"The {name!r} parameter does not apply to a {self.structure} index.")
            self.radius = value

    @property
    def short_bits(self) -> int:
        return self.short.nbits

    @property
    def long_bits(self) -> int:
        return self.long.nbits

    @property
    def dim(self) -> int:
        """Width of a joined code: short plus long bits."""
        return self.short_bits + self.long_bits

    @property
    def use_gpu(self) -> bool:  # type: ignore[override]
        """Whether long-code ranking may run on a GPU (the hash lookup stays on the CPU)."""
        return self.long.use_gpu

    def __len__(self) -> int:
        return len(self.long)

    def add(self, keys: np.ndarray, codes: np.ndarray) -> None:
        """Add joined packed codes (``join_codes``) under ``keys`` (keys must not be present already)."""
        keys = np.asarray(keys, dtype=np.int64).reshape(-1)
        short_codes, long_codes = self._split(codes)
        if len(keys) != len(short_codes):
            raise InvalidParameterError(f"{len(keys)} keys for {len(short_codes)} codes")
        self.short.add(keys, short_codes)
        self.long.add(keys, long_codes)

    def remove(self, keys: np.ndarray) -> int:
        """Remove ``keys`` from both stages; return how many were there."""
        self.short.remove(keys)
        return self.long.remove(keys)

    def keys(self) -> np.ndarray:
        """The stored keys (a copy)."""
        return self.long.keys()

    def reconstruct(self, key: int) -> np.ndarray:
        """The stored joined code of ``key``; ``KeyError`` if absent."""
        return join_codes(self.short.reconstruct(key), self.long.reconstruct(key))[0]

    def search(self, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` ``(scores, keys)`` per joined query code, scores from the long code; ``k`` capped at the size."""
        scores, keys, _ = self.search_with_stats(codes, k)
        return scores, keys

    def search_among(self, codes: np.ndarray, k: int, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-``k`` among ``keys`` by the long code (the short-code lookup, an approximation, is skipped)."""
        return self.long.search_among(self._split(codes)[1], k, keys)

    def search_with_stats(self, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, TwoStageStats]:
        """As :meth:`search`, plus each query's shortlist size and whether it fell back to exhaustive search."""
        short_queries, long_queries = self._split(codes)
        nq = len(long_queries)
        k = max(1, min(int(k), len(self))) if len(self) else 1
        distances = np.full((nq, k), MISSING_DISTANCE, dtype=np.int32)
        keys = np.full((nq, k), -1, dtype=np.int64)
        lims, _, candidates = self.short.range_search_hamming(short_queries, self.radius)
        sizes = np.diff(lims)
        fell_back = sizes < k
        ranked = np.flatnonzero(~fell_back)
        for chunk in _chunks(sizes[ranked], MAX_CANDIDATES):
            self._rerank(ranked[chunk], lims, candidates, long_queries, distances, keys)
        if fell_back.any():
            distances[fell_back], keys[fell_back] = self.long.search_hamming(long_queries[fell_back], k)
        scores = (1.0 - distances / np.float32(self.long_bits)).astype(np.float32)
        scores[keys < 0] = -np.inf
        return scores, keys, TwoStageStats(shortlist_sizes=sizes, fell_back=fell_back)

    def shortlist_sizes(self, codes: np.ndarray) -> np.ndarray:
        """How many items each joined query code's short-code hash ball holds (the re-ranking work per query)."""
        lims, _, _ = self.short.range_search_hamming(self._split(codes)[0], self.radius)
        return np.diff(lims)

    def bytes_per_item(self) -> float:
        """Serialised size per item of both stages, keys included twice."""
        return self.short.bytes_per_item() + self.long.bytes_per_item()

    def describe(self) -> str:
        """E.g. ``TwoStage32 (two-stage: 32-bit hash shortlist within radius 2, BFlat (...) re-ranking)``."""
        return (
            f"{self.structure} (two-stage: {self.short_bits}-bit hash shortlist within radius {self.radius}, "
            f"{self.long.describe()} re-ranking)"
        )

    def save(self, path: str | Path) -> None:
        """Write both stages into one file, atomically (safetensors holding the two serialised faiss indexes)."""
        write_arrays(path, self._arrays(), FORMAT)

    def to_bytes(self) -> np.ndarray:
        """What :meth:`save` writes, as ``uint8`` (what :meth:`from_bytes` reads)."""
        return arrays_bytes(self._arrays(), FORMAT)

    @classmethod
    def load(cls, path: str | Path, use_gpu: bool = False) -> TwoStageIndex:
        """Read a file written by :meth:`save`; the radius comes from the short-code index."""
        return cls._read(path, str(path), use_gpu)

    @classmethod
    def from_bytes(cls, data: np.ndarray, name: str, use_gpu: bool = False) -> TwoStageIndex:
        """Rebuild an index from :meth:`to_bytes`; ``name`` says where the bytes came from, in errors."""
        return cls._read(data, name, use_gpu)

    @classmethod
    def _read(cls, source: str | Path | np.ndarray, name: str, use_gpu: bool) -> TwoStageIndex:
        arrays = read_arrays(source, name, "two-stage index", FORMAT)
        if set(arrays) != {"short", "long"}:
            raise IndexFileError(f"{name}: not a two-stage index (holds {sorted(arrays)})")
        short = BinaryHashIndex.from_bytes(arrays["short"], f"{name} (short codes)")
        long = BinaryFlatIndex.from_bytes(arrays["long"], f"{name} (long codes)", use_gpu=use_gpu)
        if short.structure != f"BHash{short.nbits}":
            raise IndexFileError(f"{name}: its short codes are in a {short.structure} index, not a whole-code hash")
        if len(short) != len(long):
            raise IndexFileError(f"{name}: {len(short)} short codes but {len(long)} long ones")
        self = cls.__new__(cls)
        self.short, self.long = short, long
        return self

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"short": self.short.to_bytes(), "long": self.long.to_bytes()}

    def _split(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        codes = np.asarray(codes)
        codes = codes[None, :] if codes.ndim == 1 else codes
        width = self.dim // 8
        if codes.ndim != 2 or codes.shape[1] != width:
            raise InvalidParameterError(
                f"Two-stage codes must be {width} bytes per row ({self.short_bits}-bit short code, then "
                f"{self.long_bits}-bit long code). Got shape {codes.shape} instead."
            )
        cut = self.short_bits // 8
        return self.short._prepared(codes[:, :cut]), self.long._prepared(codes[:, cut:])

    def _rerank(
        self, queries: np.ndarray, lims: np.ndarray, candidates: np.ndarray, long_queries: np.ndarray,
        distances: np.ndarray, keys: np.ndarray,
    ) -> None:  # fmt: skip
        """Rank the shortlists of ``queries`` by long-code distance (ties by key) into ``distances``/``keys``."""
        starts, stops = lims[queries], lims[queries + 1]
        counts = stops - starts
        query = np.repeat(queries, counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        cand = candidates[np.repeat(starts, counts) + offsets]
        dist = popcount_rows(self.long.reconstruct_batch(cand) ^ long_queries[query])
        order = np.lexsort((cand, dist, query))
        query, cand, dist = query[order], cand[order], dist[order]
        rank = np.arange(len(query)) - np.searchsorted(query, query)
        take = rank < keys.shape[1]
        distances[query[take], rank[take]] = dist[take]
        keys[query[take], rank[take]] = cand[take]


def _chunks(sizes: np.ndarray, budget: int) -> list[slice]:
    """Consecutive slices of ``sizes`` whose sums stay within ``budget`` (a larger single item gets its own)."""
    chunks, start, total = [], 0, 0
    for i, size in enumerate(sizes.tolist()):
        if total and total + size > budget:
            chunks.append(slice(start, i))
            start, total = i, 0
        total += size
    if start < len(sizes):
        chunks.append(slice(start, len(sizes)))
    return chunks
