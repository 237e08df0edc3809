"""Orientation prediction: a head that tells which quarter-turn an image was given (RotNet, Gidaris et al. 2018).

Trained on the normal images, it learns what way up their contents stand; an image it cannot orient (the mean
cross-entropy over its four turns, Golan & El-Yaniv 2018; Hendrycks et al. 2019) is unlike them. That is the
``orientation`` outlier score.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

TURNS = 4  # 0, 90, 180 and 270 degrees
HEAD_WIDTH = 256


def orientation_head(code_dim: int) -> nn.Module:
    """A small MLP from the code to the four turns' logits."""
    return nn.Sequential(nn.Linear(code_dim, HEAD_WIDTH), nn.ReLU(), nn.Linear(HEAD_WIDTH, TURNS))


def random_turns(n: int, gen: torch.Generator, device: torch.device | str) -> torch.Tensor:
    """``n`` quarter-turn counts, uniform over 0–3."""
    return torch.randint(0, TURNS, (n,), generator=gen).to(device)


def turn(x: torch.Tensor, turns: torch.Tensor) -> torch.Tensor:
    """Each ``(3, H, W)`` image of ``x`` (square) turned anticlockwise by ``turns[i]`` quarter-turns."""
    out = x.clone()
    for t in range(1, TURNS):
        rows = turns == t
        if rows.any():
            out[rows] = torch.rot90(x[rows], t, (2, 3))
    return out


def orientation_loss(logits: torch.Tensor, turns: torch.Tensor) -> torch.Tensor:
    """The training term: cross-entropy of the predicted turn."""
    return F.cross_entropy(logits, turns)


@torch.no_grad()
def orientation_surprise(
    logits_of: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, mirror: bool
) -> torch.Tensor:
    """Per image of ``x`` (network input): the mean cross-entropy of its true turn over all four turns (and
    over its mirror image's four too, with ``mirror``: the head was trained on mirrored views). Higher means
    less like the training images."""
    views = [x, x.flip(3)] if mirror else [x]
    total = x.new_zeros(len(x))
    for view in views:
        for t in range(TURNS):
            logits = logits_of(torch.rot90(view, t, (2, 3)))
            total += F.cross_entropy(logits, torch.full((len(x),), t, device=x.device), reduction="none")
    return total / (TURNS * len(views))
