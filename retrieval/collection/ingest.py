"""The one ingest path: read a source, fit an encoder on it (new collection), encode, index.

``index_source`` makes a collection (or adds to an existing one); ``add_source`` adds to an existing one. A
source is a path (see ``retrieval.sources``) or items already read (a list of ``Document`` / ``ImageItem``:
what the benchmarks pass).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from indexers import IndexChoice, RecallProbe, check_spec, choose_index

from ..batching import batched
from ..cluster import Cluster
from ..defaults import COMMIT_EVERY, DEFAULT_FIT_SAMPLE
from ..encoders import DEFAULT_ENCODER, ENCODERS, Encoder, create_encoder
from ..errors import CollectionError, InvalidParameterError, SourceError
from ..progress import bar as progress_bar
from ..sources import ImageItem, Rejected, check_item, contents, iter_items, source_modality
from . import directory, floats
from .collection import Collection, Item
from .store import check_new_database

PROBE_QUERIES = 200  # fit-sample items whose exact top-10 measures an approximate index's recall
ENCODE_BATCH = 1000  # items per encoder call while adding
EXACT_SPECS = ("IDMap2,Flat", "BFlat")

Source = str | Path | Sequence[Item]


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
    encode_s: float = 0.0  # of which in the encoder


@dataclass
class _Scan:
    """What a pass over a source saw: readable items counted, rejections and notes kept, a sample."""

    count: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sample: list[Item] = field(default_factory=list)

    def readable(self, items: Iterable[Item | Rejected]) -> Iterator[Item]:
        """Pass readable items on (checked by ``check_item``); count them, keep the rejected ones and the notes."""
        for item in items:
            item = item if isinstance(item, Rejected) else check_item(item)
            if isinstance(item, Rejected):
                self.rejected.append(item)
                continue
            if getattr(item, "note", None):
                self.notes.append(f"{item.id}: {item.note}")
            self.count += 1
            yield item


def scan(source: Source, sample_size: int, seed: int = 0, progress: bool = False, follow_links: bool = False) -> _Scan:
    """Read ``source`` once, keeping a seeded uniform (reservoir) sample of ``sample_size`` readable items
    (all of them, in order, when there are no more), their count, the rejections and the notes."""
    found = _Scan()
    rng = random.Random(seed)
    reading = progress_bar(_items(source, follow_links), desc="reading", unit="item", enabled=progress)
    for n, item in enumerate(found.readable(reading)):
        if len(found.sample) < sample_size:
            found.sample.append(item)
        elif (slot := rng.randrange(n + 1)) < sample_size:
            found.sample[slot] = item
    return found


def _items(source: Source, follow_links: bool = False) -> Iterator[Item | Rejected]:
    if isinstance(source, Sequence) and not isinstance(source, str):
        return iter(source)
    return iter_items(source, follow_links)


def _readable(source: Source, follow_links: bool = False) -> Iterator[Item]:
    """The readable items of ``source`` (a second pass: the first one counted what was rejected)."""
    return (item for item in _items(source, follow_links) if not isinstance(item, Rejected))


def _modality(source: Source) -> str:
    if isinstance(source, Sequence) and not isinstance(source, str):
        if not source:
            raise SourceError("no items given")
        return "image" if isinstance(source[0], ImageItem) else "text"
    return source_modality(source)


def _name(source: Source) -> str:
    return "the given items" if isinstance(source, Sequence) and not isinstance(source, str) else str(source)


def index_source(
    source: Source,
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
    follow_links: bool = False,
    keep_text: bool | None = None,
    keep_float: bool | None = None,
    **encoder_options: Any,
) -> IndexReport:
    """Index ``source`` into ``collection``, streaming: memory stays flat however large the source.

    A new collection gets an encoder of kind ``encoder`` (default: ``ae`` for text, ``conv-ae``
    for images) fitted on a seeded sample of ``fit_sample`` items (the whole source when smaller),
    and an index chosen from the source's size, ``memory_budget`` (bytes) and ``target_latency_ms``
    (``indexers.choose_index``) unless ``index`` names one (a spec string of ``indexers.factory``). The
    source is then read a second time and encoded and added in batches. An existing collection keeps its
    encoder and index and gets the items added (``add_source``). ``short_bits`` (with ``bits``) among the
    encoder options makes a two-stage collection: a short-code hash lookup within ``radius`` bits,
    re-ranked by the long code.

    ``ray``: a Ray cluster address (``auto``, ``local``, ``ray://head:10001``): items are encoded with Ray
    Data across the cluster's workers and the index is built as ``shards`` shards (default: one per CPU)
    held by Ray actors. ``shards`` without ``ray`` splits the index the same way in this process.

    ``follow_links``: follow symlinks in a source folder that point outside it (by default they are rejected,
    like FIFOs, sockets and devices, which are never opened). Each rejected item is in the report's
    ``rejected`` with its reason; the others are indexed.

    ``keep_text``: a new text collection stores each item's whole text (default), from which a search chooses
    the passage it shows; ``False`` keeps only a snippet (the start of each text, past any mail headers).

    ``keep_float``: a new binary collection whose bits come from a float code (bits by rotation) keeps each item's
    float code too, in its store, and a search re-scores the Hamming candidates with them (``floats``); unset:
    ``retrieval.defaults.KEEP_FLOAT`` for a binary text collection, else no.
    """
    collection = Path(collection)
    if directory.is_collection(collection):
        given = {"encoder": encoder, "index": index, "radius": radius, "shards": shards, "keep_text": keep_text,
                 "keep_float": keep_float, **encoder_options}  # fmt: skip
        if fixed := sorted(k for k, v in given.items() if v is not None):
            raise InvalidParameterError(
                f"{collection}: the collection exists and keeps its encoder and index; "
                f"{', '.join(map(repr, fixed))} apply to a new collection only"
            )
        return add_source(collection, source, device=device, progress=progress, commit_every=commit_every, db=db,
                          ray=ray, follow_links=follow_links)  # fmt: skip
    directory.check_new_target(collection)  # before reading and training, which can take minutes
    if db:
        check_new_database(db)
    if fit_sample < 1:
        raise InvalidParameterError(f"The 'fit_sample' parameter must be at least 1. Got {fit_sample} instead.")
    modality = _modality(source)
    model = _new_encoder(encoder or DEFAULT_ENCODER[modality], modality, source, device, progress, encoder_options)
    spec = _given_spec(model, index, radius)
    floats.manifest_entry(model, keep_float)  # an encoder that cannot keep them is refused before training
    cluster = _cluster(ray)
    if cluster is not None:
        from ..cluster import default_shards  # Ray is optional

        shards = shards or default_shards()
    t0 = time.perf_counter()
    found = scan(source, fit_sample, encoder_options.get("seed") or 0, progress, follow_links)
    read_s = time.perf_counter() - t0
    if not found.count:
        raise SourceError(_nothing_read(source, found))
    t0 = time.perf_counter()
    model.fit(contents(found.sample))
    fit_s = time.perf_counter() - t0
    choice = _choose(model, spec, found, memory_budget, target_latency_ms)
    full_spec = choice.spec if shards in (None, 1) else f"Shards{shards},{choice.spec}"
    train_codes = None if choice.exact else _encode(model, found.sample)
    col = Collection.create(
        collection, model, spec=full_spec, train_codes=train_codes, device=device, db=db,
        index_choice={**choice.as_dict(), "items": found.count}, cluster=cluster, keep_text=keep_text is not False,
        keep_float=keep_float,
    )  # fmt: skip
    probe = None if train_codes is None else RecallProbe(train_codes[:PROBE_QUERIES], k=10, metric=model.metric)
    # The second pass streams the source, unless the sample is all of it.
    items = found.sample if found.count <= len(found.sample) else _readable(source, follow_links)
    found.sample = []
    with col:
        report = _add_stream(col, items, found.count, progress, commit_every, probe)
        if probe is not None:
            choice_info = dict(col.manifest["index_choice"], recall_at_10=round(probe.recall(col.index), 4))
            col.annotate(index_choice={**choice_info, "probe_queries": len(probe.queries)})
        # the first pass reads and samples, the second (streamed) read is part of encoding and indexing
        col.annotate(build={"read_s": round(read_s, 1), "fit_s": round(fit_s, 1), "encode_s": round(report.encode_s, 1),
                            "index_s": round(report.add_s - report.encode_s, 1)})  # fmt: skip
    report.rejected, report.notes = found.rejected, found.notes
    report.fitted, report.fit_s = True, fit_s
    return report


def add_source(
    collection: str | Path,
    source: Source,
    *,
    device: str = "auto",
    progress: bool = False,
    commit_every: int = COMMIT_EVERY,
    db: str | None = None,
    ray: str | None = None,
    follow_links: bool = False,
) -> IndexReport:
    """Encode ``source``'s items with the collection's encoder and add them (known ids are updated);
    ``follow_links`` as for ``index_source``."""
    collection = Path(collection)
    if not directory.is_collection(collection):
        raise CollectionError(f"{collection}: no such collection (make one with index_source)")
    modality = _modality(source)
    seen = _Scan()
    with Collection.open(collection, device=device, db=db, cluster=_cluster(ray)) as col:
        if col.modality != modality:
            raise CollectionError(f"{collection}: a {col.modality} collection cannot take {modality} items")
        report = _add_stream(col, seen.readable(_items(source, follow_links)), None, progress, commit_every, None)
    if not seen.count:
        raise SourceError(_nothing_read(source, seen))
    report.rejected, report.notes = seen.rejected, seen.notes
    return report


def _nothing_read(source: Source, seen: _Scan) -> str:
    reasons = "; ".join(map(str, seen.rejected[:5])) + ("; ..." if len(seen.rejected) > 5 else "")
    why = f" ({len(seen.rejected)} rejected: {reasons})" if reasons else ""
    return f"{_name(source)}: no item could be read{why}"


def _cluster(ray: str | None) -> Cluster | None:
    if not ray:
        return None
    from ..cluster import RayCluster  # Ray is optional

    return RayCluster(ray)


def _new_encoder(
    name: str, modality: str, source: Source, device: str, progress: bool, options: dict[str, Any]
) -> Encoder:
    """The unfitted encoder of a new collection; a wrong kind for the source is refused before reading."""
    if name in ENCODERS and ENCODERS[name].modality != modality:
        kind = ENCODERS[name].modality
        raise SourceError(f"{_name(source)}: a {modality} source, but encoder {name!r} is for {kind}")
    return create_encoder(name, device=device, progress=progress, **options)


def _given_spec(model: Encoder, index: str | None, radius: int | None) -> str | None:
    """The index spec the caller asked for (checked now, before training), or ``None`` to choose one."""
    if model.short_bits:
        if index:
            raise InvalidParameterError(
                f"The 'index' parameter does not apply to two-stage codes (short_bits); give 'radius'. Got {index!r}."
            )
        return f"TwoStage{model.short_bits}" + (f",radius={radius}" if radius is not None else "")
    if radius is not None:
        raise InvalidParameterError(
            f"The 'radius' parameter applies to two-stage codes (short_bits) only. Got {radius} instead."
        )
    return check_spec(index, model.metric) if index else None


def _choose(
    model: Encoder, spec: str | None, seen: _Scan, memory_budget: int | None, target_latency_ms: float | None
) -> IndexChoice:
    if spec is not None:
        return IndexChoice(spec, "given", exact=spec in EXACT_SPECS or spec.startswith("TwoStage"))
    return choose_index(
        seen.count, model.dim, binary=model.metric == "hamming", train_items=len(seen.sample),
        memory_budget=memory_budget, target_latency_ms=target_latency_ms,
    )  # fmt: skip


def _encode(model: Encoder, items: list[Item]) -> np.ndarray:
    return np.concatenate([model.encode(contents(batch)) for batch in batched(items, ENCODE_BATCH)])


def _add_stream(
    col: Collection, items: Iterable[Item], total: int | None, progress: bool, commit_every: int,
    probe: RecallProbe | None,
) -> IndexReport:  # fmt: skip
    t0 = time.perf_counter()
    batch = commit_every if col.on_cluster else ENCODE_BATCH  # on a cluster one round of Ray tasks encodes a whole chunk
    result = col.add(
        items, batch_size=batch, progress=progress, commit_every=commit_every, total=total,
        on_codes=probe.update if probe is not None else None, keep_scores=False,
    )  # fmt: skip
    return IndexReport(collection=col.path, added=result.added, updated=result.updated, add_s=time.perf_counter() - t0,
                       encode_s=result.encode_s)  # fmt: skip
