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

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from .binary_index import MAX_HASH_BITS, MISSING_DISTANCE, BinaryIndex, popcount_rows
from .files import atomic_write
from .float_index import IndexFileError

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


class TwoStageIndex:
    """Short-code hash shortlist, long-code re-ranking, exhaustive fallback; scores ``1 - long hamming / long_bits``."""

    def __init__(self, short_bits: int = 32, long_bits: int = 256, radius: int = DEFAULT_RADIUS, use_gpu: bool = False):
        if not isinstance(short_bits, (int, np.integer)) or not 8 <= short_bits <= MAX_HASH_BITS or short_bits % 8:
            raise ValueError(
                f"The 'short_bits' parameter of TwoStageIndex must be a multiple of 8 from 8 to {MAX_HASH_BITS}. "
                f"Got {short_bits!r} instead."
            )
        self.short = BinaryIndex(short_bits, f"BHash{short_bits}", nflip=radius)
        self.long = BinaryIndex(long_bits, "BFlat", use_gpu=use_gpu)

    @property
    def radius(self) -> int:
        """Hamming radius of the short-code shortlist (inclusive)."""
        return self.short.nflip

    @radius.setter
    def radius(self, value: int) -> None:
        self.short.nflip = value

    @property
    def short_bits(self) -> int:
        return self.short.nbits

    @property
    def use_gpu(self) -> bool:
        """Whether long-code ranking may run on a GPU (the hash lookup stays on the CPU)."""
        return self.long.use_gpu

    @property
    def nbits(self) -> int:
        """Width of a joined code: short plus long bits."""
        return self.short.nbits + self.long.nbits

    @property
    def long_bits(self) -> int:
        return self.long.nbits

    def __len__(self) -> int:
        return len(self.long)

    def add(self, keys: np.ndarray, codes: np.ndarray) -> None:
        """Add joined packed codes (``join_codes``) under ``keys`` (keys must not be present already)."""
        keys = np.asarray(keys, dtype=np.int64).reshape(-1)
        short_codes, long_codes = self._split(codes)
        if len(keys) != len(short_codes):
            raise ValueError(f"{len(keys)} keys for {len(short_codes)} codes")
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
            queries = ranked[chunk]
            self._rerank(queries, lims, candidates, long_queries, distances, keys)
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

    def index_type(self) -> str:
        return (
            f"two-stage: {self.short_bits}-bit hash shortlist within radius {self.radius}, "
            f"{self.long.index_type()} re-ranking"
        )

    def save(self, path: str | Path) -> None:
        """Write both stages into one file, atomically (safetensors holding the two serialised faiss indexes)."""
        arrays = {"short": self.short.to_bytes(), "long": self.long.to_bytes()}
        atomic_write(path, lambda tmp: save_file(arrays, tmp, metadata={"format": "ae-retrieval-two-stage"}))

    @classmethod
    def load(cls, path: str | Path, use_gpu: bool = False) -> TwoStageIndex:
        """Read a file written by :meth:`save`; the radius comes from the short-code index."""
        try:
            arrays = load_file(str(path))
        except (OSError, SafetensorError, ValueError) as exc:
            raise IndexFileError(f"{path}: not a readable two-stage index ({exc})") from exc
        if set(arrays) != {"short", "long"}:
            raise IndexFileError(f"{path}: not a two-stage index (holds {sorted(arrays)})")
        short = BinaryIndex.from_bytes(arrays["short"], f"{path} (short codes)")
        long = BinaryIndex.from_bytes(arrays["long"], f"{path} (long codes)", spec="BFlat", use_gpu=use_gpu)
        if short.spec != f"BHash{short.nbits}":
            raise IndexFileError(f"{path}: its short codes are in a {short.spec} index, not a whole-code hash")
        if len(short) != len(long):
            raise IndexFileError(f"{path}: {len(short)} short codes but {len(long)} long ones")
        self = cls.__new__(cls)
        self.short, self.long = short, long
        return self

    def _split(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        codes = np.asarray(codes)
        codes = codes[None, :] if codes.ndim == 1 else codes
        width = self.nbits // 8
        if codes.ndim != 2 or codes.shape[1] != width:
            raise ValueError(
                f"Two-stage codes must be {width} bytes per row ({self.short_bits}-bit short code, then "
                f"{self.long_bits}-bit long code). Got shape {codes.shape} instead."
            )
        cut = self.short_bits // 8
        return self.short._prepared(codes[:, :cut]), self.long._prepared(codes[:, cut:])

    def _rerank(
        self,
        queries: np.ndarray,
        lims: np.ndarray,
        candidates: np.ndarray,
        long_queries: np.ndarray,
        distances: np.ndarray,
        keys: np.ndarray,
    ) -> None:
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
