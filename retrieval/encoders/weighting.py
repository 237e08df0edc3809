"""TF-IDF weighting of count matrices, shared by the TF-IDF and LSA encoders."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.preprocessing import normalize


def fit_idf(counts: sp.csr_matrix) -> np.ndarray:
    """Smoothed inverse document frequency, as scikit-learn's ``TfidfTransformer`` computes it."""
    return TfidfTransformer(smooth_idf=True).fit(counts).idf_.astype(np.float32)


def tfidf(counts: sp.csr_matrix, idf: np.ndarray, sublinear_tf: bool) -> sp.csr_matrix:
    """L2-normalised TF-IDF rows; ``sublinear_tf`` uses ``1 + log(tf)`` for the term frequency."""
    tf = counts.astype(np.float32, copy=True).tocsr()
    if sublinear_tf:
        tf.data = 1.0 + np.log(tf.data)
    return normalize(tf @ sp.diags(idf), norm="l2", copy=False).astype(np.float32)
