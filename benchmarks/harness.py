"""What every retrieval benchmark here does: build collections with ``aer index``, query them through
``retrieval.open(...)``, and report quality and cost on the same queries for every method."""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

import retrieval
from retrieval.evaluation import RankingScores

CHUNK = 256


def build(data: Path, out: Path, name: str, options: Sequence[str]) -> tuple[Path, float]:
    """``aer index DATA`` into ``out/name.aer`` (kept if already built); return it and the wall seconds."""
    path = out / f"{name}.aer"
    if (path / "collection.json").exists():
        return path, float("nan")
    aer = Path(sys.executable).with_name("aer")
    t0 = time.perf_counter()
    subprocess.run([str(aer), "index", str(data), "--collection", str(path), "-q", *options], check=True)
    return path, time.perf_counter() - t0


def evaluate(
    path: Path,
    queries: Sequence[Any],
    labels: Sequence[str],
    *,
    depth: int | None = None,
    map_at: int | None = None,
    api_queries: int | None = None,
) -> dict[str, Any]:
    """Quality and cost of one collection.

    Metrics come from the batched ``search_codes`` over ``depth`` ranks (the whole database when
    ``None``). The first ``api_queries`` queries (all when ``None``) also go one at a time through
    ``Collection.search``: their latency is reported, and so is P@k computed from those hits.
    """
    col = retrieval.open(path, device="cpu")
    key_label = col.labels()
    scores = RankingScores(list(key_label.values()), ks=(10, 100), map_at=map_at)
    label_of = scores.label_ids([key_label.get(k) for k in range(max(key_label) + 1)])
    query_ids = scores.label_ids(list(labels))

    t0 = time.perf_counter()
    codes = col.encode(list(queries))
    encode_s = time.perf_counter() - t0

    n_api = len(queries) if api_queries is None else min(api_queries, len(queries))
    latencies, ranked = [], []
    for q in queries[:n_api]:
        t0 = time.perf_counter()
        hits = col.search(q, k=100)
        latencies.append(time.perf_counter() - t0)
        ranked.append([h.label for h in hits])
    api = RankingScores(list(key_label.values()), ks=(10, 100))
    api.add(list(labels[:n_api]), np.array(ranked, dtype=object))

    t0 = time.perf_counter()
    for start in range(0, len(queries), CHUNK):
        _, keys = col.search_codes(codes[start : start + CHUNK], k=depth or len(col))
        scores.add(query_ids[start : start + CHUNK], label_of[keys])
    batch_s = time.perf_counter() - t0
    info = col.info()
    col.close()
    quality = scores.result()
    if depth is not None:  # AP over a truncated ranking is not the whole-ranking mAP: don't report it as such
        quality.pop("map")
    return {
        **quality,
        "api_queries": n_api,
        "api_p@100": api.result()["p@100"],
        "code": f"{info['bits']} bits" if "bits" in info else f"{info['dim']} floats",
        "bytes_per_item": info["bytes_per_item"],
        "encode_items_per_s": len(queries) / encode_s,
        "query_p50_ms": 1000 * float(np.percentile(latencies, 50)),
        "query_p99_ms": 1000 * float(np.percentile(latencies, 99)),
        "batched_search_s": batch_s,
    }


def machine() -> str:
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
            f"torch {torch.__version__} with {torch.get_num_threads()} threads, "
            f"CUDA {'yes' if torch.cuda.is_available() else 'no'}")  # fmt: skip


def peak_rss_mb() -> float:
    """Peak resident memory of this process and of the finished ``aer index`` children."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024


def report(out: Path, results: dict[str, dict[str, Any]], columns: Sequence[tuple[str, str, str]]) -> str:
    """Write ``results.json`` and ``results.md`` in ``out``; return the markdown table.

    ``columns`` are ``(header, result key, format)``.
    """
    (out / "results.json").write_text(json.dumps({"machine": machine(), "methods": results}, indent=1))
    lines = ["| method | " + " | ".join(h for h, _, _ in columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, r in results.items():
        lines.append(f"| {name} | " + " | ".join(format(r[k], f) for _, k, f in columns) + " |")
    table = "\n".join(lines) + f"\n\nMachine: {machine()}.\n"
    (out / "results.md").write_text(table)
    return table


def run_suite(
    args: argparse.Namespace,
    methods: dict[str, list[str]],
    queries: Sequence[Any],
    labels: Sequence[str],
    columns: Sequence[tuple[str, str, str]],
    **evaluate_options: Any,
) -> dict[str, dict[str, Any]]:
    """Build and evaluate each of ``args.methods`` (names in ``methods``), print and save the table."""
    args.out.mkdir(parents=True, exist_ok=True)
    results = {}
    for name in args.methods.split(","):
        if name not in methods:
            raise SystemExit(f"unknown method {name!r}; known: {', '.join(methods)}")
        path, build_s = build(args.data, args.out, name, methods[name])
        results[name] = {"build_s": build_s, **evaluate(path, queries, labels, **evaluate_options)}
        print(name, {k: round(v, 4) if isinstance(v, float) else v for k, v in results[name].items()}, flush=True)
    print(report(args.out, results, columns))
    print(f"peak RSS {peak_rss_mb():.0f} MB")
    return results


def arguments(doc: str, data: str, out: str, methods: dict[str, list[str]]) -> argparse.Namespace:
    """The options every suite takes: --data, --out, --methods."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path(data))
    ap.add_argument("--out", type=Path, default=Path(out))
    ap.add_argument("--methods", default=",".join(methods), help="comma-separated subset of " + ",".join(methods))
    return ap.parse_args()
