"""A collection: a fitted encoder, an index of codes and a metadata store, searched as one.

Where its files are and how they are written safely is ``directory`` (in this package); which index runs is
``indexers.factory``; how a query becomes codes is the encoder's own business (``Encoder.encode_queries``). A
collection opened ``for_queries`` encodes text queries with the encoder's NumPy query side
(``encoders.text_query``: no torch, no scikit-learn) and loads the full encoder only when something needs it.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from indexers import CodeIndex, check_spec, create_index, default_spec

from ..batching import batched
from ..cluster import Cluster, EncodeFn
from ..defaults import COMMIT_EVERY
from ..device import check_device
from ..encoders.base import Encoder
from ..encoders.text_query import QueryEncoder, load_query_encoder
from ..errors import CollectionError, EncoderFileError, InvalidParameterError, ItemNotFoundError
from ..ids import id_list, normal_id
from ..progress import Bar
from ..progress import bar as progress_bar
from ..sources import Document, ImageItem, Rejected, check_item, contents
from . import directory, floats, inputs, keywords
from . import outliers as scoring
from .hits import Hit
from .passages import stored_snippet
from .search import Searching
from .snapshot import snapshot as _snapshot
from .store import ItemRecord, MetadataStore, safe_url, sqlite_url
from .summary import collection_info

Item = Document | ImageItem


@dataclass(frozen=True)
class AddReport:
    """What ``Collection.add`` did."""

    added: int
    updated: int
    outlier_scores: dict[str, float] = field(default_factory=dict)  # id -> reconstruction error (autoencoders)
    rejected: list[Rejected] = field(default_factory=list)  # items that could not be added, each with the reason
    encode_s: float = 0.0  # seconds in the encoder (the rest went to indexing and writing)


class Collection(Searching):
    """Search a corpus by meaning: ``search(query)`` encodes the query, searches the index, joins the store."""

    def __init__(
        self,
        path: Path,
        encoder: Encoder | QueryEncoder,
        index: CodeIndex,
        store: MetadataStore,
        manifest: dict[str, Any],
        cluster: Cluster | None = None,
        stamp: directory.Stamp | None = None,
        device: str = "auto",
    ) -> None:
        """``encoder``: the fitted encoder, or only its query side (``encoders.text_query``); the full encoder is
        then loaded from the collection's files onto ``device`` when something needs it (``encoder``)."""
        self.path = path
        self._encoder = encoder if isinstance(encoder, Encoder) else None
        self._queries: QueryEncoder = encoder
        self._device = device
        self.index = index
        self.store = store
        self.manifest = manifest
        self._cluster = cluster
        self._pool: EncodeFn | None = None
        if cluster is not None:
            self.index = cluster.hold_shards(index)
            self._pool = cluster.encoder_pool(self.encoder)
        # The index file as this process last read or wrote it, stamped BEFORE reading: a write in between
        # then reads as a change, never as the state this process holds.
        self._index_stamp = stamp or directory.stamp(path)

    # --- making and opening -------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | Path,
        encoder: Encoder,
        *,
        spec: str | None = None,
        train_codes: np.ndarray | None = None,
        device: str = "auto",
        db: str | None = None,
        index_choice: dict[str, Any] | None = None,
        cluster: Cluster | None = None,
        keep_text: bool = True,
        keep_float: bool | None = None,
    ) -> Collection:
        """Make a new, empty collection around a fitted ``encoder``; refuse a non-empty directory.

        ``spec``: the index (``indexers`` spec grammar; default exact, ``TwoStage<short bits>`` for two-stage
        codes), trained on ``train_codes`` if it needs it; built in a hidden sibling renamed into place. ``db``:
        a metadata database URL (never saved: pass it to ``open``, or set ``AER_DATABASE_URL``). ``keep_text``: a text
        collection stores each item's whole text (what ``item`` returns, and search snippets are chosen from), not
        only its snippet. ``keep_float``: a binary collection whose bits come from a float code keeps each item's
        float code to re-score the Hamming candidates (``floats``; ``None``: ``defaults.KEEP_FLOAT``)."""
        path = Path(path)
        spec = check_spec(spec or default_spec(encoder.metric, encoder.short_bits), encoder.metric)
        use_gpu = device != "cpu"
        with directory.atomic_build(path) as building:
            encoder.save(building / directory.ENCODER_DIR)
            directory.record_encoder(building)
            index = create_index(spec, encoder.dim, encoder.metric, use_gpu=use_gpu)
            if not index.is_trained:
                _train(index, train_codes, spec)
            directory.save_index(building, index)
            manifest = {
                "format": directory.FORMAT, "version": directory.FORMAT_VERSION, "modality": encoder.modality,
                "index_spec": spec, "metric": encoder.metric, "collection_id": uuid.uuid4().hex,
                "store": "external" if db else "sqlite", **({"store_hint": safe_url(db)} if db else {}),
                directory.DIGESTS_KEPT: directory.DIGESTS_FILE,
                **({"keep_text": bool(keep_text)} if encoder.modality == "text" else {}),
                **floats.manifest_entry(encoder, keep_float),
                **keywords.create(building, encoder.modality),  # an empty keyword index for a text collection
                **({"index_choice": index_choice} if index_choice else {}),
            }  # fmt: skip
            store_at = db or sqlite_url(building / directory.DB_FILE)
            MetadataStore(store_at, manifest["collection_id"], create=True).close()
            directory.write(building, manifest)
        return cls(path, encoder, index, directory.open_store(path, manifest, db), manifest, cluster)

    @classmethod
    def open(cls, path: str | Path, *, device: str = "auto", db: str | None = None, cluster: Cluster | None = None,
             for_queries: bool = False) -> Collection:  # fmt: skip
        """Open a collection made by ``create`` (or ``aer index``); ``db``: its database URL, if external.

        ``for_queries``: opened to search. A text encoder's queries are then encoded by its NumPy query side
        (``encoders.text_query``; the codes ``encode_queries`` gives on the CPU, without loading torch or
        scikit-learn), unless ``device`` is ``cuda`` or a ``cluster`` encodes; ``auto`` counts as the CPU here, a
        few queries cost less there than a GPU's transfers. The full encoder is loaded when something needs it
        (``encoder``: adding items, outlier scores, ``info``)."""
        path = Path(path)
        check_device(device)
        manifest = directory.read(path)
        if damaged := directory.damaged_files(path, manifest):
            raise CollectionError(f"{path}: damaged collection: {'; '.join(damaged)} (aer verify tells more)")
        light = for_queries and cluster is None and device in ("auto", "cpu")
        encoder = (light and load_query_encoder(path / directory.ENCODER_DIR)) or _load_encoder(path, device)
        stamp = directory.stamp(path)
        index = directory.load_index(path, manifest, use_gpu=device != "cpu")
        if index.dim != encoder.dim or manifest.get("modality") != encoder.modality:
            raise CollectionError(
                f"{path}: damaged collection: its index holds {index.dim}-wide codes, its {encoder.modality} encoder "
                f"makes {encoder.dim} ({manifest.get('modality')} in the manifest)"
            )
        col = cls(path, encoder, index, directory.open_store(path, manifest, db), manifest, cluster, stamp, device)
        col._drop_unlisted_codes()
        return col

    @property
    def encoder(self) -> Encoder:
        """The fitted encoder (read from the collection's files on first use when it was opened ``for_queries``)."""
        if self._encoder is None:
            self._encoder = _load_encoder(self.path, self._device)
        return self._encoder

    @property
    def on_cluster(self) -> bool:
        """Whether ``add`` encodes on a cluster (then one batch is one distributed job)."""
        return self._cluster is not None

    def _drop_unlisted_codes(self) -> None:
        """Forget codes the store does not list: what a crash between the index write and the store
        commit leaves (the store is the record of what the collection holds)."""
        if len(self.index) == self.store.count():
            return
        stored = np.fromiter(self.store.item_labels().keys(), dtype=np.int64)
        extra = np.setdiff1d(self.index.keys(), stored)
        if len(extra):
            self.index.remove(extra)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Hold the write lock, starting from the files as the last writer left them. A write failing at any step
        (index file, rename, store commit) reads the index back and drops codes the store lacks: ``len``,
        ``search`` and the files then agree as before it (one path for the library and the server)."""
        with directory.write_lock(self.path):
            try:
                self._resync(reread=False)  # inside: index shards lost on a cluster are held again from the file
                yield
            except BaseException:
                try:
                    self._resync(reread=True)
                except Exception:  # what failed the write fails this too: its error stands; the next write re-reads
                    self._index_stamp = None
                raise

    def _resync(self, reread: bool) -> None:
        """Make the index in memory the file's (read again when ``reread`` or another writer changed it; stamped
        BEFORE reading), less the codes the store does not list."""
        stamp = directory.stamp(self.path)
        if reread or stamp != self._index_stamp:
            index = directory.load_index(self.path, self.manifest, use_gpu=self.index.use_gpu)
            self.index = self._cluster.hold_shards(index) if self._cluster else index
            self._index_stamp = stamp
        self._drop_unlisted_codes()

    def stale(self) -> bool:
        """Whether another process has rewritten the index since this one read or wrote it (reopen to see it)."""
        return directory.stamp(self.path) != self._index_stamp

    def close(self) -> None:
        self.store.close()

    def annotate(self, **entries: Any) -> None:
        """Add ``entries`` to the manifest (rewritten atomically); a failed write is a CollectionError, no change."""
        updated = {**self.manifest, **entries}
        try:
            directory.write(self.path, updated)
        except OSError as exc:
            raise CollectionError(f"{self.path}: could not rewrite {directory.MANIFEST} ({exc})") from exc
        self.manifest.update(entries)

    __repr__ = inputs.describe  # <Collection news.aer: text, 300 items, ae 32 floats>
    snapshot = _snapshot  # col.snapshot(file): the collection as one archive, as one committed state

    def __enter__(self) -> Collection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- adding -----------------------------------------------------------------------------

    @property
    def modality(self) -> str:
        """``text`` or ``image``: what this collection's items and queries are."""
        return self._queries.modality

    def _encode(self, items: list[Any]) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Codes, reconstruction errors and, where the collection keeps them, float codes of raw ``items``."""
        return floats.encode(self.encoder, self._pool, items, floats.width(self.manifest) is not None)

    def add(
        self,
        items: Iterable[Item],
        *,
        batch_size: int = 1000,
        commit_every: int = COMMIT_EVERY,
        progress: bool = False,
        total: int | None = None,
        on_codes: Callable[[np.ndarray, np.ndarray], None] | None = None,
        keep_scores: bool = True,
    ) -> AddReport:
        """Encode and index ``items`` (a string: a Document, id ``inputs.text_id``); a known id is updated, not doubled.

        Each item is checked first (``sources.check_item``): a bad one (id, text, pixels) is left out and named in
        the report's ``rejected``, the others go in; ids are stored in NFC form. ``items`` may be any iterable (a stream larger than memory too): it is consumed ``commit_every``
        items at a time, each chunk encoded ``batch_size`` at a time, then written: the index file (atomically),
        then the store in one transaction (a failure in between puts the index file back). One writer at a time.
        Each item's reconstruction error (autoencoders) is stored as its outlier score and returned in the
        report unless ``keep_scores=False``. ``total``: the item count, for the progress bar;
        ``on_codes(keys, codes)`` sees every encoded batch (e.g. a ``RecallProbe``).
        """
        added = updated = 0
        encode_s = 0.0
        scores: dict[str, float] = {}
        rejected: list[Rejected] = []
        bar = progress_bar(desc="encoding", total=total, unit="item", enabled=progress, smoothing=0.05)
        with self._writing(), bar:
            for chunk in batched(map(check_item, map(inputs.as_item, items)), commit_every):
                rejected += [r for r in chunk if isinstance(r, Rejected)]
                docs = list({d.id: d for d in chunk if not isinstance(d, Rejected)}.values())  # the last of each id
                if not docs:
                    continue
                chunk_added, chunk_scores, chunk_s = self._add(docs, batch_size, bar, on_codes)
                added, encode_s = added + chunk_added, encode_s + chunk_s
                updated += len(docs) - chunk_added
                if keep_scores:
                    scores.update(chunk_scores)
        return AddReport(added=added, updated=updated, outlier_scores=scores, rejected=rejected, encode_s=encode_s)

    def _add(
        self, docs: list[Item], batch_size: int, bar: Bar, on_codes: Callable | None
    ) -> tuple[int, dict[str, float], float]:
        """Encode, index and commit one chunk; return how many were new, their outlier scores, seconds encoding."""
        inputs.check_modality(self.path, self.modality, docs)
        keys, added, next_key = self._keys_for(docs)
        scores: dict[str, float] = {}
        encode_s, float_codes = 0.0, []
        for start in range(0, len(docs), batch_size):
            batch, batch_keys = docs[start : start + batch_size], keys[start : start + batch_size]
            t0 = time.perf_counter()
            codes, errors, kept = self._encode(contents(batch))
            encode_s += time.perf_counter() - t0
            float_codes += floats.to_bytes(kept) if kept is not None else []
            if errors is not None:
                scores.update(zip((d.id for d in batch), errors.tolist()))
            self.index.remove(batch_keys)  # the old codes of updated items
            self.index.add(batch_keys, codes)
            if on_codes is not None:
                on_codes(batch_keys, codes)
            bar.update(len(batch))
        thumbs = [d.pixels.tobytes() for d in docs] if self.modality == "image" else None
        whole = self._keeps_text()
        records = [ItemRecord(key=k, id=d.id, source=d.source, label=d.label, snippet=stored_snippet(d),
                              outlier_score=scores.get(d.id), text=d.text if whole else None)
                   for k, d in zip(keys.tolist(), docs)]  # fmt: skip
        with directory.index_undo(self.path):  # a failed commit puts the index file back
            self._save_index()
            keywords.write(self, keys, docs)
            self.store.upsert(records, thumbs, next_key, float_codes or None)
        return added, scores, encode_s

    def _keys_for(self, docs: list[Item]) -> tuple[np.ndarray, int, int]:
        """Each item's index key (its stored one, or a never-used one), how many are new, the next free key."""
        known = self.store.keys_of([d.id for d in docs])
        new = [d.id for d in docs if d.id not in known]
        start = self.store.next_key()
        known.update(zip(new, range(start, start + len(new))))
        return np.array([known[d.id] for d in docs], dtype=np.int64), len(new), start + len(new)

    def _save_index(self) -> None:
        """Write the index (a failure is a ``StorageError``; the file in place is then the last one written)."""
        self._index_stamp = directory.save_index(self.path, self.index)

    def update(self, item: Item) -> None:
        """Replace the stored item with ``item.id`` (its code, text or pixels and metadata)."""
        if not self._keys_of([item.id]):
            raise ItemNotFoundError(f"no item with id {item.id!r} in {self.path}")
        self.add([item])

    def delete(self, item_ids: Sequence[str]) -> list[str]:
        """Remove the items with ``item_ids`` (a list of ids: a single string is an ``InvalidParameterError``,
        never read as one id per character); return the ids that were there (unknown ids are skipped).

        The index file is rewritten inside the store's transaction, which commits last (a failed commit puts the file
        back): a failed delete changes nothing. A crash between its rename and the commit leaves the items listed
        without a code (never in ``search``; ``verify`` names them; deleting them again completes it)."""
        item_ids = id_list(item_ids)
        with self._writing():
            found = self._keys_of(item_ids)
            if found:
                self.index.remove(keys := np.unique(np.fromiter(found.values(), dtype=np.int64)))
                with directory.index_undo(self.path), self.store.deleting(keys.tolist()):
                    self._save_index()
                    keywords.write(self, keys)
            return [i for i in dict.fromkeys(item_ids) if i in found]

    # --- outliers -------------------------------------------------------------------------------

    def outlier_scores(
        self, score: str = scoring.DEFAULT_SCORE, neighbours: int = scoring.DEFAULT_K
    ) -> dict[str, float]:
        """Each item's outlier score by id, higher = less typical: ``knn`` (distance to the ``neighbours``-th
        nearest other stored code; every encoder), ``reconstruction`` (the autoencoder's error, kept at add
        time), ``combined`` (their z-scores' mean), ``orientation`` (image autoencoders trained with the
        orientation head) or ``auto`` (orientation where there is one, else knn); see ``outliers``."""
        return scoring.outlier_scores(self, score, neighbours)

    def outliers(
        self, k: int = 20, score: str = scoring.DEFAULT_SCORE, neighbours: int = scoring.DEFAULT_K
    ) -> list[Hit]:
        """The ``k`` least typical items under ``score``, as hits whose score is the outlier score."""
        return scoring.top_outliers(self, k, score, neighbours)

    # --- describing ----------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """What ``aer info`` prints (``retrieval.collection.summary.summarise`` reads the same from the files alone)."""
        return collection_info(self)


def _load_encoder(path: Path, device: str) -> Encoder:
    from ..encoders import load_encoder  # torch and every encoder: only where the full encoder is needed

    try:
        return load_encoder(path / directory.ENCODER_DIR, device=device, progress=False)
    except EncoderFileError as exc:
        raise CollectionError(f"{path}: damaged collection: {exc}") from exc


def _train(index: CodeIndex, codes: np.ndarray | None, spec: str) -> None:
    """Train an index that needs it (IVF, PQ) on a sample's codes, with a clear error when it cannot be."""
    if codes is None or not len(codes):
        raise InvalidParameterError(f"The index {spec!r} needs training codes (train_codes=...); none were given.")
    try:
        index.train(codes)
    except (RuntimeError, ValueError) as exc:  # e.g. too few codes for the quantiser
        raise CollectionError(f"cannot train the index {spec}: {exc}") from exc
