"""Restoring a snapshot (``aer restore``): the collection written in a hidden sibling directory, checked member
by member against ``snapshot.json`` and then by ``verify``, and only then renamed into place (the format:
``snapshot``). Only the members ``snapshot.json`` names are read; tar members are never extracted by
``tarfile`` itself, so no link, device or path outside the new directory can be made.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import lzma
import os
import shutil
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from ..errors import CollectionError, StorageError
from . import directory
from .snapshot import (BLOCK, DIGEST, FORMAT, FORMAT_VERSION, MAX_FILES, MAX_MANIFEST, SNAPSHOT_MANIFEST, Snapshot,
                       collection_file, described)


class _Bad(Exception):
    """What is wrong with a snapshot file (reported naming the file)."""


def restore(file: str | Path, collection: str | Path, *, force: bool = False) -> Snapshot:
    """Make the collection at ``collection`` from the snapshot ``file``; return what the snapshot holds.

    The collection is written in a hidden sibling directory, checked member by member against ``snapshot.json``
    and then by ``verify``, and only then renamed into place. An existing collection there is replaced only with
    ``force`` (never a directory that is not a collection). A damaged, truncated or foreign ``file`` is a
    ``CollectionError`` naming it; any failure leaves nothing behind and ``collection`` as it was."""
    file, target = Path(file), Path(collection)
    if not file.is_file():
        raise CollectionError(f"{file}: no such snapshot file")
    _check_target(target, force)
    directory.remove_stale_builds(target)
    building = target.with_name(f".{target.name}.creating-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    try:
        with _storage(target):
            building.mkdir(parents=True)
        meta = _extract(file, building)
        _check_restored(file, building)
        _check_target(target, force)  # again: something may have been put there meanwhile
        replaced = _place(building, target)
        if replaced is not None:
            shutil.rmtree(replaced, ignore_errors=True)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return described(file, meta)


def _check_target(target: Path, force: bool) -> None:
    if target.is_symlink() or target.exists() and not target.is_dir():
        raise CollectionError(f"{target}: exists and is not a directory; nothing was restored")
    if not target.exists() or not any(target.iterdir()):
        return
    if not directory.is_collection(target):
        raise CollectionError(f"{target}: not empty and not a collection; it is never replaced by a restore")
    if not force:
        raise CollectionError(f"{target}: a collection is already there; restore with force (aer restore --force) to "
                              "replace it")  # fmt: skip


def _extract(file: Path, building: Path) -> dict[str, Any]:
    """Write the members ``snapshot.json`` names into ``building``; return ``snapshot.json``."""
    try:
        with tarfile.open(file, "r|*") as tar:
            return _read_members(tar, building)
    except _Bad as exc:
        raise CollectionError(f"{file}: not a usable snapshot: {exc}; nothing was restored") from None
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, ValueError) as exc:
        raise CollectionError(f"{file}: damaged or truncated snapshot ({exc or type(exc).__name__}); nothing was "
                              "restored") from exc  # fmt: skip
    except OSError as exc:  # bzip2's damaged stream has no errno; a failed read has one
        why = f"cannot read it ({exc.strerror})" if exc.errno else f"damaged or truncated snapshot ({exc})"
        raise CollectionError(f"{file}: {why}; nothing was restored") from exc


def _read_members(tar: tarfile.TarFile, building: Path) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    done: set[str] = set()
    for n, member in enumerate(tar):
        name = member.name
        if n == 0:
            if name != SNAPSHOT_MANIFEST or not member.isreg() or member.size > MAX_MANIFEST:
                raise _Bad(f"its first member is {name!r}, not {SNAPSHOT_MANIFEST} (not an ae-retrieval snapshot)")
            meta = _parse(tar.extractfile(member).read())
            continue
        want = meta["files"].get(name)
        if want is None:
            raise _Bad(f"it holds {name!r}, which its {SNAPSHOT_MANIFEST} does not name")
        if name in done:
            raise _Bad(f"it holds {name!r} twice")
        if not member.isreg():
            raise _Bad(f"{name!r} is a link or a special file, not a plain file")
        if member.size != want["size"]:
            raise _Bad(f"{name!r} holds {member.size:,} bytes, its {SNAPSHOT_MANIFEST} says {want['size']:,}")
        if _copy_out(tar.extractfile(member), building / name) != want["blake2b"]:
            raise _Bad(f"{name!r} does not match its digest (damaged)")
        done.add(name)
    if not meta:
        raise _Bad("it holds nothing")
    if missing := [name for name in meta["files"] if name not in done]:
        raise _Bad(f"it ends before {missing[0]!r} (truncated?)")
    return meta


def _parse(raw: bytes) -> dict[str, Any]:
    """``snapshot.json``, checked: the format, a version this package reads, only collection files named."""
    try:
        meta = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise _Bad(f"its {SNAPSHOT_MANIFEST} is not JSON ({str(exc)[:100]})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _Bad(f"its {SNAPSHOT_MANIFEST} is not an ae-retrieval snapshot's")
    version = meta.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _Bad(f"its format version {version!r:.40} is not one")
    if version > FORMAT_VERSION:
        raise _Bad(f"format version {version} was written by a newer ae-retrieval (this one reads up to "
                   f"{FORMAT_VERSION}); upgrade ae-retrieval")  # fmt: skip
    files = meta.get("files")
    if not isinstance(files, dict) or not 0 < len(files) <= MAX_FILES:
        raise _Bad(f"its {SNAPSHOT_MANIFEST} lists no files (or over {MAX_FILES})")
    for name, entry in files.items():
        if not collection_file(name):
            raise _Bad(f"it names {name!r}, not a collection file (absolute paths, '..' and others are refused)")
        size = entry.get("size") if isinstance(entry, dict) else None
        if not isinstance(size, int) or isinstance(size, bool) or size < 0 or not DIGEST.fullmatch(
                str(entry.get("blake2b"))):  # fmt: skip
            raise _Bad(f"its {SNAPSHOT_MANIFEST} gives {name!r} no size or digest")
    for needed in (directory.MANIFEST, directory.INDEX_FILE, directory.DB_FILE):
        if needed not in files:
            raise _Bad(f"it lacks {needed}")
    for key, kind in (("items", int), ("created", str), ("library_version", str)):
        if not isinstance(meta.get(key), kind) or isinstance(meta.get(key), bool):
            raise _Bad(f"its {SNAPSHOT_MANIFEST} has no {key!r}")
    return meta


@contextlib.contextmanager
def _storage(where: Path) -> Iterator[None]:
    """A failed write (disk full, no permission) as a ``StorageError`` naming ``where``."""
    try:
        yield
    except OSError as exc:
        raise StorageError(f"{where}: cannot write the restored collection ({exc.strerror or exc}); nothing was "
                           "restored", exc.errno) from exc  # fmt: skip


def _copy_out(member: IO[bytes], dest: Path) -> str:
    """Copy a member's bytes to the new file ``dest``; their digest."""
    digest = hashlib.blake2b(digest_size=16)
    with _storage(dest):
        dest.parent.mkdir(exist_ok=True)
        out = open(dest, "xb")  # noqa: SIM115 - closed below
    with out:
        while block := member.read(BLOCK):  # a damaged stream fails here: not a write error
            digest.update(block)
            with _storage(dest):
                out.write(block)
        with _storage(dest):
            out.flush()
            os.fsync(out.fileno())
    return digest.hexdigest()


def _check_restored(file: Path, building: Path) -> None:
    from .verify import verify  # the encoders and the index: only when a collection is checked

    found = verify(building)
    if not found.ok:
        raise CollectionError(f"{file}: the collection it holds fails verify ({'; '.join(found.problems)}); "
                              "nothing was restored")  # fmt: skip


def _place(building: Path, target: Path) -> Path | None:
    """Rename ``building`` to ``target``; a collection already there (``_check_target`` let it be replaced) is
    swapped out under its write lock. Return where the replaced collection now is (to remove), if any."""
    with _storage(target):
        if not target.exists():
            os.rename(building, target)
            return None
        if not any(target.iterdir()):
            target.rmdir()
            os.rename(building, target)
            return None
    with directory.write_lock(target), _storage(target):  # its writers finish first
        if _exchange(building, target):
            return building  # now the old collection
        aside = target.with_name(f".{target.name}.creating-old-{os.getpid()}")  # removed as a stale build if killed
        os.rename(target, aside)
        try:
            os.rename(building, target)
        except BaseException:
            os.rename(aside, target)
            raise
        return aside


def _exchange(first: Path, second: Path) -> bool:
    """Swap two directories in one step (Linux ``renameat2`` with ``RENAME_EXCHANGE``): a reader sees the old one
    or the new one, never neither. ``False`` where the system cannot (nothing was done then)."""
    import ctypes
    import errno

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_cwd, exchange = -100, 2  # AT_FDCWD, RENAME_EXCHANGE
    if renameat2(at_cwd, os.fsencode(first), at_cwd, os.fsencode(second), exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(second))
