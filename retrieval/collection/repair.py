"""Mending what ``verify`` finds, where that is safe (``aer repair``): a deleted digests file re-created, codes
the store does not list dropped, and the index (with the keyword index, where the collection keeps one) rebuilt
by re-encoding the items from their sources when the index or keyword file is lost or damaged, or items are
listed without a code.

The store keeps each item's id, key and ``source`` (a file, ``archive::member``, ``file.jsonl:line``). The
container an item came from is worked out from that: the folder a text or image file was read from (its source
path less its id), the archive before ``::``, the JSONL file before ``:line``. Each container still reachable is
read again with the reader ``aer index`` used, and its items matched to the store's by id. Only when EVERY
listed item is found is a new index written (same spec, same keys, trained on the new codes where the spec
needs it), so a rebuild never silently drops what was indexed. The encoder is never retrained: a damaged
encoder cannot be mended here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from indexers import create_index

from ..encoders import load_encoder
from ..errors import RetrievalError
from ..sources import Rejected, contents, iter_items
from . import directory
from .collection import Collection
from .keywords import KeywordIndex
from .store import ItemRecord
from .verify import verify

ENCODE_BATCH = 2048


def container_of(record: ItemRecord) -> Path | None:
    """The source ``aer index`` read ``record`` from, as it names it; ``None`` when it cannot be told."""
    source = record.source or ""
    if "::" in source:  # 20 Newsgroups / CIFAR archive member
        return Path(source.split("::", 1)[0])
    head, sep, line = source.rpartition(":")
    if sep and line.isdigit() and head.endswith(".jsonl"):
        return Path(head)
    if source.endswith(record.id):  # a file in a folder: the id is its path below the folder
        root = source[: len(source) - len(record.id)].rstrip("/")
        return Path(root) if root else None
    return None


def repair(path: str | Path, db: str | None = None) -> list[str]:
    """Do what is safe: re-create a deleted ``digests.json`` when every other check passes; drop codes the store
    does not list; when the index is lost or damaged, or items are listed without a code, rebuild the index by
    re-encoding every item from its source (``rebuild_index``), if every source is still reachable. Return what was
    done; refuse damage it cannot mend, saying why."""
    found = verify(path, db)
    if found.ok:
        return []
    if any(p.startswith(f"{directory.DIGESTS_FILE}: missing") for p in found.problems):
        if len(found.problems) > 1:  # digests of damaged files would bless them
            raise RetrievalError(f"{found.path}: cannot repair: {'; '.join(found.problems)} ({directory.DIGESTS_FILE} "
                                 "is re-created only once every other check passes)")  # fmt: skip
        with directory.write_lock(found.path):
            directory.record_digests(found.path, directory.read(found.path))
        return [f"re-created {directory.DIGESTS_FILE} from the files as they are (every other check passed)"]
    fixable = [p for p in found.problems if "not listed in the store" in p]
    if len(fixable) == len(found.problems):
        with Collection.open(found.path, device="cpu", db=db) as col, col._writing():  # the writer drops them
            col._save_index()
        return [f"dropped {len(found.unlisted_keys):,} codes the store did not list"]
    # Never re-encode with a changed encoder; a damaged store is the record itself (restore it from a backup).
    if any(p.startswith((directory.ENCODER_DIR, "store:")) for p in found.problems):
        raise RetrievalError(f"{found.path}: cannot repair: {'; '.join(found.problems)}")
    try:
        done = rebuild_index(found.path, db)
    except RetrievalError as exc:
        raise RetrievalError(f"{found.path}: cannot repair: {'; '.join(found.problems)} ({exc})") from exc
    after = verify(found.path, db)
    if not after.ok:
        raise RetrievalError(f"{found.path}: cannot repair: {'; '.join(after.problems)}")
    return [done]


def rebuild_index(path: str | Path, db: str | None = None) -> str:
    """Re-encode every listed item from its source and replace the index; what was done, or
    ``RetrievalError`` saying why it cannot be done (an item whose source is gone, a damaged encoder)."""
    path = Path(path)
    manifest = directory.read(path)
    encoder = load_encoder(path / directory.ENCODER_DIR, device="cpu", progress=False)
    store = directory.open_store(path, manifest, db)
    try:
        records = list(store.by_keys(store.item_labels().keys()).values())
    finally:
        store.close()
    if not records:
        raise RetrievalError(f"{path}: cannot rebuild the index: the store lists no items")
    found = _reread(records)
    missing = [r for r in records if r.id not in found]
    if missing:
        raise RetrievalError(
            f"{path}: cannot rebuild the index: {len(missing):,} of {len(records):,} items are not in a reachable "
            f"source, e.g. {missing[0].id!r} (from {missing[0].source!r}); nothing was changed"
        )
    records.sort(key=lambda r: r.key)
    keys = np.array([r.key for r in records], dtype=np.int64)
    codes = np.concatenate([
        encoder.encode(contents([found[r.id] for r in records[s : s + ENCODE_BATCH]]))
        for s in range(0, len(records), ENCODE_BATCH)
    ])  # fmt: skip
    index = create_index(manifest["index_spec"], encoder.dim, manifest.get("metric", encoder.metric))
    if not index.is_trained:
        index.train(codes)
    index.add(keys, codes)
    with directory.write_lock(path):
        directory.save_index(path, index)
        if manifest.get(directory.KEYWORDS_KEPT):  # its words too, from the same texts
            words = KeywordIndex.empty().with_texts(keys, [found[r.id].text for r in records])
            directory.save_recorded(path, directory.KEYWORDS_FILE, words.save, "the keyword index")
    also = ", the keyword index with them" if manifest.get(directory.KEYWORDS_KEPT) else ""
    return f"rebuilt the index from the sources: {len(records):,} items re-encoded{also}"


def _reread(records: list[ItemRecord]) -> dict[str, object]:
    """Items re-read from the reachable containers of ``records``, by id (only the ids the store lists)."""
    wanted: dict[Path, set[str]] = {}
    for r in records:
        root = container_of(r)
        if root is not None and root.exists():
            wanted.setdefault(root, set()).add(r.id)
    found: dict[str, object] = {}
    for root, ids in wanted.items():
        try:
            for item in iter_items(root):
                if not isinstance(item, Rejected) and item.id in ids:
                    found[item.id] = item
        except RetrievalError:  # a source that cannot be read any more: its items stay missing
            continue
    return found
