"""Transformation prediction: a head that tells which geometric transformation an image was given.

Two sets (``TRANSFORM_SETS``): ``rotations``, the four quarter-turns (RotNet, Gidaris et al. 2018), and
``geometric``, the 72 transformations of GEOM (Golan & El-Yaniv 2018): a horizontal flip or not, a translation by
0 or ±a quarter of the side in x and in y (8 pixels at 32×32; the uncovered strip filled by reflection), then one
of the four quarter-turns. Trained on the normal images, the head learns how their contents stand and are framed;
an image it cannot tell the transformations of is unlike them. Its score is GEOM's simple one: the mean
cross-entropy of the true transformation over all of the image's transformed copies (Golan & El-Yaniv 2018;
Hendrycks et al. 2019). That is the ``orientation`` outlier score.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

TURNS = 4  # 0, 90, 180 and 270 degrees
HEAD_WIDTH = 256
TRANSFORM_SETS = ("rotations", "geometric")


@dataclass(frozen=True)
class Transform:
    """Mirror left-right (``flip``), then shift by ``dx``, ``dy`` quarters of the side (content moves right and
    down for positive values), then turn anticlockwise by ``turns`` quarter-turns."""

    flip: bool
    dx: int
    dy: int
    turns: int


def transform_set(name: str) -> tuple[Transform, ...]:
    """The transformations of set ``name`` in GEOM's order (flip, x shift, y shift, turn; the identity first)."""
    if name == "rotations":
        return tuple(Transform(False, 0, 0, k) for k in range(TURNS))
    if name == "geometric":
        return tuple(Transform(f, dx, dy, k) for f in (False, True) for dx in (0, -1, 1) for dy in (0, -1, 1)
                     for k in range(TURNS))  # fmt: skip
    raise ValueError(f"no transformation set {name!r}: one of {', '.join(map(repr, TRANSFORM_SETS))}")


def apply_transform(x: torch.Tensor, t: Transform) -> torch.Tensor:
    """Each ``(C, H, W)`` image of ``x`` (square, side at least 8) under ``t``."""
    if t.flip:
        x = x.flip(3)
    if t.dx or t.dy:
        shift = x.shape[-1] // 4
        padded = F.pad(x, (shift, shift, shift, shift), mode="reflect")
        top, left = shift - t.dy * shift, shift - t.dx * shift
        x = padded[..., top : top + x.shape[-2], left : left + x.shape[-1]]
    return torch.rot90(x, t.turns, (2, 3)) if t.turns else x


def transform_batch(x: torch.Tensor, which: torch.Tensor, transforms: tuple[Transform, ...]) -> torch.Tensor:
    """Image ``i`` of ``x`` under ``transforms[which[i]]``."""
    out = x.clone()
    for j, t in enumerate(transforms):
        rows = which == j
        if rows.any() and t != Transform(False, 0, 0, 0):
            out[rows] = apply_transform(x[rows], t)
    return out


def orientation_head(code_dim: int, classes: int = TURNS) -> nn.Module:
    """A small MLP from the code to the ``classes`` transformations' logits."""
    return nn.Sequential(nn.Linear(code_dim, HEAD_WIDTH), nn.ReLU(), nn.Linear(HEAD_WIDTH, classes))


def random_turns(n: int, gen: torch.Generator, device: torch.device | str, classes: int = TURNS) -> torch.Tensor:
    """``n`` transformation indices (quarter-turn counts by default), uniform over ``0 .. classes - 1``."""
    return torch.randint(0, classes, (n,), generator=gen).to(device)


def turn(x: torch.Tensor, turns: torch.Tensor) -> torch.Tensor:
    """Each ``(3, H, W)`` image of ``x`` (square) turned anticlockwise by ``turns[i]`` quarter-turns."""
    return transform_batch(x, turns, transform_set("rotations"))


def orientation_loss(logits: torch.Tensor, turns: torch.Tensor) -> torch.Tensor:
    """The training term: cross-entropy of the predicted transformation."""
    return F.cross_entropy(logits, turns)


@torch.no_grad()
def orientation_surprise(
    logits_of: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    mirror: bool,
    transforms: tuple[Transform, ...] | None = None,
) -> torch.Tensor:
    """Per image of ``x`` (network input): the mean cross-entropy of the true transformation over all of its
    transformed copies (``transforms``, default the four turns), and over its mirror image's too with ``mirror``
    (the head was trained on mirrored views of a set without flips). Higher means less like the training images."""
    transforms = transforms or transform_set("rotations")
    views = [x, x.flip(3)] if mirror else [x]
    total = x.new_zeros(len(x))
    for view in views:
        for j, t in enumerate(transforms):
            logits = logits_of(apply_transform(view, t))
            total += F.cross_entropy(logits, torch.full((len(x),), j, device=x.device), reduction="none")
    return total / (len(transforms) * len(views))
