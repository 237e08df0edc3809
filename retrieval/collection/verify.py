"""Checking a collection end to end (``aer verify``); ``repair`` mends what can be mended safely."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indexers import load_index

from ..encoders import load_encoder
from ..errors import RetrievalError
from . import directory, floats
from .keywords import KeywordIndex
from .store import MetadataStore
from .store_check import MAX_NAMED, damaged_rows, float_code_problems, integrity_problems

Problem = str


@dataclass
class Verification:
    """What ``verify`` found: each check that passed, and each problem with its reason."""

    path: Path
    passed: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    unlisted_keys: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))  # codes the store lacks
    codeless_ids: list[str] = field(default_factory=list)  # items the store lists without a code

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(path: str | Path, db: str | None = None) -> Verification:
    """Check the manifest, the files' digests, that the encoder and the index load and agree, that the store is
    this collection's and reads back (``store_check``), and that the store's keys are the index's keys. Nothing
    is written."""
    found = Verification(Path(path))
    path = found.path
    try:
        manifest = directory.read(path)
    except RetrievalError as exc:
        found.problems.append(str(exc))
        return found
    found.passed.append("manifest")
    damaged = directory.damaged_files(path, manifest)
    found.problems += damaged
    if not damaged:
        found.passed.append("digests" if (path / directory.DIGESTS_FILE).exists() else "digests (none kept: older)")
    if manifest.get(directory.KEYWORDS_KEPT) and (path / directory.KEYWORDS_FILE).exists():  # missing: said above
        try:
            words = KeywordIndex.load(path / directory.KEYWORDS_FILE)
            found.passed.append(f"keyword index loads: {len(words):,} items, {len(words.vocabulary):,} words")
        except RetrievalError as exc:
            found.problems.append(str(exc))
    try:
        encoder = load_encoder(path / directory.ENCODER_DIR, device="cpu", progress=False)
        found.passed.append(f"encoder loads: {encoder.describe()}")
        index = load_index(path / directory.INDEX_FILE, manifest["index_spec"], manifest.get("metric", "cosine"))
        if index.dim != encoder.dim:
            raise RetrievalError(f"index.faiss holds {index.dim}-wide codes, the encoder makes {encoder.dim}")
        found.passed.append(f"index loads: {len(index):,} codes, {index.describe()}")
        store = MetadataStore(directory.store_url(path, manifest, db), manifest.get("collection_id"))
    except RetrievalError as exc:
        found.problems.append(str(exc))
        return found
    try:
        _check_store(store, found)
        _check_float_codes(store, manifest, found)
        listed = np.fromiter(store.item_labels().keys(), dtype=np.int64)
        found.passed.append(f"store is this collection's: {len(listed):,} items")
        keys = index.keys()
        found.unlisted_keys = np.setdiff1d(keys, listed)
        missing = np.setdiff1d(listed, keys)
        found.codeless_ids = [r.id for r in store.by_keys(missing.tolist()).values()]
    except RetrievalError as exc:
        found.problems.append(str(exc))
        return found
    finally:
        store.close()
    if len(found.unlisted_keys):
        found.problems.append(
            f"{len(found.unlisted_keys):,} codes in the index are not listed in the store (left by a crash; "
            "opening for writing or `aer repair` drops them)"
        )
    if found.codeless_ids:
        found.problems.append(
            f"{len(found.codeless_ids):,} items are listed without a code, e.g. {found.codeless_ids[0]!r} "
            "(add them again from their source to re-encode them)"
        )
    if not len(found.unlisted_keys) and not found.codeless_ids:
        found.passed.append("store and index hold the same keys")
    return found


def _check_float_codes(store: MetadataStore, manifest: dict, found: Verification) -> None:
    """Where the collection keeps float codes (``floats``): one of the right size for every item, none for others."""
    width = floats.width(manifest)
    if not width:
        return
    problems = float_code_problems(store.engine, int(width))
    found.problems += [f"store: {problem}" for problem in problems]
    if not problems:
        found.passed.append(f"float codes: one of {width} floats for every item")


def _check_store(store: MetadataStore, found: Verification) -> None:
    """The store's own bytes: the database's page check, then every item row read back."""
    problems, how = integrity_problems(store.engine)
    found.problems += problems
    damaged = damaged_rows(store.engine)
    if damaged:
        more = f" (and {len(damaged) - MAX_NAMED:,} more)" if len(damaged) > MAX_NAMED else ""
        found.problems.append(f"store: {len(damaged):,} damaged item rows: {'; '.join(damaged[:MAX_NAMED])}{more}")
    if not problems and not damaged:
        found.passed.append(f"store reads back: {how}, every item row")
