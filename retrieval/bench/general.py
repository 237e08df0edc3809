"""``aer bench general``: the DEFAULT ``aer index`` path on corpora and sizes nobody tuned it for, against the
classic baselines on the same queries.

Each default collection is built by ``index_source(items, path)`` with no encoder option at all (what
``aer index FOLDER -c DIR`` does) in a fresh child process, so its fit seconds, build seconds and peak memory are
its own; ``out/<corpus>/default.aer`` built earlier with the same options and items is reused with the figures
recorded when it was built. It is queried through ``Collection`` (test-split queries encoded and searched;
leave-one-out queries by ``search_by_id``). The baselines (``retrieval.eval.baselines``: LSA-32, LSA-50, TF-IDF and
BM25 for texts, pixels and PCA-64 for images) are fitted in this process on the same database items and scored on
the same queries. A quick run uses the small slices of ``eval.corpus.QUICK_SIZES`` and the short training of
``methods.QUICK_TRAINING``: a smoke test, not results.
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

from ..collection import Collection, Item
from ..collection.ingest import index_source
from ..encoders import DEFAULT_ENCODER
from ..errors import CollectionError, QueryError
from ..eval.baselines import KS, SUITE_BASELINES, ratios, score_baseline
from ..eval.corpus import PROTOCOLS, SEED, Corpus, check_files, load_corpora, select
from ..eval.labels import collection_leave_one_out
from ..eval.metrics import precision_by_label
from ..sources import contents
from .methods import QUICK_TRAINING
from .pages import PAGE, RESULTS
from .record import provenance, write_results
from .run import BUILD_RECORD

CHUNK = 256  # test-split queries encoded and searched at a time
# best LSA (over 2,000 and 10,000 words); better of pixels and PCA
RATIO_REFERENCES = {"text": ("lsa-32", "lsa-50", "lsa-50-10k"), "image": ("pixels", "pca-64")}


def run_general(
    data_dir: str | Path,
    out: str | Path,
    *,
    corpora: str | Sequence[str] | None = None,
    quick: bool = False,
    subject: dict[str, dict[str, Any]] | None = None,
    command: str | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the suite on the corpora of ``data_dir`` (``corpora``: comma-separated names or families, default all);
    write ``results.json`` and its page (``README.md``) into ``out`` after every corpus, so a stopped run keeps what
    it measured. ``subject``: ``index_source`` options per modality for the collection under test instead of the
    defaults (``{"text": {"encoder": "lsa"}}``; recorded in the results); ``command``: what to record as the
    command run (default: this process's)."""
    data_dir, out = Path(data_dir), Path(out)
    names = select(corpora, quick)
    check_files(data_dir, names)
    out.mkdir(parents=True, exist_ok=True)
    options = {m: dict((subject or {}).get(m, default_options(m, quick))) for m in ("text", "image")}
    results: dict[str, Any] = {
        "suite": "general", **provenance(command), "quick": quick, "data_dir": str(data_dir), "seed": SEED,
        "ks": list(KS), "default_options": options, "protocols": PROTOCOLS, "corpora": [],
    }  # fmt: skip
    t0 = time.perf_counter()
    for corpus in load_corpora(data_dir, names, quick):
        log(f"{corpus.name}: {len(corpus.database)} items, {len(corpus.query_labels)} queries, {corpus.protocol}")
        results["corpora"].append(run_corpus(corpus, out, options[corpus.modality], quick, log))
        results["total_s"] = time.perf_counter() - t0
        write_results(out, results)
    log(f"wrote {out / RESULTS} and {out / PAGE} ({time.perf_counter() - t0:.0f} s)")
    return results


def default_options(modality: str, quick: bool) -> dict[str, Any]:
    return dict(QUICK_TRAINING.get(DEFAULT_ENCODER[modality], {})) if quick else {}


def run_corpus(
    corpus: Corpus, out: Path, options: dict[str, Any], quick: bool, log: Callable[[str], None]
) -> dict[str, Any]:
    """Build (or reuse) the corpus's default collection, score it and the baselines on the corpus's queries."""
    path = out / corpus.name / "default.aer"
    build = build_default(corpus.database, path, options, quick, log)
    default = {**evaluate_default(path, corpus), **build}
    log(f"  default {default['encoder']}: {_scores(default)}, fit {build['fit_s']:.1f} s, "
        f"build {build['build_s']:.1f} s, peak {build['peak_rss_mb']:.0f} MB")  # fmt: skip
    database = contents(corpus.database)
    labels = [item.label for item in corpus.database]
    baselines = {}
    for name in SUITE_BASELINES[corpus.modality]:
        if corpus.leave_out is not None:
            score = score_baseline(name, database, labels, leave_out=corpus.leave_out, ks=KS)
        else:
            queries = np.stack(corpus.queries) if corpus.modality == "image" else list(corpus.queries)
            score = score_baseline(name, database, labels, queries=queries, query_labels=corpus.query_labels, ks=KS)
        baselines[name] = score.as_dict()
        log(f"  {name}: {score.error or _scores(score.precision)}, build {score.build_s:.1f} s")
    ratio = ratios(default, baselines, RATIO_REFERENCES[corpus.modality])
    beaten_by = [n for n, b in baselines.items() if b["p@10"] is not None and b["p@10"] > default["p@10"]]
    return {
        "corpus": corpus.name, "family": corpus.family, "modality": corpus.modality, "protocol": corpus.protocol,
        "database_items": len(corpus.database), "queries": len(corpus.query_labels),
        "labels": len({lab for lab in labels if lab is not None}), **corpus.notes,
        "default": default, "baselines": baselines, "ratio": ratio, "baselines_above_default_p@10": beaten_by,
    }  # fmt: skip


def _scores(record: dict[str, Any]) -> str:
    return ", ".join(f"P@{k} {record[f'p@{k}']:.3f}" for k in KS)


def build_default(
    items: list[Item], path: Path, options: dict[str, Any], quick: bool, log: Callable[[str], None]
) -> dict[str, Any]:
    """Build ``path`` from ``items`` with ``index_source(items, path, **options)`` in a fresh child process, or
    reuse it when it was built with the same options and item count; its fit/build seconds and peak memory."""
    record_file = path / BUILD_RECORD
    key = json.loads(json.dumps({"options": options, "quick": quick, "items": len(items)}))
    if record_file.exists():
        record = json.loads(record_file.read_text())
        if {k: record.get(k) for k in key} == key:
            log(f"  reusing {path}")
            return record["build"]
        raise CollectionError(f"{path}: built with other options or items ({record.get('options')}, "
                              f"{record.get('items')} items); remove it to rebuild")  # fmt: skip
    if path.exists():
        raise CollectionError(f"{path}: exists but has no {BUILD_RECORD} (an interrupted build?); remove it to rebuild")
    path.parent.mkdir(parents=True, exist_ok=True)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        build = pool.apply(_build_child, (items, str(path), options))
    record_file.write_text(json.dumps({**key, "build": build}, indent=1))
    return build


def _build_child(items: list[Item], path: str, options: dict[str, Any]) -> dict[str, Any]:
    """In a fresh process: ``index_source`` exactly as ``aer index`` calls it with ``options`` (none by default)."""
    t0 = time.perf_counter()
    report = index_source(items, path, **options)
    return {
        "fit_s": report.fit_s,
        "index_s": report.add_s,
        "build_s": time.perf_counter() - t0,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def evaluate_default(path: Path, corpus: Corpus) -> dict[str, Any]:
    """P@k of the collection at ``path`` on the corpus's queries, and what it is."""
    depth = max(KS)
    with Collection.open(path, device="cpu") as col:
        t0 = time.perf_counter()
        unencodable = 0
        if corpus.leave_out is not None:
            ranked = collection_leave_one_out(col, corpus.database, corpus.leave_out, depth)
        else:
            ranked, unencodable = ranked_for_queries(col, corpus.queries, depth)
        search_s = time.perf_counter() - t0
        info = col.info()
    return {
        **precision_by_label(corpus.query_labels, ranked, KS),
        "encoder": info["encoder"],
        "code": f"{info['bits']} bits" if "bits" in info else f"{info['dim']} floats",
        "index": info["index_spec"],
        "search_s": search_s,
        **({"training": info["training"]} if "training" in info else {}),
        **({"unencodable_queries": unencodable} if unencodable else {}),
    }


def ranked_for_queries(col: Collection, queries: Sequence[Any], k: int) -> tuple[list[list[str | None]], int]:
    """The labels of the collection's top ``k`` for each query (encoded as ``Collection.search`` encodes it), and
    how many queries could not be encoded (a text none of whose words is in the vocabulary: an empty ranking)."""
    label_of_key = col.item_labels()

    def labels(keys: np.ndarray) -> list[str | None]:
        return [label_of_key.get(int(key)) for key in keys if key >= 0]

    ranked: list[list[str | None]] = []
    failed = 0
    for start in range(0, len(queries), CHUNK):
        chunk = list(queries[start : start + CHUNK])
        try:
            ranked += [labels(row) for row in col.search_codes(col.encode(chunk), k)[1]]
            continue
        except QueryError:
            pass
        for query in chunk:  # one at a time, to find the ones that cannot be encoded
            try:
                ranked.append(labels(col.search_codes(col.encode([query]), k)[1][0]))
            except QueryError:
                ranked.append([])
                failed += 1
    return ranked, failed
