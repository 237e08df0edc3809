"""Greedy layer-wise pre-training (Hinton & Salakhutdinov 2006, with autoencoders instead of RBMs).

Each encoder layer and its mirror decoder layer are trained as a shallow autoencoder on the codes
of the layers below (which stay fixed), from the bottom up; the stack then starts the end-to-end
training from these weights instead of a random start.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .dense import DenseAutoencoder, blocks
from .training import train


def pretrain_layers(
    model: DenseAutoencoder,
    n_items: int,
    inputs: Callable[[np.ndarray], torch.Tensor],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int = 0,
    progress: bool = False,
) -> list[list[float]]:
    """Pre-train ``model`` layer by layer on ``inputs(indices)``; return each layer's loss history."""
    enc, dec = blocks(model.encoder), blocks(model.decoder)
    histories = []
    for i, (down, up) in enumerate(zip(enc, dec[::-1])):
        below = nn.Sequential(*enc[:i])
        pair = nn.ModuleList([down, up])

        def batch_loss(idx: np.ndarray, below: nn.Module = below, down: nn.Module = down, up: nn.Module = up):
            with torch.no_grad():
                h = below(inputs(idx)) if len(below) else inputs(idx)
            return F.mse_loss(up(down(h)), h)

        histories.append(
            train(
                pair,
                n_items,
                batch_loss,
                epochs=epochs,
                batch_size=batch_size,
                lr=lr,
                seed=seed + i,
                progress=progress,
                desc=f"pre-training layer {i + 1}/{len(enc)}",
            )  # fmt: skip
        )
    model.train()
    return histories
