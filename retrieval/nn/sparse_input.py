"""A bag-of-words network's first layer trained on sparse rows: each document costs its own words, not the vocabulary.

The text autoencoder's input is ``[word counts (vocab wide, a few dozen nonzero), dense features]`` and its first
layer is linear. Trained as an ``nn.Linear`` on dense rows, that layer's forward pass and weight gradient each
cost ``batch × vocab × width`` multiply-adds, most of them by zeros. :class:`SparseFirst` holds the same weights as
a row per word and computes the layer with ``embedding_bag`` over each document's nonzero words (forward and
backward cost ``nonzeros × width``). It is swapped in for the ``nn.Linear`` while training and swapped back after
(:func:`sparse_first` / :func:`dense_first`), so saved weights, the NumPy query path and every other reader see the
plain linear layer. Initial weights are the linear layer's, so a seeded fit starts where the dense one did.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class SparseBatch:
    """Rows of a sparse count matrix (CSR) and their dense features, as ``SparseFirst`` takes them."""

    columns: torch.Tensor  # the nonzero entries' columns, row after row
    offsets: torch.Tensor  # where each row's entries start
    values: torch.Tensor  # the entries
    features: torch.Tensor | None  # (rows, features) or None

    @classmethod
    def of(cls, rows: sp.csr_matrix, features: np.ndarray | None, device: torch.device) -> SparseBatch:
        def tensor(a: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(a)).to(device=device, dtype=dtype)

        return cls(
            tensor(rows.indices, torch.long), tensor(rows.indptr[:-1], torch.long),
            tensor(rows.data, torch.float32), None if features is None else tensor(features, torch.float32),
        )  # fmt: skip


class SparseFirst(nn.Module):
    """The weights of ``nn.Linear(vocab + features, width)`` as a row per word and a dense feature block."""

    def __init__(self, linear: nn.Linear, vocab: int) -> None:
        super().__init__()
        weight = linear.weight.detach()
        self.vocab = vocab
        self.rows = nn.Parameter(weight[:, :vocab].t().contiguous())
        self.features = nn.Parameter(weight[:, vocab:].contiguous())
        self.bias = nn.Parameter(linear.bias.detach().clone())

    def forward(self, x: SparseBatch) -> torch.Tensor:
        h = F.embedding_bag(x.columns, self.rows, x.offsets, mode="sum", per_sample_weights=x.values)
        if x.features is not None and self.features.shape[1]:
            h = h + x.features @ self.features.t()
        return h + self.bias

    def to_linear(self) -> nn.Linear:
        """The plain linear layer with these weights."""
        width, extra = self.rows.shape[1], self.features.shape[1]
        linear = nn.Linear(self.vocab + extra, width, device=self.rows.device)
        with torch.no_grad():
            linear.weight.copy_(torch.cat([self.rows.t(), self.features], dim=1))
            linear.bias.copy_(self.bias)
        return linear


def sparse_first(encoder: nn.Sequential, vocab: int) -> None:
    """Swap ``encoder``'s first ``nn.Linear`` for its :class:`SparseFirst` twin (in place)."""
    encoder[0] = SparseFirst(encoder[0], vocab)


def dense_first(encoder: nn.Sequential) -> None:
    """Swap a :class:`SparseFirst` first layer back for the ``nn.Linear`` it stands for (in place)."""
    if isinstance(encoder[0], SparseFirst):
        encoder[0] = encoder[0].to_linear()
