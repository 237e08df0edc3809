"""Latent semantic analysis: truncated SVD of TF-IDF, the baseline of Hinton & Salakhutdinov (2006)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD

from ..defaults import LsaConfig
from ..errors import InvalidParameterError
from .registry import register
from .text_base import TextEncoder
from .weighting import fit_idf, tfidf


@register
class LsaEncoder(TextEncoder):
    """Codes are the TF-IDF rows projected on the top ``dim`` right singular vectors."""

    name: ClassVar[str] = "lsa"
    config_class: ClassVar[type] = LsaConfig

    def _fit_counts(self, counts: sp.csr_matrix) -> None:
        if self.dim >= counts.shape[1]:
            raise InvalidParameterError(f"LSA needs dim < the vocabulary size: dim {self.dim}, {counts.shape[1]} words")
        self.idf_ = fit_idf(counts)
        svd = TruncatedSVD(n_components=self.dim, random_state=self.seed)
        svd.fit(tfidf(counts, self.idf_, self.sublinear_tf))
        self.components_ = svd.components_.astype(np.float32)

    def _encode(self, inputs: sp.csr_matrix, errors: bool) -> tuple[np.ndarray, None]:
        return np.asarray(tfidf(inputs, self.idf_, self.sublinear_tf) @ self.components_.T, dtype=np.float32), None

    def _get_arrays(self) -> dict[str, np.ndarray]:
        return {"idf": self.idf_, "components": self.components_}

    def _set_arrays(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.idf_ = arrays["idf"]
        self.components_ = arrays["components"]
        super()._set_arrays(state, arrays)
