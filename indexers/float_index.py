"""Real-valued codes in a FAISS index: cosine (inner product on L2-normalised codes) or Euclidean."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import faiss
import numpy as np

from .base import CodeIndex, sorted_members
from .errors import IndexFileError, InvalidParameterError
from .faiss_check import check_faiss, check_faiss_file
from .files import atomic_write
from .flat_scan import BATCH_FROM, flat_batch_search
from .gpu import gpu_count, to_gpu
from .spec import DEFAULT_FLOAT_SPEC, FLOAT_METRICS

SELECTOR_SHARE = 8  # a filter matching >= 1/8 of the items runs inside faiss's search; a smaller one scans its own


class FloatIndex(CodeIndex):
    """Exact (or, by ``spec``, approximate) search with stable ``int64`` keys.

    ``metric`` is ``cosine`` (scores are cosine similarities) or ``l2`` (scores are negated Euclidean
    distances), so a higher score is always closer. ``spec`` is a ``faiss.index_factory`` string without
    search parameters, with or without the ``IDMap2,`` prefix (kept in :attr:`structure`): keys survive
    removals and codes can be reconstructed by key. An IVF index keeps ids itself (its hash-table direct map
    breaks under an ``IDMap2`` wrapper in faiss 1.15), so IVF specs are built unwrapped; ``nprobe`` defaults to
    ``max(8, nlist // 32)`` lists (faiss's 1 is too few).
    """

    def __init__(self, dim: int, spec: str = DEFAULT_FLOAT_SPEC, metric: str = "cosine", use_gpu: bool = False) -> None:
        if metric not in FLOAT_METRICS:
            raise InvalidParameterError(
                f"The 'metric' parameter of FloatIndex must be one of {FLOAT_METRICS}. Got {metric!r} instead."
            )
        structure = spec if spec.startswith("IDMap2,") else f"IDMap2,{spec}"
        faiss_metric = faiss.METRIC_INNER_PRODUCT if metric == "cosine" else faiss.METRIC_L2
        is_ivf = structure.split(",")[1].startswith("IVF")
        built = structure.removeprefix("IDMap2,") if is_ivf else structure
        try:
            index = faiss.index_factory(int(dim), built, faiss_metric)
        except RuntimeError as exc:
            raise InvalidParameterError(
                f"The 'spec' parameter of FloatIndex must be a faiss index_factory string faiss can build for "
                f"{dim}-dimensional codes. Got {spec!r} instead ({faiss_message(exc)})."
            ) from exc
        if is_ivf:
            index.set_direct_map_type(faiss.DirectMap.Hashtable)
            index.nprobe = min(index.nlist, max(8, index.nlist // 32))
        self._setup(index, structure, use_gpu)

    def _setup(self, index: faiss.Index, structure: str, use_gpu: bool) -> None:
        self._index, self._structure, self.use_gpu = index, structure, use_gpu
        self._gpu_index: faiss.Index | None = None
        self._sorted_keys: np.ndarray | None = None  # for present(); dropped on every change
        self.metric = "cosine" if index.metric_type == faiss.METRIC_INNER_PRODUCT else "l2"

    @property
    def structure(self) -> str:
        return self._structure

    @property
    def dim(self) -> int:
        return int(self._index.d)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def on_gpu(self) -> bool:
        """Whether searches run on a GPU (``use_gpu`` and faiss sees one)."""
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
        self.set_params({"nprobe": value})

    def params(self) -> dict[str, int]:
        nprobe = self.nprobe
        return {} if nprobe is None else {"nprobe": nprobe}

    def set_params(self, params: Mapping[str, int]) -> None:
        """``nprobe`` (IVF only; capped at the number of lists)."""
        ivf = _ivf(self._index)
        for name, value in params.items():
            if name != "nprobe" or ivf is None:
                raise InvalidParameterError(f"The {name!r} parameter does not apply to a {self.structure} index.")
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise InvalidParameterError(f"The 'nprobe' parameter must be an int >= 1. Got {value!r} instead.")
            ivf.nprobe = min(int(value), ivf.nlist)
            self._gpu_index = None

    def add(self, keys: np.ndarray, codes: np.ndarray) -> None:
        """Add ``codes`` under ``keys`` (keys must not be present already; remove first to replace)."""
        codes = self._prepared(codes)
        keys = np.ascontiguousarray(keys, dtype=np.int64).reshape(-1)
        if len(keys) != len(codes):
            raise InvalidParameterError(f"{len(keys)} keys for {len(codes)} codes")
        if not self._index.is_trained:
            self._index.train(codes)
        self._index.add_with_ids(codes, keys)
        self._gpu_index = self._sorted_keys = None

    def remove(self, keys: np.ndarray) -> int:
        """Remove ``keys``; return how many were there."""
        removed = self._index.remove_ids(np.ascontiguousarray(keys, dtype=np.int64).reshape(-1))
        self._gpu_index = self._sorted_keys = None
        return int(removed)

    def search(self, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` ``(scores, keys)`` per query row; missing places have key -1 and score -inf."""
        k = max(1, min(int(k), len(self))) if len(self) else 1
        queries = self._prepared(codes)
        if len(queries) >= BATCH_FROM and len(self) and self.structure == "IDMap2,Flat" and not self.on_gpu:
            return self._scored(*flat_batch_search(self._index, queries, k))
        return self._scored(*self._searcher().search(queries, k))

    def search_among(self, codes: np.ndarray, k: int, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-``k`` among ``keys``: when many items match, faiss's ``IDSelector`` inside a flat or IVF scan
        (every list probed, so nothing matching is missed); else, or for other layouts, an exhaustive scan of the
        matching items' stored codes."""
        present = self.present(keys)
        queries = self._prepared(codes)
        if not len(present):
            return np.full((len(queries), 1), -np.inf, np.float32), np.full((len(queries), 1), -1, np.int64)
        k = min(max(1, int(k)), len(present))
        if len(present) * SELECTOR_SHARE >= len(self) and not self.on_gpu:
            found = self._selector_search(queries, k, present)
            if found is not None:
                return self._scored(*found)
        subset = faiss.IndexFlat(self.dim, self._index.metric_type)
        subset.add(self.reconstruct_batch(present))
        scores, positions = subset.search(queries, k)
        return self._scored(scores, np.where(positions >= 0, present[np.maximum(positions, 0)], -1))

    def present(self, keys: np.ndarray) -> np.ndarray:
        """The distinct ``keys`` that are stored, sorted (against the stored keys, sorted once per change)."""
        if self._sorted_keys is None:
            self._sorted_keys = np.sort(self.keys())
        return sorted_members(np.unique(np.asarray(keys, dtype=np.int64)), self._sorted_keys)

    def _selector_search(self, queries: np.ndarray, k: int, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """faiss's own exhaustive search restricted to ``keys``; ``None`` for layouts where it is not exhaustive."""
        selector = faiss.IDSelectorBatch(keys)
        ivf = _ivf(self._index)
        if ivf is not None:
            params = faiss.SearchParametersIVF(sel=selector, nprobe=ivf.nlist)
        elif self.structure == "IDMap2,Flat":
            params = faiss.SearchParameters(sel=selector)
        else:  # HNSW's graph walk could miss matching items; PQ and the like take no selector
            return None
        return self._index.search(queries, k, params=params)

    def _scored(self, scores: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """faiss's ``(distances, ids)`` as scores where higher is closer; missing places -inf."""
        if self.metric == "l2":  # faiss gives squared distances, smallest first
            scores = -np.sqrt(np.maximum(scores, 0))
        scores = scores.astype(np.float32, copy=False)
        scores[keys < 0] = -np.inf
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
        """The stored code of ``key`` (normalised for cosine, decoded for quantised indexes); ``KeyError`` if absent."""
        try:
            return self._index.reconstruct(int(key))
        except RuntimeError as exc:
            raise KeyError(key) from exc

    def reconstruct_batch(self, keys: np.ndarray) -> np.ndarray:
        """The stored codes of ``keys``, one row each (as :meth:`reconstruct`); ``KeyError`` if one is absent."""
        keys = np.ascontiguousarray(keys, dtype=np.int64).reshape(-1)
        if not len(keys):
            return np.empty((0, self.dim), dtype=np.float32)
        try:
            return self._index.reconstruct_batch(keys)
        except RuntimeError as exc:
            raise KeyError(faiss_message(exc)) from exc

    def bytes_per_item(self) -> float:
        """Serialised index size per item, codes and ids included."""
        return len(faiss.serialize_index(self._index)) / max(1, len(self))

    def describe(self) -> str:
        """E.g. ``IDMap2,IVF64,Flat (inner product, nprobe 8)``."""
        kind = "inner product" if self.metric == "cosine" else "L2"
        probe = f", nprobe {self.nprobe}" if self.nprobe is not None else ""
        return f"{self.structure} ({kind}{probe}{', GPU' if self.on_gpu else ''})"

    def save(self, path: str | Path) -> None:
        """Write the index atomically: a reader sees the old file or the new one, never half."""
        atomic_write(path, lambda tmp: faiss.write_index(self._index, tmp))

    def to_bytes(self) -> np.ndarray:
        """The index serialised, as ``uint8`` (what :meth:`from_bytes` reads)."""
        return faiss.serialize_index(self._index)

    @classmethod
    def from_bytes(
        cls, data: np.ndarray, name: str, spec: str = DEFAULT_FLOAT_SPEC, use_gpu: bool = False
    ) -> FloatIndex:
        """Rebuild an index from :meth:`to_bytes`; ``spec`` is its structure; ``name`` says where the bytes came
        from, in errors."""
        check_faiss(data, name, binary=False)
        try:
            index = faiss.deserialize_index(np.ascontiguousarray(data, dtype=np.uint8))
        except RuntimeError as exc:
            raise IndexFileError(f"{name}: not a readable FAISS index") from exc
        return cls._wrap(index, name, spec, use_gpu)

    @classmethod
    def load(cls, path: str | Path, spec: str = DEFAULT_FLOAT_SPEC, use_gpu: bool = False) -> FloatIndex:
        """Read a file written by :meth:`save`; ``spec`` is its structure (its ``nprobe`` is in the file)."""
        check_faiss_file(path, binary=False)
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise IndexFileError(f"{path}: not a readable FAISS index") from exc
        return cls._wrap(index, str(path), spec, use_gpu)

    @classmethod
    def _wrap(cls, index: faiss.Index, name: str, spec: str, use_gpu: bool) -> FloatIndex:
        structure = spec if spec.startswith("IDMap2,") else f"IDMap2,{spec}"
        wants_ivf = structure.split(",")[1].startswith("IVF")
        if wants_ivf != (_ivf(index) is not None) or not (wants_ivf or isinstance(index, faiss.IndexIDMap2)):
            raise IndexFileError(f"{name}: a FAISS index, but not the {structure} index it should be")
        self = cls.__new__(cls)
        self._setup(index, structure, use_gpu)
        return self

    def _prepared(self, codes: np.ndarray) -> np.ndarray:
        codes = np.array(codes, dtype=np.float32, order="C", ndmin=2)  # a copy: normalised in place
        if codes.ndim != 2 or codes.shape[1] != self.dim:
            raise InvalidParameterError(f"codes have shape {codes.shape}, the index wants (n, {self.dim}) floats")
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


def faiss_message(exc: BaseException | None) -> str:
    """The gist of faiss's own error message, without the C++ location it starts with."""
    text = str(exc or "").strip().splitlines()[0] if str(exc or "").strip() else "faiss refused it"
    return re.split(r"\.(?:cpp|h):\d+: (?:Error: )?", text)[-1]
