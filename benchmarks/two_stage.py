"""Two-stage binary search (Krizhevsky & Hinton 2011): a short code's hash lookup shortlists, the long
code re-ranks. Measured against exhaustive long-code Hamming search on the same codes.

Codes come from a binary image collection built by ``image_cifar.py`` (``conv-ae-256bit``): the
database codes are read back from its index, the queries are the CIFAR-10 test images encoded
by its encoder. The short code is 32 of the 256 bits, picked greedily on the database codes for
balance (close to half ones) and low correlation with the bits already picked. For the 1M-code
run the 50,000 database codes are replicated 20 times, each copy with 3% of its bits flipped at
random (seed 0), so the database has realistic neighbourhoods at a million codes.

Recall@100 = the fraction of the exhaustive 256-bit top 100 that two-stage search returns in its
own top 100 (ties in Hamming distance make a few items interchangeable). Latency is per query,
one query at a time, on one thread.

    python benchmarks/two_stage.py --collection runs/image/conv-ae-256bit.aer --out runs/two_stage

Writes ``results.json`` (with the commit, machine and command) and its page, ``README.md``, into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import faiss
import numpy as np

import retrieval
from indexers import create_index, join_codes, pack_bits, recall_at_k, unpack_bits
from retrieval.bench.record import provenance, write_results
from retrieval.sources import load_cifar10

TITLE = "Two-stage binary search at 1,000,000 codes"
ABOUT = (
    "`benchmarks/two_stage.py`: a 32-bit hash shortlist (32 of the 256 bits, chosen for balance and low "
    "correlation) and a 256-bit re-rank against exhaustive 256-bit Hamming search, one thread, 1,000 "
    "queries one at a time; the 1M-code database is the 50,000 CIFAR-10 codes replicated 20 times with 3% "
    "of bits flipped. Recall@100 is against exhaustive search."
)
SHORT_BITS = 32


def pick_short_bits(bits: np.ndarray, n: int) -> np.ndarray:
    """Greedy: most balanced bits first, each new one the least correlated with those chosen."""
    x = bits.astype(np.float32)
    balance = np.abs(x.mean(0) - 0.5)
    corr = np.abs(np.nan_to_num(np.corrcoef(x.T)))
    chosen = [int(np.argmin(balance))]
    while len(chosen) < n:
        cost = balance + corr[:, chosen].max(1)
        cost[chosen] = np.inf
        chosen.append(int(np.argmin(cost)))
    return np.array(chosen)


def replicate(bits: np.ndarray, copies: int, flip: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = [bits]
    for _ in range(copies - 1):
        out.append(bits ^ (rng.random(bits.shape) < flip))
    return np.concatenate(out)


def measure(db_bits: np.ndarray, q_bits: np.ndarray, short_idx: np.ndarray, radius: int, n_lat: int) -> dict:
    keys = np.arange(len(db_bits), dtype=np.int64)
    long_db, long_q = pack_bits(db_bits), pack_bits(q_bits)
    short_db, short_q = pack_bits(db_bits[:, short_idx]), pack_bits(q_bits[:, short_idx])
    joined_q = join_codes(short_q, long_q)
    t0 = time.perf_counter()
    flat = create_index("BFlat", db_bits.shape[1], "hamming")
    flat.add(keys, long_db)
    flat_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    two = create_index(f"TwoStage{SHORT_BITS},radius={radius}", SHORT_BITS + db_bits.shape[1], "hamming")
    two.add(keys, join_codes(short_db, long_db))
    two_build = time.perf_counter() - t0

    def latency(fn) -> list[float]:
        out = []
        for i in range(n_lat):
            t0 = time.perf_counter()
            fn(i)
            out.append(time.perf_counter() - t0)
        return out

    flat_lat = latency(lambda i: flat.search(long_q[i : i + 1], 100))
    two_lat = latency(lambda i: two.search(joined_q[i : i + 1], 100))
    _, exact = flat.search(long_q[:n_lat], 100)
    _, approx, stats = two.search_with_stats(joined_q[:n_lat], 100)
    recall = recall_at_k(approx, exact, 100)
    return {
        "codes": len(db_bits),
        "radius": radius,
        "recall@100": float(recall),
        "exhaustive_p50_ms": 1000 * float(np.median(flat_lat)),
        "two_stage_p50_ms": 1000 * float(np.median(two_lat)),
        "two_stage_p99_ms": 1000 * float(np.percentile(two_lat, 99)),
        "median_shortlist": float(np.median(stats.shortlist_sizes)),
        "fell_back": float(np.mean(stats.fell_back)),
        "exhaustive_bytes_per_item": flat.bytes_per_item(),
        "two_stage_bytes_per_item": two.bytes_per_item(),
        "build_s": {"exhaustive": flat_build, "two_stage": two_build},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--collection", type=Path, default=Path("runs/image/conv-ae-256bit.aer"))
    ap.add_argument("--data", type=Path, default=Path("../shared/data/cifar-10-binary.tar.gz"))
    ap.add_argument("--out", type=Path, default=Path("runs/two_stage"))
    ap.add_argument("--queries", type=int, default=1000, help="queries timed one at a time")
    args = ap.parse_args()
    header = provenance()
    faiss.omp_set_num_threads(1)
    col = retrieval.open(args.collection, device="cpu")
    nbits = col.encoder.bits
    keys = np.arange(len(col), dtype=np.int64)
    db_bits = unpack_bits(col.index.reconstruct_batch(keys), nbits).astype(bool)
    images, _, _ = load_cifar10(args.data, "test")
    q_bits = unpack_bits(col.encode(list(images[: args.queries])), nbits).astype(bool)
    short_idx = pick_short_bits(db_bits, SHORT_BITS)
    results = []
    for db in (db_bits, replicate(db_bits, 20, 0.03)):
        for radius in (2, 3, 4):
            r = measure(db, q_bits, short_idx, radius, args.queries)
            results.append(r)
            print(json.dumps(r), flush=True)
    write_results(args.out, {"suite": "two-stage", "title": TITLE, "about": ABOUT, **header, "rows": results})
    lines = ["| codes | radius | recall@100 | two-stage p50 ms | p99 ms | exhaustive p50 ms | median shortlist | "
             "fell back | bytes/item |", "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in results:
        lines.append(f"| {r['codes']:,} | {r['radius']} | {r['recall@100']:.3f} | {r['two_stage_p50_ms']:.2f} | "
                     f"{r['two_stage_p99_ms']:.2f} | {r['exhaustive_p50_ms']:.2f} | {r['median_shortlist']:.0f} | "
                     f"{r['fell_back']:.0%} | {r['two_stage_bytes_per_item']:.0f} |")  # fmt: skip
    print("\n".join(lines))


if __name__ == "__main__":
    main()
