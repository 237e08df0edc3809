"""What the binary indexes share: packed codes with stable keys in a FAISS binary index, Hamming scores.

:meth:`HammingIndex.search` scores ``1 - hamming / nbits`` in ``[0, 1]`` (higher is closer);
:meth:`HammingIndex.search_hamming` gives the distances. The exact index is ``binary_flat``, the hash
lookup ``binary_hash``.
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import Self

import faiss
import numpy as np

from .base import CodeIndex, sorted_members
from .bits import MISSING_DISTANCE
from .errors import IndexFileError, InvalidParameterError
from .faiss_check import check_faiss, check_faiss_file
from .files import atomic_write


def read_binary(source: str | Path | np.ndarray, name: str) -> faiss.IndexBinary:
    """A FAISS binary index from a file path or from serialised ``uint8`` bytes; ``IndexFileError`` if it is not one
    (its size fields are checked before faiss reads it: ``faiss_check``)."""
    if isinstance(source, np.ndarray):
        check_faiss(source, name, binary=True)
    else:
        check_faiss_file(source, binary=True)
    try:
        if isinstance(source, np.ndarray):
            return faiss.deserialize_index_binary(np.ascontiguousarray(source, dtype=np.uint8))
        return faiss.read_index_binary(str(source))
    except RuntimeError as exc:
        raise IndexFileError(f"{name}: not a readable FAISS binary index") from exc


class HammingIndex(CodeIndex):
    """Packed ``uint8`` codes of ``nbits`` bits under ``int64`` keys; subclasses choose how a search finds them."""

    metric = "hamming"

    def _attach(self, index: faiss.IndexBinary, use_gpu: bool) -> None:
        """Hold ``index`` (what a subclass's constructor builds, or what :meth:`from_faiss` read)."""
        self._index = index
        self.use_gpu = use_gpu
        self._gpu_index: faiss.IndexBinary | None = None
        self._sorted: tuple[np.ndarray, np.ndarray] | None = None  # (sorted keys, their positions), cached

    # --- reading -------------------------------------------------------------------------

    @staticmethod
    @abstractmethod
    def structure_of(index: faiss.IndexBinary) -> str | None:
        """The structure (``BFlat``, ``BHash16`` ...) of a faiss index of this class's layout, else ``None``."""

    @classmethod
    def from_faiss(cls, index: faiss.IndexBinary, name: str, use_gpu: bool = False) -> Self:
        """Wrap a faiss binary index of this class's layout (``IndexFileError`` for any other)."""
        if cls.structure_of(index) is None:
            raise IndexFileError(f"{name}: a FAISS binary index, but not the layout {cls.__name__} writes")
        self = cls.__new__(cls)
        self._attach(index, use_gpu)
        return self

    @classmethod
    def from_bytes(cls, data: np.ndarray, name: str, use_gpu: bool = False) -> Self:
        """Rebuild an index from :meth:`to_bytes`; ``name`` says where the bytes came from, in errors."""
        return cls.from_faiss(read_binary(data, name), name, use_gpu)

    @classmethod
    def load(cls, path: str | Path, use_gpu: bool = False) -> Self:
        """Read a file written by :meth:`save` (its search parameters come from the file)."""
        return cls.from_faiss(read_binary(path, str(path)), str(path), use_gpu)

    # --- the index interface -------------------------------------------------------------

    @property
    def structure(self) -> str:
        found = self.structure_of(self._index)
        assert found is not None  # checked when wrapped
        return found

    @property
    def nbits(self) -> int:
        return int(self._index.d)

    @property
    def dim(self) -> int:
        return self.nbits

    @property
    def code_size(self) -> int:
        """Bytes per packed code."""
        return int(self._index.code_size)

    @property
    def on_gpu(self) -> bool:
        """Whether searches run on a GPU."""
        return False

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, keys: np.ndarray, codes: np.ndarray) -> None:
        """Add packed ``codes`` under ``keys`` (keys must not be present already; remove first to replace)."""
        codes = self._prepared(codes)
        keys = np.ascontiguousarray(keys, dtype=np.int64).reshape(-1)
        if len(keys) != len(codes):
            raise InvalidParameterError(f"{len(keys)} keys for {len(codes)} codes")
        self._index.add_with_ids(codes, keys)
        self._changed()

    def search(self, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` ``(scores, keys)`` per query row, scores ``1 - hamming / nbits``; missing: key -1, score -inf."""
        distances, keys = self.search_hamming(codes, k)
        scores = (1.0 - distances / np.float32(self.nbits)).astype(np.float32)
        scores[keys < 0] = -np.inf
        return scores, keys

    def search_among(self, codes: np.ndarray, k: int, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-``k`` among ``keys``: an exhaustive Hamming scan of the matching items' codes."""
        distances, found = self.search_hamming_among(codes, k, keys)
        scores = (1.0 - distances / np.float32(self.nbits)).astype(np.float32)
        scores[found < 0] = -np.inf
        return scores, found

    def present(self, keys: np.ndarray) -> np.ndarray:
        """The distinct ``keys`` that are stored, sorted (against the cached sorted keys)."""
        return sorted_members(np.unique(np.asarray(keys, dtype=np.int64)), self._sorted_keys()[0])

    def search_hamming_among(self, codes: np.ndarray, k: int, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """As :meth:`search_hamming`, exact, among ``keys`` only (keys not stored are ignored)."""
        present = self.present(keys)
        queries = self._prepared(codes)
        if not len(present):
            return np.full((len(queries), 1), MISSING_DISTANCE, np.int32), np.full((len(queries), 1), -1, np.int64)
        subset = faiss.IndexBinaryFlat(self.nbits)
        subset.add(self.reconstruct_batch(present))
        distances, positions = self._faiss_search(subset, queries, min(max(1, int(k)), len(present)))
        return distances, np.where(positions >= 0, present[np.maximum(positions, 0)], -1)

    @abstractmethod
    def search_hamming(self, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` ``(hamming distances int32, keys)`` per query row, nearest first; ``k`` capped at the size;
        missing places: key -1, distance ``MISSING_DISTANCE``."""

    @abstractmethod
    def range_search_hamming(self, codes: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Items within Hamming distance ``radius`` (inclusive) of each query: ``(lims, distances, keys)``;
        query ``i``'s are ``distances[lims[i]:lims[i+1]]`` and ``keys[lims[i]:lims[i+1]]``, unordered."""

    def reconstruct(self, key: int) -> np.ndarray:
        """The stored packed code of ``key``; ``KeyError`` if absent."""
        return self.reconstruct_batch(np.array([key]))[0]

    def reconstruct_batch(self, keys: np.ndarray) -> np.ndarray:
        """The stored packed codes of ``keys``, one row each; ``KeyError`` naming a key that is absent."""
        return self._codes_view()[self._positions(keys)]

    def keys(self) -> np.ndarray:
        """The stored keys, in storage order (a copy)."""
        return faiss.vector_to_array(self._index.id_map).astype(np.int64, copy=False)

    def bytes_per_item(self) -> float:
        """Serialised index size per item, codes, keys and hash tables included."""
        return len(faiss.serialize_index_binary(self._index)) / max(1, len(self))

    def describe(self) -> str:
        """E.g. ``BHash2x32 (Hamming, 64 bits, nflip 1)``."""
        extra = "".join(f", {name} {value}" for name, value in self.params().items())
        return f"{self.structure} (Hamming, {self.nbits} bits{extra}{', GPU' if self.on_gpu else ''})"

    def save(self, path: str | Path) -> None:
        """Write the index atomically: a reader sees the old file or the new one, never half."""
        atomic_write(path, lambda tmp: faiss.write_index_binary(self._index, tmp))

    def to_bytes(self) -> np.ndarray:
        """The index serialised, as ``uint8`` (what :meth:`from_bytes` reads)."""
        return faiss.serialize_index_binary(self._index)

    # --- for subclasses --------------------------------------------------------------------

    @abstractmethod
    def _storage(self) -> faiss.IndexBinaryFlat:
        """The flat storage holding the codes in insertion order (parallel to :meth:`keys`)."""

    def _codes_view(self) -> np.ndarray:
        """The stored codes as an ``(n, code_size)`` view into faiss memory: valid until the next change."""
        if len(self) == 0:
            return np.zeros((0, self.code_size), dtype=np.uint8)
        xb = self._storage().xb
        return faiss.rev_swig_ptr(xb.data(), xb.size()).reshape(-1, self.code_size)

    def _positions(self, keys: np.ndarray) -> np.ndarray:
        keys = np.asarray(keys, dtype=np.int64).reshape(-1)
        sorted_keys, order = self._sorted_keys()
        at = np.minimum(np.searchsorted(sorted_keys, keys), max(0, len(sorted_keys) - 1))
        found = sorted_keys[at] == keys if len(sorted_keys) else np.zeros(len(keys), dtype=bool)
        if not found.all():
            raise KeyError(int(keys[~found][0]))
        return order[at]

    def _sorted_keys(self) -> tuple[np.ndarray, np.ndarray]:
        """The stored keys sorted, and their storage positions (cached until the next change)."""
        if self._sorted is None:
            stored = self.keys()
            order = np.argsort(stored, kind="stable")
            self._sorted = stored[order], order
        return self._sorted

    def _prepared(self, codes: np.ndarray) -> np.ndarray:
        codes = np.asarray(codes)
        if codes.dtype != np.uint8:
            raise InvalidParameterError(
                f"The 'codes' parameter of {type(self).__name__} must be packed uint8 codes (see pack_bits). "
                f"Got dtype {codes.dtype} instead."
            )
        codes = np.ascontiguousarray(codes.reshape(1, -1) if codes.ndim == 1 else codes)
        if codes.ndim != 2 or codes.shape[1] != self.code_size:
            raise InvalidParameterError(
                f"codes have shape {codes.shape}, the index wants (n, {self.code_size}) bytes for {self.nbits} bits"
            )
        return codes

    def _capped(self, k: int) -> int:
        """``k`` capped at the index size (at least 1, so an empty index answers one empty place)."""
        return max(1, min(int(k), len(self))) if len(self) else 1

    def _faiss_search(self, index: faiss.IndexBinary, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        distances, keys = index.search(codes, k)
        distances[keys < 0] = MISSING_DISTANCE
        return distances.astype(np.int32, copy=False), keys

    def _changed(self) -> None:
        self._gpu_index = None
        self._sorted = None
