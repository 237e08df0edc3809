"""What ``aer index`` does: read a source, fit an encoder on it (new collection), encode, index."""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from indexers import IndexChoice, RecallProbe, check_spec, choose_index

from .collection import COMMIT_EVERY, MANIFEST, Collection, Item
from .encoders import DEFAULT_ENCODER, ENCODERS, TwoStageEncoder, create_encoder
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


DEFAULT_FIT_SAMPLE = 100_000  # items the vocabulary, the encoder and an IVF quantiser are fitted on
PROBE_QUERIES = 200  # fit-sample items whose exact top-10 measures an approximate index's recall


@dataclass
class _Scan:
    """The first pass over a source: a seeded uniform sample of its items, their count, what was rejected."""

    sample: list[Item] = field(default_factory=list)
    count: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _scan(source: str | Path, sample_size: int, seed: int, progress: bool) -> _Scan:
    """Read ``source`` once, keeping a seeded reservoir sample of ``sample_size`` items.

    A source with no more items than ``sample_size`` is kept whole and in order.
    """
    scan = _Scan()
    rng = random.Random(seed)
    items = tqdm(iter_items(source), desc="reading", unit="item", disable=not progress, leave=False)
    for item in _counting(items, scan):
        if len(scan.sample) < sample_size:
            scan.sample.append(item)
        elif (slot := rng.randrange(scan.count)) < sample_size:
            scan.sample[slot] = item
    return scan


def _readable(source: str | Path) -> Iterator[Item]:
    """The items of ``source`` that can be read (the second pass; rejections were counted by the first)."""
    return (item for item in iter_items(source) if not isinstance(item, Rejected))


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
    fit_sample: int = DEFAULT_FIT_SAMPLE,
    memory_budget: int | None = None,
    target_latency_ms: float | None = None,
    shards: int | None = None,
    ray: str | None = None,
    **encoder_options: Any,
) -> IndexReport:
    """Index ``source`` into ``collection``, streaming: memory stays flat however large the source.

    A new collection gets an encoder of kind ``encoder`` (default: ``ae`` for text, ``conv-ae``
    for images) fitted on a seeded sample of ``fit_sample`` items (the whole source when smaller),
    and a FAISS index chosen from the source's size, ``memory_budget`` (bytes) and
    ``target_latency_ms`` (see ``indexers.choose_index``) unless ``index`` names one (a spec string;
    see ``Collection.create``). The source is then read a second time and encoded and added in
    batches. An existing collection keeps its encoder and index and gets the items added in one pass
    (known ids updated). ``short_bits`` (with ``bits``) among the encoder options makes a two-stage
    collection: a short-code hash lookup within ``radius`` bits, re-ranked by the long code.

    ``ray``: a Ray cluster address (``auto``, ``local``, ``ray://head:10001``): items are encoded with Ray
    Data across the cluster's workers and the index is built as ``shards`` shards (default: one per CPU)
    held by Ray actors. ``shards`` without ``ray`` splits the index the same way in this process.
    """
    collection = Path(collection)
    modality = source_modality(source)
    existing = (collection / MANIFEST).exists()
    if not existing and collection.exists() and (not collection.is_dir() or any(collection.iterdir())):
        # Checked before reading and training, which can take minutes.
        raise CollectionError(f"{collection}: exists and is not an ae-retrieval collection (nor an empty directory)")
    if fit_sample < 1:
        raise ValueError(f"The 'fit_sample' parameter must be at least 1. Got {fit_sample} instead.")
    name = encoder or DEFAULT_ENCODER[modality]
    if not existing:
        _check_new(name, modality, source, index, encoder_options)
    if ray:
        from . import cluster  # Ray is optional

        cluster.connect(ray)
        shards = shards or cluster.default_shards()
    if existing:
        scan = _Scan()
        with _open_for(collection, modality, device, db) as col:
            if ray:
                col.use_cluster(ray)
            report = _add_stream(col, _counting(iter_items(source), scan), None, progress, commit_every, None)
        if not scan.count:
            raise SourceError(f"{source}: no item could be read ({len(scan.rejected)} rejected)")
    else:
        scan = _scan(source, fit_sample, encoder_options.get("seed") or 0, progress)
        if not scan.count:
            raise SourceError(f"{source}: no item could be read ({len(scan.rejected)} rejected)")
        col, fit_s, probe = _create(
            scan.sample, scan.count, collection, modality=modality, encoder=name, index=index, radius=radius,
            device=device, progress=progress, db=db, memory_budget=memory_budget,
            target_latency_ms=target_latency_ms, shards=shards or 1, **encoder_options,
        )  # fmt: skip
        if ray:
            col.use_cluster(ray)
        # The second pass streams the source, unless the sample is all of it.
        items: Iterable[Item] = scan.sample if scan.count <= len(scan.sample) else _readable(source)
        scan.sample = []
        with col:
            report = _add_stream(col, items, scan.count, progress, commit_every, probe)
            _record_recall(col, probe)
        report.fitted, report.fit_s = True, fit_s
    report.rejected = scan.rejected
    report.notes = scan.notes
    return report


def _check_new(name: str, modality: str, source: str | Path, index: str | None, options: dict[str, Any]) -> None:
    """Refuse a wrong encoder or index for a new collection before reading and training."""
    if name in ENCODERS and ENCODERS[name].modality != modality:
        raise SourceError(f"{source}: a {modality} source, but encoder {name!r} is for {ENCODERS[name].modality}")
    if options.get("short_bits"):
        if index:
            raise ValueError("--index does not apply to two-stage codes (--short-bits); choose --radius instead")
        if not options.get("bits"):
            raise ValueError("--short-bits needs --bits for the long code (e.g. --short-bits 32 --bits 256)")
    elif index:
        check_spec(index, binary=bool(options.get("bits")))


def _counting(items: Iterable[Item | Rejected], scan: _Scan) -> Iterator[Item]:
    """Pass readable items on; count them, keep the rejected ones and the notes in ``scan``."""
    for item in items:
        if isinstance(item, Rejected):
            scan.rejected.append(item)
            continue
        if getattr(item, "note", None):
            scan.notes.append(f"{item.id}: {item.note}")
        scan.count += 1
        yield item


def _open_for(collection: Path, modality: str, device: str, db: str | None) -> Collection:
    col = Collection.open(collection, device=device, db=db)
    if col.modality != modality:
        col.close()
        raise CollectionError(f"{collection}: a {col.modality} collection cannot take {modality} items")
    return col


def _add_stream(
    col: Collection,
    items: Iterable[Item],
    total: int | None,
    progress: bool,
    commit_every: int,
    probe: RecallProbe | None,
) -> IndexReport:
    t0 = time.perf_counter()
    on_codes = probe.update if probe is not None else None
    batch = commit_every if col.on_cluster else 1000  # on a cluster one Ray Data job encodes a whole chunk
    result = col.add(
        items, batch_size=batch, progress=progress, commit_every=commit_every, total=total, on_codes=on_codes,
        keep_scores=False,
    )  # fmt: skip
    return IndexReport(collection=col.path, added=result.added, updated=result.updated, add_s=time.perf_counter() - t0)


def _create(
    sample: list[Item],
    count: int,
    collection: Path,
    *,
    modality: str,
    encoder: str,
    index: str | None,
    radius: int | None,
    device: str,
    progress: bool,
    db: str | None,
    memory_budget: int | None,
    target_latency_ms: float | None,
    shards: int = 1,
    **encoder_options: Any,
) -> tuple[Collection, float, RecallProbe | None]:
    """Fit an encoder on ``sample``, choose the index for ``count`` items, make the empty collection.

    Returns it, the seconds fitting took, and a recall probe (exact top-10 of a few sample items) when
    the index is approximate.
    """
    t0 = time.perf_counter()
    model = create_encoder(encoder, device=device, progress=progress, **encoder_options)
    model.fit(contents(sample))
    fit_s = time.perf_counter() - t0
    choice = None
    if not isinstance(model, TwoStageEncoder):
        binary = model.metric == "hamming"
        if index:
            choice = IndexChoice(index, "given (--index)", exact=index in ("IDMap2,Flat", "BFlat"))
        else:
            choice = choose_index(
                count, model.dim, binary=binary, train_items=len(sample), memory_budget=memory_budget,
                target_latency_ms=target_latency_ms,
            )  # fmt: skip
    col = Collection.create(
        collection, model, device=device, spec=choice.spec if choice else None, radius=radius, db=db,
        index_choice={**choice.as_dict(), "items": count} if choice else None, shards=shards,
    )  # fmt: skip
    probe = None
    if choice is not None and choice.nflip is not None:
        col.index.nflip = choice.nflip  # saved with the hash index
    if choice is not None and (not col.index.is_trained or not choice.exact):
        try:
            codes = _encode_sample(col, sample)
            col.index.train(codes)
        except (RuntimeError, ValueError) as exc:  # e.g. too few codes for the quantiser: leave nothing behind
            col.close()
            shutil.rmtree(collection, ignore_errors=True)
            raise CollectionError(f"{collection}: cannot train the index {choice.spec}: {exc}") from exc
        if not choice.exact:
            probe = RecallProbe(codes[:PROBE_QUERIES], k=10, metric=col.encoder.metric)
    return col, fit_s, probe


def _encode_sample(col: Collection, sample: list[Item], batch_size: int = 1000) -> np.ndarray:
    return np.concatenate(
        [col.encoder.encode(contents(sample[i : i + batch_size])) for i in range(0, len(sample), batch_size)]
    )


def _record_recall(col: Collection, probe: RecallProbe | None) -> None:
    """Measure the approximate index's recall@10 against exact search; keep it in the manifest."""
    if probe is None or "index_choice" not in col.manifest:
        return
    choice = dict(col.manifest["index_choice"], recall_at_10=round(probe.recall(col.index), 4))
    col.annotate(index_choice={**choice, "probe_queries": len(probe.queries)})


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
    if (collection / MANIFEST).exists():
        with _open_for(collection, modality, device, db) as col:
            return _add_stream(col, docs, len(docs), progress, commit_every, None)
    col, fit_s, probe = _create(
        docs, len(docs), collection, modality=modality, encoder=encoder, index=index, radius=radius, device=device,
        progress=progress, db=db, memory_budget=None, target_latency_ms=None, **encoder_options,
    )  # fmt: skip
    with col:
        report = _add_stream(col, docs, len(docs), progress, commit_every, probe)
        _record_recall(col, probe)
    report.fitted, report.fit_s = True, fit_s
    return report
