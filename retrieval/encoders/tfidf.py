"""Exact TF-IDF cosine: the vocabulary-sized baseline (codes are the TF-IDF vectors themselves)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from ..defaults import TfidfConfig
from .registry import register
from .text_base import TextEncoder
from .weighting import fit_idf, tfidf


@register
class TfidfEncoder(TextEncoder):
    """Codes are L2-normalised TF-IDF vectors over the vocabulary (``dim`` = vocabulary size, known once fitted)."""

    name: ClassVar[str] = "tfidf"
    config_class: ClassVar[type] = TfidfConfig

    @property
    def dim(self) -> int:  # type: ignore[override]
        self.check_fitted()
        return len(self.idf_)

    def _fit_counts(self, counts: sp.csr_matrix) -> None:
        self.idf_ = fit_idf(counts)

    def _encode(self, inputs: sp.csr_matrix, errors: bool) -> tuple[np.ndarray, None]:
        return tfidf(inputs, self.idf_, self.sublinear_tf).toarray(), None

    def _get_arrays(self) -> dict[str, np.ndarray]:
        return {"idf": self.idf_}

    def _set_arrays(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.idf_ = arrays["idf"]
        super()._set_arrays(state, arrays)
