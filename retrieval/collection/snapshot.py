"""Snapshots: a whole collection as one archive file (``aer snapshot``), and a collection made from one
(``aer restore``).

A snapshot is a tar archive (plain, or compressed with gzip, bzip2 or xz as the file's name ends: ``.tar.gz`` /
``.tgz``, ``.tar.bz2``, ``.tar.xz``). Its first member is ``snapshot.json``: the format and its version, the
library version that wrote it, when, the item count, and each collection file's size and blake2b-128 digest.
The other members are the collection's files under their names in its directory (``collection.json``,
``digests.json``, ``index.faiss``, ``keywords.npz`` where kept, ``metadata.sqlite``, ``encoder/...``); nothing
in it is ever unpickled.

Consistency: the snapshot is taken under the collection's write lock, so it holds one committed state. Writers
(``aer add``, the server's writes) wait only while the files are pinned (opened: every file but the store is
replaced by a rename, never rewritten in place, so an open file keeps the state it had) and the store is copied
(SQLite's backup API; readers go on meanwhile); the archive is then written with the lock released. A collection
whose metadata is in PostgreSQL is exported: its rows are copied into an SQLite store inside the snapshot, and
its manifest there says so, so a restore gives a collection with an embedded store.

Restoring one is ``restore``: only the members ``snapshot.json`` names are read, checked against their sizes and
digests, and the collection must pass ``verify`` before it is renamed into place.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import sqlite3
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from ..errors import CollectionError, StorageError
from . import directory

FORMAT = "ae-retrieval-snapshot"
FORMAT_VERSION = 1
SNAPSHOT_MANIFEST = "snapshot.json"
MAX_MANIFEST = 1 << 20  # bytes of snapshot.json
MAX_FILES = 256  # collection files one snapshot may name
# the collection's own files: what a snapshot holds and what a restore accepts (besides encoder/NAME)
TOP_FILES = (directory.MANIFEST, directory.DIGESTS_FILE, directory.INDEX_FILE, directory.KEYWORDS_FILE,
             directory.DB_FILE)  # fmt: skip
_ENCODER_NAME = re.compile(rf"{directory.ENCODER_DIR}/[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}")
DIGEST = re.compile(r"[0-9a-f]{32}")  # blake2b-128, hex
_CODECS = {".gz": "gz", ".tgz": "gz", ".bz2": "bz2", ".xz": "xz", ".txz": "xz"}
BLOCK = 1 << 20  # bytes read at a time


def collection_file(name: str) -> bool:
    """Whether ``name`` (a member of a snapshot) is one of a collection's files: never an absolute path, ``..``
    or a folder other than ``encoder/``."""
    return name in TOP_FILES or bool(_ENCODER_NAME.fullmatch(name))


class Opened(Protocol):
    """An open ``Collection``, as far as a snapshot needs it (not imported here: ``Collection`` imports this)."""

    path: Path
    store: Any


@dataclass(frozen=True)
class Snapshot:
    """A snapshot file: where it is, how many items it holds, its size, when and by which version it was made."""

    file: Path
    items: int
    size: int  # bytes of the archive
    created: str  # ISO 8601, UTC
    library_version: str
    collection_id: str | None = None


# --- taking one ---------------------------------------------------------------------------------------


def snapshot(
    collection: Opened | str | Path, file: str | Path, *, db: str | None = None, lock_timeout: float | None = None
) -> Snapshot:
    """Write the collection (an open ``Collection``, or its directory) to the new archive ``file``.

    ``db``: the metadata database URL of a collection whose store is external (else ``AER_DATABASE_URL``).
    ``lock_timeout``: how long to wait for a writer before a ``CollectionError`` (default as every writer:
    ``AER_LOCK_TIMEOUT``, else ``directory.LOCK_TIMEOUT_S``). An existing ``file``, a file inside the collection,
    or a damaged collection (a file not matching its recorded digest) is refused; a failed write leaves no file.
    """
    if not isinstance(collection, (str, Path)):  # a Collection: its store's URL too
        collection, db = collection.path, db or collection.store.url
    src, out = Path(collection), Path(file)
    directory.read(src)  # a missing or foreign directory: said before anything is written
    _check_output(src, out)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.", dir=out.parent) as scratch, contextlib.ExitStack() as pins:
        with directory.write_lock(src, timeout=lock_timeout):
            manifest = directory.read(src)
            members = _pin(src, manifest, db, Path(scratch), pins)
        digests = {name: _digest(fh) for name, fh in members.items()}
        _check_recorded(src, members, digests)
        meta = {
            "format": FORMAT, "version": FORMAT_VERSION, "library_version": _version(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "collection": src.resolve().name,
            "collection_id": manifest.get("collection_id"), "items": _count(Path(scratch) / directory.DB_FILE),
            "files": {name: {"size": _size(fh), "blake2b": digests[name]} for name, fh in members.items()},
        }  # fmt: skip
        _write_archive(out, meta, members)
    return described(out, meta)


def _check_output(src: Path, out: Path) -> None:
    if out.exists() or out.is_symlink():
        raise CollectionError(f"{out}: already exists; a snapshot is written to a new file (remove it, or choose "
                              "another name)")  # fmt: skip
    if not out.parent.is_dir():
        raise CollectionError(f"{out}: cannot write the snapshot there (no folder {out.parent})")
    if out.resolve().is_relative_to(src.resolve()):
        raise CollectionError(f"{out}: a snapshot cannot be written inside the collection it is of ({src})")


def _pin(src: Path, manifest: dict[str, Any], db: str | None, scratch: Path, pins: contextlib.ExitStack
         ) -> dict[str, IO[bytes]]:  # fmt: skip
    """Under the write lock: each collection file opened (its content then stays what it is now) and the store
    copied into ``scratch``; the files by their names in the snapshot."""
    names = [n for n in TOP_FILES if n != directory.DB_FILE and (src / n).is_file()]
    encoder = src / directory.ENCODER_DIR
    if encoder.is_dir():
        names += sorted(f"{directory.ENCODER_DIR}/{f.name}" for f in encoder.iterdir() if f.is_file())
    members: dict[str, IO[bytes]] = {}
    for name in names:
        if (src / name).is_symlink() or not collection_file(name):
            raise CollectionError(f"{src / name}: not a plain file of a collection; it is not put in a snapshot")
        members[name] = pins.enter_context(open(src / name, "rb"))  # noqa: SIM115 - closed by pins
    copy = scratch / directory.DB_FILE
    if manifest.get("store") == "external":
        _export_rows(directory.store_url(src, manifest, db), manifest.get("collection_id"), copy)
        embedded = {k: v for k, v in manifest.items() if k != "store_hint"} | {"store": "sqlite"}
        written = scratch / directory.MANIFEST
        written.write_text(json.dumps(embedded, indent=1))
        members[directory.MANIFEST] = pins.enter_context(open(written, "rb"))  # noqa: SIM115
    else:
        _copy_sqlite(src / directory.DB_FILE, copy)
    members[directory.DB_FILE] = pins.enter_context(open(copy, "rb"))  # noqa: SIM115
    return members


def _copy_sqlite(db_file: Path, copy: Path) -> None:
    """The embedded store as of its last commit (SQLite's online backup), as one file without a write-ahead log."""
    if not db_file.is_file():
        raise CollectionError(f"{db_file}: the collection's metadata store is missing; nothing was written")
    try:
        with contextlib.closing(sqlite3.connect(db_file)) as source, contextlib.closing(sqlite3.connect(copy)) as into:
            source.backup(into)
            into.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.Error as exc:
        raise CollectionError(f"{db_file}: cannot copy the metadata store ({exc}); nothing was written") from exc


def _export_rows(url: str, collection_id: str | None, copy: Path) -> None:
    """An external store's rows (every table's; of the meta table, the key counter) copied into a new SQLite
    store made with the same schema."""
    from sqlalchemy import insert, select

    from .store import Base, MetadataStore, MetaRow, sqlite_url

    source, into = MetadataStore(url, collection_id), MetadataStore(sqlite_url(copy), collection_id, create=True)
    try:
        with source.engine.connect() as reading, into.engine.begin() as writing:
            for table in Base.metadata.sorted_tables:
                query = select(table)
                if table is MetaRow.__table__:  # the new store has its own schema version and collection id
                    query = query.where(table.c.name.not_in(("schema_version", "collection_id")))
                for chunk in reading.execution_options(yield_per=2000).execute(query).partitions():
                    writing.execute(insert(table), [dict(row._mapping) for row in chunk])
    finally:
        source.close()
        into.close()
    with contextlib.closing(sqlite3.connect(copy)) as conn:
        conn.execute("PRAGMA journal_mode=DELETE")


def _check_recorded(src: Path, members: dict[str, IO[bytes]], digests: dict[str, str]) -> None:
    """Refuse a collection whose files do not match the digests it recorded (``verify`` says more)."""
    if directory.DIGESTS_FILE not in members:
        return  # a collection made before digests were kept
    members[directory.DIGESTS_FILE].seek(0)
    try:
        recorded = json.loads(members[directory.DIGESTS_FILE].read())
    except ValueError as exc:
        raise CollectionError(f"{src / directory.DIGESTS_FILE}: unreadable ({exc}); nothing was written") from exc
    for name, known in recorded.items() if isinstance(recorded, dict) else ():
        if name not in digests or digests[name] not in known:
            why = "missing" if name not in digests else "its content changed since it was written"
            raise CollectionError(f"{src}: damaged collection: {name}: {why} (aer verify tells more); nothing was "
                                  "written")  # fmt: skip


def _write_archive(out: Path, meta: dict[str, Any], members: dict[str, IO[bytes]]) -> None:
    """The archive beside ``out``, renamed into place once whole; a failure leaves no file."""
    codec = _CODECS.get(out.suffix.lower(), "")
    staged = out.with_name(f".{out.name}.writing-{os.getpid()}")
    level = {"compresslevel": 6} if codec in ("gz", "bz2") else {}
    try:
        with tarfile.open(staged, f"w:{codec}", format=tarfile.PAX_FORMAT, **level) as tar:
            head = json.dumps(meta, indent=1).encode()
            tar.addfile(_info(SNAPSHOT_MANIFEST, len(head)), io.BytesIO(head))
            for name, fh in members.items():
                fh.seek(0)
                tar.addfile(_info(name, meta["files"][name]["size"]), fh)
        with open(staged, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(staged, out)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            staged.unlink()
        if isinstance(exc, OSError):
            raise StorageError(f"{out}: cannot write the snapshot ({exc.strerror or exc}); nothing was written",
                               exc.errno) from exc  # fmt: skip
        raise


def _info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o644, int(time.time())
    return info


def _digest(fh: IO[bytes]) -> str:
    digest = hashlib.blake2b(digest_size=16)
    fh.seek(0)
    while block := fh.read(BLOCK):
        digest.update(block)
    return digest.hexdigest()


def _size(fh: IO[bytes]) -> int:
    return os.fstat(fh.fileno()).st_size


def _count(db_file: Path) -> int:
    with contextlib.closing(sqlite3.connect(db_file)) as conn:
        return int(conn.execute("SELECT count(*) FROM items").fetchone()[0])


def _version() -> str:
    return sys.modules[__name__.split(".")[0]].__version__  # the package's (imported before any of its modules)


def described(file: Path, meta: dict[str, Any]) -> Snapshot:
    return Snapshot(file=file, items=meta["items"], size=file.stat().st_size, created=meta["created"],
                    library_version=meta["library_version"], collection_id=meta.get("collection_id"))  # fmt: skip
