"""Hybrid search's fusion settings measured on every text corpus of ``aer bench general`` at once, against MiniLM.

``hybrid`` (``retrieval.collection.hybrid``) fuses the codes' ranking and BM25's by reciprocal rank fusion: an item
scores ``sum w / (c + rank)`` over the rankings it is in, each ranking ``max(2k, HYBRID_DEPTH)`` deep; today
``w`` is 1 for both, ``c`` is ``RRF_K``. This script ranks each corpus's queries once by the codes and once by the
keyword index, deep enough for every setting, then fuses them under each setting of a grid (the constant ``c``,
the keyword ranking's weight, how deep each ranking is taken) and scores P@10 / P@100 on the same queries as
the suite (leave-one-out: the item's text as the query, the item dropped from its fused ranking, as the suite
does). Every setting is scored on all four corpora together, for the default collection and the 64-bit one the
suite built; MiniLM's P@k on the same queries is read from the suite's run (``--suite``), so each setting's
worst ratio to MiniLM over the corpora can be read off. A setting is chosen by its worst corpus, never one
corpus. Fusion happens at search time, so no setting changes what a build costs.

    python benchmarks/hybrid_fusion.py --data ../shared/data --suite runs/general-text

Writes ``results.json`` and ``README.md`` (with ``notes.md``) into ``--results``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.bench.general import BINARY_BITS, ranked_keys
from retrieval.bench.record import provenance, write_results
from retrieval.collection import Collection, keywords
from retrieval.defaults import HYBRID_DEPTH, RRF_K
from retrieval.eval.baselines import KS
from retrieval.eval.corpus import Corpus, load_corpora
from retrieval.eval.metrics import precision_by_label

ROOT = Path(__file__).resolve().parent.parent
TEXT_CORPORA = ("20news-1000", "20news-3000", "20news-full", "fortunes")
BUILDS = {"default": "default.aer", f"{BINARY_BITS} bits": f"default-{BINARY_BITS}bit.aer"}
DEPTH = max(KS)
CONSTANTS = (10, 30, 60, 100)
WORD_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)  # the keyword ranking's weight; the codes' is 1
DEPTHS = (1, 2, 4)  # each ranking taken this many times k deep (k: the hits asked for, 100, or 101 leave-one-out)
CURRENT = {"c": RRF_K, "weight": 1.0, "depth": 2}  # today: max(2k, HYBRID_DEPTH) deep, 2k at the suite's k


def rankings(col: Collection, corpus: Corpus, depth: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The codes' and the keyword index's top ``depth`` keys per query (-1 past the end), and the keys of the
    queries' own items under leave-one-out (else ``None``)."""
    if corpus.leave_out is None:
        texts, own = list(corpus.queries), None
    else:
        items = [corpus.database[i] for i in corpus.leave_out]
        found = col.store.keys_of([item.id for item in items])
        texts, own = [item.text for item in items], np.array([found[item.id] for item in items])
    rows, _ = ranked_keys(col, texts, depth, "codes")
    codes = np.full((len(texts), depth), -1, np.int64)
    for i, row in enumerate(rows):
        codes[i, : len(row)] = row[:depth]
    _, words = keywords.read(col).search(texts, depth)
    return codes, words, own


def fuse(codes: np.ndarray, words: np.ndarray, c: float, weight: float, depth: int, k: int) -> list[list[int]]:
    """Weighted reciprocal rank fusion of the two rankings (each cut to ``depth``): each query's top ``k`` keys by
    ``1 / (c + rank)`` in the codes plus ``weight / (c + rank)`` in the words, ties to the item met first reading
    rank by rank, codes first (as ``hybrid.fuse``)."""
    out = []
    inverse = 1.0 / (c + np.arange(1, depth + 1))
    for by_codes, by_words in zip(codes[:, :depth].tolist(), words[:, :depth].tolist()):
        fused: dict[int, float] = {}
        for rank in range(depth):
            for key, w in ((by_codes[rank], 1.0), (by_words[rank], weight)):
                if key >= 0 and w:
                    fused[key] = fused.get(key, 0.0) + w * inverse[rank]
        out.append([key for key, _ in sorted(fused.items(), key=lambda kv: -kv[1])[:k]])
    return out


def score(corpus: Corpus, labels: dict[int, str | None], fused: list[list[int]], own: np.ndarray | None) -> dict:
    if own is not None:
        fused = [[key for key in row if key != mine][:DEPTH] for row, mine in zip(fused, own.tolist())]
    ranked = [[labels.get(key) for key in row] for row in fused]
    return {m: round(v, 4) for m, v in precision_by_label(corpus.query_labels, ranked, KS).items()}


def measure(corpus: Corpus, path: Path) -> dict[str, dict[str, float]]:
    """P@k of every setting of the grid on one collection, keyed by ``name``."""
    k = DEPTH + (corpus.leave_out is not None)
    assert max(2 * k, HYBRID_DEPTH) == CURRENT["depth"] * k  # today's depth is in the grid
    with Collection.open(path, device="cpu") as col:
        codes, words, own = rankings(col, corpus, max(DEPTHS) * k)
        labels = col.item_labels()
    out = {}
    for c, weight, depth in itertools.product(CONSTANTS, WORD_WEIGHTS, DEPTHS):
        if weight == 0 and (c, depth) != (RRF_K, 1):
            continue  # the codes alone: one setting is enough
        out[name(c, weight, depth)] = score(corpus, labels, fuse(codes, words, c, weight, depth * k, k), own)
    return out


def name(c: float, weight: float, depth: int) -> str:
    return f"c={c}, words×{weight}, {depth}k deep"


def summary(measured: dict[str, dict[str, dict[str, dict[str, float]]]], minilm: dict[str, dict]) -> list[dict]:
    """Per build and setting: P@10 on each corpus over MiniLM's, the worst and the mean of those ratios, and the
    mean P@100 over MiniLM's."""
    rows = []
    for build, corpora in measured.items():
        for setting in next(iter(corpora.values())):
            ratio10 = {c: corpora[c][setting]["p@10"] / minilm[c]["p@10"] for c in corpora}
            ratio100 = [corpora[c][setting]["p@100"] / minilm[c]["p@100"] for c in corpora]
            rows.append({"build": build, "setting": setting, "current": setting == name(**CURRENT),
                         **{f"{c} p@10 ÷ minilm": round(r, 3) for c, r in ratio10.items()},
                         "worst p@10 ÷ minilm": round(min(ratio10.values()), 3),
                         "mean p@10 ÷ minilm": round(float(np.mean(list(ratio10.values()))), 3),
                         "mean p@100 ÷ minilm": round(float(np.mean(ratio100)), 3)})  # fmt: skip
    return sorted(rows, key=lambda r: (r["build"], -r["worst p@10 ÷ minilm"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data")
    parser.add_argument("--suite", type=Path, default=Path("runs/general-text"), help="the suite run's --out")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks/results/hybrid-fusion")
    args = parser.parse_args()
    suite = json.loads((args.suite / "results.json").read_text())
    names = list(TEXT_CORPORA) if not suite["quick"] else [
        r["corpus"] for r in suite["corpora"] if r["modality"] == "text"]  # a quick run's: a smoke test
    minilm = {r["corpus"]: r["baselines"]["minilm"] for r in suite["corpora"] if "minilm" in r["baselines"]}
    missing = [c for c in names if c not in minilm]
    if missing:
        raise SystemExit(f"{args.suite / 'results.json'}: no MiniLM row for {', '.join(missing)}; run the suite first")
    suite_rows = {r["corpus"]: r for r in suite["corpora"]}
    measured: dict[str, dict[str, Any]] = {build: {} for build in BUILDS}
    for corpus in load_corpora(args.data, names, suite["quick"]):
        for build, folder in BUILDS.items():
            t0 = time.perf_counter()
            measured[build][corpus.name] = measure(corpus, args.suite / corpus.name / folder)
            current = measured[build][corpus.name][name(**CURRENT)]
            key = "default" if build == "default" else "binary"
            suite_p = {m: round(suite_rows[corpus.name][key][m], 4) for m in ("p@10", "p@100")}
            print(f"{corpus.name} {build}: today's fusion {current} (the suite: {suite_p}), "
                  f"{time.perf_counter() - t0:.0f} s", flush=True)  # fmt: skip
    results = {
        "suite": "hybrid-fusion",
        "title": "Hybrid fusion settings on every text corpus of the generalisation suite, against MiniLM",
        "about": "`benchmarks/hybrid_fusion.py`: the default and 64-bit collections of `aer bench general` "
        "(`--suite`'s run) searched in `hybrid` mode under a grid of reciprocal rank fusion settings (constant c, "
        "the keyword ranking's weight against the codes' 1, the depth taken from each ranking), on the suite's "
        f"queries; P@10 over MiniLM's in the same suite run. Today's setting: {name(**CURRENT)}.",
        **provenance(), "quick": suite["quick"],
        "minilm": {c: {m: minilm[c][m] for m in ("p@10", "p@100")} for c in names},
        "summary": summary(measured, minilm),
        "measured": [{"build": b, "corpus": c, "setting": s, **p} for b, corpora in measured.items()
                     for c, settings in corpora.items() for s, p in settings.items()],  # fmt: skip
    }
    write_results(args.results, results)
    print(f"wrote {args.results / 'results.json'}")


if __name__ == "__main__":
    main()
