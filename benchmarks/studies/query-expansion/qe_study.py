"""Study: neighbour averaging at search time (query expansion) and at index time (database-side augmentation).

Two classic ways of using a collection's own neighbourhoods, from image retrieval (Chum et al. 2007; Arandjelović
and Zisserman 2012): **α-QE** searches once, replaces the query's code by its sum with its top ``m`` hits' codes
(each weighted by its cosine to the query to the power ``alpha``) and searches again; **DBA** replaces every stored
code by the same weighted sum over itself and its top ``m`` neighbours before searching. Both are scored here on a
leave-one-out corpus of the generalisation suite (each query an item, dropped from its own ranking and from its own
expansion), on the default collection the suite built and, so that the comparison with the pixel baseline stays
fair, on the baseline's own vectors treated the same way. Nothing is fitted; this reads a suite run.

    aer bench general --data-dir ../shared/data --corpora digits --out runs/qe-digits
    python benchmarks/studies/query-expansion/qe_study.py --suite-run runs/qe-digits --corpus digits

Writes ``results.json`` and ``README.md`` (with ``notes.md``) beside this script.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from retrieval.bench.record import provenance, write_results
from retrieval.bench.student_gap import cosine_ranking, ranked_labels, unit
from retrieval.bench.student_gap import scores as precision
from retrieval.collection import Collection
from retrieval.eval.corpus import Corpus, load_corpora

HERE = Path(__file__).resolve().parent
KS = (10, 100)
HITS = (1, 2, 3, 5, 10)  # m: the hits (or neighbours) averaged in
ALPHAS = (0, 3)  # the weights' power: 0 a plain sum, 3 the near ones count most


def averaged(vectors: np.ndarray, centres: np.ndarray, neighbours: np.ndarray, alpha: float) -> np.ndarray:
    """Each centre plus its neighbours' vectors, weighted by cosine to the centre to the power ``alpha``."""
    near = unit(vectors)[neighbours]  # (n, m, d)
    weights = np.maximum(np.einsum("nmd,nd->nm", near, unit(centres)), 0) ** alpha
    return unit(unit(centres) + (weights[:, :, None] * near).sum(1))


def scores(vectors: np.ndarray, own: np.ndarray, corpus: Corpus, labels: list[str | None]) -> dict[str, dict]:
    """P@k of the plain ranking, of α-QE and of DBA (and DBA with α-QE on top) over the grid."""
    depth = max(KS)

    def p(ranking: np.ndarray) -> dict[str, float]:
        return precision(corpus.query_labels, ranked_labels(ranking, labels))

    queries = vectors[own]
    first = cosine_ranking(vectors, queries, depth, own)
    out = {"plain": p(first)}
    for m in HITS:
        for alpha in ALPHAS:
            expanded = averaged(vectors, queries, first[:, :m], alpha)
            out[f"α-QE m={m} α={alpha}"] = p(cosine_ranking(vectors, expanded, depth, own))
    near = cosine_ranking(vectors, vectors, max(HITS) + 1)  # itself first
    for m in (2, 3, 5):
        augmented = averaged(vectors, vectors, near[:, 1 : m + 1], 3)
        again = cosine_ranking(augmented, augmented[own], depth, own)
        out[f"DBA m={m} α=3"] = p(again)
        expanded = averaged(augmented, augmented[own], again[:, :3], 0)
        out[f"DBA m={m} α=3, then α-QE m=3"] = p(cosine_ranking(augmented, expanded, depth, own))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--suite-run", type=Path, required=True, help="an `aer bench general` --out folder")
    parser.add_argument("--corpus", default="digits", help="a leave-one-out image corpus of the suite")
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    args = parser.parse_args()
    corpus = next(iter(load_corpora(args.data, [args.corpus], False)))
    if corpus.leave_out is None or corpus.modality != "image":
        raise SystemExit(f"{args.corpus}: this study reads a leave-one-out image corpus (e.g. digits)")
    with Collection.open(args.suite_run / args.corpus / "default.aer", device="cpu") as col:
        keys = col.store.keys_of([item.id for item in corpus.database])
        codes = np.stack([col.index.reconstruct(keys[item.id]) for item in corpus.database]).astype(np.float32)
        encoder = col.encoder.describe()
    pixels = np.stack([item.pixels for item in corpus.database]).reshape(len(corpus.database), -1) / 255.0
    labels = [item.label for item in corpus.database]
    own = np.asarray(corpus.leave_out)
    measured = {"default codes": scores(codes, own, corpus, labels),
                "pixels": scores(pixels.astype(np.float32), own, corpus, labels)}  # fmt: skip
    results = {
        "suite": "query-expansion",
        "title": f"Neighbour averaging (α-QE, DBA) on {args.corpus}: the default's codes and the pixels alike",
        "about": "`benchmarks/studies/query-expansion/qe_study.py`: leave-one-out P@10 / P@100 of the default "
        "collection's codes and of the pixels (cosine), plain, with α-query expansion (m hits, weights cos^α) and "
        f"with database-side augmentation; the collection: {encoder}.",
        **provenance(), "corpus": args.corpus, "items": len(corpus.database), "queries": len(own),
        "rows": [{"setting": s, **{f"{space} p@{k}": measured[space][s][f"p@{k}"] for space in measured for k in KS}}
                 for s in measured["pixels"]],  # fmt: skip
    }
    write_results(HERE, results)
    print(f"wrote {HERE / 'results.json'}")


if __name__ == "__main__":
    main()
