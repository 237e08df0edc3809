"""Where the text student (the default ``ae`` codes, 32 floats) loses to its teacher (all-MiniLM-L6-v2, 384 floats),
on every text corpus of ``aer bench general``, from what the suite's runs already built: nothing is fitted here.

For each corpus, its default collection (``<run>/<corpus>/default.aer``) and MiniLM's embeddings of its texts (the
suite's cache, ``<run>/<corpus>/minilm-embeddings.npz``, read from a temporary copy so the run's files stay as they
are; a text missing from it is embedded afresh) rank the suite's queries (``retrieval.eval.corpus.load_corpora``:
test-vs-train by the query texts; leave-one-out by the item's text, the item dropped from its own ranking):

- the student by its codes alone (``Collection.encode`` + ``search_codes``: ``ranked_keys(col, texts, k, "codes")``;
  a query with no vocabulary word ranks nothing, as in the suite), and MiniLM by exact cosine: P@10 / P@100 and
  the student's over MiniLM's;
- the compression ceiling: MiniLM's embeddings centred and projected on their first d principal axes (fitted on the
  database's embeddings: the linear code of width d that loses least of them in squared error), ranked by cosine,
  for d in ``WIDTHS`` (384: all of them, centred);
- by query length (tertiles of the queries' word counts): the student's and MiniLM's P@10;
- neighbour agreement: the share of the student's top 10 in MiniLM's top 10 (overlap@10).

``--suite-run`` is a suite run's ``--out`` folder (its ``results.json`` names its corpora), repeated; a corpus
several runs hold is read from the last given that has its ``default.aer``.

    python benchmarks/student_gap.py --suite-run runs/general-text --suite-run runs/gt-20news-3000 \\
        --suite-run runs/gt-fortunes --suite-run runs/general-prose

Writes ``results.json`` and ``README.md`` (with ``notes.md``) into ``--results``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.bench.general import EMBEDDINGS, ranked_keys
from retrieval.bench.record import provenance, write_results
from retrieval.bench.student_gap import KS, compare, cosine_ranking, drop_own, principal_projection
from retrieval.collection import Collection
from retrieval.encoders.sentence import embed, embedding_cache
from retrieval.eval.corpus import Corpus, load_corpora
from retrieval.sources import contents

ROOT = Path(__file__).resolve().parent.parent
WIDTHS = (16, 32, 64, 128, 384)
DEPTH = max(KS)
SUITE_ORDER = ("20news-1000", "20news-3000", "20news-full", "fortunes", "brown")


def suite_folders(runs: list[Path]) -> dict[str, Path]:
    """Each text corpus the runs' ``results.json`` name, with the last run given holding its ``default.aer``."""
    found: dict[str, Path] = {}
    for run in runs:
        results = run / "results.json"
        if not results.exists():
            raise SystemExit(f"{run}: no results.json (give a folder `aer bench general --out` wrote)")
        for row in json.loads(results.read_text())["corpora"]:
            if row["modality"] == "text":
                found.setdefault(row["corpus"], run)
    for name in found:
        holding = [run for run in runs if (run / name / "default.aer").exists()]
        if not holding:
            raise SystemExit(f"{name}: no run given holds {name}/default.aer")
        found[name] = holding[-1]
        if not (holding[-1] / name / EMBEDDINGS).exists():
            raise SystemExit(f"{holding[-1] / name / EMBEDDINGS}: missing (the suite keeps MiniLM's embeddings there)")
    return dict(sorted(found.items(), key=lambda kv: SUITE_ORDER.index(kv[0]) if kv[0] in SUITE_ORDER else 99))


def suite_row(run: Path, corpus: str) -> dict[str, Any]:
    """The suite run's own P@10 for the corpus (its codes alone, MiniLM), to check these rankings against."""
    for row in json.loads((run / "results.json").read_text())["corpora"]:
        if row["corpus"] == corpus and "codes" in row["default"]:
            return {"suite's student p@10": round(row["default"]["codes"]["p@10"], 4),
                    "suite's minilm p@10": round(row["baselines"]["minilm"]["p@10"], 4)}  # fmt: skip
    return {}


def limited(corpus: Corpus, n: int | None) -> Corpus:
    """The corpus with its first ``n`` queries only (a smoke test)."""
    if n is None:
        return corpus
    corpus.query_labels = corpus.query_labels[:n]
    if corpus.leave_out is not None:
        corpus.leave_out = corpus.leave_out[:n]
    else:
        corpus.queries = corpus.queries[:n]
    return corpus


def student_ranking(path: Path, corpus: Corpus, texts: list[str], own: np.ndarray | None) -> np.ndarray:
    """The default collection's codes-only top ``DEPTH`` per query as database positions (-1 past the end)."""
    ids = [item.id for item in corpus.database]
    with Collection.open(path, device="cpu") as col:
        keys = col.store.keys_of(ids)
        rows, _ = ranked_keys(col, texts, DEPTH + (own is not None), "codes")
    if len(keys) != len(ids):
        raise SystemExit(f"{path}: holds {len(keys)} of the corpus's {len(ids)} items; not this corpus's build")
    position = {keys[item_id]: i for i, item_id in enumerate(ids)}
    return drop_own([[position.get(int(key), -1) for key in row] for row in rows], DEPTH, own)


def measure(corpus: Corpus, folder: Path) -> dict[str, Any]:
    """Every ranking of one corpus's queries, compared (``retrieval.bench.student_gap.compare``)."""
    database = contents(corpus.database)
    if corpus.leave_out is None:
        texts, own = list(corpus.queries), None
    else:
        own = np.asarray(corpus.leave_out)
        texts = [database[i] for i in own]
    t0 = time.perf_counter()
    student = student_ranking(folder / "default.aer", corpus, texts, own)
    with tempfile.TemporaryDirectory() as tmp:  # the suite's cache is read, never written back
        cache = Path(tmp) / EMBEDDINGS
        shutil.copy(folder / EMBEDDINGS, cache)
        with embedding_cache(cache):
            embedded = embed(database, "cpu")
            queries = embedded[own] if own is not None else embed(texts, "cpu")
    teacher = cosine_ranking(embedded, queries, DEPTH, own)
    projected = {d: cosine_ranking(db, q, DEPTH, own) for d, (db, q) in
                 principal_projection(embedded, queries, WIDTHS).items()}  # fmt: skip
    labels = [item.label for item in corpus.database]
    words = [len(t.split()) for t in texts]
    out = compare(corpus.query_labels, labels, words, student, teacher, projected)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--suite-run", type=Path, action="append", required=True, dest="runs",
                        help="an `aer bench general --out` folder; repeat; later ones win")  # fmt: skip
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data")
    parser.add_argument("--corpora", help="comma-separated corpus names (default: every text corpus of the runs)")
    parser.add_argument("--limit-queries", type=int, help="the first N queries of each corpus only (a smoke test)")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks/results/student-gap")
    args = parser.parse_args()
    folders = suite_folders(args.runs)
    if args.corpora:
        wanted = [c.strip() for c in args.corpora.split(",") if c.strip()]
        unknown = [c for c in wanted if c not in folders]
        if unknown:
            raise SystemExit(f"--corpora: {', '.join(unknown)} not in the runs given ({', '.join(folders)})")
        folders = {c: f for c, f in folders.items() if c in wanted}
    rows: dict[str, list[dict[str, Any]]] = {"corpora": [], "ceiling": [], "by_length": []}
    for corpus in load_corpora(args.data, list(folders), False):
        corpus = limited(corpus, args.limit_queries)
        folder = folders[corpus.name] / corpus.name
        m = measure(corpus, folder)
        head = {"corpus": corpus.name}
        rows["corpora"].append({**head, "protocol": corpus.protocol, "database items": len(corpus.database),
                                "length cuts (words)": m["length_cuts"], **m["overall"],
                                **(suite_row(folders[corpus.name], corpus.name) if not args.limit_queries else {}),
                                "read from": str(folder)})  # fmt: skip
        rows["ceiling"] += [{**head, **r} for r in m["ceiling"]]
        rows["by_length"] += [{**head, **r} for r in m["by_length"]]
        o = m["overall"]
        print(f"{corpus.name}: student P@10 {o['student p@10']} / MiniLM {o['minilm p@10']} "
              f"({o['p@10 ÷ minilm']}x), overlap@10 {o['overlap@10']}, "
              f"32 axes P@10 {next(r['p@10'] for r in m['ceiling'] if r['axes'] == 32)}, {m['seconds']} s",
              flush=True)  # fmt: skip
    results = {
        "suite": "student-gap",
        "title": "Where the text student loses to its teacher: the default codes against MiniLM, per corpus",
        "about": "`benchmarks/student_gap.py`: on each text corpus of `aer bench general`, the default collection's "
        "codes alone (32 floats, `ae` taught by all-MiniLM-L6-v2) and MiniLM's 384 floats (exact cosine) rank the "
        "suite's queries, read from the suite's runs (nothing fitted). Also: MiniLM's embeddings centred and "
        "projected on their first d principal axes (fitted on the database; 384: all axes, centred), the linear "
        "code of that width that loses least of them in squared error; P@10 by query length (tertiles of word "
        "count); overlap@10, the share of the student's top 10 that is in MiniLM's top 10. A query with no "
        "vocabulary word ranks nothing (unencodable).",
        **provenance(),
        "limit_queries": args.limit_queries,
        **rows,
    }
    write_results(args.results, results)
    print(f"wrote {args.results / 'results.json'}")


if __name__ == "__main__":
    main()
