"""The text autoencoder's encoder for encoding and queries, in NumPy, its first layer as sums over words.

The network's input is ``[log counts, teacher word features]`` (``text_autoencoder``), and its first layer is
linear, so ``W @ input`` splits into per-word rows: ``Σ_w x_w · W_counts[:, w]`` over the document's own words,
plus, for the word features ``m / |m|`` with ``m = Σ_w t_w · v_w`` (``t``: TF-IDF weights, ``v``: the teacher's
word vectors), ``(Σ_w t_w · (W_features @ v_w)) / |m|``. Both per-word tables are computed once, so a document
costs its number of distinct words times the layer width, not the vocabulary times it (2,384 × 500 for the
default network). The later layers run in NumPy too (``retrieval.nn.inference``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from ..nn.inference import ACTIVATIONS, Layer, RowLayout, dense_layers, numpy_layers, run_layers
from .weighting import tfidf_values

if TYPE_CHECKING:
    from torch import nn


class TextForward:
    """The encoder's first layer (``weight``: ``width × (vocab + word-vector dim)``, ``bias``) as per-word tables,
    then its ``rest`` (NumPy layers) over bag-of-words counts; see the module docstring. Built from a torch
    encoder (``of``) or from saved arrays (``from_arrays``), without torch."""

    def __init__(
        self, weight: np.ndarray, bias: np.ndarray, rest: list[Layer], vocab: int, idf: np.ndarray,
        word_vectors: np.ndarray | None,
    ) -> None:  # fmt: skip
        weight = np.asarray(weight, dtype=np.float32)
        self.count_rows = np.ascontiguousarray(weight[:, :vocab].T)  # vocab × width
        self.bias = np.asarray(bias, dtype=np.float32)
        self.idf = idf
        self.word_vectors = word_vectors
        self.word_rows = None if word_vectors is None else np.ascontiguousarray(word_vectors @ weight[:, vocab:].T)
        self.rest = rest

    @classmethod
    def of(cls, encoder: nn.Sequential, vocab: int, idf: np.ndarray, word_vectors: np.ndarray | None):
        """The forward pass of ``encoder`` (a torch Sequential), or ``None`` when its layers have no NumPy version
        here."""
        from torch import nn

        first = encoder[0]
        rest = numpy_layers(encoder[1:])
        if not isinstance(first, nn.Linear) or first.bias is None or rest is None:
            return None
        weight, bias = (t.detach().cpu().numpy() for t in (first.weight, first.bias))
        return cls(weight, bias, rest, vocab, idf, word_vectors)

    @classmethod
    def from_arrays(
        cls, linears: Sequence[tuple[np.ndarray, np.ndarray]], activations: Sequence[str], vocab: int,
        idf: np.ndarray, word_vectors: np.ndarray | None,
    ) -> TextForward:  # fmt: skip
        """The forward pass of ``retrieval.nn.dense.mlp(..., norm=False)`` from the ``(weight, bias)`` of its Linear
        layers and the names of their activations (``retrieval.nn.inference.ACTIVATIONS``)."""
        (weight, bias), *later = linears
        rest = [ACTIVATIONS[activations[0]], *dense_layers(later, activations[1:])]
        return cls(weight, bias, rest, vocab, idf, word_vectors)

    def __call__(self, counts: sp.csr_matrix) -> np.ndarray:
        """The code-layer units of each row of ``counts`` (what ``encoder(inputs)`` gives)."""
        counts = counts.tocsr()
        if not counts.has_canonical_format:
            counts = counts.copy()
            counts.sum_duplicates()
        layout = RowLayout(counts)
        hidden = layout.times(layout.normalised(np.log1p(counts.data.astype(np.float32))), self.count_rows)
        if self.word_rows is not None:
            weights = tfidf_values(counts, self.idf, True, layout)
            means = layout.times(weights, self.word_vectors)
            norms = np.sqrt(np.einsum("ij,ij->i", means, means))[:, None]
            feature_part = layout.times(weights, self.word_rows)
            hidden += np.divide(feature_part, norms, out=np.zeros_like(feature_part), where=norms > 0)
        hidden += self.bias
        return run_layers(self.rest, hidden)
