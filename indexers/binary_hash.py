"""Hash lookup over binary codes (``BHash<b>``, ``BHash<m>x<b>``): candidates near the query in some table.

Only items whose hashed bits are within ``nflip`` bit flips of the query's, in at least one of ``tables``
tables of ``table_bits`` consecutive bits, are candidates; candidates are ranked by their full Hamming
distance. Built as ``IndexBinaryIDMap`` over ``IndexBinaryMultiHash`` (one table finds what
``IndexBinaryHash`` finds) because the multi-hash index keeps its codes in a flat storage: keys can be
reconstructed, and :meth:`BinaryHashIndex.remove` rebuilds the tables from the stored codes (faiss cannot
remove from a hash index), in time linear in the index size. When ``nflip`` is so large that probing every
bucket within ``nflip`` flips would cost more than reading every code, a linear scan finds the same
candidates instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

import faiss
import numpy as np

from .binary_base import HammingIndex
from .bits import MISSING_DISTANCE, check_nbits, hamming_distances
from .errors import InvalidParameterError
from .spec import MAX_HASH_BITS

DEFAULT_NFLIP = 2
SCAN_CELLS = 1 << 20  # query x item distances a linear scan holds at once
PROBE_COST = 8  # one hash-bucket probe costs about as much as scanning 8 codes (measured, faiss-cpu 1.15, 1 thread)


class BinaryHashIndex(HammingIndex):
    """``tables`` hash tables of ``table_bits`` bits each over ``nbits``-bit codes; ``nflip`` is the probe radius."""

    def __init__(self, nbits: int, tables: int = 1, table_bits: int = 16, nflip: int = DEFAULT_NFLIP,
                 use_gpu: bool = False) -> None:  # fmt: skip
        nbits = check_nbits(nbits, "BinaryHashIndex")
        if not 1 <= table_bits <= MAX_HASH_BITS or tables < 1 or tables * table_bits > nbits:
            raise InvalidParameterError(
                f"The hash tables of BinaryHashIndex must hash 1 to {MAX_HASH_BITS} bits each, at most {nbits} bits "
                f"in all. Got {tables} x {table_bits} bits instead."
            )
        self._attach(faiss.index_binary_factory(nbits, f"IDMap,BHash{tables}x{table_bits}"), use_gpu)
        self.nflip = nflip

    @staticmethod
    def structure_of(index: faiss.IndexBinary) -> str | None:
        if isinstance(index, faiss.IndexBinaryIDMap) and not isinstance(index, faiss.IndexBinaryIDMap2):
            inner = faiss.downcast_IndexBinary(index.index)
            if isinstance(inner, faiss.IndexBinaryMultiHash):
                return f"BHash{inner.b}" if inner.nhash == 1 else f"BHash{inner.nhash}x{inner.b}"
        return None

    @property
    def tables(self) -> int:
        return int(self._inner().nhash)

    @property
    def table_bits(self) -> int:
        return int(self._inner().b)

    @property
    def nflip(self) -> int:
        """Search radius: hashed bits a candidate may differ in, per table; saved with the index."""
        return int(self._inner().nflip)

    @nflip.setter
    def nflip(self, value: int) -> None:
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or not 0 <= value <= self.table_bits:
            raise InvalidParameterError(
                f"The 'nflip' parameter of BinaryHashIndex must be an int in [0, {self.table_bits}]. "
                f"Got {value!r} instead."
            )
        self._inner().nflip = int(value)

    def params(self) -> dict[str, int]:
        return {"nflip": self.nflip}

    def set_params(self, params: Mapping[str, int]) -> None:
        """``nflip``."""
        for name, value in params.items():
            if name != "nflip":
                raise InvalidParameterError(f"The {name!r} parameter does not apply to a {self.structure} index.")
            self.nflip = value

    def remove(self, keys: np.ndarray) -> int:
        """Remove ``keys`` (the tables are rebuilt from the stored codes that stay); return how many were there."""
        keys = np.ascontiguousarray(keys, dtype=np.int64).reshape(-1)
        stored = self.keys()
        keep = ~np.isin(stored, keys)
        removed = int((~keep).sum())
        if removed:
            codes = self._codes_view()[keep].copy()
            nflip = self.nflip
            self._index = faiss.index_binary_factory(self.nbits, f"IDMap,BHash{self.tables}x{self.table_bits}")
            self.nflip = nflip
            if keep.any():
                self._index.add_with_ids(codes, np.ascontiguousarray(stored[keep]))
        self._changed()
        return removed

    def search_hamming(self, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` among the candidates; a query may have fewer than ``k`` (the rest: key -1)."""
        k = self._capped(k)
        codes = self._prepared(codes)
        if self._scans():
            return self._scan_search(codes, k)
        return self._faiss_search(self._index, codes, k)

    def range_search_hamming(self, codes: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Candidates within ``radius`` of each query (items within ``nflip`` flips of it in some table)."""
        codes = self._prepared(codes)
        if len(self) == 0:
            return np.zeros(len(codes) + 1, dtype=np.int64), np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64)
        if self._scans():
            return self._scan_range_search(codes, radius)
        lims, distances, keys = self._index.range_search(codes, int(radius) + 1)  # faiss keeps d < radius
        return lims.astype(np.int64), distances.astype(np.int32), keys

    # internals

    def _inner(self) -> faiss.IndexBinaryMultiHash:
        return faiss.downcast_IndexBinary(self._index.index)

    def _storage(self) -> faiss.IndexBinaryFlat:
        return self._inner().storage

    def _scans(self) -> bool:
        """Whether probing every bucket within ``nflip`` flips would cost more than a linear scan.

        The scan finds the same candidates as the hash tables, so the answers are the same.
        """
        if len(self) == 0:
            return False
        probes = self.tables * sum(math.comb(self.table_bits, i) for i in range(self.nflip + 1))
        return probes * PROBE_COST > len(self)

    def _scan_distances(self, codes: np.ndarray) -> Iterator[tuple[slice, np.ndarray]]:
        """Per chunk of queries: distances to every stored item, ``MISSING_DISTANCE`` where the hash would not look."""
        stored = self._codes_view()
        stored_hashes = table_hashes(stored, self.tables, self.table_bits)
        rows = max(1, SCAN_CELLS // len(self))
        for start in range(0, len(codes), rows):
            chunk = codes[start : start + rows]
            hashes = table_hashes(chunk, self.tables, self.table_bits)
            near = (np.bitwise_count(hashes[:, :, None] ^ stored_hashes[:, None, :]) <= self.nflip).any(axis=0)
            distances = hamming_distances(chunk, stored)
            distances[~near] = MISSING_DISTANCE
            yield slice(start, start + len(chunk)), distances

    def _scan_search(self, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        distances = np.full((len(codes), k), MISSING_DISTANCE, dtype=np.int32)
        keys = np.full((len(codes), k), -1, dtype=np.int64)
        stored_keys = self.keys()
        for rows, block in self._scan_distances(codes):
            nearest = np.argpartition(block, k - 1, axis=1)[:, :k]
            found = np.take_along_axis(block, nearest, axis=1)
            order = np.argsort(found, axis=1, kind="stable")
            nearest, found = np.take_along_axis(nearest, order, axis=1), np.take_along_axis(found, order, axis=1)
            distances[rows] = found
            keys[rows] = np.where(found < MISSING_DISTANCE, stored_keys[nearest], -1)
        return distances, keys

    def _scan_range_search(self, codes: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        counts, distances, keys = [], [], []
        stored_keys = self.keys()
        for _, block in self._scan_distances(codes):
            inside = block <= min(int(radius), self.nbits)
            rows, cols = np.nonzero(inside)
            counts.append(inside.sum(axis=1))
            distances.append(block[rows, cols])
            keys.append(stored_keys[cols])
        lims = np.concatenate([[0], np.cumsum(np.concatenate(counts))]).astype(np.int64)
        return lims, np.concatenate(distances).astype(np.int32), np.concatenate(keys)


def table_hashes(codes: np.ndarray, tables: int, bits: int) -> np.ndarray:
    """``(tables, n)`` ``uint64`` hash values: table ``t`` reads bits ``t*bits .. t*bits + bits - 1``, as faiss does."""
    nbytes = -(-tables * bits // 8)
    unpacked = np.unpackbits(codes[:, :nbytes], axis=1, bitorder="little")[:, : tables * bits]
    padded = np.zeros((len(codes), tables, 64), dtype=np.uint8)
    padded[..., :bits] = unpacked.reshape(len(codes), tables, bits)
    return np.packbits(padded, axis=2, bitorder="little").view("<u8")[..., 0].T
