"""Every picture the project draws (matplotlib, imported when a picture is drawn, with the Agg backend):

- results: a query and its hits as a row of thumbnails with labels (as in the 2011 paper), hits that share the
  query's label framed in green, ``aer query --grid``;
- what an image autoencoder's decoder makes: items beside their reconstructions, and for 2-D codes a lattice of
  decoder outputs (the lecture notes' figure), ``aer reconstruct``;
- a benchmark run's pictures beside ``results.json``: precision-recall curves, 2-D code maps (the 2006 paper's
  picture) and result grids (``aer bench``).

Every curve or point cloud is told apart by its marker and line style as well as its colour (``series_style``), so
a picture still reads printed in grey.
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

# Series told apart in print as well as on screen: each gets a colour, a marker and a line style (series_style).
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")  # matplotlib's tab10, reordered so that the first few differ most  # fmt: skip
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
LINESTYLES = ("-", "--", "-.", ":")
SAME_LABEL = "#1a9850"  # the frame of a hit that shares the query's label
OTHER_LABEL = "#bdbdbd"  # the frame of a hit whose label differs (none where either label is unknown)


def series_style(i: int) -> dict[str, str]:
    """The ``i``-th series' ``color``, ``marker`` and ``linestyle``: no two of the first 100 series share a
    (colour, marker) pair, and the first 10 differ in both."""
    colour, cycle = i % len(COLOURS), i // len(COLOURS)
    return {"color": COLOURS[colour], "marker": MARKERS[(colour + cycle) % len(MARKERS)],
            "linestyle": LINESTYLES[cycle % len(LINESTYLES)]}  # fmt: skip


def frame_colour(query_label: str | None, hit_label: str | None) -> str | None:
    """The frame around a hit in a result grid: green when it shares the query's label, grey when its label
    differs, none when either label is unknown."""
    if query_label is None or hit_label is None:
        return None
    return SAME_LABEL if hit_label == query_label else OTHER_LABEL


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


def grid_figure(
    rows: Sequence[tuple[np.ndarray, Sequence[Hit], Sequence[np.ndarray]]],
    columns: int = 8,
    titles: Sequence[str] | None = None,
    query_labels: Sequence[str | None] | None = None,
):  # noqa: ANN201 - a matplotlib figure
    """The figure ``draw_grid`` saves: per row, the query (captioned with ``titles``, boxed in black), then its
    hits with label and score under each, each framed by ``frame_colour`` against the row's query label."""
    plt = _pyplot()
    lines = [max(1, math.ceil(len(hits) / columns)) for _, hits, _ in rows]
    fig, axes = plt.subplots(sum(lines), columns + 1, figsize=(1.2 * (columns + 1), 1.6 * sum(lines)), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    line = 0
    for r, ((query, hits, pixels), n_lines) in enumerate(zip(rows, lines)):
        query_label = query_labels[r] if query_labels else None
        _framed(axes[line, 0], query, "black")
        axes[line, 0].set_title(titles[r] if titles else "query", fontsize=8, fontweight="bold")
        for i, (hit, img) in enumerate(zip(hits, pixels)):
            ax = axes[line + i // columns, 1 + i % columns]
            _framed(ax, img, frame_colour(query_label, hit.label))
            ax.set_title(f"{hit.label or '-'}\n{hit.score:.2f}", fontsize=7)
        line += n_lines
    return fig


def _framed(ax, image: np.ndarray, colour: str | None) -> None:  # noqa: ANN001 - matplotlib axes
    """Show ``image`` on ``ax`` with a frame of ``colour`` (none: no frame)."""
    ax.imshow(image, interpolation="nearest")
    if colour is None:
        return
    ax.axis("on")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_edgecolor(colour)
        spine.set_linewidth(3 if colour != OTHER_LABEL else 1)


def draw_grid(
    path: str | Path,
    rows: Sequence[tuple[np.ndarray, Sequence[Hit], Sequence[np.ndarray]]],
    columns: int = 8,
    titles: Sequence[str] | None = None,
    query_labels: Sequence[str | None] | None = None,
) -> Path:
    """Save a PNG: for each row, the query image (framed, captioned) then its hits, label and score under each.

    ``rows`` holds ``(query pixels, hits, hit pixels)``; a row wraps after ``columns`` results. Where the row's
    entry of ``query_labels`` is known, hits that share it are framed in green, the others in grey.
    """
    return _save(path, grid_figure(rows, columns, titles, query_labels), dpi=100)


def save_results_grid(col: Collection, path: str | Path, hits: Sequence[Hit], query: Any = None,
                      like_id: str | None = None) -> Path:  # fmt: skip
    """Save the query image (``query``, or the stored item ``like_id``) and its ``hits`` as one picture, the query
    captioned with its name (the item's id, the file's name) and label, hits of that label framed in green."""
    hit_pixels = col.pixels([h.id for h in hits])  # refuses a text collection
    query_pixels = col.pixels([like_id])[0] if like_id else to_pixels(query)
    name, label = query_caption(col, query, like_id)
    title = f"query: {name}" + (f"\n[{label}]" if label else "")
    return draw_grid(path, [(query_pixels, hits, hit_pixels)], titles=[title], query_labels=[label])


def query_caption(col: Collection, query: Any, like_id: str | None) -> tuple[str, str | None]:
    """A grid query's name and label: a stored item's id and label; an image file's name, and its folder's name
    when the collection has that label (sources take a folder of images' subfolder names as labels); else
    ``("query", None)``."""
    if like_id:
        return like_id, col.item(like_id).label
    if isinstance(query, (str, Path)):
        folder = Path(query).parent.name
        has_label = bool(folder) and col.matching_keys({"label": [folder]}).size > 0
        return Path(query).name, folder if has_label else None
    return "query", None


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
    fig.supxlabel(f"code 1 ({lo[0]:.2g} to {hi[0]:.2g})", fontsize=7)
    fig.supylabel(f"code 2 ({lo[1]:.2g} to {hi[1]:.2g})", fontsize=7)
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
    _save(path, pr_figure(results), pad=None)


def pr_figure(results: dict[str, Any]):  # noqa: ANN201 - a matplotlib figure
    """The figure ``plot_pr_curves`` saves: one curve per method, each its own colour, marker and line style."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 5))
    curves = [r for r in results["methods"] if "pr_curve" in r]
    for i, r in enumerate(curves):
        ax.plot(r["pr_curve"]["recall"], r["pr_curve"]["precision"], ms=4, lw=1.2, label=r["method"],
                markerfacecolor="none" if i % 2 else None, **series_style(i))  # fmt: skip
    ax.set_xlabel("recall")
    ax.set_ylabel("precision (interpolated)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title(f"{results['suite']}: precision-recall, test queries against the train set")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return fig


def plot_code_map(path: Path, collection: Path, data: Corpus, name: str) -> None:
    """The 2006 paper's picture: the 2-D codes of the test queries, one colour and marker per label."""
    pick = np.sort(np.random.default_rng(0).permutation(len(data.queries))[:MAP_POINTS])  # splits are sorted by label
    with Collection.open(collection, device="cpu") as col:
        codes = col.encode([data.queries[i] for i in pick])
    labels = np.array(data.query_labels)[pick]
    _save(path, code_map_figure(codes, labels, f"{name}: 2-D codes of {len(codes)} test queries"), pad=None)


def code_map_figure(codes: np.ndarray, labels: np.ndarray, title: str):  # noqa: ANN201 - a matplotlib figure
    """The figure ``plot_code_map`` saves: a point per code, each label its own colour and marker."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 7))
    for i, label in enumerate(sorted(set(labels.tolist()))):
        pts = codes[labels == label]
        style = {**series_style(i), "linestyle": "none"}
        ax.plot(pts[:, 0], pts[:, 1], ms=2.5, alpha=0.7, label=label, **style)
    ax.set_xlabel("code 1")
    ax.set_ylabel("code 2")
    ax.set_title(title)
    ax.legend(fontsize=5, markerscale=2.5, loc="best", ncol=2)
    return fig


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
    draw_grid(path, rows, columns=GRID_HITS, titles=[f"{name}\nquery: {data.query_labels[i]}" for i in picks],
              query_labels=[data.query_labels[i] for i in picks])  # fmt: skip
