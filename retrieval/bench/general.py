"""``aer bench general``: the DEFAULT ``aer index`` path on corpora and sizes nobody tuned it for, against the
classic baselines and (texts) the transformer on the same queries.

Each default collection is built by ``index_source(items, path)`` with no encoder option at all (what
``aer index FOLDER -c DIR`` does) in a fresh child process, so its fit seconds, build seconds and peak memory are
its own; ``out/<corpus>/default.aer`` built earlier with the same options and items is reused with the figures
recorded when it was built. Text corpora get a second default build with ``bits=64`` (``aer index --bits 64``),
``out/<corpus>/default-64bit.aer``, reused the same way.

Each collection is queried as a user's query runs: in its default search mode (``Collection.search`` with no
mode: ``hybrid`` for a text collection that keeps a keyword index, else ``codes``), the ranking that search
computes, without building the hits' snippets. Test-split queries are their texts or images; a leave-one-out
query is the item itself (its text in ``keyword`` or ``hybrid`` mode, ranked one deeper with the item dropped;
its stored code in ``codes`` mode, ``search_by_id``). Where the default mode is not ``codes``, the codes alone are
scored too, as their own column.

The baselines (``retrieval.eval.baselines``: LSA-32, LSA-50, TF-IDF, BM25 and all-MiniLM-L6-v2 for texts, pixels
and PCA-64 for images) are fitted in this process on the same database items and scored on the same queries;
MiniLM's embeddings are kept in ``out/<corpus>/minilm-embeddings.npz``, so a rerun embeds nothing again. A quick
run uses the small slices of ``eval.corpus.QUICK_SIZES`` and the short training of ``methods.QUICK_TRAINING``: a
smoke test, not results.
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
from ..collection import hybrid
from ..collection.ingest import index_source
from ..encoders import DEFAULT_ENCODER
from ..errors import CollectionError, QueryError
from ..eval.baselines import KS, SUITE_BASELINES, BaselineScore, ratios, score_baseline
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
BINARY_BITS = 64  # the second default build of each text corpus: `aer index --bits 64`
TEACHER = "minilm"  # the baseline the text codes learn from; each collection's P@k over its own
# issue 33's bar: the P@10 each build must reach, as a share of MiniLM's in the same run
TEACHER_BARS = {"default": 0.95, "binary": 0.90}
EMBEDDINGS = "minilm-embeddings.npz"  # MiniLM's embeddings of a corpus, under out/<corpus>/


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
        "ks": list(KS), "default_options": options, "protocols": PROTOCOLS, "binary_bits": BINARY_BITS,
        "teacher_bars": TEACHER_BARS, "corpora": [],
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
    """Build (or reuse) the corpus's default collection (and, for texts, its 64-bit one), score them and the
    baselines on the corpus's queries."""
    default = built_and_scored(corpus, out / corpus.name / "default.aer", options, quick, log)
    binary_options = binary_variant(options) if corpus.modality == "text" else None
    binary = None
    if binary_options is not None:
        path = out / corpus.name / f"default-{BINARY_BITS}bit.aer"
        binary = built_and_scored(corpus, path, binary_options, quick, log)
    database = contents(corpus.database)
    labels = [item.label for item in corpus.database]
    baselines = {}
    for name in SUITE_BASELINES[corpus.modality]:
        if name == TEACHER:
            baselines[name] = teacher_score(corpus, database, labels, out / corpus.name / EMBEDDINGS)
        else:
            baselines[name] = baseline_score(name, corpus, database, labels).as_dict()
        score = baselines[name]
        log(f"  {name}: {score.get('error') or _scores(score)}, build {score['build_s']:.1f} s")
    ratio = ratios(default, baselines, RATIO_REFERENCES[corpus.modality])
    beaten_by = [n for n, b in baselines.items() if b["p@10"] is not None and b["p@10"] > default["p@10"]]
    row = {
        "corpus": corpus.name, "family": corpus.family, "modality": corpus.modality, "protocol": corpus.protocol,
        "database_items": len(corpus.database), "queries": len(corpus.query_labels),
        "labels": len({lab for lab in labels if lab is not None}), **corpus.notes,
        "default": default, **({"binary": binary} if binary else {}), "baselines": baselines, "ratio": ratio,
        "baselines_above_default_p@10": beaten_by,
    }  # fmt: skip
    if TEACHER in baselines:
        row["teacher_ratio"] = teacher_ratios(row, baselines)
    return row


def binary_variant(options: dict[str, Any]) -> dict[str, Any] | None:
    """The options of the 64-bit build beside a text default built with ``options``; ``None`` where the subject
    names its own encoder or code (there is no default's binary variant to build)."""
    if "encoder" in options or "bits" in options:
        return None
    return {**options, "bits": BINARY_BITS}


def built_and_scored(
    corpus: Corpus, path: Path, options: dict[str, Any], quick: bool, log: Callable[[str], None]
) -> dict[str, Any]:
    """The collection at ``path`` built (or reused) with ``options``, scored on the corpus's queries."""
    build = build_default(corpus.database, path, options, quick, log)
    scored = {**evaluate_default(path, corpus), **build}
    codes = f" (codes alone: {_scores(scored['codes'])})" if "codes" in scored else ""
    log(f"  {path.name} {scored['encoder']}, {scored['code']}, {scored['mode']}: {_scores(scored)}{codes}, "
        f"fit {build['fit_s']:.1f} s, build {build['build_s']:.1f} s, peak {build['peak_rss_mb']:.0f} MB")  # fmt: skip
    return scored


def baseline_score(name: str, corpus: Corpus, database: Any, labels: list[str | None]) -> BaselineScore:
    """``score_baseline`` of ``name`` on the corpus's queries, by its protocol."""
    if corpus.leave_out is not None:
        return score_baseline(name, database, labels, leave_out=corpus.leave_out, ks=KS)
    queries = np.stack(corpus.queries) if corpus.modality == "image" else list(corpus.queries)
    return score_baseline(name, database, labels, queries=queries, query_labels=corpus.query_labels, ks=KS)


def teacher_score(corpus: Corpus, database: Any, labels: list[str | None], cache: Path) -> dict[str, Any]:
    """MiniLM's score on the corpus's queries, its embeddings read from and kept in ``cache`` (``.npz``); whether
    they were all there already (its seconds are then mostly reading them)."""
    from ..encoders.sentence import embedding_cache

    cached = cache.exists()
    cache.parent.mkdir(parents=True, exist_ok=True)
    with embedding_cache(cache):
        score = baseline_score(TEACHER, corpus, database, labels).as_dict()
    return {**score, "embeddings_cached": cached}


def teacher_ratios(row: dict[str, Any], baselines: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Each scored ranking of the row (the default and the 64-bit build, each in its default mode and by its codes
    alone) over MiniLM's, per metric."""
    out = {}
    for build in ("default", "binary"):
        if build in row:
            out[build] = ratios(row[build], baselines, (TEACHER,))
            if "codes" in row[build]:
                out[f"{build} codes"] = ratios(row[build]["codes"], baselines, (TEACHER,))
    return out


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
    """P@k of the collection at ``path`` on the corpus's queries in its default search mode (and by its codes alone
    where that mode is not ``codes``), and what it is."""
    with Collection.open(path, device="cpu") as col:
        mode = hybrid.resolve_mode(col, None)
        t0 = time.perf_counter()
        precision, unencodable = score_mode(col, corpus, mode)
        search_s = time.perf_counter() - t0
        codes = score_mode(col, corpus, "codes")[0] if mode != "codes" else None
        info = col.info()
    return {
        **precision,
        "mode": mode,
        **({"codes": codes} if codes else {}),
        "encoder": info["encoder"],
        "code": f"{info['bits']} bits" if "bits" in info else f"{info['dim']} floats",
        "index": info["index_spec"],
        "search_s": search_s,
        **({"training": info["training"]} if "training" in info else {}),
        **({"unencodable_queries": unencodable} if unencodable else {}),
    }


def score_mode(col: Collection, corpus: Corpus, mode: str) -> tuple[dict[str, float], int]:
    """P@k of ``col`` searched in ``mode`` on the corpus's queries, and how many ranked nothing because they could
    not be encoded. Leave-one-out: ``codes`` ranks by the item's stored code (``search_by_id``), the other modes by
    its text; the item is left out of its own ranking."""
    depth = max(KS)
    if corpus.leave_out is not None and mode == "codes":
        ranked = collection_leave_one_out(col, corpus.database, corpus.leave_out, depth)
        return precision_by_label(corpus.query_labels, ranked, KS), 0
    if corpus.leave_out is None:
        rows, failed = ranked_keys(col, list(corpus.queries), depth, mode)
    else:
        items = [corpus.database[i] for i in corpus.leave_out]
        own = col.store.keys_of([item.id for item in items])
        rows, failed = ranked_keys(col, [item.text for item in items], depth + 1, mode)
        rows = [row[row != own[item.id]][:depth] for row, item in zip(rows, items)]
    label_of_key = col.item_labels()
    ranked = [[label_of_key.get(int(key)) for key in row if key >= 0] for row in rows]
    return precision_by_label(corpus.query_labels, ranked, KS), failed


def ranked_keys(col: Collection, queries: Sequence[Any], k: int, mode: str) -> tuple[list[np.ndarray], int]:
    """The collection's top ``k`` keys for each query in ``mode``, as ``Collection.search`` ranks them (without
    making the hits), and how many queries could not be encoded (a text none of whose words the encoder or the
    keyword index knows: an empty ranking)."""

    def one_pass(chunk: list[Any]) -> np.ndarray:
        if mode == "codes":
            return col.search_codes(col.encode(chunk), k)[1]
        return hybrid.search(col, chunk, k, None, mode)[1]

    rows: list[np.ndarray] = []
    failed = 0
    for start in range(0, len(queries), CHUNK):
        chunk = list(queries[start : start + CHUNK])
        try:
            rows += list(one_pass(chunk))
            continue
        except QueryError:
            pass
        for query in chunk:  # one at a time, to find the ones that cannot be encoded
            try:
                rows.append(one_pass([query])[0])
            except QueryError:
                rows.append(np.empty(0, np.int64))
                failed += 1
    return rows, failed
