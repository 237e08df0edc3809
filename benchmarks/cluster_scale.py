"""Per-worker figures of cluster mode on a two-node Ray cluster on this machine, and the 100M-1B plan made from them.

Two raylets (``ray.cluster_utils.Cluster``), one CPU each, the driver on the head. Measured:

- **encode**: 20 Newsgroups posts (train + test, repeated to ``--docs``) encoded by ``RayCluster.encoder_pool``
  with the head node alone (one worker process), then with both nodes (two); docs/s per worker process, beside
  the same encoder in this process on one thread. The encoder is the default text autoencoder's architecture
  (``ae``, no teacher, fitted for one epoch: encoding costs the same whatever its weights).
- **memory per shard**: ``--codes`` random codes of 32 floats and of 64 bits, in the index ``choose_index``
  picks for 100M of them (from a 100,000-item fit sample), split into two shards held by actors, one per node;
  each actor's private memory less an empty shard actor's, per million codes, and the index file's bytes per code.
- **fan-out search**: single queries (k=10) against those two shards, one per node, through the actors, and
  the same shards searched in this process (threads): latency p50 / p99.

The plan (``plan`` in the results) scales those figures to 100M and 1B items. Writes ``results.json`` and
``README.md`` (with ``notes.md``) into ``--out``::

    flock /tmp/heavy.lock nice -n 19 python benchmarks/cluster_scale.py --data ../shared/data \\
        --out benchmarks/results/cluster
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path
from typing import Any

import numpy as np

from indexers import ShardedIndex, choose_index, create_index
from retrieval import cluster
from retrieval.bench.record import provenance, write_results
from retrieval.encoders import create_encoder
from retrieval.sources import Document, iter_newsgroups
from retrieval.threads import set_threads

STORE = 700 * 2**20  # object store bytes per node: two shards' bytes in flight
PLAN_ITEMS = (100_000_000, 1_000_000_000)
SHARD_MEMORY_GB = 32  # memory a shard's machine gives it in the plan
BUILD_HOURS = 24  # the plan's build: encode everything within this


def texts(data: Path, count: int) -> list[str]:
    archive = data / "20news-bydate.tar.gz"
    docs = [d.text for split in ("train", "test") for d in iter_newsgroups(archive, split) if isinstance(d, Document)]
    return list(itertools.islice(itertools.cycle(docs), count))


def rate(fn: Any, n: int, repeats: int) -> float:
    """Items per second of ``fn()`` over ``n`` items, best of ``repeats``."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return n / best


def encode_figures(corpus: list[str], nodes: Any, repeats: int) -> dict[str, Any]:
    set_threads(1)
    encoder = create_encoder("ae", teacher="none", epochs=1, progress=False, seed=0)
    encoder.fit(corpus[:3000])
    here = rate(lambda: encoder.encode_with_errors(corpus), len(corpus), repeats)
    on = cluster.RayCluster("auto")
    rows = [{"where": "this process, 1 thread", "workers": 1, "docs_per_s": round(here)}]
    for count in (1, 2):
        if count == 2:
            nodes.add_node(num_cpus=1, resources={"node_b": 1}, object_store_memory=STORE)
            nodes.wait_for_nodes()
        pool = on.encoder_pool(encoder)
        pool(corpus[:2000])  # workers up, encoder read on each
        on.encoded_on.clear()
        total = rate(lambda: pool(corpus), len(corpus), repeats)  # noqa: B023 (called at once)
        rows.append({"where": f"Ray, {count} node(s) x 1 CPU", "workers": count, "docs_per_s": round(total),
                     "docs_per_s_per_worker": round(total / count),
                     "batches_per_node": sorted(on.encoded_on.values())})  # fmt: skip
    return {"encoder": encoder.describe(), "docs": len(corpus), "rows": rows}


def shard_figures(codes: int, queries: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = np.random.default_rng(0)
    on = cluster.RayCluster("auto")
    memory, search = [], []
    for name, dim, binary in (("32 floats", 32, False), ("64 bits", 64, True)):
        choice = choose_index(PLAN_ITEMS[0], dim, binary=binary, train_items=100_000)  # the index the plan uses
        metric = "hamming" if binary else "cosine"
        width = dim // 8 if binary else dim

        def make(n: int) -> np.ndarray:
            if binary:
                return rng.integers(0, 256, (n, width), dtype=np.uint8)
            x = rng.standard_normal((n, dim)).astype(np.float32)
            return x / np.linalg.norm(x, axis=1, keepdims=True)

        empty = create_index(f"Shards2,{choice.spec}", dim, metric)
        sample = make(100_000)
        if not empty.is_trained:
            empty.train(sample)
        base = [s["private_bytes"] for s in cluster.shard_stats(on.hold_shards(empty))]
        index = create_index(f"Shards2,{choice.spec}", dim, metric)
        if not index.is_trained:
            index.train(sample)
        for start in range(0, codes, 500_000):
            n = min(500_000, codes - start)
            index.add(np.arange(start, start + n, dtype=np.int64), make(n))
        held = on.hold_shards(index)
        stats = cluster.shard_stats(held)
        per_million = [(s["private_bytes"] - b) / (s["items"] / 1e6) for s, b in zip(stats, base)]
        memory.append({"codes": name, "index": choice.spec, "items": codes, "shards": 2,
                       "nodes": len({s["node"] for s in stats}),
                       "actor_mb_per_million": round(float(np.mean(per_million)) / 2**20, 1),
                       "file_bytes_per_code": round(index.bytes_per_item(), 1)})  # fmt: skip
        probe = make(queries)
        for where, target in (("2 actors, one per node", held), ("2 shards in this process", index)):
            target.search(probe[:5], 10)  # warm
            lat = []
            for q in probe:
                t0 = time.perf_counter()
                target.search(q[None, :], 10)
                lat.append((time.perf_counter() - t0) * 1000)
            search.append({"codes": name, "index": choice.spec, "items": codes, "searched": where,
                           "queries": queries, "p50_ms": round(float(np.percentile(lat, 50)), 2),
                           "p99_ms": round(float(np.percentile(lat, 99)), 2)})  # fmt: skip
        del held, index
    return memory, search


def plan(encode: dict[str, Any], memory: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The measured figures scaled to ``PLAN_ITEMS``: shard memory, shards of ``SHARD_MEMORY_GB``, encode
    worker-hours and the workers that encode it all within ``BUILD_HOURS``."""
    per_worker = max(r["docs_per_s_per_worker"] for r in encode["rows"] if "docs_per_s_per_worker" in r)
    rows = []
    for items, m in itertools.product(PLAN_ITEMS, memory):
        gb = items / 1e6 * m["actor_mb_per_million"] / 1024
        rows.append({"items": f"{items:,}", "codes": m["codes"], "index": m["index"], "index_gb": round(gb, 1),
                     f"shards_of_{SHARD_MEMORY_GB}_gb": int(np.ceil(gb / SHARD_MEMORY_GB)),
                     "encode_worker_hours": round(items / per_worker / 3600, 1),
                     f"workers_for_{BUILD_HOURS}_h": int(np.ceil(items / per_worker / 3600 / BUILD_HOURS)),
                     })  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/cluster"))
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--codes", type=int, default=2_000_000, help="codes over the two shards")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import ray
    from ray.cluster_utils import Cluster

    head = {"num_cpus": 1, "resources": {"node_a": 1}, "object_store_memory": STORE, "include_dashboard": False}
    nodes = Cluster(initialize_head=True, head_node_args=head)
    ray.init(address=nodes.address, log_to_driver=False, include_dashboard=False)
    try:
        encode = encode_figures(texts(args.data, args.docs), nodes, args.repeats)
        memory, search = shard_figures(args.codes, args.queries)
    finally:
        ray.shutdown()
        nodes.shutdown()
    results = {
        "suite": "cluster",
        "title": "Cluster mode: per-worker encode rate, memory per shard, fan-out search over two Ray nodes",
        "about": (
            "`benchmarks/cluster_scale.py`: a two-node Ray cluster on this machine (`ray.cluster_utils`, two raylets "
            "of one CPU each, the driver on the head); encode docs/s per worker process, each shard actor's private "
            "memory per million codes, single-query fan-out latency over two shards on two nodes; `plan` scales "
            f"them to 100M and 1B items (shards of {SHARD_MEMORY_GB} GB, a build within {BUILD_HOURS} h)."
        ),
        **provenance(),
        "ray": ray.__version__,
        "encode": encode,
        "memory": memory,
        "search": search,
        "plan": plan(encode, memory),
    }
    print(write_results(args.out, results))


if __name__ == "__main__":
    main()
