"""Run a suite: build each method's collection through the product, query it, measure quality and cost.

Every collection is built by ``index_source`` (what ``aer index`` runs) from the suite's items, in a fresh
child process, so its fit time, index time and peak memory are its own; an ``out/<method>.aer`` collection
already built with the same options is reused with the figures recorded when it was built. Queries go
through ``retrieval.open(...)``.
"""

from __future__ import annotations

import json
import multiprocessing
import resource
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from indexers import recall_at_k

from ..collection import Collection
from ..collection.ingest import index_source
from ..encoders.sentence import embed, embedding_cache, no_embedding_cache
from ..errors import CollectionError
from ..eval.corpus import Corpus, load_suite
from ..eval.metrics import RankingScores
from .methods import MODALITY, Method, choose
from .pages import PAGE, RESULTS
from .record import provenance, write_results

BUILD_RECORD = "bench-build.json"
CHUNK = 256  # queries per batched search
SINGLE_QUERIES = 1000  # queries timed one at a time through Collection.search
THROUGHPUT_QUERIES = 1000  # queries encoded (uncached) for the encode throughput
IMAGE_DEPTH = 1000  # image rankings are cut here for P@k and mAP@1000 ...
FULL_RANKING_QUERIES = 1000  # ... and ranked whole for this many queries (mAP, precision-recall)
EMBEDDING_ENCODERS = {"minilm", "minilm-ae"}


def run_benchmark(
    suite: str,
    data: str | Path,
    out: str | Path,
    *,
    methods: str | None = None,
    quick: bool = False,
    extra_methods: Sequence[Method] = (),
    command: str | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run ``suite`` (``text``, ``image`` or ``variants``) on ``data``; write ``results.json``, its page
    (``README.md``) and pictures into ``out``. ``methods``: comma-separated names from the suite's own and
    ``extra_methods`` (a study's); ``command``: what to record as the command run (default: this process's)."""
    from ..pictures import write_pictures  # matplotlib only when reporting

    chosen = choose(suite, methods, quick, extra_methods)
    header = provenance(command)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    modality = MODALITY[suite]
    suite_data = load_suite(modality, data, quick)
    log(f"{suite}: {len(suite_data.database)} database items, {len(suite_data.queries)} queries "
        f"({time.perf_counter() - t0:.0f} s to read)")  # fmt: skip
    extra: dict[str, Any] = {}
    cache = out / "minilm-embeddings.npz"
    if any(m.encoder in EMBEDDING_ENCODERS for m in chosen):
        extra["minilm_embedding"] = _embed_once(suite_data, cache, log)
    records = []
    for method in chosen:
        build = _build(method, suite_data.database, out, quick, cache, log)
        record = {"method": method.name, "encoder": method.encoder, "options": method.options, **build}
        with embedding_cache(cache if method.encoder in EMBEDDING_ENCODERS else None):
            record.update(evaluate(out / f"{method.name}.aer", suite_data, modality))
        records.append(record)
        log(_summary(record))
    results = {
        "suite": suite, **header, "modality": modality, "data": str(data), "quick": quick,
        "database_items": len(suite_data.database), "queries": len(suite_data.queries),
        **extra, "methods": records,
    }  # fmt: skip
    write_pictures(out, results, suite_data)
    write_results(out, results)
    log(f"wrote {out / RESULTS}, {out / PAGE} and pictures")
    return results


def _embed_once(data: Corpus, cache: Path, log: Callable[[str], None]) -> dict[str, Any]:
    """Embed database and queries with MiniLM once, into a cache every MiniLM method then reads."""
    texts = [d.text for d in data.database] + list(data.queries)
    with embedding_cache(cache):
        t0 = time.perf_counter()
        embed(texts, device="cpu", progress=True)
        seconds = time.perf_counter() - t0
    log(f"MiniLM embeddings of {len(texts)} texts: {seconds:.0f} s (0 when cached from an earlier run)")
    return {"texts": len(texts), "seconds": seconds}


def _build(
    method: Method, items: list, out: Path, quick: bool, cache: Path, log: Callable[[str], None]
) -> dict[str, Any]:
    path = out / f"{method.name}.aer"
    record_file = path / BUILD_RECORD
    options = method.index_options(quick)
    if record_file.exists():
        record = json.loads(record_file.read_text())
        if record.get("options") == options and record.get("quick") == quick:
            log(f"{method.name}: reusing {path}")
            return record["build"]
        raise CollectionError(f"{path}: built with other options ({record.get('options')}); remove it to rebuild")
    if path.exists():
        raise CollectionError(f"{path}: exists but has no {BUILD_RECORD} (an interrupted build?); remove it to rebuild")
    log(f"{method.name}: building {path}")
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        build = pool.apply(_build_child, (method.encoder, options, items, str(path), str(cache)))
    record_file.write_text(json.dumps({"options": options, "quick": quick, "build": build}, indent=1))
    return build


def _build_child(encoder: str, options: dict[str, Any], items: list, path: str, cache: str) -> dict[str, Any]:
    """In a fresh process: fit, encode and index the database items; report times and peak memory."""
    with embedding_cache(cache if encoder in EMBEDDING_ENCODERS else None):
        report = index_source(items, path, encoder=encoder, device="cpu", fit_sample=len(items), **options)
    return {
        "fit_s": report.fit_s,
        "index_s": report.add_s,
        "build_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def evaluate(path: Path, data: Corpus, suite: str) -> dict[str, Any]:
    """Quality and cost of one collection on the suite's queries."""
    col = Collection.open(path, device="cpu")
    try:
        key_label = col.item_labels()
        label_of_key = np.full(max(key_label) + 2, None, dtype=object)
        for key, label in key_label.items():
            label_of_key[key] = label
        label_of_key[-1] = None  # key -1: no result
        db_labels = list(key_label.values())
        queries, labels = data.queries, data.query_labels
        codes = col.encode(queries)

        full = len(queries) if suite == "text" else min(FULL_RANKING_QUERIES, len(queries))
        depth = len(col) if suite == "text" else min(IMAGE_DEPTH, len(col))
        at_depth = RankingScores(db_labels, ks=(10, 100), map_at=1000 if suite == "image" else None,
                                 full_ranking=depth == len(col))  # fmt: skip
        t0 = time.perf_counter()
        for start in range(0, len(queries), CHUNK):
            _, keys = col.search_codes(codes[start : start + CHUNK], k=depth)
            at_depth.add(labels[start : start + CHUNK], label_of_key[keys])
        batched_s = time.perf_counter() - t0
        quality = at_depth.result()
        if depth < len(col):
            whole = RankingScores(db_labels, ks=(10,))
            for start in range(0, full, CHUNK // 2):
                _, keys = col.search_codes(codes[start : min(start + CHUNK // 2, full)], k=len(col))
                whole.add(labels[start : min(start + CHUNK // 2, full)], label_of_key[keys])
            quality.update({k: v for k, v in whole.result().items() if k in ("map", "pr_curve")})
        quality["ranked_whole_for"] = full

        throughput_items = queries[:THROUGHPUT_QUERIES]
        with no_embedding_cache():
            t0 = time.perf_counter()
            col.encode(throughput_items)
            encode_s = time.perf_counter() - t0
        single = _single_query_latency(col, queries[:SINGLE_QUERIES])
        info = col.info()
        record: dict[str, Any] = {
            **quality,
            "code": f"{info['bits']} bits" if "bits" in info else f"{info['dim']} floats",
            "bytes_per_item": info["bytes_per_item"],
            "index": info["index"],
            "encode_items_per_s": len(throughput_items) / encode_s,
            **single,
            "qps_batched": len(queries) / batched_s,
        }
        if "short_bits" in info:
            record.update(two_stage_against_exhaustive(col, codes[:SINGLE_QUERIES]))
        return record
    finally:
        col.close()


def _single_query_latency(col: Collection, queries: Sequence[Any]) -> dict[str, float]:
    """One query at a time through ``Collection.search`` (encode, search, metadata), k = 100."""
    with no_embedding_cache():
        latencies = []
        for q in queries:
            t0 = time.perf_counter()
            col.search(q, k=100)
            latencies.append(time.perf_counter() - t0)
    return {
        "query_p50_ms": 1000 * float(np.percentile(latencies, 50)),
        "query_p99_ms": 1000 * float(np.percentile(latencies, 99)),
        "qps_single": len(latencies) / float(np.sum(latencies)),
        "timed_queries": len(latencies),
    }


def two_stage_against_exhaustive(col: Collection, codes: np.ndarray, k: int = 100) -> dict[str, Any]:
    """The 2011 question: how much of the exhaustive long-code top-``k`` the hash shortlist finds, and how fast."""
    index = col.index
    long_codes = codes[:, index.short_bits // 8 :]
    _, exact = index.long.search(long_codes, k)
    _, approx, stats = index.search_with_stats(codes, k)
    recall = recall_at_k(approx, exact, k)

    def p50(fn: Callable[[int], Any]) -> float:
        times = []
        for i in range(len(codes)):
            t0 = time.perf_counter()
            fn(i)
            times.append(time.perf_counter() - t0)
        return 1000 * float(np.median(times))

    return {
        "two_stage": {
            "radius": index.radius,
            "recall_of_exhaustive_top100": float(recall),
            "fell_back": float(stats.fell_back.mean()),
            "median_shortlist": float(np.median(stats.shortlist_sizes)),
            "search_p50_ms": p50(lambda i: index.search(codes[i : i + 1], k)),
            "exhaustive_search_p50_ms": p50(lambda i: index.long.search(long_codes[i : i + 1], k)),
        }
    }


def _summary(r: dict[str, Any]) -> str:
    keys = ("p@10", "p@100", "map", "map@1000", "bytes_per_item", "fit_s", "query_p50_ms")
    return f"{r['method']}: " + ", ".join(f"{k} {r[k]:.4g}" for k in keys if k in r)
