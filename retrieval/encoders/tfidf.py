"""Exact TF-IDF cosine: the vocabulary-sized baseline (codes are the TF-IDF vectors themselves)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from .base import TextEncoder
from .weighting import fit_idf, tfidf


class TfidfEncoder(TextEncoder):
    """Codes are L2-normalised TF-IDF vectors over the vocabulary (``dim`` = vocabulary size)."""

    name: ClassVar[str] = "tfidf"

    def __init__(self, vocab_size: int = 2000, sublinear_tf: bool = True) -> None:
        super().__init__(vocab_size)
        self.sublinear_tf = sublinear_tf

    @property
    def dim(self) -> int:
        self._check_fitted()
        return len(self.idf_)

    def get_config(self) -> dict[str, Any]:
        return {"vocab_size": self.vocab_size, "sublinear_tf": self.sublinear_tf}

    def _fit_counts(self, counts: sp.csr_matrix) -> None:
        self.idf_ = fit_idf(counts)

    def _encode_counts(self, counts: sp.csr_matrix) -> np.ndarray:
        return tfidf(counts, self.idf_, self.sublinear_tf).toarray()

    def _get_arrays(self) -> dict[str, np.ndarray]:
        return {"idf": self.idf_}

    def _set_arrays(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        super()._set_arrays(state, arrays)
        self.idf_ = arrays["idf"]
