"""Every picture the project draws (matplotlib, imported when a picture is drawn, with the Agg backend):

- results: a query and its hits as a row of thumbnails with labels (as in the 2011 paper), ``aer query --grid``;
- what an image autoencoder's decoder makes: items beside their reconstructions, and for 2-D codes a lattice of
  decoder outputs (the lecture notes' figure), ``aer reconstruct``;
- a benchmark run's pictures beside ``results.json``: precision-recall curves, 2-D code maps (the 2006 paper's
  picture) and result grids (``aer bench``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .collection import Collection, Hit
from .errors import CollectionError
from .images import to_pixels

if TYPE_CHECKING:
    from .eval.corpus import Corpus

GRID_QUERIES = 4  # a benchmark run's image queries drawn per method, each of a different class
GRID_HITS = 8
MAP_POINTS = 4000  # queries drawn in a 2-D code map


def _pyplot():  # noqa: ANN202 - matplotlib.pyplot
    """matplotlib's pyplot on the Agg backend (files only, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(path: str | Path, fig, dpi: int = 110, pad: float | None = 0.3) -> Path:  # noqa: ANN001 - a figure
    plt = _pyplot()
    fig.tight_layout(**({} if pad is None else {"pad": pad}))
    path = Path(path)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


# --- results --------------------------------------------------------------------------------------


def draw_grid(
    path: str | Path,
    rows: Sequence[tuple[np.ndarray, Sequence[Hit], Sequence[np.ndarray]]],
    columns: int = 8,
    titles: Sequence[str] | None = None,
) -> Path:
    """Save a PNG: for each row, the query image (framed) then its hits, label and score under each.

    ``rows`` holds ``(query pixels, hits, hit pixels)``; a row wraps after ``columns`` results.
    """
    plt = _pyplot()
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
    return _save(path, fig, dpi=100)


def save_results_grid(col: Collection, path: str | Path, hits: Sequence[Hit], query: Any = None,
                      like_id: str | None = None) -> Path:  # fmt: skip
    """Save the query image (``query``, or the stored item ``like_id``) and its ``hits`` as one picture."""
    hit_pixels = col.pixels([h.id for h in hits])  # refuses a text collection
    query_pixels = col.pixels([like_id])[0] if like_id else to_pixels(query)
    return draw_grid(path, [(query_pixels, hits, hit_pixels)])


# --- an image autoencoder's decoder ---------------------------------------------------------------


def _decoder_of(col: Collection):  # noqa: ANN202 - an image autoencoder
    encoder = getattr(col.encoder, "long", col.encoder)
    if col.modality != "image" or not hasattr(encoder, "decode"):
        raise CollectionError(f"{col.path}: reconstructions need an image autoencoder (this has {encoder.describe()})")
    return encoder


def draw_reconstructions(col: Collection, item_ids: Sequence[str], path: str | Path) -> Path:
    """A row per item: its stored 32×32 pixels, then the autoencoder's reconstruction, with the error."""
    plt = _pyplot()
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
    return _save(path, fig)


def draw_lattice(col: Collection, n: int, path: str | Path) -> Path:
    """An ``n``×``n`` grid of decoder outputs for 2-D codes spaced evenly over the stored codes' range."""
    plt = _pyplot()
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
    return _save(path, fig)


# --- a benchmark run ------------------------------------------------------------------------------


def write_pictures(out: Path, results: dict[str, Any], data: Corpus) -> None:
    """``pr_curves.png``, 2-D code maps, and for images a result grid per method."""
    plot_pr_curves(out / "pr_curves.png", results)
    for r in results["methods"]:
        path = out / f"{r['method']}.aer"
        if r["code"] == "2 floats":
            plot_code_map(out / f"map_{r['method']}.png", path, data, r["method"])
        if results["modality"] == "image":
            draw_result_grid(out / f"grid_{r['method']}.png", path, data, r["method"])


def plot_pr_curves(path: Path, results: dict[str, Any]) -> None:
    """Each method's interpolated precision-recall curve, test queries against the train set."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 5))
    for r in results["methods"]:
        if "pr_curve" in r:
            ax.plot(r["pr_curve"]["recall"], r["pr_curve"]["precision"], marker="o", ms=3, label=r["method"])
    ax.set_xlabel("recall")
    ax.set_ylabel("precision (interpolated)")
    ax.set_title(f"{results['suite']}: precision-recall, test queries against the train set")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    _save(path, fig, pad=None)


def plot_code_map(path: Path, collection: Path, data: Corpus, name: str) -> None:
    """The 2006 paper's picture: the 2-D codes of the test queries, one colour per label."""
    pick = np.sort(np.random.default_rng(0).permutation(len(data.queries))[:MAP_POINTS])  # splits are sorted by label
    with Collection.open(collection, device="cpu") as col:
        codes = col.encode([data.queries[i] for i in pick])
    labels = np.array(data.query_labels)[pick]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 7))
    cmap = plt.get_cmap("tab20")
    for i, label in enumerate(sorted(set(labels))):
        pts = codes[labels == label]
        ax.scatter(pts[:, 0], pts[:, 1], s=3, color=cmap(i % 20), label=label, alpha=0.7)
    ax.set_title(f"{name}: 2-D codes of {len(codes)} test queries")
    ax.legend(fontsize=5, markerscale=3, loc="best", ncol=2)
    _save(path, fig, pad=None)


def draw_result_grid(path: Path, collection: Path, data: Corpus, name: str) -> None:
    """The 2011 paper's picture: a few image queries (different classes) and their top hits."""
    picks, seen = [], set()
    for i, label in enumerate(data.query_labels):
        if label not in seen:
            picks.append(i)
            seen.add(label)
        if len(picks) == GRID_QUERIES:
            break
    with Collection.open(collection, device="cpu") as col:
        rows = []
        for i in picks:
            hits = col.search(data.queries[i], k=GRID_HITS)
            rows.append((data.queries[i], hits, col.pixels([h.id for h in hits])))
    draw_grid(path, rows, columns=GRID_HITS, titles=[f"{name}\nquery: {data.query_labels[i]}" for i in picks])
