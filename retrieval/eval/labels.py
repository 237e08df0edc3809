"""``aer eval``: on the user's own labels, do a collection's codes beat the classic spaces?

``evaluate_labels`` re-reads a labelled source the collection was made from, takes a seeded uniform sample of its
labelled items as queries, ranks the collection for each (``Collection.search_by_id``: the item itself left out)
and scores P@10 / P@100 (same label = relevant), then fits the baselines of ``retrieval.eval.baselines`` on the same
items and scores them on the same queries, leave-one-out.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..collection import Collection, Item
from ..defaults import DEFAULT_QUERIES
from ..errors import CollectionError, InvalidParameterError, SourceError
from ..sources import ImageItem, Rejected, contents, iter_items, source_modality
from .baselines import EVAL_BASELINES, KS, ratios, score_baseline
from .metrics import precision_by_label

RATIO_REFERENCES = {"text": ("lsa-50",), "image": ("pixels", "pca-64")}  # "best LSA" / "better of pixels and PCA"

Source = str | Path | Sequence[Item]


def evaluate_labels(
    collection: Collection | str | Path,
    source: Source,
    *,
    queries: int = DEFAULT_QUERIES,
    seed: int = 0,
    db: str | None = None,
) -> dict[str, Any]:
    """Leave-one-out P@10 / P@100 of ``collection`` and of the baselines on ``queries`` labelled items of ``source``.

    ``source``: a path ``index_source`` reads, or its items. Every readable item of it must be in the collection
    (by id; ``CollectionError`` otherwise); at least two labels are needed (``SourceError``). Returns
    ``{"collection": {"p@10", "p@100", "ratio"}, "baselines": {name: {"p@10", "p@100"}}, "queries": n}``; the
    ratio is the collection's P@k over the best LSA (texts) or the better of pixels and PCA-64 (images).
    ``collection``: an open collection, or a path opened on the CPU (``db``: its database URL).
    """
    if not isinstance(queries, (int, np.integer)) or isinstance(queries, bool) or queries < 1:
        raise InvalidParameterError(f"The 'queries' parameter must be an int of at least 1. Got {queries!r} instead.")
    if isinstance(collection, Collection):
        return _evaluate(collection, source, int(queries), seed)
    with Collection.open(collection, device="cpu", db=db) as col:
        return _evaluate(col, source, int(queries), seed)


def _evaluate(col: Collection, source: Source, queries: int, seed: int) -> dict[str, Any]:
    items = read_items(source, col.modality)
    check_labels(items, _name(source))
    check_in_collection(col, items, _name(source))
    labels = [item.label for item in items]
    pick = sample_queries(labels, queries, seed)
    query_labels = [labels[i] for i in pick]
    ranked = collection_leave_one_out(col, items, pick, max(KS))
    result: dict[str, Any] = precision_by_label(query_labels, ranked, KS)
    database = contents(items)
    baselines = {}
    for name in EVAL_BASELINES[col.modality]:
        score = score_baseline(name, database, labels, leave_out=pick, ks=KS)
        baselines[name] = {**score.precision, **({"error": score.error} if score.error else {})}
    result["ratio"] = ratios(result, baselines, RATIO_REFERENCES[col.modality])
    return {"collection": result, "baselines": baselines, "queries": len(pick)}


def read_items(source: Source, modality: str) -> list[Item]:
    """The readable items of ``source`` (the last of each id), checked to be of ``modality``."""
    if isinstance(source, Sequence) and not isinstance(source, str):
        found = list(source)
        kind = "image" if found and isinstance(found[0], ImageItem) else "text"
    else:
        kind = source_modality(source)
        found = [item for item in iter_items(source) if not isinstance(item, Rejected)] if kind == modality else []
    if kind != modality:
        raise CollectionError(f"{_name(source)} is a {kind} source; the collection holds {modality} items")
    if not found:
        raise SourceError(f"{_name(source)}: no item could be read")
    return list({item.id: item for item in found}.values())


def check_labels(items: Sequence[Item], name: str) -> None:
    """``SourceError`` unless the items carry at least two different labels."""
    labels = {item.label for item in items if item.label is not None}
    if not labels:
        raise SourceError(
            f"{name}: none of its {len(items)} items has a label, so there is nothing to score; aer eval needs "
            "labelled items (a folder's first-level subfolder names, or a 'label' field in JSON Lines)"
        )
    if len(labels) == 1:
        raise SourceError(
            f"{name}: every labelled item has the label {labels.pop()!r}, so every item would be relevant to "
            "every query; P@k needs at least two labels"
        )


def check_in_collection(col: Collection, items: Sequence[Item], name: str) -> None:
    """``CollectionError`` naming an example when some items are not in the collection."""
    ids = [item.id for item in items]
    known = col.store.keys_of(ids)
    missing = [i for i in ids if i not in known]
    if missing:
        raise CollectionError(
            f"{col.path}: {len(missing)} of the {len(ids)} items of {name} are not in it (e.g. {missing[0]!r}); "
            "add them first (aer add) or evaluate with the source the collection was made from"
        )


def sample_queries(labels: Sequence[str | None], n: int, seed: int = 0) -> np.ndarray:
    """Sorted positions of a seeded uniform sample of ``n`` labelled items (all of them when fewer)."""
    labelled = np.flatnonzero([lab is not None for lab in labels])
    if len(labelled) <= n:
        return labelled
    return np.sort(np.random.default_rng(seed).choice(labelled, size=n, replace=False))


def collection_leave_one_out(
    col: Collection, items: Sequence[Item], positions: np.ndarray, k: int
) -> list[list[str | None]]:
    """For each item at ``positions``, the labels of the collection's top ``k`` for it (the item left out); a
    hit's label is its source label when the source holds it, else the one stored in the collection."""
    label_of = {item.id: item.label for item in items}
    ranked = []
    for i in positions:
        hits = col.search_by_id(items[i].id, k=k)
        ranked.append([label_of.get(h.id, h.label) for h in hits])
    return ranked


def _name(source: Source) -> str:
    return "the given items" if isinstance(source, Sequence) and not isinstance(source, str) else str(source)
