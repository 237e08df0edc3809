"""A trained torch MLP run in NumPy, and sparse rows times a dense matrix: the query path's network.

One query through torch pays a module call per layer and a dense pass over the whole first weight matrix;
here the layers are plain NumPy calls and a bag-of-words first layer touches only the document's words
(``RowLayout.times``). Both give what the torch modules give, to float32 rounding.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from scipy.special import erf
from torch import nn

from .binary import BinaryCode

Layer = Callable[[np.ndarray], np.ndarray]
SMALL_GATHER = 1 << 20  # gathered floats up to which NumPy's gather beats scipy's sparse product (its set-up)


def _linear(module: nn.Linear) -> Layer:
    weight = module.weight.detach().cpu().numpy().T.copy()
    bias = None if module.bias is None else module.bias.detach().cpu().numpy().copy()
    return (lambda x: x @ weight) if bias is None else (lambda x: x @ weight + bias)


def _layer_norm(module: nn.LayerNorm) -> Layer:
    weight = None if module.weight is None else module.weight.detach().cpu().numpy().copy()
    bias = None if module.bias is None else module.bias.detach().cpu().numpy().copy()
    eps = module.eps

    def norm(x: np.ndarray) -> np.ndarray:
        centred = x - x.mean(axis=1, keepdims=True)
        out = centred / np.sqrt((centred * centred).mean(axis=1, keepdims=True) + eps)
        return out if weight is None else out * weight + bias

    return norm


def _gelu(x: np.ndarray) -> np.ndarray:
    return (0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))).astype(np.float32, copy=False)


_ACTIVATIONS: dict[type, Layer] = {
    nn.ReLU: lambda x: np.maximum(x, 0, out=x),
    nn.Tanh: lambda x: np.tanh(x, out=x),
    nn.Sigmoid: lambda x: (1.0 / (1.0 + np.exp(-x))).astype(np.float32, copy=False),
    nn.Identity: lambda x: x,
    BinaryCode: lambda x: (x > 0).astype(np.float32),  # what the module does at inference
}


def numpy_layers(seq: nn.Sequential) -> list[Layer] | None:
    """``seq``'s modules (in eval mode) as NumPy functions; ``None`` when one has no NumPy twin here."""
    out: list[Layer] = []
    for module in seq:
        if isinstance(module, nn.Linear):
            out.append(_linear(module))
        elif isinstance(module, nn.LayerNorm) and module.normalized_shape == (module.normalized_shape[0],):
            out.append(_layer_norm(module))
        elif isinstance(module, nn.GELU) and module.approximate == "none":
            out.append(_gelu)
        elif type(module) in _ACTIVATIONS:
            out.append(_ACTIVATIONS[type(module)])
        else:
            return None
    return out


def run_layers(layers: list[Layer], x: np.ndarray) -> np.ndarray:
    for layer in layers:
        x = layer(x)
    return x


class RowLayout:
    """Where each row of a CSR matrix lies, worked out once for the several products of one forward pass."""

    def __init__(self, matrix: sp.csr_matrix) -> None:
        self.matrix = matrix
        lengths = np.diff(matrix.indptr)
        self.rows = np.repeat(np.arange(matrix.shape[0]), lengths)  # the row of each stored value
        self.filled = lengths > 0
        self.starts = matrix.indptr[:-1][self.filled]  # where each non-empty row's values begin
        self.any = bool(self.filled.any())

    def normalised(self, data: np.ndarray) -> np.ndarray:
        """``data`` (values in this layout) scaled in place so each row has unit L2 norm; empty rows stay empty."""
        norms = np.sqrt(np.bincount(self.rows, weights=data * data, minlength=len(self.filled))).astype(np.float32)
        data /= np.where(norms > 0, norms, 1)[self.rows]
        return data

    def times(self, data: np.ndarray, dense: np.ndarray) -> np.ndarray:
        """The matrix with its stored values replaced by ``data``, times ``dense``: ``(n, dense.shape[1])``."""
        n, width = self.matrix.shape[0], dense.shape[1]
        if len(data) * width <= SMALL_GATHER:  # a few documents: gather their words' rows and sum per row
            out = np.zeros((n, width), dtype=np.float32)
            if self.any:  # each non-empty row's products run from its start to the next non-empty row's
                out[self.filled] = np.add.reduceat(dense[self.matrix.indices] * data[:, None], self.starts, axis=0)
            return out
        m = self.matrix
        return np.asarray(sp.csr_matrix((data, m.indices, m.indptr), shape=m.shape) @ dense, dtype=np.float32)
