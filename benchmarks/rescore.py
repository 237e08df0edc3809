"""Binary codes re-scored with their float codes (as Qdrant's oversampling + rescore), on the text corpora of
``aer bench general``.

For each corpus (``retrieval.eval.corpus``: its items, its queries and its protocol) one binary collection keeping
its float codes is made and every mode ranked on it. Its encoder is the corpus's default build's (``index_source(items,
path)``, no option: the default text autoencoder, 32 floats; built by ``retrieval.bench.general.build_default`` in a
fresh process, or reused where ``benchmarks/hybrid.py`` or an earlier run built it under ``--defaults``) with the
64 bits of a learned rotation of its 32 floats, learned on the same fit texts with the same seed as a
``bits=64`` build learns them (``BinaryCapable.adopt``: bits by rotation leave the network as it is, so this is
the encoder ``index_source(items, path, bits=64)`` fits, without training it a second time). The collection is
made with ``Collection.create(path, encoder, keep_float=True)`` and the items added with ``Collection.add``: the
library's own write path (bits in a ``BFlat`` index, each item's 32 floats in the store). Modes, each 100 deep,
by the codes alone:

- ``hamming``: the bits alone (``oversample=0``);
- ``rescore ×N``: the Hamming top ``100 × N`` re-scored exactly with the stored float codes (``code_search``);
- ``float (32)``: every item's stored 32-float code in an exact cosine index (``IDMap2,Flat``): what the default
  32-float collection ranks.

Test-vs-train corpora rank by the query text. Leave-one-out corpora (fortunes) rank by the item's stored code (its
bits, and its float code where one is used), as the suite does, the item itself left out. Also ranked: ``hybrid``
(the default search mode: the code ranking fused with BM25), with the bits alone and with re-scoring.

Beside P@10 / P@100: search CPU milliseconds per query (one query at a time, faiss on one thread, the query already
encoded, top 10 (and 100 for re-scoring at the depth hybrid takes its code ranking): the index search, and for
re-scoring the float codes' read from the store and the cosines; ``float``: the flat index's search; each query's
fastest of ``REPEATS`` runs, the median over ``TIMED_QUERIES`` queries), and bytes per item on disk: the index's
(bits and keys), the float codes' in the store (the SQLite file after ``VACUUM`` with and without them, per item),
and the flat float index's.

    python benchmarks/rescore.py --data ../shared/data --out runs/rescore --defaults runs/hybrid
    python benchmarks/rescore.py --corpora 20news-3000,fortunes

Writes ``results.json`` and ``README.md`` (rendered from it, with ``notes.md``) into ``--results`` after every
corpus.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from indexers import create_index
from retrieval.bench.general import build_default
from retrieval.bench.record import measure_by_corpus, provenance
from retrieval.collection import Collection, directory, floats
from retrieval.collection import hybrid as modes
from retrieval.collection.database import sqlite_size
from retrieval.encoders import create_encoder, load_encoder
from retrieval.errors import QueryError
from retrieval.eval.baselines import KS
from retrieval.eval.corpus import Corpus, load_corpora, select
from retrieval.eval.metrics import precision_by_label
from retrieval.sources import contents

ROOT = Path(__file__).resolve().parent.parent
TEXT_CORPORA = ("20news-3000", "fortunes", "20news-full")  # small ones first: CPU is scarce
BITS = 64
OVERSAMPLES = (2, 4, 10)
TIMED_QUERIES = 200  # queries timed one at a time per mode
REPEATS = 3  # times each is timed (the fastest kept)
THREADS = faiss.omp_get_max_threads()
CHUNK = 256
DEPTH = max(KS)
TABLES = ("rows", "cost")


def by_text(queries: list[str], one_pass: Callable[[list[str]], np.ndarray]) -> list[np.ndarray]:
    """Each query's ranking by ``one_pass`` over chunks; a query none of whose words the encoder knows ranks
    nothing."""
    out: list[np.ndarray] = []
    for start in range(0, len(queries), CHUNK):
        chunk = queries[start : start + CHUNK]
        try:
            out += list(one_pass(chunk))
            continue
        except QueryError:
            pass
        for query in chunk:
            try:
                out.append(one_pass([query])[0])
            except QueryError:
                out.append(np.empty(0, np.int64))
    return out


class Rankings:
    """The corpus's queries ranked on one collection in each mode (see the module docstring)."""

    def __init__(self, col: Collection, corpus: Corpus) -> None:
        self.col, self.corpus = col, corpus
        self.width = floats.width(col.manifest) or 0
        keys = col.index.keys()
        stored = floats.from_bytes(col.store.float_codes(keys.tolist()), self.width)
        self.flat = create_index("IDMap2,Flat", self.width, "cosine", use_gpu=False)
        self.flat.add(keys, np.stack([stored[int(k)] for k in keys]))
        self.stored = stored
        if corpus.leave_out is not None:
            items = [corpus.database[i] for i in corpus.leave_out]
            own = col.store.keys_of([d.id for d in items])
            self.own = np.array([own[d.id] for d in items], dtype=np.int64)
            self.bits = np.stack([col.index.reconstruct(int(key)) for key in self.own])
            self.query_floats = np.stack([stored[int(key)] for key in self.own])
            self.texts = [d.text for d in items]
        else:
            self.own = None
            self.texts = list(corpus.queries)

    def codes(self, oversample: float) -> list[np.ndarray]:
        """Top ``DEPTH`` keys per query by the codes: the bits alone (0) or re-scored ``oversample`` deep."""
        if self.own is None:
            return by_text(self.texts, lambda chunk: self.col.code_search(chunk, DEPTH, None, oversample)[1])
        depth = DEPTH + 1
        rows = []
        for s in range(0, len(self.own), CHUNK):
            bits, query = self.bits[s : s + CHUNK], self.query_floats[s : s + CHUNK]
            if not oversample:
                rows += list(self.col.search_codes(bits, depth)[1])
                continue
            _, found = self.col.search_codes(bits, floats.candidates(depth, oversample))
            rows += list(floats.rescore(query, found, self.stored, depth)[1])
        return self._own_left_out(rows)

    def float_code(self) -> list[np.ndarray]:
        """Top ``DEPTH`` keys per query in the exact cosine index of the float codes."""
        if self.own is None:
            encode = self.col._queries.encode_queries_with_floats
            return by_text(self.texts, lambda chunk: self.flat.search(encode(chunk)[1], DEPTH)[1])
        rows = [r for s in range(0, len(self.own), CHUNK)
                for r in self.flat.search(self.query_floats[s : s + CHUNK], DEPTH + 1)[1]]  # fmt: skip
        return self._own_left_out(rows)

    def hybrid(self, oversample: float) -> list[np.ndarray]:
        """Top ``DEPTH`` keys per query in ``hybrid`` mode (by the query's text, as ``benchmarks/hybrid.py``)."""
        depth = DEPTH + (self.own is not None)
        rows = by_text(self.texts, lambda chunk: modes.search(self.col, chunk, depth, None, "hybrid", oversample)[1])
        return rows if self.own is None else self._own_left_out(rows)

    def _own_left_out(self, rows: list[np.ndarray]) -> list[np.ndarray]:
        return [row[(row != key) & (row >= 0)][:DEPTH] for row, key in zip(rows, self.own)]

    def precision(self, rows: list[np.ndarray]) -> dict[str, float]:
        label_of = self.col.item_labels()
        ranked = [[label_of.get(int(key)) for key in row if key >= 0] for row in rows]
        return {k: round(v, 4) for k, v in precision_by_label(self.corpus.query_labels, ranked, KS).items()}

    def timed_ms(self, oversample: float | None, depth: int = 10) -> float:
        """CPU milliseconds of one query's top ``depth`` from its encoded code(s), ``oversample`` as in
        ``code_search`` (``None``: the float index), faiss on one thread: the process's CPU time, not the wall
        clock (on a shared machine that mostly measures waiting for a core), each query's fastest of ``REPEATS``
        runs, the median over the queries."""
        n = min(TIMED_QUERIES, len(self.texts))
        if self.own is not None:
            bits, query = self.bits[:n], self.query_floats[:n]
        else:
            codes = [self._encoded(t) for t in self.texts[: n * 2]]
            codes = [c for c in codes if c is not None][:n]
            bits, query = np.concatenate([c[0] for c in codes]), np.concatenate([c[1] for c in codes])
        times = []
        faiss.omp_set_num_threads(1)  # one query at a time: else a thread waiting at OpenMP's barrier burns CPU
        for i in range(len(bits)):
            fastest = np.inf
            for _ in range(REPEATS):
                t0 = time.process_time()
                if oversample is None:
                    self.flat.search(query[i : i + 1], depth)
                elif not oversample:
                    self.col.search_codes(bits[i : i + 1], depth)
                else:
                    self.col._rescored(bits[i : i + 1], query[i : i + 1], depth, None, oversample)
                fastest = min(fastest, time.process_time() - t0)
            times.append(fastest)
        faiss.omp_set_num_threads(THREADS)
        return round(float(np.median(times)) * 1000, 3)

    def _encoded(self, text: str) -> tuple[np.ndarray, np.ndarray] | None:
        try:
            return self.col._queries.encode_queries_with_floats([text])
        except QueryError:
            return None


def float_store_bytes(path: Path, items: int) -> float:
    """Bytes per item the float codes take in the collection's SQLite store: its size after ``VACUUM`` with them,
    less its size after ``VACUUM`` without them, over the items."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / directory.DB_FILE
        with sqlite3.connect(path / directory.DB_FILE) as source, sqlite3.connect(copy) as target:
            source.backup(target)
        sizes = []
        for drop in (False, True):
            with sqlite3.connect(copy) as conn:
                conn.execute("PRAGMA journal_mode=DELETE")  # no write-ahead log: the file is the whole store
                if drop:
                    conn.execute("DELETE FROM float_codes")
                conn.commit()
                conn.execute("VACUUM")
            sizes.append(sqlite_size(copy))
    return round((sizes[0] - sizes[1]) / items, 1)


def binary_collection(default: Path, corpus: Corpus, path: Path, log: Callable[[str], None]) -> float:
    """Make ``path``: the default build's encoder with ``BITS`` bits by rotation, keeping float codes (see the
    module docstring), the corpus's items added; the seconds it took (recorded beside it: reused when made before)."""
    record = path.parent / f"{path.name}.json"
    if (path / directory.MANIFEST).exists() and record.exists():
        log(f"  reusing {path}")
        return float(json.loads(record.read_text())["seconds"])
    shutil.rmtree(path, ignore_errors=True)  # an interrupted one
    t0 = time.perf_counter()
    floats_encoder = load_encoder(default / directory.ENCODER_DIR, device="cpu", progress=False)
    config = {**floats_encoder.get_config(), "bits": BITS, "device": "cpu", "progress": False}
    encoder = create_encoder(floats_encoder.name, **config)
    encoder.adopt(floats_encoder, floats_encoder._prepare(contents(corpus.database)))
    with Collection.create(path, encoder, keep_float=True, device="cpu") as col:
        col.add(corpus.database, progress=False)
    seconds = time.perf_counter() - t0
    record.write_text(json.dumps({"seconds": seconds}))
    return seconds


def run_corpus(corpus: Corpus, out: Path, defaults: Path, log: Callable[[str], None]) -> dict[str, Any]:
    default = defaults / corpus.name / "default.aer"
    build = build_default(corpus.database, default, {}, False, log)
    path = out / corpus.name / f"bits{BITS}-floats.aer"
    made_s = binary_collection(default, corpus, path, log)
    row: dict[str, Any] = {"corpus": corpus.name, "protocol": corpus.protocol, "items": len(corpus.database),
                           "queries": len(corpus.query_labels)}  # fmt: skip
    cost: dict[str, Any] = {"corpus": corpus.name}
    with Collection.open(path, device="cpu", for_queries=True) as col:
        row["encoder"] = col.encoder.describe()
        ranks = Rankings(col, corpus)
        modes_run: dict[str, tuple[Callable[[], list[np.ndarray]], float | None]] = {
            "hamming": (lambda: ranks.codes(0), 0),
            **{f"rescore ×{n}": ((lambda n=n: ranks.codes(n)), n) for n in OVERSAMPLES},
            "float (32)": (ranks.float_code, None),
        }
        ms = {}
        for name, (rank, oversample) in modes_run.items():
            t0 = time.perf_counter()
            row[name] = ranks.precision(rank())
            ms[name] = ranks.timed_ms(oversample)
            log(f"  {name}: {row[name]} ({time.perf_counter() - t0:.1f} s; {ms[name]} CPU ms/query)")
        deep = f"rescore ×{OVERSAMPLES[1]}, {DEPTH} deep (hybrid's code side)"
        ms[deep] = ranks.timed_ms(OVERSAMPLES[1], DEPTH)
        log(f"  {deep}: {ms[deep]} ms/query")
        for label, oversample in (("hybrid, bits alone", 0), (f"hybrid, rescore ×{OVERSAMPLES[1]}", OVERSAMPLES[1])):
            row[label] = ranks.precision(ranks.hybrid(oversample))
            log(f"  {label}: {row[label]}")
        index_bytes = round(col.index.bytes_per_item(), 1)
        flat_bytes = round(ranks.flat.bytes_per_item(), 1)
    float_bytes = float_store_bytes(path, len(corpus.database))
    cost.update({
        "search CPU ms/query": ms,
        "bytes/item: index (bits)": index_bytes,
        "bytes/item: float codes in the store": float_bytes,
        "bytes/item: float (32) flat index": flat_bytes,
        "default build s": round(build["build_s"], 1),
        "bits and floats s": round(made_s, 1),
    })  # fmt: skip
    return {"rows": row, "cost": cost}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data")
    parser.add_argument("--out", type=Path, default=Path("runs/rescore"), help="where the binary collections are made")
    parser.add_argument("--defaults", type=Path, default=Path("runs/hybrid"),
                        help="where the default collections are built, or were by benchmarks/hybrid.py")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks/results/rescore")
    parser.add_argument("--corpora", default=",".join(TEXT_CORPORA))
    args = parser.parse_args()
    names = select(args.corpora)
    results: dict[str, Any] = {
        "suite": "rescore",
        "title": "Binary codes re-scored with their float codes, on the text corpora of the generalisation suite",
        "about": "`benchmarks/rescore.py`: one binary collection per text corpus of `aer bench general`: the default "
        "build's autoencoder with 64 bits by a learned rotation of its 32 floats (what `index_source(items, path, "
        "bits=64)` fits), the 32 floats kept in the store (`keep_float=True`), ranked by the bits alone (Hamming), "
        "by the Hamming top 100 × N re-scored with the float codes, and by the float codes in an exact cosine index; "
        "P@10 / P@100, same label = relevant; search CPU milliseconds per query (encoded query, one at a time, each "
        "query's fastest of 3 runs) and bytes per item on disk.",
        **provenance(),
        **{table: [] for table in TABLES},
    }

    def measure(name: str) -> dict[str, dict[str, Any]]:
        corpus = next(load_corpora(args.data, [name]))
        print(f"{corpus.name}: {len(corpus.database)} items, {len(corpus.query_labels)} queries, {corpus.protocol}")
        return run_corpus(corpus, args.out, args.defaults, print)

    measure_by_corpus(args.results, results, TABLES, names, TEXT_CORPORA, measure)
    print(f"wrote {args.results / 'results.json'}")


if __name__ == "__main__":
    main()
