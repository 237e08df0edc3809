"""Real-valued codes in a FAISS index: cosine (inner product on L2-normalised codes) or Euclidean."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from .files import atomic_write
from .gpu import gpu_count, to_gpu

DEFAULT_SPEC = "IDMap2,Flat"
METRICS = ("cosine", "l2")


class IndexFileError(Exception):
    """An index file is missing or not a FAISS index."""


class FloatIndex:
    """Exact (or, by ``spec``, approximate) search with stable ``int64`` keys.

    ``metric`` is ``cosine`` (scores are cosine similarities) or ``l2`` (scores are negated
    Euclidean distances), so a higher score is always closer. ``spec`` is a
    ``faiss.index_factory`` string; it must start with ``IDMap2`` so that keys survive removals
    and vectors can be reconstructed by key.
    """

    def __init__(self, dim: int, spec: str = DEFAULT_SPEC, metric: str = "cosine", use_gpu: bool = False) -> None:
        if not spec.startswith("IDMap2"):
            raise ValueError(f"The 'spec' parameter must start with 'IDMap2'. Got {spec!r} instead.")
        if metric not in METRICS:
            raise ValueError(f"The 'metric' parameter must be one of {METRICS}. Got {metric!r} instead.")
        self.spec = spec
        self.metric = metric
        self.use_gpu = use_gpu
        faiss_metric = faiss.METRIC_INNER_PRODUCT if metric == "cosine" else faiss.METRIC_L2
        # An IVF index keeps ids itself; its hash-table direct map (which lets keys be reconstructed
        # and removed) breaks under an IDMap2 wrapper in faiss 1.15, so IVF specs are built unwrapped.
        is_ivf = ",IVF" in spec
        self._index = faiss.index_factory(dim, spec.removeprefix("IDMap2,") if is_ivf else spec, faiss_metric)
        self._gpu_index = None
        if is_ivf:
            self._index.set_direct_map_type(faiss.DirectMap.Hashtable)
            self._index.nprobe = min(self._index.nlist, max(8, self._index.nlist // 32))  # faiss's 1 is too few

    @property
    def dim(self) -> int:
        return self._index.d

    def __len__(self) -> int:
        return self._index.ntotal

    @property
    def on_gpu(self) -> bool:
        return self.use_gpu and gpu_count() > 0

    @property
    def is_trained(self) -> bool:
        return bool(self._index.is_trained)

    def train(self, codes: np.ndarray) -> None:
        """Train an IVF / PQ index on ``codes`` (a sample); exact indexes need none."""
        if not self._index.is_trained:
            self._index.train(self._prepared(codes))
            self._gpu_index = None

    @property
    def nprobe(self) -> int | None:
        """Inverted lists an IVF index visits per query (``None`` for other indexes); saved with the index."""
        ivf = _ivf(self._index)
        return None if ivf is None else int(ivf.nprobe)

    @nprobe.setter
    def nprobe(self, value: int) -> None:
        ivf = _ivf(self._index)
        if ivf is None:
            raise ValueError(f"The 'nprobe' parameter applies to IVF indexes only. Got spec {self.spec!r}.")
        ivf.nprobe = max(1, min(int(value), ivf.nlist))
        self._gpu_index = None

    def add(self, keys: np.ndarray, codes: np.ndarray) -> None:
        """Add ``codes`` under ``keys`` (keys must not be present already; remove first to replace)."""
        codes = self._prepared(codes)
        if codes.shape[1] != self.dim:
            raise ValueError(f"codes have {codes.shape[1]} dimensions, the index {self.dim}")
        if not self._index.is_trained:
            self._index.train(codes)
        self._index.add_with_ids(codes, np.ascontiguousarray(keys, dtype=np.int64))
        self._gpu_index = None

    def remove(self, keys: np.ndarray) -> int:
        """Remove ``keys``; return how many were there."""
        removed = self._index.remove_ids(np.ascontiguousarray(keys, dtype=np.int64))
        self._gpu_index = None
        return int(removed)

    def search(self, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` ``(scores, keys)`` per query row; missing places have key -1."""
        k = max(1, min(k, len(self))) if len(self) else 1
        scores, keys = self._searcher().search(self._prepared(codes), k)
        if self.metric == "l2":  # faiss gives squared distances, smallest first
            scores = -np.sqrt(np.maximum(scores, 0))
        return scores, keys

    def keys(self) -> np.ndarray:
        """The stored keys (a copy)."""
        ivf = _ivf(self._index)
        if ivf is None:
            return faiss.vector_to_array(self._index.id_map).astype(np.int64, copy=False)
        lists = ivf.invlists
        parts = [faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy() for i in range(ivf.nlist)]
        return np.concatenate(parts).astype(np.int64, copy=False) if parts else np.empty(0, np.int64)

    def reconstruct(self, key: int) -> np.ndarray:
        """The stored code of ``key`` (normalised, for cosine); ``KeyError`` if absent."""
        try:
            return self._index.reconstruct(int(key))
        except RuntimeError as exc:
            raise KeyError(key) from exc

    def bytes_per_item(self) -> float:
        """Serialised index size per item, codes and ids included."""
        return len(faiss.serialize_index(self._index)) / max(1, len(self))

    def index_type(self) -> str:
        """The index spec, and where it searches."""
        kind = "inner product" if self.metric == "cosine" else "L2"
        probe = f", nprobe {self.nprobe}" if self.nprobe is not None else ""
        return f"{self.spec} ({kind}{probe}{', GPU' if self.on_gpu else ''})"

    def save(self, path: str | Path) -> None:
        """Write the index atomically: a reader sees the old file or the new one, never half."""
        atomic_write(path, lambda tmp: faiss.write_index(self._index, tmp))

    def to_bytes(self) -> np.ndarray:
        """The index serialised, as ``uint8`` (what :meth:`from_bytes` reads)."""
        return faiss.serialize_index(self._index)

    @classmethod
    def from_bytes(cls, data: np.ndarray, name: str, spec: str = DEFAULT_SPEC, use_gpu: bool = False) -> FloatIndex:
        """Rebuild an index from :meth:`to_bytes`; ``name`` says where the bytes came from, in errors."""
        try:
            index = faiss.deserialize_index(np.ascontiguousarray(data, dtype=np.uint8))
        except RuntimeError as exc:
            raise IndexFileError(f"{name}: not a readable FAISS index") from exc
        return cls._wrap(index, spec, use_gpu)

    @classmethod
    def load(cls, path: str | Path, spec: str = DEFAULT_SPEC, use_gpu: bool = False) -> FloatIndex:
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise IndexFileError(f"{path}: not a readable FAISS index") from exc
        return cls._wrap(index, spec, use_gpu)

    @classmethod
    def _wrap(cls, index: faiss.Index, spec: str, use_gpu: bool) -> FloatIndex:
        self = cls.__new__(cls)
        self.spec, self.use_gpu, self._index, self._gpu_index = spec, use_gpu, index, None
        self.metric = "cosine" if index.metric_type == faiss.METRIC_INNER_PRODUCT else "l2"
        return self

    def _prepared(self, codes: np.ndarray) -> np.ndarray:
        codes = np.array(codes, dtype=np.float32, order="C", ndmin=2)  # a copy: normalised in place
        if self.metric == "cosine":
            faiss.normalize_L2(codes)
        return codes

    def _searcher(self) -> faiss.Index:
        if not self.on_gpu:
            return self._index
        if self._gpu_index is None:
            self._gpu_index = to_gpu(self._index)
        return self._gpu_index


def _ivf(index: faiss.Index) -> faiss.IndexIVF | None:
    """``index`` if it is an inverted-file index."""
    return index if isinstance(index, faiss.IndexIVF) else None
