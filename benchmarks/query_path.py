"""The query path, part by part: tokenise, encode, index search, metadata; one query at a time and batched.

For each collection: 500 queries (the first 25 words of 20 Newsgroups test posts, leaving out the few with no
vocabulary word) run one at a time through ``Collection.search`` on one thread (``AER_THREADS=1``), at k=10 and
k=100, unfiltered and with a label filter (one newsgroup, about 5% of the items; and three newsgroups); then
the same 1,000 queries in one ``search_batch`` call on every core. The parts are timed separately on the same
queries: tokenise (the bag of words), encode (counts to code: the network), search (the FAISS index on the
code), metadata (the hits' store read and assembly); their p50s, and the end-to-end p50 / p99.

Larger collections are copies of the 20 Newsgroups one grown with ``add_source`` to N items by the documents of
``benchmarks/scale.py``'s ``write_corpus`` (post ``i mod 11,314``, 90% of its words kept, seed ``i``).

    python benchmarks/query_path.py --data ../shared/data/20news-bydate.tar.gz --float runs/text/ae-32.aer \\
        --binary runs/text/ae-64bit.aer --float-sizes 100000 --binary-sizes 1000000 --out runs/query-path
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("AER_THREADS", "1")  # one thread a query

from retrieval.threads import set_threads, set_wait_defaults  # noqa: E402

set_wait_defaults()  # this script owns its process: before NumPy loads, how long its BLAS threads spin
set_threads()  # AER_THREADS, before torch and faiss load

import retrieval  # noqa: E402

import numpy as np  # noqa: E402
from indexers import create_index  # noqa: E402
from retrieval.sources import iter_newsgroups  # noqa: E402
from retrieval.threads import available_cpus, set_threads  # noqa: E402

HASH_SPEC = "BHash2x32,nflip=1"  # what aer index picks for a large binary collection
ONE_LABEL, THREE_LABELS = "sci.space", ["sci.space", "rec.autos", "sci.med"]


def _p(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 3)


def _timed(fn, args_list: list) -> list[float]:
    for args in args_list[:20]:  # warm: caches, lazily built tables
        fn(*args)
    out = []
    for args in args_list:
        t0 = time.perf_counter()
        fn(*args)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def parts(col: retrieval.Collection, queries: list[str], k: int = 10) -> dict[str, float]:
    """p50 ms of each part of the query path (text autoencoder collections), on the same queries."""
    enc = col.encoder
    counts = [enc._prepare_queries([q]) for q in queries]
    codes = [col.encode([q]) for q in queries]
    found = [col.index.search(c, k) for c in codes]
    return {
        "tokenise": _p(_timed(lambda q: enc._prepare_queries([q]), [(q,) for q in queries]), 50),
        "encode": _p(_timed(lambda c: enc._encode(c, False), [(c,) for c in counts]), 50),
        "search": _p(_timed(col.index.search, [(c, k) for c in codes]), 50),
        "metadata": _p(_timed(col._hits, found), 50),
    }


def measure(col: retrieval.Collection, queries: list[str], batch: list[str]) -> dict:
    """Every figure of the module docstring for one collection (its index as it is)."""
    row: dict = {"items": len(col), "index": col.index.describe()}
    for k in (10, 100):
        lat = _timed(col.search, [(q, k) for q in queries])
        row[f"k{k}"] = {"p50_ms": _p(lat, 50), "p99_ms": _p(lat, 99)}
    for name, where in (("one_label", {"label": ONE_LABEL}), ("three_labels", {"label": THREE_LABELS})):
        lat = _timed(lambda q, w=where: col.search(q, 10, where=w), [(q,) for q in queries])
        matching = len(col.matching_keys(where))
        row[f"filter_{name}"] = {"p50_ms": _p(lat, 50), "p99_ms": _p(lat, 99), "matching": matching}
    row["parts_p50_ms"] = parts(col, queries)
    set_threads(available_cpus())
    col.search_batch(batch[:50], 10)  # warm
    t0 = time.perf_counter()
    col.search_batch(batch, 10)
    row["batch_qps"] = round(len(batch) / (time.perf_counter() - t0))
    row["batch_threads"] = available_cpus()
    set_threads(1)
    return row


def _encodable(col: retrieval.Collection, query: str) -> bool:
    try:
        col.encode([query])
    except retrieval.QueryError:  # e.g. no word in the vocabulary
        return False
    return True


def grown(source: Path, n: int, data: Path, out: Path) -> Path:
    """A copy of the collection ``source`` grown to ``n`` items (see the module docstring); reused if present."""
    target = out / f"{source.stem}-{n}.aer"
    if target.exists():
        return target
    sys.path.insert(0, str(Path(__file__).parent))
    from scale import write_corpus  # benchmarks/scale.py

    corpus = out / f"corpus-{n}.jsonl"
    if not corpus.exists():
        write_corpus(data, n, corpus)
    partial = out / f".{target.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(source, partial)
    with retrieval.open(partial) as col:
        extra = n - len(col)
    lines = corpus.read_text().splitlines()[:extra]
    trimmed = out / f"corpus-{n}-first-{extra}.jsonl"
    trimmed.write_text("\n".join(lines) + "\n")
    set_threads(available_cpus())
    retrieval.add_source(partial, trimmed, device="cpu")
    set_threads(1)
    partial.rename(target)
    return target


def measure_one(path: Path, queries_file: Path) -> dict:
    """Every figure for the collection at ``path`` (and, for a large binary one, for the hash index on its codes)."""
    queries = json.loads(queries_file.read_text())
    with retrieval.open(path, device="cpu") as col:
        row = {"collection": str(path), **measure(col, queries[:500], queries[:1000])}
        if col.index.metric == "hamming" and len(col) > 100_000:  # the hash index aer index would pick
            hashed = create_index(HASH_SPEC, col.index.dim, "hamming")
            keys = col.index.keys()
            hashed.add(keys, col.index.reconstruct_batch(keys))
            col.index = hashed
            row["with_hash_index"] = measure(col, queries[:500], queries[:1000])
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, type=Path, help="the 20 Newsgroups archive")
    p.add_argument("--float", required=True, type=Path, help="a default (real-valued) text collection of 20NG train")
    p.add_argument("--binary", type=Path, help="a binary text collection of 20NG train (aer index --bits 64)")
    p.add_argument("--float-sizes", type=int, nargs="*", default=[100_000])
    p.add_argument("--binary-sizes", type=int, nargs="*", default=[1_000_000])
    p.add_argument("--out", type=Path, default=Path("runs/query-path"))
    p.add_argument("--one", type=Path, help=argparse.SUPPRESS)  # measure one collection (in a fresh process)
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    set_threads(1)
    queries_file = args.out / "queries.json"
    if args.one:
        print(json.dumps(measure_one(args.one, queries_file)))
        return
    texts = [d.text for d in iter_newsgroups(args.data, "test") if hasattr(d, "text")]
    short = [" ".join(t.split("\n\n", 1)[-1].split()[:25]) for t in texts]
    with retrieval.open(args.float, device="cpu") as col:
        short = [q for q in short if q and _encodable(col, q)]
    queries_file.write_text(json.dumps(short[:1000]))
    rows = []
    targets = [(args.float, None)] + [(args.float, n) for n in args.float_sizes]
    if args.binary:
        targets += [(args.binary, None)] + [(args.binary, n) for n in args.binary_sizes]
    for source, n in targets:
        path = source if n is None else grown(source, n, args.data, args.out)
        # each collection in a fresh process: one measured after another ran slower (thread pools, heap)
        cmd = [sys.executable, __file__, "--data", str(args.data), "--float", str(args.float), "--out", str(args.out),
               "--one", str(path)]  # fmt: skip
        run = subprocess.run(cmd, capture_output=True, text=True, check=True)
        rows.append(json.loads(run.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    (args.out / "results.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
