"""The text autoencoder's training rows: the network's input for a batch of fit texts, clean or with input noise.

The input of a text is ``[log-normalised word counts, teacher word features]`` (``text_autoencoder``). Input
dropout is drawn on the nonzero counts only (dropping a zero changes nothing, and a dense draw cost as much as
the first layer) and on the features. With ``sparse``, a batch is a :class:`~retrieval.nn.sparse_input.SparseBatch`
for the first layer that works on each text's own words; otherwise dense rows.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from ..nn.sparse_input import SparseBatch


class TextBatches:
    """Rows of ``inputs`` (CSR, log-normalised counts) and ``features`` (dense, or ``None``) for training."""

    def __init__(
        self, inputs: sp.csr_matrix, features: np.ndarray | None, *, dropout: float, noise: float, sparse: bool,
        device: torch.device, seed: int,
    ) -> None:  # fmt: skip
        self.inputs, self.features = inputs, features
        self.dropout, self.noise, self.sparse, self.device = dropout, noise, sparse, device
        self.rng = np.random.default_rng(seed)

    def rows(self, idx: np.ndarray) -> torch.Tensor:
        """Dense input rows of the texts ``idx``, without noise."""
        x = self.inputs[idx].toarray()
        return torch.from_numpy(x if self.features is None else np.hstack([x, self.features[idx]])).to(self.device)

    def noisy(self, idx: np.ndarray) -> torch.Tensor | SparseBatch:
        """The texts ``idx`` with input dropout (and Gaussian noise, dense rows only)."""
        p = self.dropout
        sub = self.inputs[idx]
        if p:
            sub.data = np.where(self.rng.random(sub.nnz) >= p, sub.data / (1 - p), 0).astype(np.float32)
        feats = None if self.features is None else self.features[idx]
        if feats is not None and p:
            feats = np.where(self.rng.random(feats.shape) >= p, feats / (1 - p), 0).astype(np.float32)
        if self.sparse:
            return SparseBatch.of(sub, feats, self.device)
        x = sub.toarray() if feats is None else np.hstack([sub.toarray(), feats])
        t = torch.from_numpy(x).to(self.device)
        return t + self.noise * torch.randn_like(t) if self.noise else t
