"""A collection: a fitted encoder, a FAISS index of codes and a metadata store, in one directory."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock, Timeout
from tqdm.auto import tqdm

from indexers import (
    DEFAULT_BINARY_SPEC,
    DEFAULT_SPEC,
    BinaryIndex,
    FloatIndex,
    IndexFileError,
    ShardedIndex,
    TwoStageIndex,
)
from indexers.files import atomic_write

from .encoders import Encoder, TextEncoder, TwoStageEncoder, load_encoder
from .errors import CollectionError, EncoderFileError, ItemNotFoundError, QueryError
from .hit import Hit
from .images import ImageError, to_pixels
from .manifest import read_manifest
from .sources import Document, ImageItem, contents
from .store import ItemRecord, MetadataStore, safe_url, sqlite_url

FORMAT = "ae-retrieval-collection"
FORMAT_VERSION = 1
MANIFEST = "collection.json"
ENCODER_DIR = "encoder"
INDEX_FILE = "index.faiss"
DB_FILE = "metadata.sqlite"
LOCK_FILE = "write.lock"
COMMIT_EVERY = 20_000  # items encoded between writes of the index file and the store
LOCK_TIMEOUT_S = 10.0  # how long a second writer waits for the first before giving up
SNIPPET_CHARS = 240
TWO_STAGE_SPEC = "two-stage"
DATABASE_ENV = "AER_DATABASE_URL"  # where a collection's metadata lives when it is not the embedded SQLite


@dataclass(frozen=True)
class AddReport:
    """What ``Collection.add`` did."""

    added: int
    updated: int
    outlier_scores: dict[str, float] = field(default_factory=dict)  # id -> reconstruction error (autoencoders)


Item = Document | ImageItem
CodeIndex = FloatIndex | BinaryIndex | TwoStageIndex | ShardedIndex
Query = Any  # text for text collections; a path, PIL image or array for image collections


class Collection:
    """Search a corpus by meaning: ``search(query)`` encodes the query, searches the index, joins the store."""

    def __init__(self, path: Path, encoder: Encoder, index: CodeIndex, store: MetadataStore, manifest: dict) -> None:
        self.path = path
        self.encoder = encoder
        self.index = index
        self.store = store
        self.manifest = manifest
        self._index_stamp = self._stamp()  # the index file as this process last read or wrote it
        self.on_cluster = False  # whether add() encodes with Ray Data (use_cluster)

    # --- making and opening -------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | Path,
        encoder: Encoder,
        *,
        device: str = "auto",
        spec: str | None = None,
        radius: int | None = None,
        db: str | None = None,
        index_choice: dict[str, Any] | None = None,
        shards: int = 1,
    ) -> Collection:
        """Make a new, empty collection around a fitted ``encoder``; refuse a non-empty directory.

        ``spec`` names the FAISS index (default ``IDMap2,Flat`` for real-valued codes, ``BFlat``
        — exact Hamming — for binary codes; ``BHash<b>`` for a hash lookup on short codes). A
        two-stage encoder gets a ``TwoStageIndex`` whose short-code lookup reaches ``radius`` bits.
        ``db``: a database URL (e.g. ``postgresql://user@host/dbname``, one database per collection) for
        the item metadata instead of ``metadata.sqlite`` in the directory; the URL is not saved (it may
        hold a password): pass it again to ``open``, or set ``AER_DATABASE_URL``. ``index_choice``: why
        this index (``indexers.IndexChoice.as_dict()``), kept in the manifest for ``info``. ``shards``: split
        the index into that many (key ``k`` in shard ``k % shards``), searched in parallel and merged —
        locally, or held by Ray actors when opened with ``ray=`` (see ``retrieval.cluster``).
        """
        path = Path(path)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise CollectionError(f"{path}: already exists and is not an empty directory")
        if shards < 1 or (shards > 1 and isinstance(encoder, TwoStageEncoder)):
            raise ValueError(f"The 'shards' parameter must be 1 for two-stage codes, else >= 1. Got {shards}.")
        # Built beside the target and renamed into place: a crash leaves no half-made collection at ``path``.
        building = path.with_name(f".{path.name}.creating-{os.getpid()}")
        shutil.rmtree(building, ignore_errors=True)
        building.mkdir(parents=True)
        encoder.save(building / ENCODER_DIR)
        use_gpu = device != "cpu"
        if isinstance(encoder, TwoStageEncoder):
            if spec not in (None, TWO_STAGE_SPEC):
                raise ValueError(f"two-stage codes take no index spec (got {spec!r}); choose the lookup radius instead")
            spec = TWO_STAGE_SPEC
            index: CodeIndex = TwoStageIndex(encoder.short_bits, encoder.bits, radius=radius or 2, use_gpu=use_gpu)
        else:
            binary = encoder.metric == "hamming"
            spec = spec or (DEFAULT_BINARY_SPEC if binary else DEFAULT_SPEC)
            make = (
                (lambda: BinaryIndex(encoder.dim, spec, use_gpu=use_gpu))
                if binary
                else (lambda: FloatIndex(encoder.dim, spec, metric=encoder.metric, use_gpu=use_gpu))
            )
            index = make() if shards == 1 else ShardedIndex.create(shards, make)
        manifest = {
            "format": FORMAT, "version": FORMAT_VERSION, "modality": encoder.modality,
            "index_spec": spec, "metric": encoder.metric, "collection_id": uuid.uuid4().hex,
            "store": "external" if db else "sqlite", **({"store_hint": safe_url(db)} if db else {}),
            **({"index_choice": index_choice} if index_choice else {}), **({"shards": shards} if shards > 1 else {}),
        }  # fmt: skip
        index.save(building / INDEX_FILE)
        MetadataStore(db or sqlite_url(building / DB_FILE), manifest["collection_id"]).close()
        (building / MANIFEST).write_text(json.dumps(manifest, indent=1))
        if path.exists():
            path.rmdir()  # the empty directory checked above
        os.replace(building, path)
        return cls(path, encoder, index, _store(path, manifest, db), manifest)

    @classmethod
    def open(
        cls, path: str | Path, *, device: str = "auto", db: str | None = None, ray: str | None = None
    ) -> Collection:
        """Open a collection made by ``create`` (or ``aer index``); ``db``: its database URL, if external.

        ``ray``: a Ray cluster address (``"auto"``, ``"local"``, ``"ray://head:10001"``): the index
        shards are loaded into Ray actors and searched in parallel, their top-k merged (``retrieval.cluster``).
        """
        path = Path(path)
        if not path.exists():
            raise CollectionError(f"{path}: no such collection (the directory does not exist)")
        manifest = _read_manifest(path)
        try:
            encoder = load_encoder(path / ENCODER_DIR, device=device, progress=False)
            index = _load_index(path / INDEX_FILE, manifest, use_gpu=device != "cpu")
        except (EncoderFileError, IndexFileError) as exc:
            raise CollectionError(f"{path}: damaged collection: {exc}") from exc
        col = cls(path, encoder, index, _store(path, manifest, db), manifest)
        col._drop_unlisted_codes()
        if ray:
            col.use_cluster(ray, encode=False)
        return col

    def use_cluster(self, address: str, *, encode: bool = True) -> None:
        """Hold the index shards (of a sharded collection) in Ray actors at ``address``; with ``encode``, ``add``
        encodes with Ray Data."""
        from . import cluster  # Ray is optional

        if isinstance(self.index, TwoStageIndex):
            raise CollectionError(f"{self.path}: two-stage collections cannot run on a cluster (yet)")
        cluster.connect(address)
        if isinstance(self.index, ShardedIndex):  # an unsharded index stays here (one actor would gain nothing)
            self.index = cluster.to_actors(self.index, self.manifest)
        if encode:
            cluster.encode_on_cluster(self)
            self.on_cluster = True

    def _drop_unlisted_codes(self) -> None:
        """Forget codes the store does not list: what a crash between the index write and the store
        commit leaves (the store is the record of what the collection holds)."""
        if len(self.index) == self.store.count():
            return
        stored = np.fromiter(self.store.labels().keys(), dtype=np.int64)
        extra = np.setdiff1d(self.index.keys(), stored)
        if len(extra):
            self.index.remove(extra)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Hold the collection's write lock and start from the files as the last writer left them."""
        lock = FileLock(str(self.path / LOCK_FILE), timeout=LOCK_TIMEOUT_S)
        try:
            lock.acquire()
        except Timeout as exc:
            raise CollectionError(
                f"{self.path}: another process is writing to this collection (lock {self.path / LOCK_FILE} held "
                f"for over {LOCK_TIMEOUT_S:.0f} s); try again when it has finished"
            ) from exc
        try:
            if self._stamp() != self._index_stamp:  # another writer changed it since
                self.index = _load_index(self.path / INDEX_FILE, self.manifest, use_gpu=self.index.use_gpu)
                self._index_stamp = self._stamp()  # (a cluster's actors are replaced by the local index)
            self._drop_unlisted_codes()
            yield
        finally:
            lock.release()

    def close(self) -> None:
        self.store.close()

    def annotate(self, **entries: Any) -> None:
        """Add ``entries`` to the manifest (``collection.json``, rewritten atomically)."""
        self.manifest.update(entries)
        atomic_write(self.path / MANIFEST, lambda tmp: Path(tmp).write_text(json.dumps(self.manifest, indent=1)))

    def __enter__(self) -> Collection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- adding -----------------------------------------------------------------------------

    @property
    def modality(self) -> str:
        """``text`` or ``image``: what this collection's items and queries are."""
        return self.encoder.modality

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
        """Encode and index ``items``; a known id is updated in place, not duplicated.

        ``items`` may be any iterable, a generator over a corpus larger than memory included: it is
        consumed ``commit_every`` items at a time, each chunk encoded ``batch_size`` at a time and then
        written to disk: first the index file (atomically), then the store in one transaction. A crash
        in between leaves codes the store does not list; they are dropped when the collection is next
        opened. One writer at a time: a second one waits for the lock (``LOCK_TIMEOUT_S``), then fails.

        With an autoencoder, each item's reconstruction error is stored as its outlier score and
        returned in the report (``AddReport.outlier_scores``; ``keep_scores=False`` leaves them in the
        store only, for streams too long to hold a score per item). ``total``: the item count, for the
        progress bar's ETA; ``on_codes(keys, codes)`` sees every encoded batch (e.g. a ``RecallProbe``).
        """
        added = updated = 0
        scores: dict[str, float] = {}
        bar = tqdm(total=total, desc="encoding", unit="item", disable=not progress, leave=False, smoothing=0.05)
        with self._writing(), bar:
            for chunk in _chunks(items, commit_every):
                docs = _dedupe(chunk)
                chunk_added, chunk_scores = self._add(docs, batch_size, bar, on_codes)
                added += chunk_added
                updated += len(docs) - chunk_added
                if keep_scores:
                    scores.update(chunk_scores)
        return AddReport(added=added, updated=updated, outlier_scores=scores)

    def _add(
        self, docs: list[Item], batch_size: int, bar: tqdm, on_codes: Callable | None
    ) -> tuple[int, dict[str, float]]:
        """Encode, index and commit one chunk; return how many were new and their outlier scores."""
        for d in docs:
            if (self.modality == "image") != isinstance(d, ImageItem):
                raise CollectionError(f"{d.id}: cannot add a {type(d).__name__} to a {self.modality} collection")
        known = self.store.keys_of([d.id for d in docs])
        next_key = self.store.next_key()
        keys, added = [], 0
        for d in docs:
            if d.id not in known:
                known[d.id], next_key = next_key, next_key + 1
                added += 1
            keys.append(known[d.id])
        scores: dict[str, float] = {}
        for start in range(0, len(docs), batch_size):
            batch, batch_keys = docs[start : start + batch_size], np.asarray(keys[start : start + batch_size])
            codes, errors = self.encode_batch(contents(batch))
            if errors is not None:
                scores.update(zip((d.id for d in batch), errors.tolist()))
            self.index.remove(batch_keys)  # the old codes of updated items
            self.index.add(batch_keys, codes)
            if on_codes is not None:
                on_codes(batch_keys, codes)
            bar.update(len(batch))
        self._commit(docs, keys, scores)
        return added, scores

    def encode_batch(self, batch: Any) -> tuple[np.ndarray, np.ndarray | None]:
        """Codes and reconstruction errors (``None`` for encoders that do not reconstruct) of a batch's
        contents; ``retrieval.cluster`` replaces it on a collection to encode across Ray workers."""
        return self.encoder.encode(batch), self.encoder.reconstruction_error(batch)

    def _stamp(self) -> tuple[int, int, int]:
        st = (self.path / INDEX_FILE).stat()
        return st.st_mtime_ns, st.st_size, st.st_ino

    def _save_index(self) -> None:
        self.index.save(self.path / INDEX_FILE)
        self._index_stamp = self._stamp()

    def update(self, item: Item) -> None:
        """Replace the stored item with ``item.id`` (its code, text or pixels and metadata)."""
        if not self.store.keys_of([item.id]):
            raise ItemNotFoundError(f"no item with id {item.id!r} in {self.path}")
        self.add([item])

    def delete(self, item_ids: Sequence[str]) -> int:
        """Remove the items with ``item_ids``; return how many there were (unknown ids are skipped).

        The store forgets them first, then the index file is rewritten: a crash in between leaves
        codes the store does not list, which are dropped on the next open, so a deleted item never
        comes back from ``search``.
        """
        with self._writing():
            keys = list(self.store.keys_of(list(item_ids)).values())
            if keys:
                self.store.delete(keys)
                self.index.remove(np.asarray(keys, dtype=np.int64))
                self._save_index()
            return len(keys)

    def _commit(self, items: list[Item], keys: list[int], scores: dict[str, float]) -> None:
        self._save_index()
        thumbs = [d.pixels.tobytes() for d in items] if self.modality == "image" else None
        self.store.upsert([_record(k, d, scores.get(d.id)) for k, d in zip(keys, items)], thumbs)

    # --- searching ----------------------------------------------------------------------------

    def __len__(self) -> int:
        return self.store.count()

    def encode(self, queries: Sequence[Query]) -> np.ndarray:
        """Codes of ``queries``; raise ``QueryError`` naming a query that cannot be encoded."""
        if self.modality == "image":
            return self.encoder.encode(np.stack([_query_pixels(q) for q in queries]))
        for q in queries:
            if not isinstance(q, str) or not q.strip():
                raise QueryError("empty query: give some words to search for")
        if isinstance(self.encoder, TextEncoder):
            return self.encoder.encode_counts(_known_words(self.encoder, queries))
        if isinstance(self.encoder, TwoStageEncoder) and isinstance(self.encoder.long, TextEncoder):
            _known_words(self.encoder.long, queries)
        return self.encoder.encode(queries)

    def search_codes(self, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Low level: top-``k`` ``(scores, keys)`` for each code row (key -1 where fewer exist)."""
        return self.index.search(codes, k)

    def search(self, query: Query, k: int = 10) -> list[Hit]:
        """The ``k`` items closest to ``query`` in code space, best first.

        ``query`` is text for a text collection; for an image collection, an image path, a PIL
        image or an ``HxWx3`` uint8 array.
        """
        return self.search_batch([query], k)[0]

    def search_batch(self, queries: Sequence[Query], k: int = 10) -> list[list[Hit]]:
        """``search`` for many queries at once (one encoder pass, one index search)."""
        if k < 1:
            raise ValueError(f"The 'k' parameter must be at least 1. Got {k} instead.")
        scores, keys = self.search_codes(self.encode(list(queries)), k)
        return self._hits(scores, keys)

    def pixels(self, item_ids: Sequence[str]) -> list[np.ndarray]:
        """The stored ``(32, 32, 3)`` pixels of image items (what ``--grid`` draws)."""
        keys = self.store.keys_of(item_ids)
        missing = [i for i in item_ids if i not in keys]
        if missing:
            raise ItemNotFoundError(f"no item with id {missing[0]!r} in {self.path}")
        blobs = self.store.thumbnails(keys.values())
        if len(blobs) < len(keys):
            raise CollectionError(f"{self.path}: no stored pixels (is this an image collection?)")
        return [np.frombuffer(blobs[keys[i]], dtype=np.uint8).reshape(32, 32, 3) for i in item_ids]

    def search_by_id(self, item_id: str, k: int = 10) -> list[Hit]:
        """The ``k`` items most like a stored item (the item itself left out)."""
        key = self.store.keys_of([item_id]).get(item_id)
        if key is None:
            raise ItemNotFoundError(f"no item with id {item_id!r} in {self.path}")
        code = self.index.reconstruct(key)[None, :]
        scores, keys = self.search_codes(code, k + 1)
        hits = [h for h in self._hits(scores, keys)[0] if h.id != item_id]
        return hits[:k]

    def _hits(self, scores: np.ndarray, keys: np.ndarray) -> list[list[Hit]]:
        records = self.store.by_keys(np.unique(keys[keys >= 0]).tolist())
        out = []
        for row_scores, row_keys in zip(scores, keys):
            hits = []
            for s, key in zip(row_scores, row_keys):
                r = records.get(int(key))
                if r is not None:  # key -1 (fewer items than k) or not yet in the store
                    hits.append(Hit(id=r.id, score=float(s), label=r.label, source=r.source, snippet=r.snippet))
            out.append(hits)
        return out

    # --- outliers -------------------------------------------------------------------------------

    def outlier_scores(self) -> dict[str, float]:
        """Each item's reconstruction error under the collection's autoencoder (higher = less typical).

        Empty for encoders that do not reconstruct (TF-IDF, pixels, MiniLM) and for items added
        before scores were kept (add them again to score them).
        """
        return self.store.outlier_scores()

    def outliers(self, k: int = 20) -> list[Hit]:
        """The ``k`` least typical items, as hits whose score is the outlier score."""
        return [Hit(id=r.id, score=float(r.outlier_score), label=r.label, source=r.source, snippet=r.snippet)
                for r in self.store.top_outliers(k)]  # fmt: skip

    # --- describing ----------------------------------------------------------------------------

    def labels(self) -> dict[int, str | None]:
        """Every item's label by index key (evaluation uses it with ``search_codes``)."""
        return self.store.labels()

    def info(self) -> dict[str, Any]:
        """What ``aer info`` prints."""
        return {
            "path": str(self.path),
            "items": len(self),
            "modality": self.encoder.modality,
            "encoder": self.encoder.describe(),
            **({"bits": self.encoder.bits} if self.encoder.bits else {"dim": self.encoder.dim}),
            **({"short_bits": self.encoder.short_bits} if isinstance(self.encoder, TwoStageEncoder) else {}),
            "metric": self.encoder.metric,
            "bytes_per_item": round(self.index.bytes_per_item(), 1),
            "store": self.manifest.get("store_hint", "metadata.sqlite"),
            "index": self.index.index_type(),
            **_choice_info(self.manifest.get("index_choice"), len(self)),
        }


def _choice_info(choice: dict[str, Any] | None, items: int) -> dict[str, Any]:
    """Why the collection has its index, the measured recall, and a hint when it has outgrown it."""
    if not choice:
        return {}
    out = {"index_reason": choice["reason"]}
    if choice.get("recall_at_10") is not None:
        out["index_recall_at_10"] = choice["recall_at_10"]
    chosen_for = choice.get("items") or 0
    if chosen_for and items > 10 * chosen_for:
        out["index_hint"] = (
            f"chosen for {chosen_for:,} items, now {items:,}: re-index into a new collection to choose again"
        )
    return out


def _load_index(file: Path, manifest: dict, use_gpu: bool) -> CodeIndex:
    """The index file of a collection, read as the kind its manifest names."""
    if manifest.get("index_spec") == TWO_STAGE_SPEC:
        return TwoStageIndex.load(file, use_gpu=use_gpu)
    spec = manifest.get("index_spec", DEFAULT_SPEC)
    if manifest.get("shards", 1) > 1:
        return ShardedIndex.load(file, shard_reader(manifest, use_gpu))
    if manifest.get("metric") == "hamming":
        return BinaryIndex.load(file, use_gpu=use_gpu)
    return FloatIndex.load(file, spec, use_gpu=use_gpu)


def shard_reader(manifest: dict, use_gpu: bool = False) -> Callable[[np.ndarray, str], FloatIndex | BinaryIndex]:
    """What rebuilds one shard of a collection's sharded index from its bytes."""
    spec = manifest.get("index_spec", DEFAULT_SPEC)
    if manifest.get("metric") == "hamming":
        return lambda data, name: BinaryIndex.from_bytes(data, name, use_gpu=use_gpu)
    return lambda data, name: FloatIndex.from_bytes(data, name, spec, use_gpu=use_gpu)


def _store(path: Path, manifest: dict, db: str | None) -> MetadataStore:
    """The collection's metadata store: the embedded SQLite file, or the external database it was made with."""
    if manifest.get("store") != "external":
        return MetadataStore(sqlite_url(path / DB_FILE), manifest.get("collection_id"))
    url = db or os.environ.get(DATABASE_ENV)
    if not url:
        raise CollectionError(
            f"{path}: its metadata is in an external database ({manifest.get('store_hint', 'URL not saved')}); "
            f"pass its URL (--db URL, or db= in Python) or set {DATABASE_ENV}"
        )
    return MetadataStore(url, manifest["collection_id"])


def _read_manifest(path: Path) -> dict:
    return read_manifest(path / MANIFEST, FORMAT, FORMAT_VERSION, CollectionError, "an ae-retrieval collection")


def _known_words(encoder: TextEncoder, queries: Sequence[str]) -> Any:
    """The count matrix of ``queries``; ``QueryError`` for a query with no word in the vocabulary."""
    counts = encoder.counts(queries)
    empty = np.flatnonzero(np.asarray(counts.sum(axis=1)).ravel() == 0)
    if len(empty):
        raise QueryError(
            f"no word of the query {queries[empty[0]]!r} is in the collection's vocabulary "
            "(only stop-words or unseen words)"
        )
    return counts


def _query_pixels(query: Query) -> np.ndarray:
    try:
        return to_pixels(query)
    except ImageError as exc:
        name = str(query) if isinstance(query, (str, Path)) else type(query).__name__
        raise QueryError(f"query image {name}: {exc}") from exc


def _chunks(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    """``items`` in lists of ``size`` (the last one shorter), read lazily."""
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _dedupe(items: list[Item]) -> list[Item]:
    """Keep the last item of each id."""
    return list({d.id: d for d in items}.values())


def _record(key: int, item: Item, outlier_score: float | None) -> ItemRecord:
    snippet = " ".join(item.text.split())[:SNIPPET_CHARS] if isinstance(item, Document) else ""
    return ItemRecord(
        key=key, id=item.id, source=item.source, label=item.label, snippet=snippet, outlier_score=outlier_score
    )
