"""What ``aer index`` does: read a source, fit an encoder on it (new collection), encode, index."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from indexers import check_spec

from .collection import COMMIT_EVERY, MANIFEST, Collection, Item
from .encoders import DEFAULT_ENCODER, ENCODERS, create_encoder
from .errors import CollectionError, SourceError
from .sources import Rejected, contents, iter_items, source_modality


@dataclass
class IndexReport:
    """The outcome of indexing one source into a collection."""

    collection: Path
    added: int = 0
    updated: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # "id: how it was read" for items read with a caveat
    fitted: bool = False
    fit_s: float = 0.0  # seconds fitting the encoder (0 when the collection existed)
    add_s: float = 0.0  # seconds encoding and indexing the items


def read_source(source: str | Path, progress: bool = False) -> tuple[list[Item], list[Rejected]]:
    """All items of ``source`` and the ones it rejected."""
    docs: list[Item] = []
    rejected: list[Rejected] = []
    for item in tqdm(iter_items(source), desc="reading", unit="item", disable=not progress, leave=False):
        (rejected if isinstance(item, Rejected) else docs).append(item)
    return docs, rejected


def index_source(
    source: str | Path,
    collection: str | Path,
    *,
    encoder: str | None = None,
    index: str | None = None,
    radius: int | None = None,
    device: str = "auto",
    progress: bool = False,
    commit_every: int = COMMIT_EVERY,
    db: str | None = None,
    **encoder_options: Any,
) -> IndexReport:
    """Index ``source`` into ``collection``.

    A new collection gets an encoder of kind ``encoder`` (default: ``ae`` for text, ``conv-ae``
    for images) fitted on the source's items, and a FAISS index of kind ``index`` (a spec string;
    see ``Collection.create``); an existing one keeps its encoder and index and gets the items
    added (known ids updated). ``short_bits`` (with ``bits``) among the encoder options makes a
    two-stage collection: a short-code hash lookup within ``radius`` bits, re-ranked by the long code.
    """
    collection = Path(collection)
    modality = source_modality(source)
    existing = (collection / MANIFEST).exists()
    if not existing and collection.exists() and (not collection.is_dir() or any(collection.iterdir())):
        # Checked before reading and training, which can take minutes.
        raise CollectionError(f"{collection}: exists and is not an ae-retrieval collection (nor an empty directory)")
    name = encoder or DEFAULT_ENCODER[modality]
    if not existing and name in ENCODERS and ENCODERS[name].modality != modality:
        raise SourceError(f"{source}: a {modality} source, but encoder {name!r} is for {ENCODERS[name].modality}")
    if not existing and encoder_options.get("short_bits"):
        if index:
            raise ValueError("--index does not apply to two-stage codes (--short-bits); choose --radius instead")
        if not encoder_options.get("bits"):
            raise ValueError("--short-bits needs --bits for the long code (e.g. --short-bits 32 --bits 256)")
    elif index and not existing:
        check_spec(index, binary=bool(encoder_options.get("bits")))
    docs, rejected = read_source(source, progress)
    if not docs:
        raise SourceError(f"{source}: no item could be read ({len(rejected)} rejected)")
    report = index_items(
        docs, collection, modality=modality, encoder=name, index=index, radius=radius, device=device,
        progress=progress, commit_every=commit_every, db=db, **encoder_options,
    )  # fmt: skip
    report.rejected = rejected
    report.notes = [f"{d.id}: {d.note}" for d in docs if getattr(d, "note", None)]
    return report


def index_items(
    docs: list[Item],
    collection: str | Path,
    *,
    modality: str,
    encoder: str,
    index: str | None = None,
    radius: int | None = None,
    device: str = "auto",
    progress: bool = False,
    commit_every: int = COMMIT_EVERY,
    db: str | None = None,
    **encoder_options: Any,
) -> IndexReport:
    """Index items already read (what ``index_source`` does after reading; benchmarks pass slices)."""
    collection = Path(collection)
    existing = (collection / MANIFEST).exists()
    report = IndexReport(collection=collection)
    if existing:
        col = Collection.open(collection, device=device, db=db)
        if col.modality != modality:
            col.close()
            raise CollectionError(f"{collection}: a {col.modality} collection cannot take {modality} items")
    else:
        t0 = time.perf_counter()
        model = create_encoder(encoder, device=device, progress=progress, **encoder_options)
        model.fit(contents(docs))
        report.fit_s = time.perf_counter() - t0
        col = Collection.create(collection, model, device=device, spec=index, radius=radius, db=db)
        report.fitted = True
    t0 = time.perf_counter()
    with col:
        result = col.add(docs, progress=progress, commit_every=commit_every)
    report.add_s = time.perf_counter() - t0
    report.added, report.updated = result.added, result.updated
    return report
