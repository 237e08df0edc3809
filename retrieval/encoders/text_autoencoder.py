"""The deep text autoencoder (Hinton & Salakhutdinov 2006, trained the modern way).

Recipe, and why (see ``benchmarks/README.md`` for the measurements behind it):

- input: ``log(1 + count)``, L2-normalised per document, with masking noise (input dropout)
  during training, so the code cannot rely on a few rare words;
- output: a softmax over the vocabulary, trained with the multinomial log-likelihood of the
  document's word counts (per word) — a likelihood that fits counts, instead of MSE;
- layers ``vocab → 500 → 250 → 125 → dim`` with LayerNorm + ReLU, a linear code layer;
- AdamW with a cosine learning-rate decay, fixed seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from sklearn.preprocessing import normalize

from ..device import resolve_device
from ..nn.dense import DenseAutoencoder
from ..nn.training import seed_everything, train
from .base import TextEncoder
from .torch_weights import load_model_arrays, model_arrays

ENCODE_BATCH = 2048


def log_normalise(counts: sp.csr_matrix) -> sp.csr_matrix:
    """``log(1 + count)`` rows scaled to unit L2 norm: the network's input."""
    x = counts.astype(np.float32, copy=True).tocsr()
    x.data = np.log1p(x.data)
    return normalize(x, norm="l2", copy=False)


class TextAutoencoder(TextEncoder):
    """Deep autoencoder on bag-of-words; its ``dim``-D code layer is the document's code."""

    name: ClassVar[str] = "ae"

    def __init__(
        self,
        dim: int = 32,
        hidden: Sequence[int] = (500, 250, 125),
        vocab_size: int = 2000,
        epochs: int = 50,
        batch_size: int = 128,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        input_dropout: float = 0.2,
        activation: str = "relu",
        code_activation: str = "none",
        seed: int = 0,
        device: str = "auto",
        progress: bool = True,
    ) -> None:
        super().__init__(vocab_size)
        self.code_dim = dim
        self.hidden = tuple(hidden)
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.input_dropout = input_dropout
        self.activation = activation
        self.code_activation = code_activation
        self.seed = seed
        self.device = device  # runtime only: not saved
        self.progress = progress  # runtime only: not saved

    @property
    def dim(self) -> int:
        return self.code_dim

    def get_config(self) -> dict[str, Any]:
        return {
            "dim": self.code_dim,
            "hidden": list(self.hidden),
            "vocab_size": self.vocab_size,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "lr": self.lr,
            "weight_decay": self.weight_decay,
            "input_dropout": self.input_dropout,
            "activation": self.activation,
            "code_activation": self.code_activation,
            "seed": self.seed,
        }

    def describe(self) -> str:
        sizes = "-".join(str(s) for s in (len(self.bag_of_words_.vocabulary_), *self.hidden, self.code_dim))
        return f"ae({sizes})"

    def _build(self, in_dim: int) -> DenseAutoencoder:
        return DenseAutoencoder(in_dim, self.hidden, self.code_dim, self.activation, self.code_activation)

    def _fit_counts(self, counts: sp.csr_matrix) -> None:
        seed_everything(self.seed)
        device = resolve_device(self.device)
        self.model_ = self._build(counts.shape[1]).to(device)
        inputs = log_normalise(counts)

        def batch_loss(idx: np.ndarray) -> torch.Tensor:
            x = torch.from_numpy(inputs[idx].toarray()).to(device)
            target = torch.from_numpy(counts[idx].toarray()).to(device)
            x = F.dropout(x, p=self.input_dropout, training=True)
            _, logits = self.model_(x)
            # Multinomial log-likelihood of the counts, per word of the document.
            nll = -(target * F.log_softmax(logits, dim=1)).sum(1) / target.sum(1).clamp(min=1.0)
            return nll.mean()

        self.history_ = train(
            self.model_, counts.shape[0], batch_loss,
            epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
            weight_decay=self.weight_decay, seed=self.seed, progress=self.progress,
            desc="training autoencoder",
        )  # fmt: skip

    @torch.no_grad()
    def _encode_counts(self, counts: sp.csr_matrix) -> np.ndarray:
        inputs = log_normalise(counts)
        device = next(self.model_.parameters()).device
        self.model_.eval()
        out = np.empty((counts.shape[0], self.code_dim), dtype=np.float32)
        for start in range(0, counts.shape[0], ENCODE_BATCH):
            x = torch.from_numpy(inputs[start : start + ENCODE_BATCH].toarray()).to(device)
            out[start : start + len(x)] = self.model_.encoder(x).cpu().numpy()
        return out

    def _get_arrays(self) -> dict[str, np.ndarray]:
        return model_arrays(self.model_)

    def _set_arrays(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        super()._set_arrays(state, arrays)
        self.model_ = load_model_arrays(
            self._build(len(self.bag_of_words_.vocabulary_)), arrays, resolve_device(self.device)
        )
