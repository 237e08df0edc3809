"""A code layer whose units are exactly 0 or 1 at inference (semantic hashing).

Training: the units are ``sigmoid(z + noise)`` — Gaussian noise in the code layer, as in
Salakhutdinov & Hinton (2009), pushes the pre-activations away from 0 so the units become
bimodal — and the forward pass is then thresholded at 0.5 with a straight-through gradient, so
the decoder learns from the very binary codes it will be given. Inference: ``z > 0``.
"""

from __future__ import annotations

import torch
from torch import nn


class BinaryCode(nn.Module):
    """``z`` → binary code units (float 0.0 / 1.0), straight-through during training."""

    def __init__(self, noise: float = 1.0) -> None:
        super().__init__()
        self.noise = noise

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return (z > 0).to(z.dtype)
        soft = torch.sigmoid(z + self.noise * torch.randn_like(z) if self.noise else z)
        return soft + ((soft > 0.5).to(z.dtype) - soft).detach()
