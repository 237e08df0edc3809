"""A dense (fully connected) autoencoder whose layer sizes are a tuple."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..errors import InvalidParameterError
from .binary import BinaryCode

ACTIVATIONS = {
    "relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "none": nn.Identity,
    "binary": BinaryCode,  # 0/1 code units (semantic hashing)
}  # fmt: skip


def _check_activation(name: str) -> None:
    if name not in ACTIVATIONS:
        raise InvalidParameterError(
            f"The 'activation' parameter must be one of {sorted(ACTIVATIONS)}. Got {name!r} instead."
        )


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


class TiedLinear(nn.Module):
    """A decoder layer whose weight is an encoder layer's, transposed; only its bias is its own."""

    def __init__(self, tied_to: nn.Linear) -> None:
        super().__init__()
        self._tied = [tied_to]  # a plain list: the weight is saved (and moved) with the encoder only
        self.bias = nn.Parameter(torch.zeros(tied_to.in_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self._tied[0].weight.t(), self.bias)


def tied_mirror(encoder: nn.Sequential, activation: str, norm: bool) -> nn.Sequential:
    """The decoder of ``encoder`` with tied weights: its Linear layers transposed, in reverse order."""
    linears = [m for m in encoder if isinstance(m, nn.Linear)][::-1]
    layers: list[nn.Module] = []
    for i, lin in enumerate(linears):
        layers.append(TiedLinear(lin))
        if i < len(linears) - 1:
            if norm:
                layers.append(nn.LayerNorm(lin.in_features))
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


def blocks(seq: nn.Sequential) -> list[nn.Sequential]:
    """``seq`` cut before each Linear (or TiedLinear): one block per layer, with its norm and activation."""
    out: list[list[nn.Module]] = []
    for m in seq:
        if isinstance(m, (nn.Linear, TiedLinear)) or not out:
            out.append([])
        out[-1].append(m)
    return [nn.Sequential(*b) for b in out]


class DenseAutoencoder(nn.Module):
    """``in_dim → hidden… → code_dim → …hidden reversed → out_dim`` (``out_dim`` defaults to ``in_dim``).

    ``forward`` returns ``(code, output)``; the output is raw (logits or values), and the loss
    that fits the data lives with the encoder that trains it. ``tied``: the decoder's weights are
    the encoder's, transposed (half the parameters).
    """

    def __init__(
        self,
        in_dim: int,
        hidden: Sequence[int],
        code_dim: int,
        activation: str = "relu",
        code_activation: str = "none",
        norm: bool = True,
        tied: bool = False,
        out_dim: int | None = None,
    ) -> None:
        super().__init__()
        sizes = [in_dim, *hidden, code_dim]
        self.encoder = mlp(sizes, activation, code_activation, norm)
        # tied weights mirror the encoder, so their output is always in_dim wide
        out = [*sizes[::-1][:-1], in_dim if tied or out_dim is None else out_dim]
        self.decoder = tied_mirror(self.encoder, activation, norm) if tied else mlp(out, activation, "none", norm)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        code = self.encoder(x)
        return code, self.decoder(code)
