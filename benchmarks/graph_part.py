"""The graph part of image codes (issue 34 item 1): the default code without its graph part and with it, and with
graph parts of several sizes, eigenvector counts and weights, against pixels and PCA-64, on the suite's image
corpora.

It fits no network: it reads the default collections an ``aer bench general`` run built (``--suite-run``, the
first run holding each corpus), encodes the database images and the queries with the collection's encoder less
its graph part (aligned sets: the network's code and its pixel part; CIFAR-10: the code alone), and builds each
graph part on the database's codes with ``retrieval.encoders.graph_part.fit_graph_part``; database items and
queries are both placed from their nearest anchors, as the encoder places every image. On CIFAR-10, where the
default leaves it off, the graph part is asked for. Ranking: exact cosine, leave-one-out where the corpus says so
(``pixel_part.ranked_precision``).

    aer bench general --data-dir ../shared/data --corpora digits,fashion-1000,fashion-3000,glyphs,cifar-1000 \
        --out runs/general-images
    python benchmarks/graph_part.py --suite-run runs/general-images --out benchmarks/results/graph-part

Writes ``results.json`` and ``README.md`` (rendered from it, with ``notes.md``) into ``--out``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from pixel_part import _pair, baseline_precision, ranked_precision  # noqa: E402

from retrieval.bench.record import provenance, write_results  # noqa: E402
from retrieval.defaults import GRAPH_NEIGHBOURS, GRAPH_WEIGHT  # noqa: E402
from retrieval.encoders import load_encoder  # noqa: E402
from retrieval.encoders.graph_part import fit_graph_part  # noqa: E402
from retrieval.eval.corpus import load_corpora  # noqa: E402

CORPORA = "digits,fashion-1000,fashion-3000,glyphs,cifar-1000"
NEIGHBOURS = (5, 10)
DIMS = (8, 16, 32, 64)
WEIGHTS = (0.5, 1.0, 2.0)
TITLE = "The graph part: where an image sits on the fit set's neighbour graph"
ABOUT = ("The default code without its graph part (aligned sets: network code and pixel part; CIFAR-10: the code "
         "alone) and that code with the leading eigenvectors of the fit set's k-nearest-neighbour graph appended "
         "(each image placed from its k nearest anchors), on the suite's image corpora, against pixels and PCA-64 "
         "on the same queries (P@10 / P@100, exact cosine ranking). with the graph part: as `retrieval.defaults` "
         "sets it, its eigenvectors counted from the graph (on CIFAR-10, where the default leaves it off, asked "
         "for); grid: each graph size (k), eigenvector count (m) and weight (w).")  # fmt: skip


def default_codes(name: str, images: np.ndarray, queries: np.ndarray,
                  suite_runs: list[Path]) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The default code less its graph part, of the database images and of the queries, by the encoder of the
    first suite run's default collection of ``name``."""
    for run in suite_runs:
        folder = run / name / "default.aer" / "encoder"
        if folder.is_dir():
            encoder = load_encoder(folder)
            encoder.graph_ = None
            return encoder.encode(images), encoder.encode(queries)
    raise SystemExit(f"{name}: no default collection in {', '.join(map(str, suite_runs))}")


def run_corpus(corpus: Any, suite_runs: list[Path]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The corpus's row (before, with the default graph part, its part alone, pixels, PCA-64) and its grid rows."""
    images = np.stack([item.pixels for item in corpus.database])
    labels = [str(item.label) for item in corpus.database]
    queries = images[corpus.leave_out] if corpus.leave_out is not None else np.stack(corpus.queries)
    codes, query_codes = default_codes(corpus.name, images, queries, suite_runs)
    before = ranked_precision(codes, query_codes, corpus, labels)

    def with_graph(neighbours: int, dim: int | None, weight: float) -> tuple[Any, dict[str, float], float]:
        t0 = time.perf_counter()
        part = fit_graph_part(codes, weight, dim=dim, neighbours=neighbours)
        placed, query_placed = part.join(codes), part.join(query_codes)
        seconds = time.perf_counter() - t0
        return part, ranked_precision(placed, query_placed, corpus, labels), seconds

    part, default, seconds = with_graph(GRAPH_NEIGHBOURS, None, GRAPH_WEIGHT)
    alone = ranked_precision(part.place(codes), part.place(query_codes), corpus, labels)
    baselines = baseline_precision(corpus, labels, queries)
    best = max(b["p@10"] for b in baselines.values())
    row = {
        "corpus": corpus.name, "items": len(images), "queries": len(queries),
        "default code without the graph part": _pair(before), "with the graph part": _pair(default),
        "eigenvectors kept": part.note.split(":")[0], "graph part alone": _pair(alone),
        "pixels": _pair(baselines["pixels"]), "PCA-64": _pair(baselines["pca-64"]),
        "before ÷ better of pixels, PCA-64 (P@10)": round(before["p@10"] / best, 3),
        "with it ÷ better (P@10)": round(default["p@10"] / best, 3),
        "graph part s (fit and place)": round(seconds, 2),
    }  # fmt: skip
    print(f"  {row}", flush=True)
    grid = []
    for neighbours in NEIGHBOURS:
        for dim in DIMS:
            cells = {f"w {w:g}": _pair(with_graph(neighbours, dim, w)[1]) for w in WEIGHTS}
            grid.append({"corpus": corpus.name, "k": neighbours, "m": dim, **cells})
            print(f"  {grid[-1]}", flush=True)
    return row, grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data", help="the data folder of aer bench general")
    parser.add_argument("--suite-run", type=Path, action="append", required=True,
                        help="an aer bench general run's folder (repeat: the first holding a corpus is read)")
    parser.add_argument("--out", default="benchmarks/results/graph-part", help="where results.json and README go")
    parser.add_argument("--corpora", default=CORPORA, help="comma-separated corpus names")
    args = parser.parse_args()
    results: dict[str, Any] = {"suite": "graph-part", "title": TITLE, "about": ABOUT, **provenance(),
                               "neighbours (k)": list(NEIGHBOURS), "eigenvectors (m)": list(DIMS),
                               "weights (w)": list(WEIGHTS), "corpora": [], "grid": []}  # fmt: skip
    for corpus in load_corpora(Path(args.data), args.corpora.split(",")):
        print(f"{corpus.name}: {len(corpus.database)} items, {len(corpus.query_labels)} queries", flush=True)
        row, grid = run_corpus(corpus, args.suite_run)
        results["corpora"].append(row)
        results["grid"] += grid
        write_results(Path(args.out), results)


if __name__ == "__main__":
    main()
