"""Where the text student (the default ``ae`` codes) loses to its teacher (all-MiniLM-L6-v2): the pure measures
that ``benchmarks/student_gap.py`` reads off rankings already made.

Rankings here are database positions, best first, ``-1`` past the end (a query that could not be encoded ranks
nothing). ``cosine_ranking`` ranks exactly by cosine (faiss ``IndexFlatIP`` on unit vectors), leaving each query's
own item out under leave-one-out; ``principal_projection`` centres embeddings and keeps their first ``d``
principal axes, fitted on the database (the linear code of that width that loses least of them in squared
error);
``length_tertiles`` splits queries by word count; ``overlap_at`` is the share of one ranking's top ``k`` found in
another's; ``compare`` puts them together into the rows of the results page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import faiss
import numpy as np

from ..eval.metrics import precision_by_label

KS = (10, 100)
K = 10  # the depth of the per-query comparisons (P@10, overlap@10)
TERTILES = ("short", "medium", "long")


def unit(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (an all-zero row stays zero), ``float32``."""
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def cosine_ranking(database: np.ndarray, queries: np.ndarray, k: int, own: np.ndarray | None = None) -> np.ndarray:
    """``(n_queries, k)`` database positions by exact cosine similarity, best first (-1 past the end); with
    ``own`` (each query's database position, leave-one-out) that item is left out of its ranking."""
    index = faiss.IndexFlatIP(database.shape[1])
    index.add(np.ascontiguousarray(unit(database)))
    depth = min(k + (own is not None), len(database))
    _, found = index.search(np.ascontiguousarray(unit(queries)), depth)
    return drop_own(found, k, own)


def drop_own(found: np.ndarray | Sequence[Sequence[int]], k: int, own: np.ndarray | None) -> np.ndarray:
    """Rankings cut to ``k`` (``-1``-padded), each query's ``own`` position left out where given."""
    out = np.full((len(found), k), -1, dtype=np.int64)
    for i, row in enumerate(found):
        row = np.asarray(row, dtype=np.int64)
        row = row[row >= 0] if own is None else row[(row >= 0) & (row != own[i])]
        out[i, : min(k, len(row))] = row[:k]
    return out


def principal_projection(
    database: np.ndarray, queries: np.ndarray, widths: Sequence[int]
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """For each ``d`` of ``widths``: ``database`` and ``queries`` centred on the database's mean and projected on
    the database's first ``d`` principal axes (``d`` at most the embeddings' width)."""
    database = np.asarray(database, dtype=np.float64)
    bad = [d for d in widths if not 0 < d <= database.shape[1]]
    if bad:
        raise ValueError(f"The 'widths' parameter takes widths in 1..{database.shape[1]}. Got {bad[0]!r} instead.")
    mean = database.mean(axis=0)
    centred = database - mean
    variance, axes = np.linalg.eigh(centred.T @ centred)  # ascending
    axes = axes[:, np.argsort(variance)[::-1]]
    db, q = centred @ axes, (np.asarray(queries, dtype=np.float64) - mean) @ axes
    return {d: (db[:, :d].astype(np.float32), q[:, :d].astype(np.float32)) for d in widths}


def length_tertiles(words: Sequence[int]) -> tuple[tuple[int, int], np.ndarray]:
    """The cut points (the word counts at the empirical 1/3 and 2/3 quantiles) and each query's tertile:
    0 short (words ≤ first cut), 1 medium (≤ second cut), 2 long. Ties at a cut make the groups unequal."""
    counts = np.asarray(words)
    if counts.size == 0:
        raise ValueError("no queries to split by length")
    low, high = (int(c) for c in np.quantile(counts, [1 / 3, 2 / 3], method="inverted_cdf"))
    return (low, high), np.where(counts <= low, 0, np.where(counts <= high, 1, 2))


def overlap_at(a: np.ndarray, b: np.ndarray, k: int = K) -> np.ndarray:
    """Per query, the share of ``a``'s top ``k`` positions that are in ``b``'s top ``k`` (over ``k``: an empty or
    short ranking counts its missing places as misses)."""
    return np.array([len({x for x in ra[:k] if x >= 0} & {x for x in rb[:k] if x >= 0}) / k
                     for ra, rb in zip(np.asarray(a).tolist(), np.asarray(b).tolist())])  # fmt: skip


def ranked_labels(ranking: np.ndarray, labels: Sequence[str | None]) -> list[list[str | None]]:
    """The database labels along each ranking (the ``-1`` places dropped)."""
    return [[labels[p] for p in row if p >= 0] for row in np.asarray(ranking).tolist()]


def per_query_precision(query_labels: Sequence[str], ranked: Sequence[Sequence[str | None]], k: int = K) -> np.ndarray:
    """Each query's precision over its first ``k`` ranks (as ``precision_by_label`` counts it: an unlabelled item
    is never relevant, a missing rank is a miss)."""
    return np.array([sum(lab is not None and lab == q for lab in list(row)[:k]) / k
                     for q, row in zip(query_labels, ranked)])  # fmt: skip


def scores(query_labels: Sequence[str], ranked: Sequence[Sequence[str | None]]) -> dict[str, float]:
    """P@10 and P@100 (``precision_by_label``), rounded for the page."""
    return {m: round(v, 4) for m, v in precision_by_label(query_labels, ranked, KS).items()}


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


def compare(
    query_labels: Sequence[str],
    labels: Sequence[str | None],
    words: Sequence[int],
    student: np.ndarray,
    teacher: np.ndarray,
    projected: dict[int, np.ndarray],
) -> dict[str, Any]:
    """The student's ranking against the teacher's on one corpus: ``student``, ``teacher`` and each ``projected[d]``
    (the teacher on ``d`` principal axes) are database positions per query (at least 100 deep), ``labels`` the
    database's, ``words`` each query's word count; a student ranking with nothing in it is a query it could not
    encode (an empty ranking, as the suite counts it). Returns the corpus's summary (``overall``), its compression
    ceiling rows (``ceiling``) and its rows by query length (``by_length``)."""
    ranked = {"student": ranked_labels(student, labels), "minilm": ranked_labels(teacher, labels),
              **{d: ranked_labels(r, labels) for d, r in projected.items()}}  # fmt: skip
    s, t = scores(query_labels, ranked["student"]), scores(query_labels, ranked["minilm"])
    p10 = {name: per_query_precision(query_labels, r) for name, r in ranked.items()}
    overlap = overlap_at(student, teacher)
    diff = p10["student"] - p10["minilm"]
    empty = (np.asarray(student) < 0).all(axis=1)
    overall = {
        "queries": len(query_labels), "unencodable queries": int(empty.sum()),
        "student p@10": s["p@10"], "minilm p@10": t["p@10"], "p@10 ÷ minilm": ratio(s["p@10"], t["p@10"]),
        "student p@100": s["p@100"], "minilm p@100": t["p@100"], "p@100 ÷ minilm": ratio(s["p@100"], t["p@100"]),
        "overlap@10": round(float(overlap.mean()), 4),
        "queries student p@10 below / level / above minilm": [int((diff < 0).sum()), int((diff == 0).sum()),
                                                              int((diff > 0).sum())],
    }  # fmt: skip
    ceiling = []
    for d in sorted(projected):
        c = scores(query_labels, ranked[d])
        ceiling.append({"axes": d, "p@10": c["p@10"], "p@100": c["p@100"],
                        "p@10 ÷ minilm": ratio(c["p@10"], t["p@10"]),
                        "student p@10 ÷ this": ratio(s["p@10"], c["p@10"])})  # fmt: skip
    cuts, group = length_tertiles(words)
    counts = np.asarray(words)
    by_length = []
    for g, name in enumerate(TERTILES):
        mask = group == g
        if not mask.any():
            continue
        row = {"tertile": name, "words": f"{int(counts[mask].min())}–{int(counts[mask].max())}",
               "queries": int(mask.sum()), "unencodable": int(empty[mask].sum()),
               "student p@10": round(float(p10["student"][mask].mean()), 4),
               "minilm p@10": round(float(p10["minilm"][mask].mean()), 4)}  # fmt: skip
        row["p@10 ÷ minilm"] = ratio(row["student p@10"], row["minilm p@10"])
        for d in (32,) if 32 in p10 else ():
            row[f"minilm on {d} axes p@10"] = round(float(p10[d][mask].mean()), 4)
        row["overlap@10"] = round(float(overlap[mask].mean()), 4)
        by_length.append(row)
    return {"overall": overall, "length_cuts": list(cuts), "ceiling": ceiling, "by_length": by_length}
