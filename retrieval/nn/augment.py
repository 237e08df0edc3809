"""Random views of image batches, for training codes that ignore how a picture is framed or lit."""

from __future__ import annotations

import torch
import torch.nn.functional as F

_GREY = (0.299, 0.587, 0.114)


def random_flip(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Mirror about half of the ``(n, 3, H, W)`` batch left-right."""
    flip = (torch.rand(len(x), generator=gen) < 0.5).to(x.device)
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)


def random_view(x: torch.Tensor, gen: torch.Generator, min_scale: float = 0.6, jitter: float = 0.4) -> torch.Tensor:
    """A random view of each image in ``x`` (values in [0, 1]): a resized crop covering
    ``min_scale``–1 of each side, a horizontal flip half the time, brightness / contrast /
    saturation jitter of ±``jitter``, and greyscale one time in five."""
    n, dev = len(x), x.device

    def uniform(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=gen).to(dev)

    scale = min_scale + (1 - min_scale) * uniform(n)
    mirror = torch.where(uniform(n) < 0.5, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3, device=dev)
    theta[:, 0, 0], theta[:, 1, 1] = scale * mirror, scale
    theta[:, 0, 2], theta[:, 1, 2] = (1 - scale) * (2 * uniform(n) - 1), (1 - scale) * (2 * uniform(n) - 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, padding_mode="reflection", align_corners=False)

    def factor() -> torch.Tensor:
        return 1 + jitter * (2 * uniform(n, 1, 1, 1) - 1)

    x = x * factor()  # brightness
    mean = x.mean((1, 2, 3), keepdim=True)
    x = (x - mean) * factor() + mean  # contrast
    grey = (x * torch.tensor(_GREY, device=dev).view(1, 3, 1, 1)).sum(1, keepdim=True)
    x = (x - grey) * factor() + grey  # saturation
    x = torch.where(uniform(n, 1, 1, 1) < 0.2, grey.expand_as(x), x)
    return x.clamp(0, 1)


def nt_xent(z: torch.Tensor, temperature: float) -> torch.Tensor:
    """NT-Xent (SimCLR) loss for ``z`` = two views stacked ``[a; b]``: each row's positive is its other view."""
    n = len(z) // 2
    h = F.normalize(z, dim=1)
    sim = h @ h.T / temperature
    sim.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(sim, target)
