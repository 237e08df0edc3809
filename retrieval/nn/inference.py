"""A trained torch MLP run in NumPy, and sparse rows times a dense matrix: the query path's network.

One query through torch pays a module call per layer and a dense pass over the whole first weight matrix;
here the layers are plain NumPy calls and a bag-of-words first layer touches only the document's words
(``RowLayout.times``). Both give what the torch modules give, to float32 rounding. The layers are built from
torch modules (``numpy_layers``) or from saved arrays (``dense_layers``); torch is imported only for the former,
so a saved encoder's query side runs without it (``retrieval.encoders.text_query``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from scipy.special import erf

if TYPE_CHECKING:
    import torch
    from torch import nn

Layer = Callable[[np.ndarray], np.ndarray]
SMALL_GATHER = 1 << 20  # gathered floats up to which NumPy's gather beats scipy's sparse product (its set-up)


def linear(weight: np.ndarray, bias: np.ndarray | None) -> Layer:
    """``x @ weight.T + bias``; ``weight`` is ``out × in``, as torch stores it."""
    weight = np.array(weight.T, dtype=np.float32, order="C")
    bias = None if bias is None else np.array(bias, dtype=np.float32)
    return (lambda x: x @ weight) if bias is None else (lambda x: x @ weight + bias)


def layer_norm(weight: np.ndarray | None, bias: np.ndarray | None, eps: float) -> Layer:
    """``nn.LayerNorm`` over the last axis (``weight`` and ``bias`` ``None`` without an affine part)."""

    def norm(x: np.ndarray) -> np.ndarray:
        centred = x - x.mean(axis=1, keepdims=True)
        out = centred / np.sqrt((centred * centred).mean(axis=1, keepdims=True) + eps)
        if weight is not None:
            out = out * weight
        return out if bias is None else out + bias

    return norm


def _gelu(x: np.ndarray) -> np.ndarray:
    return (0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))).astype(np.float32, copy=False)


# by the names ``retrieval.nn.dense.ACTIVATIONS`` gives the torch modules
ACTIVATIONS: dict[str, Layer] = {
    "relu": lambda x: np.maximum(x, 0, out=x),
    "gelu": _gelu,
    "tanh": lambda x: np.tanh(x, out=x),
    "sigmoid": lambda x: (1.0 / (1.0 + np.exp(-x))).astype(np.float32, copy=False),
    "none": lambda x: x,
    "binary": lambda x: (x > 0).astype(np.float32),  # what BinaryCode does at inference
}


def dense_layers(linears: Sequence[tuple[np.ndarray, np.ndarray | None]], activations: Sequence[str]) -> list[Layer]:
    """Linear layers of these ``(weight, bias)`` pairs, each followed by its activation (``ACTIVATIONS``'s names):
    ``retrieval.nn.dense.mlp(..., norm=False)`` built from its saved weights."""
    if len(linears) != len(activations):
        raise ValueError(f"{len(linears)} linear layers, {len(activations)} activations")
    return [layer for (w, b), name in zip(linears, activations) for layer in (linear(w, b), ACTIVATIONS[name])]


def numpy_layers(seq: nn.Sequential) -> list[Layer] | None:
    """``seq``'s modules (in eval mode) as NumPy functions; ``None`` when one has no NumPy twin here."""
    from torch import nn

    from .binary import BinaryCode

    names = {nn.ReLU: "relu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid", nn.Identity: "none", BinaryCode: "binary"}
    out: list[Layer] = []
    for module in seq:
        if isinstance(module, nn.Linear):
            out.append(linear(_array(module.weight), _array(module.bias)))
        elif isinstance(module, nn.LayerNorm) and module.normalized_shape == (module.normalized_shape[0],):
            out.append(layer_norm(_array(module.weight), _array(module.bias), module.eps))
        elif isinstance(module, nn.GELU) and module.approximate == "none":
            out.append(_gelu)
        elif type(module) in names:
            out.append(ACTIVATIONS[names[type(module)]])
        else:
            return None
    return out


def _array(tensor: torch.Tensor | None) -> np.ndarray | None:
    return None if tensor is None else tensor.detach().cpu().numpy().copy()


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
