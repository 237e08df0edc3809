"""The pixel part of image codes (issue 34 item 1): the default conv-ae code alone, and with the top principal
components of the pixels appended at several widths and weights, against pixels and PCA-64, on every image corpus
of ``aer bench general`` (digits, CIFAR-10 subsets, Fashion-MNIST).

For each corpus (``retrieval.eval.corpus``: its items, its queries and its protocol) the default conv-ae is fitted
once on the database images with ``pixel_part=0`` (the network's code alone, which is what every option below
shares), and its codes are ranked exactly by cosine, as the collection's flat index ranks them. The pixel part is
then appended after the fact (``retrieval.encoders.pixel_part``: unit code, weighted unit projections on the top
principal components) for each width and weight of the grid, and at the width and weight the default rule
(``retrieval.encoders.pixel_part.choose_pixel_part``) chooses from the database images without labels, with the
rule's own reading of them. pixels and PCA-64 are the suite's baselines (``retrieval.eval.baselines``) on the
same queries.
Fit seconds: the network's, and the rule's and the part's on top.

    python benchmarks/pixel_part.py --data ../shared/data --out benchmarks/results/pixel-part
    python benchmarks/pixel_part.py --corpora digits,fashion-1000

Writes ``results.json`` and ``README.md`` (rendered from it, with ``notes.md``) into ``--out`` after every corpus.
"""

from __future__ import annotations

import argparse
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.bench.record import provenance, write_results
from retrieval.bench.methods import QUICK_TRAINING
from retrieval.defaults import CROP_SCALES, PIXEL_DIM
from retrieval.encoders import create_encoder
from retrieval.encoders.pixel_part import choose_pixel_part, fit_pixel_part, unit_rows
from retrieval.eval.baselines import KS, score_baseline
from retrieval.eval.corpus import Corpus, load_corpora, select
from retrieval.eval.metrics import precision_by_label
from retrieval.nn.augment import crop_ratio
from retrieval.sources import contents

CORPORA = "digits,fashion-1000,fashion-3000,cifar-1000,cifar-3000"  # small and aligned first: CPU is scarce
WIDTHS = (16, 32, 64)
WEIGHTS = (0.5, 0.75, 1.0, 1.5)
TITLE = "The pixel part: codes that keep what pixel distance knows"
ABOUT = ("The default conv-ae code alone, and with the top principal components of the pixels appended (unit "
         "code, weighted unit projections: the cosine blends the two spaces), on the image corpora of "
         "`aer bench general`, against pixels and PCA-64 on the same queries (P@10 / P@100, exact cosine "
         "ranking). default (rule): the width and weight the default chooses without labels; grid: the code "
         "with each width of pixel part at each weight (P@10 / P@100).")  # fmt: skip


def ranked_precision(codes: np.ndarray, queries: np.ndarray, corpus: Corpus, labels: list[str]) -> dict[str, float]:
    """P@k of an exact cosine ranking of ``codes`` for ``queries`` (leave-one-out: each query's own item left
    out)."""
    db, q = unit_rows(codes), unit_rows(queries)
    sims = q @ db.T
    if corpus.leave_out is not None:
        sims[np.arange(len(q)), corpus.leave_out] = -np.inf
    top = np.argsort(-sims, axis=1, kind="stable")[:, : max(KS)]
    ranked = np.asarray(labels, dtype=object)[top]
    scores = precision_by_label(corpus.query_labels, ranked, KS)
    return {k: round(v, 4) for k, v in scores.items()}


def baseline_precision(corpus: Corpus, labels: list[str], queries: np.ndarray) -> dict[str, dict[str, float]]:
    """P@k of pixels and PCA-64 (``retrieval.eval.baselines``) on the corpus's queries, by baseline."""
    database = contents(corpus.database)
    baselines = {}
    for name in ("pixels", "pca-64"):
        if corpus.leave_out is not None:
            score = score_baseline(name, database, labels, leave_out=corpus.leave_out, ks=KS)
        else:
            score = score_baseline(name, database, labels, queries=queries, query_labels=corpus.query_labels, ks=KS)
        baselines[name] = score.precision
    return baselines


def run_corpus(
    corpus: Corpus, quick: bool = False, keep: Path | None = None, log: Any = partial(print, flush=True)
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The corpus's row (code alone, the rule's choice, pixels, PCA-64; P@10 / P@100) and its grid rows (P@10 and
    P@100 of each width at each weight); ``keep``: a folder to save the network's codes in (``<corpus>.npz``)."""
    images = np.stack([item.pixels for item in corpus.database])
    labels = [str(item.label) for item in corpus.database]
    queries = images[corpus.leave_out] if corpus.leave_out is not None else np.stack(corpus.queries)
    t0 = time.perf_counter()
    encoder = create_encoder("conv-ae", pixel_part=0.0, progress=False, **(QUICK_TRAINING["conv-ae"] if quick else {}))
    encoder.fit(images)
    fit_s = time.perf_counter() - t0
    codes, query_codes = encoder.encode(images), encoder.encode(queries)
    alone = ranked_precision(codes, query_codes, corpus, labels)
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        np.savez(keep / f"{corpus.name}.npz", codes=codes, query_codes=query_codes)
    t0 = time.perf_counter()
    ratio = crop_ratio(images, CROP_SCALES[0])
    weight, why = choose_pixel_part(None, PIXEL_DIM, False, lambda: ratio)
    rule = alone
    if weight:
        part = fit_pixel_part(images, PIXEL_DIM, weight, encoder.seed)
        rule = ranked_precision(part.join(codes, images), part.join(query_codes, queries), corpus, labels)
    rule_s = time.perf_counter() - t0
    baselines = baseline_precision(corpus, labels, queries)
    best = max(b["p@10"] for b in baselines.values())
    row = {
        "corpus": corpus.name, "items": len(images), "queries": len(queries), "crop ratio": round(ratio, 2),
        "rule's weight": weight, "code alone": _pair(alone), "default (rule)": _pair(rule),
        "pixels": _pair(baselines["pixels"]), "PCA-64": _pair(baselines["pca-64"]),
        "code alone ÷ better of pixels, PCA-64 (P@10)": round(alone["p@10"] / best, 3),
        "default ÷ better (P@10)": round(rule["p@10"] / best, 3),
        "network fit s": round(fit_s, 1), "rule and part s": round(rule_s, 1),
    }  # fmt: skip
    log(f"  {row}\n  ({why})")
    grid = []
    for width in WIDTHS:
        part = fit_pixel_part(images, width, 1.0, encoder.seed)
        cells = {"part alone": _pair(ranked_precision(part.project(images), part.project(queries), corpus, labels))}
        for w in WEIGHTS:
            part.weight = w
            cells[f"weight {w:g}"] = _pair(
                ranked_precision(part.join(codes, images), part.join(query_codes, queries), corpus, labels))
        grid.append({"corpus": corpus.name, "width": width, **cells})
        log(f"  {grid[-1]}")
    return row, grid


def _pair(scores: dict[str, float]) -> str:
    return " / ".join(f"{scores[f'p@{k}']:.3f}" for k in KS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data", help="the data folder of aer bench general")
    parser.add_argument("--out", default="benchmarks/results/pixel-part", help="where results.json and README go")
    parser.add_argument("--corpora", default=CORPORA, help="comma-separated corpus names")
    parser.add_argument("--quick", action="store_true", help="small slices, short training: a smoke test")
    parser.add_argument("--keep-codes", type=Path, help="a folder to save each corpus's codes in, for further study")
    args = parser.parse_args()
    out = Path(args.out)
    results: dict[str, Any] = {"suite": "pixel-part", "title": TITLE, "about": ABOUT, **provenance(),
                               "quick": args.quick, "widths": list(WIDTHS), "weights": list(WEIGHTS),
                               "corpora": [], "grid": []}  # fmt: skip
    t0 = time.perf_counter()
    for corpus in load_corpora(Path(args.data), select(args.corpora, args.quick), args.quick):
        print(f"{corpus.name}: {len(corpus.database)} items, {len(corpus.query_labels)} queries", flush=True)
        row, grid = run_corpus(corpus, args.quick, args.keep_codes)
        results["corpora"].append(row)
        results["grid"] += grid
        results["total s"] = round(time.perf_counter() - t0)
        write_results(out, results)


if __name__ == "__main__":
    main()
