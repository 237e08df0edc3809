"""A convolutional autoencoder for 32×32 images: convolution + pooling down, transposed convolution up."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .binary import BinaryCode


class ConvAutoencoder(nn.Module):
    """``3×32×32 → [conv 3×3, (batch norm), ReLU, max-pool 2] per stage → linear → code``, mirrored back up.

    Each stage halves the resolution; the decoder doubles it with stride-2 transposed
    convolutions and ends in a 3×3 convolution to RGB. With ``binary`` the code units are 0/1
    (``BinaryCode``). ``forward`` returns ``(code, reconstruction)``.
    """

    def __init__(
        self, code_dim: int = 64, channels: Sequence[int] = (16, 32, 64), binary: bool = False, norm: bool = False
    ) -> None:
        super().__init__()
        down: list[nn.Module] = []
        c_in = 3
        for c in channels:
            normalise = [nn.BatchNorm2d(c)] if norm else []
            down += [nn.Conv2d(c_in, c, 3, padding=1), *normalise, nn.ReLU(), nn.MaxPool2d(2)]
            c_in = c
        side = 32 >> len(channels)
        flat = channels[-1] * side * side
        code_layer = [BinaryCode()] if binary else []
        self.encoder = nn.Sequential(*down, nn.Flatten(), nn.Linear(flat, code_dim), *code_layer)
        up: list[nn.Module] = [nn.Linear(code_dim, flat), nn.ReLU(), nn.Unflatten(1, (channels[-1], side, side))]
        widths = [*channels[::-1], channels[0]]
        for c, c_next in zip(widths[:-1], widths[1:]):
            up += [nn.ConvTranspose2d(c, c_next, 2, stride=2), nn.ReLU()]
        up.append(nn.Conv2d(channels[0], 3, 3, padding=1))
        self.decoder = nn.Sequential(*up)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        code = self.encoder(x)
        return code, self.decoder(code)
