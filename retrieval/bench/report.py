"""The pictures a benchmark run leaves in ``--out`` beside ``results.json`` and its page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..collection import Collection  # noqa: E402
from ..eval.corpus import Corpus  # noqa: E402
from ..grid import draw_grid  # noqa: E402

GRID_QUERIES = 4  # image queries drawn per method, each of a different class
GRID_HITS = 8
MAP_POINTS = 4000  # queries drawn in a 2-D code map

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
    fig, ax = plt.subplots(figsize=(7, 5))
    for r in results["methods"]:
        if "pr_curve" in r:
            ax.plot(r["pr_curve"]["recall"], r["pr_curve"]["precision"], marker="o", ms=3, label=r["method"])
    ax.set_xlabel("recall")
    ax.set_ylabel("precision (interpolated)")
    ax.set_title(f"{results['suite']}: precision-recall, test queries against the train set")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_code_map(path: Path, collection: Path, data: Corpus, name: str) -> None:
    """The 2006 paper's picture: the 2-D codes of the test queries, one colour per label."""
    pick = np.sort(np.random.default_rng(0).permutation(len(data.queries))[:MAP_POINTS])  # splits are sorted by label
    with Collection.open(collection, device="cpu") as col:
        codes = col.encode([data.queries[i] for i in pick])
    labels = np.array(data.query_labels)[pick]
    fig, ax = plt.subplots(figsize=(7, 7))
    cmap = plt.get_cmap("tab20")
    for i, label in enumerate(sorted(set(labels))):
        pts = codes[labels == label]
        ax.scatter(pts[:, 0], pts[:, 1], s=3, color=cmap(i % 20), label=label, alpha=0.7)
    ax.set_title(f"{name}: 2-D codes of {len(codes)} test queries")
    ax.legend(fontsize=5, markerscale=3, loc="best", ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


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
