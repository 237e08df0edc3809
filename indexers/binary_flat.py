"""Exact Hamming search (``BFlat``): ``IndexBinaryIDMap2`` over ``IndexBinaryFlat``, on a GPU when there is one."""

from __future__ import annotations

import faiss
import numpy as np

from .binary_base import HammingIndex
from .bits import MISSING_DISTANCE, check_nbits
from .gpu import gpu_count, gpu_resources

FAISS_SPEC = "IDMap2,BFlat"


class BinaryFlatIndex(HammingIndex):
    """Every stored code compared with every query: exact top-``k`` by Hamming distance."""

    def __init__(self, nbits: int, use_gpu: bool = False) -> None:
        self._attach(faiss.index_binary_factory(check_nbits(nbits, "BinaryFlatIndex"), FAISS_SPEC), use_gpu)

    @staticmethod
    def structure_of(index: faiss.IndexBinary) -> str | None:
        if isinstance(index, faiss.IndexBinaryIDMap2):
            if isinstance(faiss.downcast_IndexBinary(index.index), faiss.IndexBinaryFlat):
                return "BFlat"
        return None

    @property
    def on_gpu(self) -> bool:
        """Whether searches run on a GPU (``use_gpu`` and faiss sees one)."""
        return self.use_gpu and gpu_count() > 0

    def remove(self, keys: np.ndarray) -> int:
        """Remove ``keys``; return how many were there."""
        removed = int(self._index.remove_ids(np.ascontiguousarray(keys, dtype=np.int64).reshape(-1)))
        self._changed()
        return removed

    def search_hamming(self, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = self._capped(k)
        codes = self._prepared(codes)
        if self.on_gpu and len(self):
            return self._gpu_search(codes, k)
        return self._faiss_search(self._index, codes, k)

    def range_search_hamming(self, codes: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        codes = self._prepared(codes)
        if len(self) == 0:
            return np.zeros(len(codes) + 1, dtype=np.int64), np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64)
        lims, distances, keys = self._index.range_search(codes, int(radius) + 1)  # faiss keeps d < radius
        return lims.astype(np.int64), distances.astype(np.int32), keys

    def _storage(self) -> faiss.IndexBinaryFlat:
        return faiss.downcast_IndexBinary(self._index.index)

    def _gpu_search(self, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        # faiss clones only a bare IndexBinaryFlat to the GPU: search positions there, map them to keys here.
        if self._gpu_index is None:
            self._gpu_index = faiss.index_binary_cpu_to_gpu(gpu_resources(), 0, self._storage())
        distances, positions = self._gpu_index.search(codes, k)
        keys = np.where(positions >= 0, self.keys()[np.maximum(positions, 0)], -1)
        distances[positions < 0] = MISSING_DISTANCE
        return distances.astype(np.int32, copy=False), keys
