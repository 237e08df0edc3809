"""TF-IDF weighting of count matrices, shared by the TF-IDF and LSA encoders (scikit-learn only to fit the IDF)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..nn.inference import RowLayout


def fit_idf(counts: sp.csr_matrix) -> np.ndarray:
    """Smoothed inverse document frequency, as scikit-learn's ``TfidfTransformer`` computes it."""
    from sklearn.feature_extraction.text import TfidfTransformer

    return TfidfTransformer(smooth_idf=True).fit(counts).idf_.astype(np.float32)


def tfidf(counts: sp.csr_matrix, idf: np.ndarray, sublinear_tf: bool) -> sp.csr_matrix:
    """L2-normalised TF-IDF rows; ``sublinear_tf`` uses ``1 + log(tf)`` for the term frequency."""
    counts = counts.tocsr()
    if not counts.has_canonical_format:
        counts = counts.copy()
        counts.sum_duplicates()
    return sp.csr_matrix((tfidf_values(counts, idf, sublinear_tf), counts.indices, counts.indptr), shape=counts.shape)


def tfidf_values(
    counts: sp.csr_matrix, idf: np.ndarray, sublinear_tf: bool, layout: RowLayout | None = None
) -> np.ndarray:
    """The stored values of :func:`tfidf` for a canonical CSR ``counts`` (same sparsity pattern); ``layout``:
    ``RowLayout(counts)`` when the caller has it already."""
    data = counts.data.astype(np.float32)  # a copy
    if sublinear_tf:
        data = 1.0 + np.log(data, out=data)
    data *= idf[counts.indices]
    return (layout or RowLayout(counts)).normalised(data)  # by hand: scipy's and sklearn's row scaling cost 10x this
