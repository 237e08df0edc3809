"""What a collection holds, read from its files alone: what ``aer info`` prints.

The manifest, the encoder's ``config.json``, the index file's headers (``indexers.facts``: mapped, not loaded),
the store's item count and the files' sizes. Neither the encoder's model nor the index is loaded, so it takes a
fraction of a second whatever the collection's size, and never imports torch, faiss or scikit-learn. It checks
what it reads (a damaged manifest or index header is an error) but not the files' digests: ``aer verify`` does.
``collection_info`` gives the same keys from an open collection (``Collection.info``).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from indexers.choice import explain_choice
from indexers.errors import IndexFileError
from indexers.facts import read_facts

from ..defaults import OVERSAMPLE
from ..errors import CollectionError, EncoderFileError
from ..manifest import read_manifest
from . import directory
from .database import sqlite_size

if TYPE_CHECKING:
    from .search import Searching

ENCODER_FORMAT, ENCODER_VERSION = "ae-retrieval-encoder", 1  # retrieval.encoders.base.FORMAT / FORMAT_VERSION
FLOATS_KEPT = "float_codes"  # retrieval.collection.floats.KEPT (not imported: it loads NumPy)
ITEMS_TABLE = "items"  # retrieval.collection.store.ItemRow's table
SHAPE_OPTIONS = ("hidden", "channels")  # encoder options that say what its network is, shown beside the code width


def summarise(path: str | Path, *, db: str | None = None) -> dict[str, Any]:
    """What ``aer info`` prints about the collection at ``path`` (``db``: its metadata database URL, when it
    was made with one). The keys of ``Collection.info``, with the same values but ``encoder``: here a line made
    from the encoder's saved options (its name, network shape and code width), not its own ``describe()``."""
    path = Path(path)
    manifest = directory.read(path)
    config = read_manifest(
        path / directory.ENCODER_DIR / "config.json", ENCODER_FORMAT, ENCODER_VERSION, EncoderFileError,
        "an ae-retrieval encoder",
    )  # fmt: skip
    metric = manifest.get("metric", "cosine")
    try:
        index = read_facts(path / directory.INDEX_FILE, manifest["index_spec"], metric)
    except IndexFileError as exc:
        raise CollectionError(f"{path}: damaged collection: {exc}") from exc
    items, store_size = store_facts(path, manifest, db)
    if metric == "hamming":
        short = index.short_bits or 0
        width = {"bits": index.dim - short, **({"short_bits": short} if short else {})}
    else:
        width = {"dim": index.dim}
    training = config.get("training")
    return {
        "path": str(path),
        "items": items,
        "modality": manifest["modality"],
        "encoder": describe_encoder(config, width),
        **width,
        "metric": metric,
        **({"training": training} if isinstance(training, dict) and training else {}),
        "bytes_per_item": round(index.bytes_per_item, 1),
        "size_on_disk": directory.disk_size(path),
        **stored_text(manifest, store_size),
        "index_spec": index.spec,
        "index": index.description,
        **explain_choice(manifest.get("index_choice"), items),
    }


def collection_info(col: Searching) -> dict[str, Any]:
    """What ``Collection.info`` returns: ``summarise``'s keys, read from the open collection (its encoder loaded,
    so ``encoder`` is the encoder's own ``describe()``)."""
    encoder = col.encoder
    return {
        "path": str(col.path),
        "items": len(col),
        "modality": encoder.modality,
        "encoder": encoder.describe(),
        **({"bits": encoder.bits} if encoder.bits else {"dim": encoder.dim}),
        **({"short_bits": encoder.short_bits} if encoder.short_bits else {}),
        "metric": encoder.metric,
        **({"training": training} if (training := encoder.training_info()) else {}),
        "bytes_per_item": round(col.index.bytes_per_item(), 1),
        "size_on_disk": directory.disk_size(col.path),
        **stored_text(col.manifest, col.store.size_on_disk()),
        "index_spec": col.index.spec,
        "index": col.index.describe(),
        **explain_choice(col.manifest.get("index_choice"), len(col)),
    }


def stored_text(manifest: dict[str, Any], store_size: int | None) -> dict[str, Any]:
    """``store`` (where the metadata is), ``store_size`` (its bytes; ``None``: unknown), for a text collection
    ``keep_text`` (whether it stores each item's whole text, or only a snippet) and ``keyword_index``, and for a
    binary one ``keep_float`` (whether it keeps float codes to re-score the Hamming candidates with)."""
    kept: dict[str, Any] = {}
    if manifest.get("modality") == "text":
        keywords = manifest.get(directory.KEYWORDS_KEPT)
        kept = {"keep_text": bool(manifest.get("keep_text")),
                "keyword_index": f"{keywords} (modes: codes, keyword, hybrid)" if keywords
                else "none (made before keyword search: codes only)"}  # fmt: skip
    if manifest.get("metric") == "hamming":
        width = (manifest.get(FLOATS_KEPT) or {}).get("dim")
        kept["keep_float"] = (f"{width} floats per item (re-scores the Hamming top candidates; oversample "
                              f"{OVERSAMPLE} by default)" if width else "no (Hamming ranking only)")  # fmt: skip
    return {"store": manifest.get("store_hint", directory.DB_FILE), "store_size": store_size, **kept}


def store_facts(path: Path, manifest: dict[str, Any], db: str | None) -> tuple[int, int | None]:
    """The items the collection's store lists (the record of what it holds) and the bytes the store takes: the
    embedded SQLite file is read directly, read-only; an external database through ``MetadataStore``."""
    if manifest.get("store") == "external":
        store = directory.open_store(path, manifest, db)
        try:
            return store.count(), store.size_on_disk()
        finally:
            store.close()
    file = path / directory.DB_FILE
    if not file.is_file():
        raise CollectionError(f"{file}: missing (the collection's metadata store)")
    try:
        with sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True) as conn:
            return int(conn.execute(f"SELECT count(*) FROM {ITEMS_TABLE}").fetchone()[0]), sqlite_size(file)
    except sqlite3.Error as exc:
        raise CollectionError(f"{file}: not a readable metadata database ({exc})") from exc


def describe_encoder(saved: dict[str, Any], width: dict[str, int]) -> str:
    """``ae(hidden=500-250-125, dim=32)``, ``conv-ae(channels=32-64-128, bits=64)``, ``two-stage(short=...,
    long=...)``: the encoder's name, the saved options that shape its network, and the code width."""
    name, options, state = saved.get("encoder"), saved.get("config") or {}, saved.get("state") or {}
    if name == "two-stage":
        inner = options.get("inner", "?")
        parts = {
            part: describe_encoder({"encoder": inner, "config": options.get(part), "state": state.get(part)},
                                   {"bits": _bits(options.get(part))})
            for part in ("short", "long")
        }  # fmt: skip
        return f"two-stage(short={parts['short']}, long={parts['long']})"
    shown = {key: options.get(key) or state.get(key) for key in SHAPE_OPTIONS}
    shown = {key: "-".join(map(str, value)) if isinstance(value, list) else value for key, value in shown.items()}
    return f"{name}({', '.join(f'{k}={v}' for k, v in {**shown, **width}.items() if v)})"


def _bits(options: Any) -> int:
    return int(options.get("bits") or 0) if isinstance(options, dict) else 0
