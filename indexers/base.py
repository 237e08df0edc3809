"""The interface every code index offers: stable ``int64`` keys, search, removal, one-file saving.

Scores are ``float32`` and higher is closer (cosine similarity, negated Euclidean distance, or
``1 - hamming / bits``); a place with no result has key ``-1`` and score ``-inf``. An index is named by a
spec string (``indexers.spec``) and built or read by ``indexers.factory``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .errors import InvalidParameterError
from .spec import format_spec


class CodeIndex(ABC):
    """Codes under stable keys; ``spec`` says exactly what runs, search parameters included."""

    metric: str  # "cosine" | "l2" | "hamming"
    use_gpu: bool  # whether searches may run on a GPU (where faiss has one for this index)

    @property
    @abstractmethod
    def structure(self) -> str:
        """The canonical spec without search parameters, e.g. ``IDMap2,IVF64,Flat`` or ``BHash2x32``."""

    def params(self) -> dict[str, int]:
        """The search parameters in force (``nprobe``, ``nflip``, ``radius``), saved with the index."""
        return {}

    def set_params(self, params: Mapping[str, int]) -> None:
        """Set search parameters (what a spec's ``name=value`` components say); unknown ones are refused."""
        for name in params:
            raise InvalidParameterError(f"The {name!r} parameter does not apply to a {self.structure} index.")

    @property
    def spec(self) -> str:
        """The full spec: structure, then parameters (``create_index(index.spec, ...)`` builds the same)."""
        return format_spec(self.structure, self.params())

    @property
    @abstractmethod
    def dim(self) -> int:
        """Floats per code, or bits per code (the joined width for two-stage codes)."""

    @abstractmethod
    def __len__(self) -> int:
        """Items stored."""

    @property
    def is_trained(self) -> bool:
        """Whether :meth:`add` can run without :meth:`train` (IVF and PQ indexes need training)."""
        return True

    def train(self, codes: np.ndarray) -> None:  # noqa: B027 (a no-op unless the index needs it)
        """Learn what the index needs from a sample of codes; nothing where nothing is to be learnt."""

    @abstractmethod
    def add(self, keys: np.ndarray, codes: np.ndarray) -> None:
        """Add ``codes`` under ``keys`` (keys must not be present already; remove first to replace)."""

    @abstractmethod
    def remove(self, keys: np.ndarray) -> int:
        """Remove ``keys``; return how many were there."""

    @abstractmethod
    def search(self, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` ``(scores float32, keys int64)`` per query row, best first; ``k`` capped at the size."""

    def search_among(self, codes: np.ndarray, k: int, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """As :meth:`search`, but only items whose key is in ``keys`` are candidates, and the answer is exact: a
        row holds ``min(k, matching items)`` hits whatever the index's approximations (keys not stored are ignored)."""
        raise NotImplementedError(f"{type(self).__name__} cannot search a subset of its keys")

    def present(self, keys: np.ndarray) -> np.ndarray:
        """The distinct ``keys`` that are stored, sorted."""
        return sorted_members(np.unique(np.asarray(keys, dtype=np.int64)), np.sort(self.keys()))

    @abstractmethod
    def keys(self) -> np.ndarray:
        """The stored keys (a copy)."""

    @abstractmethod
    def reconstruct(self, key: int) -> np.ndarray:
        """The stored code of ``key``; ``KeyError`` if absent."""

    @abstractmethod
    def bytes_per_item(self) -> float:
        """Serialised index size per item, keys included."""

    @abstractmethod
    def describe(self) -> str:
        """One line for people: the structure, the metric and the search parameters (what ``aer info`` prints)."""

    @abstractmethod
    def save(self, path: str | Path) -> None:
        """Write the index to ``path`` atomically: a reader sees the old file or the new one, never half."""

    @abstractmethod
    def to_bytes(self) -> np.ndarray:
        """The index serialised as ``uint8``, in the file's format: what ``indexers.index_from_bytes`` reads."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec} metric={self.metric} items={len(self)}>"


def sorted_members(candidates: np.ndarray, stored: np.ndarray) -> np.ndarray:
    """The values of ``candidates`` found in ``stored`` (both sorted): binary searches, no sort of ``stored``."""
    if not len(stored) or not len(candidates):
        return candidates[:0]
    at = np.minimum(np.searchsorted(stored, candidates), len(stored) - 1)
    return candidates[stored[at] == candidates]
