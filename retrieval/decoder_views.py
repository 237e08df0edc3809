"""Pictures of what an image autoencoder's decoder makes: items beside their reconstructions, and for 2-D
codes a lattice of decoder outputs (the lecture notes' figure)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .collection import Collection
from .errors import CollectionError


def _decoder_of(col: Collection):  # noqa: ANN202 - an image autoencoder
    encoder = getattr(col.encoder, "long", col.encoder)
    if col.modality != "image" or not hasattr(encoder, "decode"):
        raise CollectionError(f"{col.path}: reconstructions need an image autoencoder (this has {encoder.describe()})")
    return encoder


def _save(path: Path, fig) -> Path:  # noqa: ANN001 - a matplotlib figure
    import matplotlib.pyplot as plt

    fig.tight_layout(pad=0.3)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def draw_reconstructions(col: Collection, item_ids: Sequence[str], path: str | Path) -> Path:
    """A row per item: its stored 32×32 pixels, then the autoencoder's reconstruction, with the error."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    encoder = _decoder_of(col)
    pixels = np.stack(col.pixels(item_ids))
    recon, errors = encoder.reconstruct(pixels), encoder.reconstruction_error(pixels)
    fig, axes = plt.subplots(len(item_ids), 2, figsize=(3.2, 1.7 * len(item_ids)), squeeze=False)
    for row, (item_id, original, out, err) in enumerate(zip(item_ids, pixels, recon, errors)):
        for ax, img, title in (
            (axes[row, 0], original, item_id),
            (axes[row, 1], out, f"reconstruction\nerror {err:.3f}"),
        ):
            ax.imshow(img, interpolation="nearest")
            ax.set_title(title, fontsize=7)
            ax.axis("off")
    return _save(Path(path), fig)


def draw_lattice(col: Collection, n: int, path: str | Path) -> Path:
    """An ``n``×``n`` grid of decoder outputs for 2-D codes spaced evenly over the stored codes' range."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    encoder = _decoder_of(col)
    if encoder.bits or encoder.dim != 2:
        raise CollectionError(f"{col.path}: a lattice needs real-valued 2-D codes (this has {encoder.describe()})")
    thumbs = col.store.thumbnail_pixels(col.index.keys()[:5000].tolist())  # the index keeps normalised codes: re-encode
    codes = encoder.encode(np.stack(list(thumbs.values())))
    lo, hi = np.percentile(codes, 2, axis=0), np.percentile(codes, 98, axis=0)
    xs, ys = np.linspace(lo[0], hi[0], n), np.linspace(hi[1], lo[1], n)
    grid = np.array([[x, y] for y in ys for x in xs], dtype=np.float32)
    images = encoder.decode(grid)
    fig, axes = plt.subplots(n, n, figsize=(0.6 * n, 0.6 * n), squeeze=False)
    for ax, img in zip(axes.ravel(), images):
        ax.imshow(img, interpolation="nearest")
        ax.axis("off")
    fig.suptitle("decoder outputs over the 2-D codes", fontsize=8)
    return _save(Path(path), fig)
