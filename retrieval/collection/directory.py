"""A collection's directory: its manifest, the atomic build of a new one, the write lock, the store's URL.

::

    news.aer/
      collection.json    the manifest: format, modality, index spec, metric, collection id, store
      encoder/           config.json + weights.safetensors (retrieval.encoders)
      index.faiss        the codes (indexers)
      keywords.npz       text collections: each item's word counts, for keyword search (retrieval.collection.keywords)
      metadata.sqlite    the items' ids, labels, snippets (retrieval.collection.store), unless the store is external
      write.lock         held by the one process that writes
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock, Timeout

from indexers.files import atomic_write

from ..errors import CollectionError, IndexFileError, StorageError
from ..manifest import read_manifest

if TYPE_CHECKING:
    from .store import MetadataStore

FORMAT = "ae-retrieval-collection"
FORMAT_VERSION = 1
MANIFEST = "collection.json"
ENCODER_DIR = "encoder"
INDEX_FILE = "index.faiss"
KEYWORDS_FILE = "keywords.npz"
KEYWORDS_KEPT = "keywords"  # manifest field (its value: KEYWORDS_FILE): this collection keeps a keyword index, so
# a missing keywords.npz is damage, while a collection without the field was made before keyword search
DB_FILE = "metadata.sqlite"
LOCK_FILE = "write.lock"
DIGESTS_FILE = "digests.json"  # blake2b of the index (this version and the one before) and of the encoder files
DIGESTS_KEPT = "digests"  # manifest field (its value: DIGESTS_FILE): this collection keeps digests; set when it is
# made and by repair, so a deleted digests.json is damage, not "an older collection"
ENCODER_FILES = ("encoder/config.json", "encoder/weights.safetensors")
LOCK_TIMEOUT_ENV = "AER_LOCK_TIMEOUT"  # seconds a second writer waits for the first before giving up
LOCK_TIMEOUT_S = 10.0  # ... when that is not set
DATABASE_ENV = "AER_DATABASE_URL"  # where a collection's metadata lives when it is not the embedded SQLite

Stamp = tuple[int, int, int]


def is_collection(path: Path) -> bool:
    """Whether ``path`` holds a collection's manifest."""
    return (path / MANIFEST).exists()


def check_new_target(path: Path) -> None:
    """Refuse a ``path`` a new collection cannot be made at (checked before minutes of training)."""
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise CollectionError(f"{path}: already exists and is not an empty directory (nor a collection)")


def read(path: Path) -> dict[str, Any]:
    """The manifest of the collection at ``path``, with legacy fields brought to today's form."""
    if not path.exists():
        raise CollectionError(f"{path}: no such collection (the directory does not exist)")
    manifest = read_manifest(path / MANIFEST, FORMAT, FORMAT_VERSION, CollectionError, "an ae-retrieval collection")
    _check_fields(path / MANIFEST, manifest)
    shards = manifest.pop("shards", 1)  # before the spec grammar named shards, the manifest counted them apart
    spec = manifest.get("index_spec") or "IDMap2,Flat"
    if isinstance(shards, int) and shards > 1 and not spec.startswith("Shards"):
        spec = f"Shards{shards},{spec}"
    manifest["index_spec"] = spec
    return manifest


# field -> (the types it may have, whether it must be there); anything hand-edited into another type is refused
_FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {
    "modality": ((str,), True), "metric": ((str,), False), "index_spec": ((str,), False),
    "collection_id": ((str,), False), "store": ((str,), False), "store_hint": ((str,), False),
    "index_choice": ((dict,), False), "shards": ((int,), False), DIGESTS_KEPT: ((str,), False),
    KEYWORDS_KEPT: ((str,), False),
}  # fmt: skip
_CHOICES = {"modality": ("text", "image"), "metric": ("cosine", "l2", "hamming"), "store": ("sqlite", "external")}


def _check_fields(file: Path, manifest: dict[str, Any]) -> None:
    for name, (types, required) in _FIELDS.items():
        if name not in manifest:
            if required:
                raise CollectionError(f"{file}: damaged manifest: no {name!r} field")
            continue
        value = manifest[name]
        if not isinstance(value, types) or isinstance(value, bool):
            raise CollectionError(f"{file}: damaged manifest: {name!r} is {value!r}, not a {types[0].__name__}")
        if name in _CHOICES and value not in _CHOICES[name]:
            raise CollectionError(f"{file}: damaged manifest: {name!r} is {value!r}, not one of {_CHOICES[name]}")


def write(path: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest atomically."""
    atomic_write(path / MANIFEST, lambda tmp: Path(tmp).write_text(json.dumps(manifest, indent=1)))


@contextlib.contextmanager
def atomic_build(path: Path) -> Iterator[Path]:
    """A hidden sibling directory to build a new collection in, renamed to ``path`` when the block ends.

    A crash or an error inside the block leaves nothing at ``path`` and no half-made sibling behind.
    """
    check_new_target(path)
    remove_stale_builds(path)
    building = path.with_name(f".{path.name}.creating-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    try:
        building.mkdir(parents=True)
        yield building
        if path.exists():
            path.rmdir()  # the empty directory checked above
        os.replace(building, path)
    except OSError as exc:
        shutil.rmtree(building, ignore_errors=True)
        raise CollectionError(f"{path}: cannot create the collection ({exc.strerror or exc})") from exc
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise


def remove_stale_builds(path: Path) -> list[Path]:
    """Remove the hidden ``.NAME.creating-PID`` siblings of ``path`` whose process is gone (a killed ``aer index``
    leaves one); a live process's build is left alone. Return what was removed."""
    removed = []
    for stale in path.parent.glob(f".{glob.escape(path.name)}.creating-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
            removed.append(stale)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, owned by someone else
        return True
    return True


def file_digest(file: Path) -> str:
    """The file's blake2b-128 digest, hex (read 1 MB at a time)."""
    digest = hashlib.blake2b(digest_size=16)
    with open(file, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _digests(path: Path) -> dict[str, list[str]]:
    try:
        found = json.loads((path / DIGESTS_FILE).read_text())
    except FileNotFoundError:
        return {}  # a collection made before digests were kept
    except (OSError, ValueError) as exc:
        raise CollectionError(f"{path / DIGESTS_FILE}: unreadable ({exc})") from exc
    if not isinstance(found, dict) or not all(isinstance(v, list) for v in found.values()):
        raise CollectionError(f"{path / DIGESTS_FILE}: damaged (not a map of file names to digests)")
    return found


def record_encoder(path: Path) -> None:
    """Record the digests of the encoder's files (written once, when the collection is made)."""
    digests = _digests(path)
    digests.update({name: [file_digest(path / name)] for name in ENCODER_FILES})
    atomic_write(path / DIGESTS_FILE, lambda tmp: Path(tmp).write_text(json.dumps(digests, indent=1)))


def save_index(path: Path, index: Any) -> Stamp:
    """Write the index file and its digest so that a crash at any point leaves a file whose digest is recorded.

    The index is written beside its place, its digest recorded with the digest of the file in place, then renamed
    into place: before the rename the old file matches the previous digest, after it the new one matches. A failure
    (a full disk, an I/O error; FAISS's own ``RuntimeError`` included) is a ``StorageError`` saying why, with no
    temporary file left behind.
    """
    save_recorded(path, INDEX_FILE, index.save, "the index")
    return stamp(path)


def save_recorded(path: Path, name: str, save: Any, what: str) -> None:
    """Write the collection's file ``name`` with ``save(staged_path)`` as ``save_index`` writes the index (its
    digest recorded before the rename; a failure is a ``StorageError`` naming ``what``, nothing left behind)."""
    staged = path / (name + ".new")
    if not (path / DIGESTS_FILE).exists() and _keeps_digests(path):  # never a partial digests.json in its place
        raise CollectionError(f"{path}: damaged collection: {_MISSING}")
    try:
        save(staged)
        digests = _digests(path)
        recorded = digests.get(name, [])
        # The file in place matches the first recorded digest, or the second when the last write failed after
        # recording its own (its rename failed, or its commit did and index_undo put the old file back).
        if len(recorded) > 1 and (path / name).exists() and (now := file_digest(path / name)) in recorded:
            recorded = [now]
        digests[name] = [file_digest(staged), *recorded[:1]]
        atomic_write(path / DIGESTS_FILE, lambda tmp: Path(tmp).write_text(json.dumps(digests, indent=1)))
        os.replace(staged, path / name)
    except (OSError, IndexFileError) as exc:
        with contextlib.suppress(OSError):
            staged.unlink()
        code = getattr(exc, "errno", None)
        reason = os.strerror(code) if code else str(exc)
        raise StorageError(f"{path}: cannot write {what} ({reason})", code) from exc


@contextlib.contextmanager
def index_undo(path: Path) -> Iterator[None]:
    """Keep the index file (and the keyword index, where there is one) as it is now (a hard link beside it) while
    the block runs: a failure in the block (the store's commit after the index was rewritten) puts it back, so a
    failed write changes no file."""
    with contextlib.ExitStack() as stack:
        for name in (INDEX_FILE, KEYWORDS_FILE):
            if name == INDEX_FILE or (path / name).exists():
                stack.enter_context(_file_undo(path / name))
        yield


@contextlib.contextmanager
def _file_undo(file: Path) -> Iterator[None]:
    kept = file.with_name(file.name + ".prev")
    with contextlib.suppress(OSError):
        kept.unlink()  # left by a crash
    try:
        os.link(file, kept)
    except OSError:  # no hard links here: the store stays the record (codes it lacks are dropped on open)
        yield
        return
    try:
        yield
    except BaseException:
        with contextlib.suppress(OSError):
            os.replace(kept, file)  # the digest list keeps the previous file's digest
        raise
    finally:
        with contextlib.suppress(OSError):
            kept.unlink()


_MISSING = f"{DIGESTS_FILE}: missing, though this collection keeps digests (`aer repair` re-creates it after a full check)"


def _keeps_digests(path: Path) -> bool:
    with contextlib.suppress(OSError, ValueError):
        return bool(json.loads((path / MANIFEST).read_text()).get(DIGESTS_KEPT))
    return False


def record_digests(path: Path, manifest: dict[str, Any]) -> None:
    """Record the digests of the encoder's files and of the index as they are now, and mark the manifest as
    keeping them (``repair``, once every other check has passed)."""
    kept = (*ENCODER_FILES, INDEX_FILE, *((KEYWORDS_FILE,) if (path / KEYWORDS_FILE).exists() else ()))
    digests = {name: [file_digest(path / name)] for name in kept}
    atomic_write(path / DIGESTS_FILE, lambda tmp: Path(tmp).write_text(json.dumps(digests, indent=1)))
    write(path, {**manifest, DIGESTS_KEPT: DIGESTS_FILE})


def load_index(path: Path, manifest: dict[str, Any], use_gpu: bool = False) -> Any:
    """The collection's index as its file holds it; a damaged file is a ``CollectionError``."""
    from indexers import load_index as load  # faiss: only where an index is read

    try:
        return load(path / INDEX_FILE, manifest["index_spec"], manifest.get("metric", "cosine"), use_gpu=use_gpu)
    except IndexFileError as exc:
        raise CollectionError(f"{path}: damaged collection: {exc}") from exc


def damaged_files(path: Path, manifest: dict[str, Any] | None = None) -> list[str]:
    """The collection's files whose content is not what was written (checked against the recorded digests);
    with its ``manifest``, also a missing ``digests.json`` in a collection that keeps one."""
    problems = []
    if manifest is not None and manifest.get(DIGESTS_KEPT) and not (path / DIGESTS_FILE).exists():
        problems.append(_MISSING)
    for name, known in _digests(path).items():
        file = path / name
        if not file.exists():
            problems.append(f"{name}: missing")
        elif file_digest(file) not in known:
            problems.append(f"{name}: its content changed since it was written (digest mismatch)")
    return problems


def disk_size(path: Path) -> int:
    """Bytes the collection's files hold: the sum of their lengths (an external store's database is elsewhere)."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def stamp(path: Path, name: str = INDEX_FILE) -> Stamp:
    """What identifies the index file (or the collection's file ``name``) as written: another writer's save
    changes it."""
    st = (path / name).stat()
    return st.st_mtime_ns, st.st_size, st.st_ino


_GONE = f"{{path}}: no such collection (its {MANIFEST} is gone: deleted or moved); nothing was changed"


@contextlib.contextmanager
def write_lock(path: Path, timeout: float | None = None) -> Iterator[None]:
    """Hold the collection's write lock; a second writer waits ``timeout`` seconds (default ``AER_LOCK_TIMEOUT``,
    else ``LOCK_TIMEOUT_S``), then gets a clear ``CollectionError`` (its cause: filelock's ``Timeout``).

    A collection whose manifest is gone (its directory deleted or moved) is a ``CollectionError``, and no lock
    file is left behind: filelock creates missing parent directories, which would recreate the directory."""
    timeout = float(os.environ.get(LOCK_TIMEOUT_ENV) or LOCK_TIMEOUT_S) if timeout is None else timeout
    if not is_collection(path):
        raise CollectionError(_GONE.format(path=path))
    lock = FileLock(str(path / LOCK_FILE), timeout=timeout)
    try:
        lock.acquire()
    except Timeout as exc:
        raise CollectionError(
            f"{path}: another process is writing to this collection (lock {path / LOCK_FILE} held "
            f"for over {timeout:g} s); try again when it has finished"
        ) from exc
    if not is_collection(path):  # deleted between the check and the lock: undo what the lock made
        lock.release()
        with contextlib.suppress(OSError):
            (path / LOCK_FILE).unlink()
        with contextlib.suppress(OSError):
            path.rmdir()  # only if empty: a directory filelock recreated
        raise CollectionError(_GONE.format(path=path))
    try:
        yield
    finally:
        lock.release()


def store_url(path: Path, manifest: dict[str, Any], db: str | None) -> str:
    """Where the collection's item metadata is: the embedded SQLite file, or the external database."""
    from .store import sqlite_url  # SQLAlchemy: loaded by the commands that open the store, not by `aer info`

    if manifest.get("store") != "external":
        return sqlite_url(path / DB_FILE)
    url = db or os.environ.get(DATABASE_ENV)
    if not url:
        raise CollectionError(
            f"{path}: its metadata is in an external database ({manifest.get('store_hint', 'URL not saved')}); "
            f"pass its URL (db=...) or set {DATABASE_ENV}"
        )
    return url


def open_store(path: Path, manifest: dict[str, Any], db: str | None) -> MetadataStore:
    """The collection's metadata store, bound to its collection id."""
    from .store import MetadataStore

    return MetadataStore(store_url(path, manifest, db), manifest.get("collection_id"))
