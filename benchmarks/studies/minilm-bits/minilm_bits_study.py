"""What a vector database offers instead: all-MiniLM-L6-v2 embeddings, their 384 sign bits (binary quantisation),
and those bits with the top 100 re-scored by the float embeddings; against the 64-bit bag-of-words student.

20 Newsgroups, test vs train (7,532 queries, 11,314 items, relevant = same newsgroup, whole rankings): MiniLM
embeds every post once (cached in ``--cache``, an ``.npz`` of embeddings keyed by text hash; about 13 minutes
on 2 cores the first time). Sign bits are ``embedding > 0`` packed, searched by Hamming distance in FAISS;
re-scoring takes each query's 100 nearest by Hamming and orders them by the float cosine, the rest of the
ranking left as Hamming ordered it. ``--student`` adds a collection's own codes (``Collection.encode`` of
the test posts against its stored train codes).

    python benchmarks/studies/minilm-bits/minilm_bits_study.py --data ../shared/data/20news-bydate.tar.gz \\
        --cache runs/minilm-20news.npz --student runs/text-v3/ae-64bit-10k-rotation.aer \\
        --out runs/minilm-bits.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import faiss
import numpy as np

import retrieval
from retrieval.encoders.sentence import embed, embedding_cache
from retrieval.eval.metrics import average_precision, precision_at, relevance
from retrieval.sources import iter_newsgroups
from retrieval.threads import set_threads

RESCORE = 100


def _score(ranked: np.ndarray, db_labels: np.ndarray, q_labels: np.ndarray) -> dict[str, float]:
    rel = relevance(q_labels, db_labels[ranked])
    n_relevant = np.array([(db_labels == lab).sum() for lab in q_labels])
    scores = {
        "p@10": precision_at(rel, 10).mean(),
        "p@100": precision_at(rel, 100).mean(),
        "map": average_precision(rel, n_relevant).mean(),
    }
    return {k: round(float(v), 4) for k, v in scores.items()}


def hamming_ranking(db_bits: np.ndarray, q_bits: np.ndarray) -> np.ndarray:
    """Every query's whole ranking of the database by Hamming distance (packed codes)."""
    index = faiss.IndexBinaryFlat(db_bits.shape[1] * 8)
    index.add(db_bits)
    return index.search(q_bits, len(db_bits))[1]


def rescored(ranked: np.ndarray, db: np.ndarray, queries: np.ndarray, depth: int = RESCORE) -> np.ndarray:
    """``ranked`` with each query's first ``depth`` re-ordered by the float inner product."""
    out = ranked.copy()
    top = ranked[:, :depth]
    sims = np.einsum("qd,qkd->qk", queries, db[top])
    out[:, :depth] = np.take_along_axis(top, np.argsort(-sims, axis=1, kind="stable"), axis=1)
    return out


def _student(path: str, test: list, q_labels: np.ndarray, db_labels: np.ndarray) -> dict[str, dict[str, float]]:
    """The collection's own codes of the test posts against its stored train codes, scored the same way."""
    names = {lab: i for i, lab in enumerate(sorted(set(db_labels)))}
    with retrieval.open(path, device="cpu") as col:
        label_of = col.item_labels()
        lookup = np.full(max(label_of) + 1, -1, dtype=np.int64)
        for key, lab in label_of.items():
            lookup[key] = names.get(lab, -1)
        found = col.search_codes(col.encode([d.text for d in test]), len(col))[1]
        described = col.encoder.describe()
    rel = lookup[found] == np.array([names[lab] for lab in q_labels])[:, None]
    n_relevant = np.array([(db_labels == lab).sum() for lab in q_labels])
    scores = {"p@10": precision_at(rel, 10).mean(), "p@100": precision_at(rel, 100).mean(),
              "map": average_precision(rel, n_relevant).mean()}  # fmt: skip
    return {f"student: {described}": {k: round(float(v), 4) for k, v in scores.items()}}


def study(data: str, cache: str | None, student: str | None) -> dict:
    set_threads()
    train, test = list(iter_newsgroups(data, "train")), list(iter_newsgroups(data, "test"))
    db_labels, q_labels = np.array([d.label for d in train]), np.array([d.label for d in test])
    t0 = time.perf_counter()
    with embedding_cache(cache):
        db = embed([d.text for d in train], progress=True)
        queries = embed([d.text for d in test], progress=True)
    embed_s = time.perf_counter() - t0
    index = faiss.IndexFlatIP(db.shape[1])
    index.add(db)
    rows = {"minilm floats (384 x 4 bytes)": _score(index.search(queries, len(db))[1], db_labels, q_labels)}
    db_bits, q_bits = np.packbits(db > 0, axis=1), np.packbits(queries > 0, axis=1)
    by_bits = hamming_ranking(db_bits, q_bits)
    rows["minilm sign bits (384 bits)"] = _score(by_bits, db_labels, q_labels)
    rows[f"minilm sign bits, top {RESCORE} re-scored by the floats"] = _score(
        rescored(by_bits, db, queries), db_labels, q_labels
    )
    if student:
        rows.update(_student(student, test, q_labels, db_labels))
    return {"database": len(db), "queries": len(queries), "embed_s": round(embed_s, 1), "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--cache")
    parser.add_argument("--student")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = study(args.data, args.cache, args.student)
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
