"""Scale: streaming ingest at 100k and 1M documents, and index types at 100k / 1M / 10M codes.

Part ``ingest`` runs ``aer index`` (streaming, ``--fit-sample``) on synthetic corpora of N documents
made from the 20 Newsgroups train split: document ``i`` is newsgroup post ``i mod 11,314`` (headers
dropped, first 120 words), each word kept with probability 0.9 (seed ``i``), so no two documents are
equal but the vocabulary and topics are real. Each build runs in its own process under
``/usr/bin/time -v`` (peak RSS of the whole run). Queries are 200 test-split posts, searched one at a
time through ``retrieval.open(...).search`` with one thread; the same collection is then searched with
its codes in a hash index (``BHash2x32,nflip=1``, one bit flip per table: what ``aer index`` picks for large
binary collections) to give the hash lookup's latency and recall@10 (``indexers.recall_at_k``, ties counted).

Part ``indexes`` measures FAISS index types on codes, without the encoder: 64-bit codes of the
20 Newsgroups train split (from an ``ae --bits 64`` collection) replicated to N with 3% of bits flipped
per copy (seed 0), and 32-float codes (``ae --dim 32``) replicated with Gaussian noise of 0.2 x the
codes' standard deviation. Queries are 200 further noisy copies. Each (codes, N, index) cell runs in a
fresh process: build time, bytes per item (serialised index), peak RSS, one-thread query p50 / p99,
batched QPS (all 200 queries in one call, all cores) and recall@10 against exact search.

    python benchmarks/scale.py ingest  --data ../shared/data/20news-bydate.tar.gz --out runs/scale
    python benchmarks/scale.py latency --data ../shared/data/20news-bydate.tar.gz --out runs/scale
    python benchmarks/scale.py indexes --binary runs/text/ae-64bit.aer --float runs/text/ae-32.aer --out runs/scale
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import faiss
import numpy as np

BINARY_SPECS = ["BFlat", "BHash4x16,nflip=2", "BHash2x32,nflip=1"]  # indexers.factory specs
FLOAT_SPECS = ["IDMap2,Flat", "auto", "IDMap2,IVF{nlist},PQ8"]
HASH_SPEC = "BHash2x32,nflip=1"  # what aer index picks for large binary collections
QUERIES = 200
AER = str(Path(sys.executable).with_name("aer"))  # the CLI installed beside this Python


# --- ingest -----------------------------------------------------------------------------------


def write_corpus(data: Path, n: int, path: Path) -> None:
    """``n`` JSONL documents derived from the 20 Newsgroups train posts (see the module docstring)."""
    from retrieval.sources import iter_newsgroups

    posts = [d for d in iter_newsgroups(data, "train") if hasattr(d, "text")]
    posts = [p for p in posts if p.text.split("\n\n", 1)[-1].split()]  # a few posts have no body
    bodies = [p.text.split("\n\n", 1)[-1].split()[:120] for p in posts]
    rng = np.random.default_rng(0)
    with path.open("w") as fh:
        for i in range(n):
            words = bodies[i % len(bodies)]
            keep = rng.random(len(words)) < 0.9
            text = " ".join(w for w, k in zip(words, keep) if k) or words[0]
            fh.write(json.dumps({"id": f"d{i}", "text": text, "label": posts[i % len(posts)].label}) + "\n")


def timed(cmd: list[str]) -> dict:
    """Run ``cmd`` under ``/usr/bin/time -v``: wall seconds and peak RSS (MB)."""
    t0 = time.perf_counter()
    run = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True)
    if run.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{run.stdout[-2000:]}\n{run.stderr[-4000:]}")
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", run.stderr).group(1))
    return {"seconds": round(time.perf_counter() - t0, 1), "peak_rss_mb": round(peak_kb / 1024, 1), "log": run.stdout}


def query_latency(collection: Path, queries: list[str]) -> dict:
    """One-thread latency of ``Collection.search`` (k=10), exhaustive and with a hash index on the same codes."""
    import torch

    import retrieval
    from indexers import create_index, recall_at_k

    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    out = {}
    with retrieval.open(collection, device="cpu") as col:
        exact = col.index
        keys = exact.keys()
        hashed = create_index(HASH_SPEC, exact.dim, "hamming")
        hashed.add(keys, exact.reconstruct_batch(keys))  # a BFlat collection's index
        qcodes = col.encode(queries)
        exact_scores, exact_keys = exact.search(qcodes, 10)
        for name, index in ((exact.spec, exact), (HASH_SPEC, hashed)):
            col.index = index
            col.search(queries[0], 10)  # warm
            lat, code_lat = [], []
            for q, code in zip(queries, qcodes):
                t0 = time.perf_counter()
                col.search(q, 10)  # encode the text, search, read the hits' metadata
                t1 = time.perf_counter()
                col.search_codes(code[None], 10)  # the index search alone
                code_lat.append((time.perf_counter() - t1) * 1000)
                lat.append((t1 - t0) * 1000)
            scores, found = index.search(qcodes, 10)
            recall = recall_at_k(found, exact_keys, 10, found_scores=scores, true_scores=exact_scores)
            out[name] = {"p50_ms": _pct(lat, 50), "p99_ms": _pct(lat, 99), "search_codes_p50_ms": _pct(code_lat, 50),
                         "search_codes_p99_ms": _pct(code_lat, 99), "recall_at_10": round(recall, 3)}  # fmt: skip
    return out


def latency(args: argparse.Namespace) -> None:
    """Measure query latency again on the collections ``ingest`` built (e.g. on an idle machine)."""
    from retrieval.sources import iter_newsgroups

    out = Path(args.out)
    queries = [d.text for d in iter_newsgroups(args.data, "test") if hasattr(d, "text")][:QUERIES]
    rows = json.loads((out / "ingest.json").read_text())
    for row in rows:
        row["query"] = query_latency(out / f"ingest-{row['items']}.aer", queries)
        print(json.dumps(row), flush=True)
    (out / "ingest.json").write_text(json.dumps(rows, indent=1))


def ingest(args: argparse.Namespace) -> None:
    from retrieval.sources import iter_newsgroups

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    queries = [d.text for d in iter_newsgroups(args.data, "test") if hasattr(d, "text")][:QUERIES]
    rows = []
    for n in args.sizes:
        corpus, col = out / f"corpus-{n}.jsonl", out / f"ingest-{n}.aer"
        if not corpus.exists():
            write_corpus(Path(args.data), n, corpus)
        subprocess.run(["rm", "-rf", str(col)], check=True)
        cmd = [AER, "index", str(corpus), "-c", str(col), "--bits", "64",
               "--fit-sample", str(args.fit_sample), "--epochs", str(args.epochs), "-q"]  # fmt: skip
        run = timed(cmd)
        info = json.loads(subprocess.run([AER, "info", str(col), "--json"],
                                         capture_output=True, text=True, check=True).stdout)  # fmt: skip
        row = {"items": n, "aer_index_s": run["seconds"], "peak_rss_mb": run["peak_rss_mb"],
               "bytes_per_item": info["bytes_per_item"], "index": info["index"], "fit_sample": args.fit_sample,
               "query": query_latency(col, queries)}  # fmt: skip
        rows.append(row)
        print(json.dumps(row), flush=True)
    (out / "ingest.json").write_text(json.dumps(rows, indent=1))


# --- index types --------------------------------------------------------------------------------


def binary_codes(collection: Path, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` database codes and ``QUERIES`` query codes, replicated from the collection's with 3% bit flips."""
    import retrieval

    with retrieval.open(collection, device="cpu") as col:
        base = col.index.reconstruct_batch(col.index.keys())
    rng = np.random.default_rng(seed)
    bits = base.shape[1] * 8

    def noisy(rows: np.ndarray) -> np.ndarray:
        flips = np.packbits(rng.random((len(rows), bits), dtype=np.float32) < 0.03, axis=1, bitorder="little")
        return rows ^ flips

    db = np.empty((n, base.shape[1]), dtype=np.uint8)
    for start in range(0, n, 500_000):
        stop = min(n, start + 500_000)
        rows = base[np.arange(start, stop) % len(base)]
        db[start:stop] = rows if start == 0 else noisy(rows)
    return db, noisy(base[rng.integers(0, len(base), QUERIES)])


def float_codes(collection: Path, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` database codes and ``QUERIES`` query codes: the collection's codes plus Gaussian noise."""
    import retrieval

    with retrieval.open(collection, device="cpu") as col:
        keys = col.index.keys()
        base = np.stack([col.index.reconstruct(k) for k in keys])
    rng = np.random.default_rng(seed)
    sigma = 0.2 * base.std()
    db = np.empty((n, base.shape[1]), dtype=np.float32)
    for start in range(0, n, 500_000):
        stop = min(n, start + 500_000)
        rows = base[np.arange(start, stop) % len(base)]
        db[start:stop] = rows + (0 if start == 0 else rng.normal(0, sigma, rows.shape).astype(np.float32))
    queries = base[rng.integers(0, len(base), QUERIES)] + rng.normal(0, sigma, (QUERIES, base.shape[1]))
    return db, queries.astype(np.float32)


def measure_cell(kind: str, source: str, n: int, spec: str) -> dict:
    """One (codes, size, index) cell; meant to run in a fresh process (peak RSS is the process's)."""
    from indexers import choose_index, create_index, default_spec, recall_at_k

    db, queries = (binary_codes if kind == "binary" else float_codes)(Path(source), n)
    base_rss = _rss_mb()
    binary = kind == "binary"
    dim = db.shape[1] * 8 if binary else db.shape[1]
    metric = "hamming" if binary else "cosine"
    if spec == "auto":
        spec = choose_index(n, dim, binary=binary, train_items=100_000, target_latency_ms=1.0).spec
    spec = spec.format(nlist=2 ** int(np.log2(max(16, min(4 * n**0.5, 100_000 / 39)))))
    keys = np.arange(n, dtype=np.int64)
    t0 = time.perf_counter()
    index = create_index(spec, dim, metric)
    index.train(db[np.random.default_rng(1).permutation(n)[:100_000]])
    for start in range(0, n, 1_000_000):
        index.add(keys[start : start + 1_000_000], db[start : start + 1_000_000])
    build_s = time.perf_counter() - t0
    index_rss = _rss_mb() - base_rss
    faiss.omp_set_num_threads(1)
    index.search(queries[:1], 10)
    lat = []
    for q in queries:
        t1 = time.perf_counter()
        index.search(q[None], 10)
        lat.append((time.perf_counter() - t1) * 1000)
    faiss.omp_set_num_threads(multiprocessing.cpu_count())
    t1 = time.perf_counter()
    scores, found = index.search(queries, 10)
    qps = len(queries) / (time.perf_counter() - t1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    exact = create_index(default_spec(metric), dim, metric)
    exact.add(keys, db)
    truth, truth_keys = exact.search(queries, 10)
    recall = recall_at_k(found, truth_keys, 10, found_scores=scores, true_scores=truth)
    return {
        "codes": kind, "items": n, "index": index.spec, "build_s": round(build_s, 2),
        "bytes_per_item": round(index.bytes_per_item(), 1), "index_rss_mb": round(index_rss, 1),
        "peak_rss_mb": round(peak, 1),
        "p50_ms": _pct(lat, 50), "p99_ms": _pct(lat, 99), "qps_1_thread": round(1000 / np.mean(lat), 1),
        "qps_batched": round(qps, 1), "recall_at_10": round(recall, 3),
    }  # fmt: skip


def indexes(args: argparse.Namespace) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cells = [("binary", args.binary, n, s) for n in args.binary_sizes for s in args.binary_specs]
    cells += [("float", args.float, n, s) for n in args.float_sizes for s in args.float_specs]
    rows = []
    ctx = multiprocessing.get_context("spawn")
    for cell in cells:
        with ctx.Pool(1) as pool:
            row = pool.apply(measure_cell, cell)
        rows.append(row)
        print(json.dumps(row), flush=True)
        (out / "indexes.json").write_text(json.dumps(rows, indent=1))


def _pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 3)


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        return int(re.search(r"VmRSS:\s+(\d+)", fh.read()).group(1)) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="part", required=True)
    p = sub.add_parser("ingest")
    p.add_argument("--data", required=True)
    p.add_argument("--out", default="runs/scale")
    p.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    p.add_argument("--fit-sample", type=int, default=20_000)
    p.add_argument("--epochs", type=int, default=5)
    p = sub.add_parser("latency")
    p.add_argument("--data", required=True)
    p.add_argument("--out", default="runs/scale")
    p = sub.add_parser("indexes")
    p.add_argument("--binary", required=True, help="a collection of 64-bit codes (aer index --bits 64)")
    p.add_argument("--float", required=True, help="a collection of real-valued codes (aer index --dim 32)")
    p.add_argument("--out", default="runs/scale")
    p.add_argument("--binary-sizes", type=int, nargs="*", default=[100_000, 1_000_000, 10_000_000])
    p.add_argument("--float-sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    p.add_argument("--binary-specs", nargs="*", default=BINARY_SPECS, help="binary specs, e.g. BHash2x32,nflip=1")
    p.add_argument("--float-specs", nargs="*", default=FLOAT_SPECS, help="float index specs; auto = choose_index")
    args = parser.parse_args()
    {"ingest": ingest, "latency": latency, "indexes": indexes}[args.part](args)


if __name__ == "__main__":
    main()
