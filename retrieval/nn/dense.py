"""A dense (fully connected) autoencoder whose layer sizes are a tuple."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .binary import BinaryCode

ACTIVATIONS = {
    "relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "none": nn.Identity,
    "binary": BinaryCode,  # 0/1 code units (semantic hashing)
}  # fmt: skip


def _check_activation(name: str) -> None:
    if name not in ACTIVATIONS:
        raise ValueError(f"The 'activation' parameter must be one of {sorted(ACTIVATIONS)}. Got {name!r} instead.")


def mlp(sizes: Sequence[int], activation: str, last_activation: str, norm: bool) -> nn.Sequential:
    """Linear layers through ``sizes``; hidden layers get (LayerNorm and) ``activation``."""
    _check_activation(activation)
    _check_activation(last_activation)
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        last = i == len(sizes) - 2
        if not last and norm:
            layers.append(nn.LayerNorm(b))
        layers.append(ACTIVATIONS[last_activation if last else activation]())
    return nn.Sequential(*layers)


class DenseAutoencoder(nn.Module):
    """``in_dim → hidden… → code_dim → …hidden reversed → in_dim``.

    ``forward`` returns ``(code, output)``; the output is raw (logits or values), and the loss
    that fits the data lives with the encoder that trains it.
    """

    def __init__(
        self,
        in_dim: int,
        hidden: Sequence[int],
        code_dim: int,
        activation: str = "relu",
        code_activation: str = "none",
        norm: bool = True,
    ) -> None:
        super().__init__()
        sizes = [in_dim, *hidden, code_dim]
        self.encoder = mlp(sizes, activation, code_activation, norm)
        self.decoder = mlp(sizes[::-1], activation, "none", norm)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        code = self.encoder(x)
        return code, self.decoder(code)
