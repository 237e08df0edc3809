"""Random views of image batches, for training codes that ignore how a picture is framed or lit."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..defaults import VIEW_GREYSCALE, VIEW_JITTER

_GREY = (0.299, 0.587, 0.114)


def random_flip(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Mirror about half of the ``(n, 3, H, W)`` batch left-right."""
    flip = (torch.rand(len(x), generator=gen) < 0.5).to(x.device)
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)


def random_view(
    x: torch.Tensor, gen: torch.Generator, min_scale: float, jitter: float = VIEW_JITTER, flip: bool = True
) -> torch.Tensor:
    """A random view of each image in ``x`` (values in [0, 1]): a resized crop covering ``min_scale``–1 of each
    side, a horizontal flip half the time (with ``flip``), brightness / contrast / saturation jitter of
    ±``jitter``, and greyscale for a ``VIEW_GREYSCALE`` share of views (saturation and greyscale leave a greyscale
    image as it is)."""
    n, dev = len(x), x.device

    def uniform(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=gen).to(dev)

    scale = min_scale + (1 - min_scale) * uniform(n)
    mirror = torch.where(uniform(n) < 0.5, -1.0, 1.0) if flip else torch.ones(n, device=dev)
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
    x = torch.where(uniform(n, 1, 1, 1) < VIEW_GREYSCALE, grey.expand_as(x), x)
    return x.clamp(0, 1)


def nt_xent(z: torch.Tensor, temperature: float) -> torch.Tensor:
    """NT-Xent (SimCLR) loss for ``z`` = two views stacked ``[a; b]``: each row's positive is its other view."""
    n = len(z) // 2
    h = F.normalize(z, dim=1)
    sim = h @ h.T / temperature
    sim.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(sim, target)


def _nearest_ratio(images: np.ndarray, transform, queries: int, database: int, seed: int) -> float:
    """Median distance from transformed sample images to their nearest set image, over the same for the images
    themselves (each left out of its own search)."""
    rng = np.random.default_rng(seed)
    base = images[np.sort(rng.permutation(len(images))[:database])]
    flat = base.reshape(len(base), -1).astype(np.float32) / 255
    pick = rng.permutation(len(base))[: min(queries, len(base) - 1)]
    if len(pick) == 0:
        return 1.0
    norms = (flat**2).sum(1)

    def nearest(q: np.ndarray) -> np.ndarray:
        d = (q**2).sum(1)[:, None] - 2 * q @ flat.T + norms[None]
        d[np.arange(len(q)), pick] = np.inf
        return np.sqrt(np.maximum(d.min(1), 0))

    moved = transform(base[pick], rng).reshape(len(pick), -1).astype(np.float32)
    return float(np.median(nearest(moved)) / max(float(np.median(nearest(flat[pick]))), 1e-9))


def mirror_ratio(images: np.ndarray, queries: int = 500, database: int = 5000, seed: int = 0) -> float:
    """How much farther a mirrored image is from the set than the image itself: the median distance from a
    seeded sample of mirrored images to their nearest set image, over the same for the unmirrored ones (each
    left out of its own search). About 1 for photographs, whose mirror images are as natural as they are; about 2
    for digits, where a mirrored 3 is no digit at all (docs/encoders.md, "Images"). Labels are never used.
    ``images``: ``(n, H, W, C)`` uint8."""
    return _nearest_ratio(images, lambda x, _: x[:, :, ::-1] / 255, queries, database, seed)


def crop_ratio(images: np.ndarray, scale: float, queries: int = 500, database: int = 5000, seed: int = 0) -> float:
    """As ``mirror_ratio``, for a random crop of ``scale`` of each side resized back to full size: about 1 for
    photographs at any scale, where a crop is a closer view of the same kind of scene; well above for centred
    shapes such as digits, which a crop cuts apart, the more the smaller the scale."""

    def crop(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        t = torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2).float() / 255
        n = len(t)
        theta = torch.zeros(n, 2, 3)
        theta[:, 0, 0], theta[:, 1, 1] = scale, scale
        shift = torch.from_numpy((1 - scale) * (2 * rng.random((n, 2)) - 1)).float()
        theta[:, 0, 2], theta[:, 1, 2] = shift[:, 0], shift[:, 1]
        grid = F.affine_grid(theta, list(t.shape), align_corners=False)
        return F.grid_sample(t, grid, padding_mode="reflection", align_corners=False).permute(0, 2, 3, 1).numpy()

    return _nearest_ratio(images, crop, queries, database, seed)
