"""Keyword, codes and hybrid search on every text corpus of ``aer bench general``, beside BM25 and MiniLM.

For each corpus (``retrieval.eval.corpus``: its items, its queries and its protocol) the default collection is
built as the suite builds it (``retrieval.bench.general.build_default``: ``index_source(items, path)`` with no
option, in a fresh process; reused when built before with the same options and items). It keeps a keyword
index, so it is ranked for the corpus's queries in each search mode of ``Collection.search``: ``codes``,
``keyword`` (BM25 over the keyword index) and ``hybrid`` (the two fused by reciprocal rank fusion), each 100
deep, P@10 / P@100 (same label = relevant). Beside them, on the same queries: the suite's BM25 baseline
(``retrieval.eval.baselines``: ``bm25s`` with its own tokeniser) and MiniLM, whose figures are taken from
``benchmarks/results/build-cost`` where that run scored it on the same queries (cited), and measured here
(``--encoder minilm`` built the same way) where it did not.

Test-vs-train corpora rank by the query text in every mode. Leave-one-out corpora (fortunes): ``codes`` ranks by
the item's stored code, as the suite does; ``keyword`` and ``hybrid`` by the item's text; the item itself is
left out of its own ranking in each.

Also measured: the keyword index's tokenisation against two others, each scored with ``bm25s`` on the same
queries (the words the keyword index counts: scikit-learn's 318 English stop words left out, as the codes'
vocabulary leaves them; bm25s' own 33 instead; only the words of the default code's vocabulary); and what the
keyword index costs (file size, seconds to write it, to read it and weigh it, the first search after a write
pays that). A collection built before the keyword index's tokenisation changed gets its keyword index counted
again from the corpus's items (what a new build would write; the cost table says where).

    python benchmarks/hybrid.py --data ../shared/data --out runs/hybrid
    python benchmarks/hybrid.py --corpora 20news-1000,fortunes

Writes ``results.json`` and ``README.md`` (rendered from it, with ``notes.md``) into ``--results`` after every
corpus.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.bench.general import build_default
from retrieval.bench.record import measure_by_corpus, provenance
from retrieval.collection import Collection
from retrieval.collection import hybrid as modes
from retrieval.collection import keywords
from retrieval.collection import directory
from retrieval.collection.directory import KEYWORDS_FILE
from retrieval.defaults import HYBRID_DEPTH, RRF_K, SEARCH_MODES
from retrieval.errors import QueryError
from retrieval.eval.baselines import KS, score_baseline
from retrieval.eval.corpus import Corpus, load_corpora, select
from retrieval.eval.metrics import precision_by_label
from retrieval.sources import contents

ROOT = Path(__file__).resolve().parent.parent
TEXT_CORPORA = ("20news-1000", "20news-3000", "fortunes", "20news-full")  # small ones first: CPU is scarce
BUILD_COST = ROOT / "benchmarks/results/build-cost/results.json"
BUILD_COST_NAMES = {"20news-full": "20news-11314"}  # the build-cost run's name of the same corpus
CHUNK = 256
TABLES = ("rows", "tokenisation", "cost")  # the results' tables, one row per corpus
DEPTH = max(KS)


def ranked_keys(col: Collection, corpus: Corpus, mode: str) -> list[np.ndarray]:
    """Each query's top ``DEPTH`` keys in ``mode`` (the query's own item left out under leave-one-out)."""
    if corpus.leave_out is None:
        return _by_text(col, list(corpus.queries), mode, DEPTH)
    items = [corpus.database[i] for i in corpus.leave_out]
    own = col.store.keys_of([d.id for d in items])
    own_keys = np.array([own[d.id] for d in items], dtype=np.int64)
    if mode == "codes":  # by the stored code, as the suite ranks leave-one-out queries
        codes = np.stack([col.index.reconstruct(int(key)) for key in own_keys])
        found = [col.search_codes(codes[s : s + CHUNK], DEPTH + 1)[1] for s in range(0, len(codes), CHUNK)]
        rows = list(np.concatenate(found))
    else:
        rows = _by_text(col, [d.text for d in items], mode, DEPTH + 1)
    return [row[(row != key) & (row >= 0)][:DEPTH] for row, key in zip(rows, own_keys)]


def _by_text(col: Collection, queries: list[str], mode: str, depth: int) -> list[np.ndarray]:
    def one_pass(chunk: list[str]) -> np.ndarray:
        if mode == "codes":
            return col.search_codes(col.encode(chunk), depth)[1]
        return modes.search(col, chunk, depth, None, mode)[1]

    out: list[np.ndarray] = []
    for start in range(0, len(queries), CHUNK):
        chunk = queries[start : start + CHUNK]
        try:
            out += list(one_pass(chunk))
            continue
        except QueryError:
            pass
        for query in chunk:  # one at a time: a query none of whose words the encoder knows ranks nothing
            try:
                out.append(one_pass([query])[0])
            except QueryError:
                out.append(np.empty(0, np.int64))
    return out


def precision(col: Collection, corpus: Corpus, rows: Sequence[np.ndarray]) -> dict[str, float]:
    label_of = col.item_labels()
    ranked = [[label_of.get(int(key)) for key in row if key >= 0] for row in rows]
    return {k: round(v, 4) for k, v in precision_by_label(corpus.query_labels, ranked, KS).items()}


def recount_keywords(path: Path, corpus: Corpus) -> bool:
    """Count the collection's keyword index again from the corpus's items when it holds other words than today's
    tokenisation gives (built before it changed); whether it did."""
    with Collection.open(path, device="cpu") as col:
        stored = keywords.read(col)
        keys = col.store.keys_of([d.id for d in corpus.database])
        fresh = keywords.KeywordIndex.empty().with_texts(np.array([keys[d.id] for d in corpus.database]),
                                                         [d.text for d in corpus.database])  # fmt: skip
        if set(fresh.vocabulary) == set(stored.vocabulary) and fresh.counts.nnz == stored.counts.nnz:
            return False
        with directory.write_lock(path):
            directory.save_recorded(path, KEYWORDS_FILE, fresh.save, "the keyword index")
    print(f"  {path}: keyword index counted again (built with another tokenisation)")
    return True


def keyword_cost(col: Collection) -> dict[str, Any]:
    """What the collection's keyword index costs: size, seconds to write it, to read and weigh it."""
    index = keywords.read(col)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        index.save(Path(tmp) / KEYWORDS_FILE)
        save_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        keywords.KeywordIndex.load(Path(tmp) / KEYWORDS_FILE).weights()
        load_s = time.perf_counter() - t0
    return {"file_mb": round((col.path / KEYWORDS_FILE).stat().st_size / 2**20, 2), "words": len(index.vocabulary),
            "postings": int(index.counts.nnz), "write_s": round(save_s, 3), "read_and_weigh_s": round(load_s, 3)}  # fmt: skip


def tokenisations(corpus: Corpus, code_vocabulary: list[str]) -> dict[str, dict[str, float]]:
    """BM25 (bm25s) P@k under three tokenisations of the same texts (see the module docstring)."""
    import bm25s
    from bm25s.stopwords import STOPWORDS_EN

    vocabulary = set(code_vocabulary)
    variants: dict[str, Callable[[str], list[str]]] = {
        "keyword index (scikit-learn's 318 stop words)": keywords.words,
        "bm25s' 33 stop words (Lucene's)": lambda t: [w for w in keywords._TOKEN.findall(t.lower())
                                                     if w not in STOPWORDS_EN],
        "the code's vocabulary only": lambda t: [w for w in keywords.words(t) if w in vocabulary],
    }  # fmt: skip
    texts = contents(corpus.database)
    labels = [d.label for d in corpus.database]
    queries = list(corpus.queries) if corpus.leave_out is None else [texts[i] for i in corpus.leave_out]
    out = {}
    for name, tokenise in variants.items():
        model = bm25s.BM25()
        model.index([tokenise(t) or [""] for t in texts], show_progress=False)
        found, scores = model.retrieve([tokenise(q) or [""] for q in queries], k=min(DEPTH + 1, len(texts)),
                                       show_progress=False)  # fmt: skip
        ranked = []
        for q, (row, row_scores) in enumerate(zip(found, scores)):
            own = -1 if corpus.leave_out is None else corpus.leave_out[q]
            ranked.append([labels[p] for p, s in zip(row, row_scores) if p != own and s > 0][:DEPTH])
        out[name] = {k: round(v, 4) for k, v in precision_by_label(corpus.query_labels, ranked, KS).items()}
    return out


def cited_minilm(name: str) -> dict[str, Any] | None:
    """MiniLM's P@k on this corpus from the build-cost run (the same queries), where it measured it."""
    if not BUILD_COST.exists():
        return None
    run = json.loads(BUILD_COST.read_text())
    wanted = BUILD_COST_NAMES.get(name, name)
    for row in run.get("rows", []):
        if row.get("corpus") == wanted and row.get("encoder") == "minilm" and row.get("p@10") is not None:
            return {"p@10": row["p@10"], "p@100": row["p@100"], "from": f"benchmarks/results/build-cost ({wanted})"}
    return None


def run_corpus(corpus: Corpus, out: Path, log: Callable[[str], None]) -> dict[str, Any]:
    path = out / corpus.name / "default.aer"
    build = build_default(corpus.database, path, {}, False, log)
    recounted = recount_keywords(path, corpus)
    row: dict[str, Any] = {"corpus": corpus.name, "protocol": corpus.protocol, "items": len(corpus.database),
                           "queries": len(corpus.query_labels)}  # fmt: skip
    seconds = {}
    with Collection.open(path, device="cpu") as col:
        row["encoder"] = col.encoder.describe()
        for mode in SEARCH_MODES:
            t0 = time.perf_counter()
            row[mode] = precision(col, corpus, ranked_keys(col, corpus, mode))
            seconds[mode] = round(time.perf_counter() - t0, 1)
            log(f"  {mode}: {row[mode]} ({seconds[mode]} s)")
        cost = keyword_cost(col)
        vocabulary = list(col.encoder.bag_of_words_.vocabulary_)
    texts = contents(corpus.database)
    labels = [d.label for d in corpus.database]
    if corpus.leave_out is not None:
        bm25 = score_baseline("bm25", texts, labels, leave_out=corpus.leave_out, ks=KS)
    else:
        bm25 = score_baseline("bm25", texts, labels, queries=list(corpus.queries), query_labels=corpus.query_labels,
                              ks=KS)  # fmt: skip
    row["bm25 (bm25s)"] = {k: round(v, 4) for k, v in bm25.precision.items()}
    row["minilm"] = cited_minilm(corpus.name) or measured_minilm(corpus, out, log)
    better = max(row["codes"]["p@10"], row["bm25 (bm25s)"]["p@10"])
    row["hybrid ÷ better of codes, bm25 (P@10)"] = round(row["hybrid"]["p@10"] / better, 3)
    log(f"  bm25 {row['bm25 (bm25s)']}, minilm {row['minilm']}")
    tokens = {"corpus": corpus.name, **tokenisations(corpus, vocabulary)}
    cost = {"corpus": corpus.name, "keyword index": cost, "search s (all queries)": seconds,
            "default build s": round(build["build_s"], 1), "keywords recounted": recounted}  # fmt: skip
    return {"rows": row, "tokenisation": tokens, "cost": cost}


def measured_minilm(corpus: Corpus, out: Path, log: Callable[[str], None]) -> dict[str, Any]:
    path = out / corpus.name / "minilm.aer"
    build_default(corpus.database, path, {"encoder": "minilm"}, False, log)
    with Collection.open(path, device="cpu") as col:
        measured = precision(col, corpus, ranked_keys(col, corpus, "codes"))
    return {**measured, "from": "measured here (aer index --encoder minilm)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data")
    parser.add_argument("--out", type=Path, default=Path("runs/hybrid"), help="where the collections are built")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks/results/hybrid")
    parser.add_argument("--corpora", default=",".join(TEXT_CORPORA))
    args = parser.parse_args()
    names = select(args.corpora)
    results: dict[str, Any] = {
        "suite": "hybrid",
        "title": "Hybrid search: codes, BM25 and the two fused, on the text corpora of the generalisation suite",
        "about": "`benchmarks/hybrid.py`: the default collection of each text corpus of `aer bench general` searched "
        "in each mode of `Collection.search` (`codes`, `keyword`: BM25 over the collection's keyword index, "
        f"`hybrid`: reciprocal rank fusion, constant {RRF_K}, of the two rankings taken max(2k, {HYBRID_DEPTH}) "
        "deep), against the suite's BM25 baseline (bm25s) and MiniLM on the same queries; P@10 / P@100, same label "
        "= relevant.",
        **provenance(),
        **{table: [] for table in TABLES},
    }

    def measure(name: str) -> dict[str, dict[str, Any]]:
        corpus = next(load_corpora(args.data, [name]))
        print(f"{corpus.name}: {len(corpus.database)} items, {len(corpus.query_labels)} queries, {corpus.protocol}")
        return run_corpus(corpus, args.out, print)

    measure_by_corpus(args.results, results, TABLES, names, TEXT_CORPORA, measure)
    print(f"wrote {args.results / 'results.json'}")


if __name__ == "__main__":
    main()
