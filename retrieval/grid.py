"""Pictures of results: the query and its hits as a row of thumbnails with labels (as in the 2011 paper)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .collection import Collection
from .collection.hits import Hit
from .images import to_pixels


def draw_grid(
    path: str | Path,
    rows: Sequence[tuple[np.ndarray, Sequence[Hit], Sequence[np.ndarray]]],
    columns: int = 8,
    titles: Sequence[str] | None = None,
) -> Path:
    """Save a PNG: for each row, the query image (framed) then its hits, label and score under each.

    ``rows`` holds ``(query pixels, hits, hit pixels)``; a row wraps after ``columns`` results.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = [max(1, math.ceil(len(hits) / columns)) for _, hits, _ in rows]
    fig, axes = plt.subplots(sum(lines), columns + 1, figsize=(1.2 * (columns + 1), 1.6 * sum(lines)), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    line = 0
    for r, ((query, hits, pixels), n_lines) in enumerate(zip(rows, lines)):
        ax = axes[line, 0]
        ax.imshow(query, interpolation="nearest")
        ax.set_title(titles[r] if titles else "query", fontsize=8, fontweight="bold")
        for i, (hit, img) in enumerate(zip(hits, pixels)):
            ax = axes[line + i // columns, 1 + i % columns]
            ax.imshow(img, interpolation="nearest")
            ax.set_title(f"{hit.label or '-'}\n{hit.score:.2f}", fontsize=7)
        line += n_lines
    fig.tight_layout(pad=0.3)
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def save_results_grid(col: Collection, path: str | Path, hits: Sequence[Hit], query: Any = None,
                      like_id: str | None = None) -> Path:  # fmt: skip
    """Save the query image (``query``, or the stored item ``like_id``) and its ``hits`` as one picture."""
    hit_pixels = col.pixels([h.id for h in hits])  # refuses a text collection
    query_pixels = col.pixels([like_id])[0] if like_id else to_pixels(query)
    return draw_grid(path, [(query_pixels, hits, hit_pixels)])
