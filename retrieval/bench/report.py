"""What a benchmark run leaves in ``--out`` besides ``results.json``: the table and the pictures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..collection import Collection  # noqa: E402
from ..grid import draw_grid  # noqa: E402
from .data import SuiteData  # noqa: E402

GRID_QUERIES = 4  # image queries drawn per method, each of a different class
GRID_HITS = 8
MAP_POINTS = 4000  # queries drawn in a 2-D code map

COLUMNS = {  # header: (record key, format)
    "code": ("code", ""),
    "bytes/item": ("bytes_per_item", ".0f"),
    "P@10": ("p@10", ".3f"),
    "P@100": ("p@100", ".3f"),
    "mAP": ("map", ".3f"),
    "mAP@1000": ("map@1000", ".3f"),
    "fit s": ("fit_s", ".0f"),
    "index s": ("index_s", ".1f"),
    "build peak MB": ("build_peak_rss_mb", ".0f"),
    "aer index s": ("build_total_s", ".0f"),  # collections reused from an earlier `aer index` run
    "encode items/s": ("encode_items_per_s", ".0f"),
    "p50 ms": ("query_p50_ms", ".2f"),
    "p99 ms": ("query_p99_ms", ".2f"),
    "QPS 1-by-1": ("qps_single", ".0f"),
    "QPS batched": ("qps_batched", ".0f"),
}


def markdown_table(results: dict[str, Any]) -> str:
    """The results as a markdown table (columns no method has are left out), with the machine under it."""
    records = results["methods"]
    columns = {h: c for h, c in COLUMNS.items() if any(c[0] in r for r in records)}
    lines = ["| method | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for r in records:
        cells = [format(r[key], fmt) if key in r else "" for key, fmt in columns.values()]
        lines.append(f"| {r['method']} | " + " | ".join(cells) + " |")
    m = results["machine"]
    lines += [
        "",
        f"{results['database_items']} database items, {results['queries']} queries"
        f"{' (quick slice)' if results['quick'] else ''}. Machine: {m['cpu']}, {m['cores']} cores, "
        f"torch {m['torch']} with {m['torch_threads']} threads, GPU: {m['cuda'] or 'none'}.",
    ]
    two_stage = [r for r in records if "two_stage" in r]
    if two_stage:
        lines += ["", "| two-stage method | radius | recall of exhaustive top-100 | fell back | search p50 ms | "
                  "exhaustive p50 ms |", "|---|---|---|---|---|---|"]  # fmt: skip
        for r in two_stage:
            t = r["two_stage"]
            cells = [t["radius"], f"{t['recall_of_exhaustive_top100']:.3f}", f"{t['fell_back']:.2f}",
                     f"{t['search_p50_ms']:.3f}", f"{t['exhaustive_search_p50_ms']:.3f}"]  # fmt: skip
            lines.append(f"| {r['method']} | " + " | ".join(map(str, cells)) + " |")
    if "minilm_embedding" in results:
        e = results["minilm_embedding"]
        lines += ["", f"MiniLM embedded {e['texts']} texts once for the MiniLM methods in {e['seconds']:.0f} s "
                  "(0 when read from an earlier run's cache)."]  # fmt: skip
    return "\n".join(lines) + "\n"


def write_report(out: Path, results: dict[str, Any], data: SuiteData) -> None:
    """``results.md``, ``pr_curves.png``, 2-D code maps, and for images a result grid per method."""
    (out / "results.md").write_text(markdown_table(results))
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


def plot_code_map(path: Path, collection: Path, data: SuiteData, name: str) -> None:
    """The 2006 paper's picture: the 2-D codes of the test queries, one colour per label."""
    pick = np.sort(np.random.default_rng(0).permutation(len(data.queries))[:MAP_POINTS])  # splits are sorted by label
    with Collection.open(collection, device="cpu") as col:
        codes = col.encode([data.queries[i] for i in pick])
    labels = np.array(data.labels)[pick]
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


def draw_result_grid(path: Path, collection: Path, data: SuiteData, name: str) -> None:
    """The 2011 paper's picture: a few image queries (different classes) and their top hits."""
    picks, seen = [], set()
    for i, label in enumerate(data.labels):
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
    draw_grid(path, rows, columns=GRID_HITS, titles=[f"{name}\nquery: {data.labels[i]}" for i in picks])
