"""How a collection answers searches: encode the queries, search the index (among the items a filter lets
through), join the hits' metadata from the store; and reads one stored item or its pixels. ``Collection`` takes
these methods from :class:`Searching`: the read side of a collection (nothing here writes), kept apart from
``collection.py``'s writes (add, update, delete and the write lock)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from indexers import CodeIndex

from ..encoders.base import Encoder
from ..encoders.text_query import QueryEncoder
from ..errors import CollectionError, InvalidParameterError, ItemNotFoundError
from ..ids import encodable, id_list, normal_id
from . import directory, floats, hybrid
from .inputs import check_queries, is_a
from .filters import Where as ParsedWhere
from .filters import parse_where, report, unknown_label_notes
from .hits import Hit, assemble_hits
from .passages import SCAN_CHARS, with_passages
from .store import ItemRecord, MetadataStore

Query = Any  # text for text collections; a path, PIL image or array for image collections
Where = Mapping[str, Any] | None
FILTER_CACHE = 32  # filters whose matching keys a collection keeps between searches
ROW_CACHE = 50_000  # hits' store rows a collection keeps between searches (a few hundred bytes each)


class Searching:
    """The search methods of a collection (its ``path``, ``encoder``, ``index`` and ``store``; ``_queries``: what
    encodes its queries, the encoder or its query side)."""

    path: Path
    encoder: Encoder
    _queries: QueryEncoder
    index: CodeIndex
    store: MetadataStore
    manifest: dict[str, Any]

    def __len__(self) -> int:
        """Items in this process's view of the index (another process's later writes show after a reopen)."""
        return len(self.index)

    def encode(self, queries: Sequence[Query]) -> np.ndarray:
        """Codes of ``queries``; raise ``QueryError`` naming a query that cannot be encoded."""
        return self._queries.encode_queries(check_queries(self.path, self._queries.modality, queries))

    def search_codes(self, codes: np.ndarray, k: int, where: Where = None) -> tuple[np.ndarray, np.ndarray]:
        """Low level: top-``k`` ``(scores, keys)`` for each code row (key -1 where fewer exist), among the items
        ``where`` lets through (see ``retrieval.collection.filters``)."""
        allowed = self.matching_keys(where)
        if allowed is None:
            return self.index.search(codes, k)
        return self.index.search_among(codes, k, allowed)

    def code_search(
        self, queries: Sequence[Query], k: int, where: Where = None, oversample: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` ``(scores, keys)`` of ``queries`` by their codes: ``search_codes`` of their codes, or, where the
        collection keeps float codes, its top ``k × oversample`` re-scored exactly with them (``floats``; default
        ``defaults.OVERSAMPLE``, 0: the bits alone)."""
        factor = floats.factor(self.manifest, oversample, self.path)
        if not factor:
            return self.search_codes(self.encode(queries), k, where)
        checked = check_queries(self.path, self._queries.modality, queries)
        codes, query_floats = self._queries.encode_queries_with_floats(checked)  # type: ignore[attr-defined]
        return self._rescored(codes, query_floats, k, where, factor)

    def _rescored(
        self, codes: np.ndarray, query_floats: np.ndarray, k: int, where: Where, factor: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """The Hamming top ``k × factor`` of ``codes`` re-scored with the stored float codes, top ``k`` kept."""
        _, keys = self.search_codes(codes, min(floats.candidates(k, factor), max(k, len(self.index))), where)
        found = np.unique(keys[keys >= 0]).tolist()
        stored = floats.from_bytes(self.store.float_codes(found), floats.width(self.manifest) or 0)
        return floats.rescore(query_floats, keys, stored, k)

    def matching_keys(self, where: Where) -> np.ndarray | None:
        """The index keys of the items ``where`` lets through; ``None`` when it lets every item through."""
        found = self._filtered(where)
        return None if found is None else found[0]

    def filter_warnings(self, where: Where) -> list[str]:
        """What a search with ``where`` warns of: a message for each of its labels that no item has, naming the
        nearest labels (``[]`` when every label is known)."""
        found = self._filtered(where)
        return unknown_label_notes(found[1], self.labels()) if found is not None and found[1] else []

    def _filtered(self, where: Where) -> tuple[np.ndarray, tuple[str, ...]] | None:
        """The keys ``where`` lets through and its labels that no item has; ``None`` for no filter."""
        parsed = parse_where(where)
        if parsed is None:
            return None
        # Kept per filter while the index file is as it was: any write (here or in another process) rewrites
        # it, and the keys of items this process's index lacks are ignored by the search anyway.
        stamp = self._stamp()
        cache: dict[ParsedWhere, tuple[directory.Stamp, np.ndarray, tuple[str, ...]]]
        cache = self.__dict__.setdefault("_filter_cache", {})
        cached = cache.get(parsed)
        if cached is not None and stamp is not None and cached[0] == stamp:
            return cached[1], cached[2]
        keys = self.store.keys_where(parsed.labels, parsed.id_prefix)
        present = self.store.labels_present(parsed.labels) if parsed.labels else set()
        unknown = tuple(label for label in parsed.labels or () if label not in present)
        if stamp is not None:
            if len(cache) >= FILTER_CACHE:
                cache.clear()  # start over: safe beside other threads' reads, unlike evicting while they iterate
            cache[parsed] = (stamp, keys, unknown)
        return keys, unknown

    def labels(self) -> dict[str, int]:
        """The collection's distinct labels with how many items have each, most items first, then by name (no
        label and an empty one are not labels)."""
        return self.store.label_counts()

    def item_labels(self) -> dict[int, str | None]:
        """Every item's label by index key (evaluation uses it with ``search_codes``)."""
        return self.store.item_labels()

    def search(
        self, query: Query, k: int = 10, *, where: Where = None, mode: str | None = None, offset: int = 0,
        oversample: float | None = None,
    ) -> list[Hit]:  # fmt: skip
        """The ``k`` items closest to ``query``, best first. ``query`` is text for a text collection; for an image
        collection, an image path, a PIL image or an ``HxWx3`` uint8 array. ``where`` keeps only matching items,
        e.g. ``{"label": ["sci.space", "sci.med"], "id_prefix": "train/"}``; the search is exact among them. A
        label no item has gives an ``UnknownLabelWarning`` naming the nearest labels (``filters``).

        ``offset``: skip that many of the best hits first (the next page of ``k``: ``offset=k``); the index is
        asked for ``offset + k``. Pages are disjoint and in order on an exhaustive index (``Flat``, ``BFlat``)
        and for a filtered search (exact among the matching items). On an approximate index (IVF, HNSW,
        hashing, two-stage) a deeper search can find items a shallower one missed, so deep pages are approximate:
        an item may repeat on the next page or be skipped. ``hybrid`` takes its rankings deeper as ``offset``
        grows, so its later pages can reorder too.

        ``mode`` (text collections): ``codes``, the nearest codes (``k`` hits whenever ``k`` items match);
        ``keyword``, BM25 over the items' words (only items holding a query word; the score is BM25's);
        ``hybrid``, both rankings fused by reciprocal rank fusion (the score is the fused one; see
        ``retrieval.collection.hybrid``). Default: ``retrieval.defaults.SEARCH_MODE`` where the collection keeps
        a keyword index, else ``codes``.

        ``oversample`` (binary collections that keep float codes, ``floats``): the codes' side takes the index's top
        ``(offset + k) × oversample`` by Hamming distance and orders them by the cosine of their float codes to the
        query's, scoring each hit by it (default ``defaults.OVERSAMPLE``; 0: the Hamming ranking alone). Deeper
        pages take more candidates, so, as on an approximate index, an item can move between pages."""
        return self._search_batch([query], k, where, mode, offset, oversample)[0]

    def search_batch(
        self, queries: Sequence[Query], k: int = 10, *, where: Where = None, mode: str | None = None, offset: int = 0,
        oversample: float | None = None,
    ) -> list[list[Hit]]:  # fmt: skip
        """``search`` for many queries at once (one encoder pass, one index search, one store read)."""
        return self._search_batch(queries, k, where, mode, offset, oversample)

    def _search_batch(
        self, queries: Sequence[Query], k: int, where: Where, mode: str | None, offset: int,
        oversample: float | None = None,
    ) -> list[list[Hit]]:  # fmt: skip
        check_k(k)
        check_offset(offset)
        queries = check_queries(self.path, self._queries.modality, queries)  # "news.aer is a text collection: ..."
        mode = hybrid.resolve_mode(self, mode)
        floats.factor(self.manifest, oversample, self.path)  # checked whatever the mode
        report(self.filter_warnings(where), stacklevel=3)  # the warning points at the caller of search(_batch)
        depth = offset + k
        if mode == "codes":
            scores, keys = self.code_search(queries, depth, where, oversample)
        else:
            scores, keys = hybrid.search(self, list(queries), depth, where, mode, oversample)
        return self._hits(scores[:, offset:], keys[:, offset:], queries)

    def search_by_id(
        self, item_id: str, k: int = 10, *, where: Where = None, offset: int = 0, oversample: float | None = None
    ) -> list[Hit]:
        """The ``k`` items most like a stored item (the item itself left out), among those ``where`` lets through;
        ``offset`` and ``oversample`` (its stored float code re-scoring the candidates) as in ``search``."""
        check_k(k)
        check_offset(offset)
        factor = floats.factor(self.manifest, oversample, self.path)  # 0: the bits alone
        key = self._keys_of([item_id]).get(item_id)
        if key is None:
            raise ItemNotFoundError(f"no item with id {item_id!r} in {self.path}")
        try:
            code = self.index.reconstruct(key)[None, :]
        except KeyError:
            raise ItemNotFoundError(f"{item_id!r} is listed in {self.path} but has no code in its index") from None
        report(self.filter_warnings(where))
        width = floats.width(self.manifest)
        own = floats.from_bytes(self.store.float_codes([key]), width).get(key) if factor and width else None
        if own is not None:
            scores, keys = self._rescored(code, own[None, :], offset + k + 1, where, factor)
        else:
            scores, keys = self.search_codes(code, offset + k + 1, where)
        hits = [h for h in self._hits(scores, keys, [None])[0] if h.id not in (item_id, normal_id(item_id))]
        return hits[offset : offset + k]

    def item(self, item_id: str) -> ItemRecord:
        """What the store holds of one item (id, label, source, snippet, and its whole ``text`` where the collection
        keeps texts); ``ItemNotFoundError`` if unknown."""
        key = self._keys_of([item_id]).get(item_id)
        record = None if key is None else self.store.by_keys([key]).get(key)
        if record is None:
            raise ItemNotFoundError(f"no item with id {item_id!r} in {self.path}")
        return record._replace(text=self.store.texts([key]).get(key)) if self._keeps_text() else record

    def pixels(self, item_ids: Sequence[str]) -> list[np.ndarray]:
        """The stored ``(32, 32, 3)`` pixels of image items (what a result grid draws); ``item_ids``: a list of
        ids (a single string is an ``InvalidParameterError``)."""
        item_ids = id_list(item_ids)
        if self._queries.modality != "image":
            raise CollectionError(f"{is_a(self.path, 'text')}: it has no pixels to show")
        keys = self._keys_of(item_ids)
        missing = [i for i in item_ids if i not in keys]
        if missing:
            raise ItemNotFoundError(f"no item with id {missing[0]!r} in {self.path}")
        pixels = self.store.thumbnail_pixels(keys.values())
        if len(pixels) < len(keys):
            lost = next(i for i in item_ids if keys[i] not in pixels)
            raise CollectionError(f"{self.path}: no stored pixels for {lost!r}")
        return [pixels[keys[i]] for i in item_ids]

    def _keys_of(self, item_ids: Sequence[str]) -> dict[str, int]:
        """The index key of each stored id among ``item_ids``, found as given or in NFC form (how ids are stored);
        an id that cannot be stored (not valid Unicode) is simply not found."""
        forms = {i: normal_id(i) for i in item_ids if isinstance(i, str) and encodable(i)}
        found = self.store.keys_of(list({*forms, *forms.values()}))
        return {i: found[i] if i in found else found[n] for i, n in forms.items() if i in found or n in found}

    def _hits(self, scores: np.ndarray, keys: np.ndarray, queries: Sequence[Query]) -> list[list[Hit]]:
        """The hits of each query row; a text item's snippet is the passage of its text that best matches the
        row's query (``passages``), its words marked."""
        found = keys[keys >= 0]
        found = (np.unique(found) if len(keys) > 1 else found).tolist()
        rows = self._rows(found)
        hits = assemble_hits(scores, keys, rows)
        if self._queries.modality != "text":
            return hits
        texts = self.store.texts(found, SCAN_CHARS) if self._keeps_text() else {}
        return with_passages(hits, queries, {rows[key][1]: text for key, text in texts.items() if key in rows})

    def _keeps_text(self) -> bool:
        """Whether the collection stores its items' whole texts (collections made before texts were stored do not)."""
        return bool(self.manifest.get("keep_text"))

    def _rows(self, keys: list[int]) -> dict[int, tuple]:
        """The store's rows of ``keys``, through a cache kept while the index file is unchanged (every write
        rewrites it): popular items recur across searches, and a row read costs more than the search itself."""
        stamp = self._stamp()
        cached = self.__dict__.get("_row_cache")
        if stamp is None or cached is None or cached[0] != stamp or len(cached[1]) > ROW_CACHE:
            cached = (stamp, {})  # a new dict, not a cleared one: another thread may be reading the old one
            self._row_cache = cached
        rows = cached[1]
        out = {key: row for key in keys if (row := rows.get(key)) is not None}
        missing = [key for key in keys if key not in out]
        if missing:
            fetched = self.store.rows_by_keys(missing)
            out.update(fetched)
            if stamp is not None:
                rows.update(fetched)
        return out

    def _stamp(self) -> directory.Stamp | None:
        try:
            return directory.stamp(self.path)
        except OSError:  # the index file is gone: nothing can be cached safely
            return None


def check_k(k: int) -> None:
    """Refuse a ``k`` that is not a positive int."""
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise InvalidParameterError(f"The 'k' parameter must be an int of at least 1. Got {k!r} instead.")


def check_offset(offset: int) -> None:
    """Refuse an ``offset`` that is not an int of at least 0."""
    if not isinstance(offset, (int, np.integer)) or isinstance(offset, bool) or offset < 0:
        raise InvalidParameterError(f"The 'offset' parameter must be an int of at least 0. Got {offset!r} instead.")
