"""Study: the graph part on CIFAR-10 at full size (issue 34 item 2: knowledge carried from the fit set's own
neighbours).

The default leaves the graph part (``retrieval.encoders.graph_part``) off on photographs: on cifar-1000 it cost
P@10 (benchmarks/results/graph-part). This asks whether it pays at 50,000 images, where the code's neighbours are
better, on the hashing literature's protocol: the 10,000 test images query the 50,000 train images, mAP@1000.
It reads a default collection of the train split, encodes both splits with its encoder, builds graph parts on
the train codes (at most 10,000 anchors, as the encoder would) with the eigenvector count of the rule and fixed
counts at several weights, and ranks exactly by cosine (``retrieval.bench.student_gap.cosine_ranking``).

    aer index runs/cifar50k.aer ../shared/data/cifar-10-binary.tar.gz
    python benchmarks/studies/graph-cifar/graph_cifar_study.py --collection runs/cifar50k.aer

Writes ``results.json`` and ``README.md`` (with ``notes.md``) beside this script.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.bench.record import provenance, write_results
from retrieval.bench.student_gap import cosine_ranking
from retrieval.encoders import load_encoder
from retrieval.encoders.graph_part import fit_graph_part
from retrieval.eval.metrics import average_precision_at
from retrieval.sources.cifar import load_cifar10

HERE = Path(__file__).resolve().parent
DIMS = (None, 32)  # None: the rule's count
WEIGHTS = (0.5, 1.0, 2.0)


def scores(codes: np.ndarray, queries: np.ndarray, labels: np.ndarray, query_labels: np.ndarray) -> dict[str, float]:
    """P@10, P@100 and mAP@1000 of an exact cosine ranking of ``codes`` for ``queries``."""
    rel = labels[cosine_ranking(codes, queries, 1000)] == query_labels[:, None]
    return {"P@10": round(float(rel[:, :10].mean()), 4), "P@100": round(float(rel[:, :100].mean()), 4),
            "mAP@1000": round(float(average_precision_at(rel, 1000).mean()), 4)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--collection", type=Path, required=True, help="a default collection of the train split")
    parser.add_argument("--data", default="../shared/data/cifar-10-binary.tar.gz", help="the CIFAR-10 archive")
    args = parser.parse_args()
    train, train_labels, _ = load_cifar10(args.data, "train")
    test, test_labels, _ = load_cifar10(args.data, "test")
    encoder = load_encoder(args.collection / "encoder")
    t0 = time.perf_counter()
    codes, queries = encoder.encode(train), encoder.encode(test)
    rows: list[dict[str, Any]] = [{"code": f"default ({encoder.describe()})", "eigenvectors": "", "weight": "",
                                   **scores(codes, queries, train_labels, test_labels),
                                   "graph s": ""}]  # fmt: skip
    print(rows[-1], f"(encoding {time.perf_counter() - t0:.0f} s)", flush=True)
    for dim in DIMS:
        for weight in WEIGHTS:
            t0 = time.perf_counter()
            part = fit_graph_part(codes, weight, dim=dim)
            joined, joined_queries = part.join(codes), part.join(queries)
            seconds = round(time.perf_counter() - t0, 1)
            rows.append({"code": "with a graph part", "eigenvectors": part.note, "weight": weight,
                         **scores(joined, joined_queries, train_labels, test_labels), "graph s": seconds})
            print(rows[-1], flush=True)
    results = {"suite": "graph-cifar", "title": "The graph part on CIFAR-10 at 50,000 images",
               "about": "mAP@1000 of the 10,000 test images against the 50,000 train images: the default code "
                        "alone, and with graph parts of the rule's eigenvector count and of 32, at three weights "
                        "(floats, exact cosine ranking).",
               **provenance(), "collection": str(args.collection), "rows": rows}  # fmt: skip
    write_results(HERE, results)


if __name__ == "__main__":
    main()
