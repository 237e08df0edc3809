"""A discrete code: vector quantisation against a learned codebook (van den Oord et al. 2017, VQ-VAE).

The code vector is cut into ``segments`` pieces; each piece is replaced by the nearest of ``size``
codewords of that segment's codebook, so an item's code is ``segments`` codebook indices (one byte
each for ``size`` ≤ 256). The decoder sees the codewords; gradients pass straight through to the
encoder; the codebook and commitment losses pull codewords and encoder outputs together.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InvalidParameterError


class VectorQuantizer(nn.Module):
    """``(n, dim)`` → nearest codewords per segment; ``forward`` also returns the VQ loss."""

    def __init__(self, dim: int, size: int = 256, segments: int = 8, commitment: float = 0.25) -> None:
        super().__init__()
        if dim % segments:
            raise InvalidParameterError(f"The code size ({dim}) must be a multiple of 'segments' ({segments}).")
        self.segments, self.commitment = segments, commitment
        self.codebook = nn.Parameter(torch.randn(segments, size, dim // segments) * 0.1)

    def indices(self, z: torch.Tensor) -> torch.Tensor:
        """``(n, segments)`` indices of the nearest codewords."""
        parts = z.view(len(z), self.segments, -1).transpose(0, 1)  # (segments, n, d)
        return torch.cdist(parts, self.codebook).argmin(-1).transpose(0, 1)

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """Codewords of ``(n, segments)`` indices, joined into ``(n, dim)`` vectors."""
        seg = torch.arange(self.segments, device=indices.device)
        return self.codebook[seg, indices].flatten(1)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        q = self.lookup(self.indices(z))
        loss = F.mse_loss(q, z.detach()) + self.commitment * F.mse_loss(z, q.detach())
        return z + (q - z).detach(), loss
