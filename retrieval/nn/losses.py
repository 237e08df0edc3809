"""The image autoencoders' reconstruction loss."""

from __future__ import annotations

import torch


def pixel_mse(recon: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per image: the mean squared error in standardised pixel units (training minimises its mean; it is
    the ``reconstruction`` outlier score)."""
    return (recon - target).pow(2).flatten(1).mean(1)
