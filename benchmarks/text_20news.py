"""20 Newsgroups retrieval: autoencoder codes against LSA and TF-IDF, through the product itself.

Each method's collection is built with ``aer index`` on the archive's train split (the database),
then the test split's 7,532 documents are the queries through ``retrieval.open(...)``:
P@10 / P@100 from ``Collection.search`` (one query at a time, which also gives the latency),
mAP over the whole ranking from the same collection's batched ``search_codes``.

    python benchmarks/text_20news.py --data ../shared/data/20news-bydate.tar.gz --out runs/text
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import retrieval
from retrieval.evaluation import RankingScores
from retrieval.sources import Document, iter_newsgroups

METHODS = {  # name: aer index options
    "tfidf": ["--encoder", "tfidf"],
    "lsa-10": ["--encoder", "lsa", "--dim", "10"],
    "lsa-32": ["--encoder", "lsa", "--dim", "32"],
    "lsa-50": ["--encoder", "lsa", "--dim", "50"],
    "ae-10": ["--encoder", "ae", "--dim", "10"],
    "ae-32": ["--encoder", "ae", "--dim", "32"],
}
CHUNK = 256


def build(data: Path, out: Path, name: str, options: list[str]) -> tuple[Path, float]:
    """``aer index`` the archive into ``out/name.aer``; return the path and the wall seconds."""
    path = out / f"{name}.aer"
    if (path / "collection.json").exists():
        return path, float("nan")
    aer = Path(sys.executable).with_name("aer")
    t0 = time.perf_counter()
    subprocess.run([str(aer), "index", str(data), "--collection", str(path), "-q", *options], check=True)
    return path, time.perf_counter() - t0


def evaluate(path: Path, queries: list[Document]) -> dict[str, float]:
    col = retrieval.open(path, device="cpu")
    texts = [d.text for d in queries]
    qlabels = [d.label for d in queries]
    key_label = col.labels()
    scores = RankingScores(list(key_label.values()), ks=(10, 100))

    # Encode throughput: raw text -> code for every query document, in one call.
    t0 = time.perf_counter()
    codes = col.encode(texts)
    encode_s = time.perf_counter() - t0

    # Single-query latency and P@k through the public search API.
    latencies, ranked = [], []
    for text in texts:
        t0 = time.perf_counter()
        hits = col.search(text, k=100)
        latencies.append(time.perf_counter() - t0)
        ranked.append([h.label for h in hits])
    api = RankingScores(list(key_label.values()), ks=(10, 100))
    api.add(qlabels, np.array(ranked, dtype=object))

    # mAP over the full ranking of the database.
    label_of = scores.label_ids([key_label.get(k) for k in range(max(key_label) + 1)])
    query_ids = scores.label_ids(qlabels)
    for start in range(0, len(texts), CHUNK):
        _, keys = col.search_codes(codes[start : start + CHUNK], k=len(col))
        scores.add(query_ids[start : start + CHUNK], label_of[keys])
    full = scores.result()
    info = col.info()
    col.close()
    return {
        "p@10": api.result()["p@10"],
        "p@100": api.result()["p@100"],
        "map": full["map"],
        "p@100_full_ranking": full["p@100"],
        "queries": full["queries"],
        "dim": info["dim"],
        "bytes_per_item": info["bytes_per_item"],
        "encode_docs_per_s": len(texts) / encode_s,
        "query_p50_ms": 1000 * float(np.percentile(latencies, 50)),
        "query_p99_ms": 1000 * float(np.percentile(latencies, 99)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data/20news-bydate.tar.gz"))
    ap.add_argument("--out", type=Path, default=Path("runs/text"))
    ap.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of " + ",".join(METHODS))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    queries = [d for d in iter_newsgroups(args.data, "test") if isinstance(d, Document)]
    results = {}
    for name in args.methods.split(","):
        path, build_s = build(args.data, args.out, name, METHODS[name])
        results[name] = {"build_s": build_s, **evaluate(path, queries)}
        print(name, json.dumps({k: round(v, 4) for k, v in results[name].items()}), flush=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    print(f"\nmachine: {os.cpu_count()} CPU cores; torch threads {__import__('torch').get_num_threads()}")
    print("| method | dim | bytes/item | P@10 | P@100 | mAP | build s | encode docs/s | query p50 ms |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['dim']} | {r['bytes_per_item']:.0f} | {r['p@10']:.3f} | {r['p@100']:.3f} | "
              f"{r['map']:.3f} | {r['build_s']:.0f} | {r['encode_docs_per_s']:.0f} | {r['query_p50_ms']:.2f} |")


if __name__ == "__main__":
    main()
