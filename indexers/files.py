"""Writing index files so that a reader sees the old file or the new one, never half of one; and the
safetensors container that holds several serialised indexes in one file (two-stage, sharded)."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load, load_file, save, save_file

from .errors import IndexFileError, IndexWriteError

MAX_HEADER = 1 << 20  # bytes of a container's JSON header (a few hundred per array)
MAX_ARRAYS = 4096  # serialised indexes in one container (shards)


def atomic_write(path: str | Path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)``, flush it to disk, then rename it over ``path``. On any failure the temporary
    file is removed and ``path`` is left as it was; a ``RuntimeError`` of the writer (how FAISS reports a failed
    write, e.g. a full disk) becomes an ``IndexWriteError`` carrying the ``errno`` its message names."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        write(str(tmp))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, RuntimeError):
            code = errno_in(str(exc))
            reason = os.strerror(code) if code else str(exc).strip().splitlines()[-1][-300:]
            raise IndexWriteError(f"{path.name}: cannot write ({reason})", code) from exc
        raise


# what a failed FAISS write may say, by the errno whose words it quotes
_WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EACCES, errno.EFBIG, errno.ENOENT)


def errno_in(message: str) -> int | None:
    """The errno whose ``strerror`` words ``message`` quotes (FAISS's write errors end with them), if any."""
    return next((code for code in _WRITE_ERRNOS if os.strerror(code) in message), None)


def write_arrays(path: str | Path, arrays: dict[str, np.ndarray], fmt: str, **meta: str) -> None:
    """Save named ``uint8`` arrays (serialised indexes) in one safetensors file, atomically."""
    atomic_write(path, lambda tmp: save_file(arrays, tmp, metadata={"format": fmt, **meta}))


def arrays_bytes(arrays: dict[str, np.ndarray], fmt: str, **meta: str) -> np.ndarray:
    """What :func:`write_arrays` writes, as ``uint8`` in memory."""
    return np.frombuffer(save(arrays, metadata={"format": fmt, **meta}), dtype=np.uint8)


def read_arrays(source: str | Path | np.ndarray, name: str, what: str, fmt: str) -> dict[str, np.ndarray]:
    """The arrays in a file written by :meth:`write_arrays` with format ``fmt``, or in bytes from
    :func:`arrays_bytes`. The header's sizes and offsets are checked against the file's length first."""
    try:
        if isinstance(source, np.ndarray):
            data = np.ascontiguousarray(source, dtype=np.uint8).reshape(-1)
            check_header(lambda start, n: data[start : start + n].tobytes(), len(data), name, what, fmt)
            return load(data.tobytes())
        with open(source, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            check_header(lambda start, n: os.pread(fh.fileno(), n, start), size, name, what, fmt)
        return load_file(str(source))
    except (OSError, SafetensorError, ValueError) as exc:
        raise IndexFileError(f"{name}: not a readable {what} ({exc})") from exc


def check_header(read: Callable[[int, int], bytes], size: int, name: str, what: str, fmt: str) -> None:
    """Check a safetensors header (``read(start, n)`` reads the container's bytes, ``size`` long): its length, one
    1-D ``uint8`` array per entry inside the file, at most ``MAX_ARRAYS``, format ``fmt`` and, when it says how
    many shards it holds, that many arrays."""

    def bad(why: str) -> IndexFileError:
        return IndexFileError(f"{name}: not a readable {what} ({why})")

    if size < 8:
        raise bad(f"{size} bytes, shorter than a header")
    (length,) = struct.unpack("<Q", read(0, 8))
    if not 2 <= length <= min(size - 8, MAX_HEADER):
        raise bad(f"its header claims {length:,} bytes; the file has {size:,}, a header holds at most {MAX_HEADER:,}")
    try:
        header: Any = json.loads(read(8, length))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise bad(f"its header is not JSON: {exc}") from exc
    if not isinstance(header, dict):
        raise bad("its header is not a JSON object")
    meta = header.pop("__metadata__", None)
    if not isinstance(meta, dict) or meta.get("format") != fmt:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise bad(f"format {found!r}, not {fmt!r}")
    if len(header) > MAX_ARRAYS:
        raise bad(f"{len(header):,} arrays, more than {MAX_ARRAYS:,}")
    room = size - 8 - length
    for key, entry in header.items():
        shape, offsets = (entry.get("shape"), entry.get("data_offsets")) if isinstance(entry, dict) else (None, None)
        ok = entry.get("dtype") == "U8" if isinstance(entry, dict) else False
        ok = ok and _ints(shape, 1) and _ints(offsets, 2) and 0 <= offsets[0] <= offsets[1] <= room
        if not ok or offsets[1] - offsets[0] != shape[0]:
            raise bad(f"array {key!r} is not a uint8 array inside the file ({entry!r:.200})")
    shards = meta.get("shards")
    if shards is not None and (not isinstance(shards, str) or shards != str(len(header))):
        raise bad(f"it says it holds {shards!r:.40} shards, it holds {len(header)} arrays")


def _ints(value: object, n: int) -> bool:
    return isinstance(value, list) and len(value) == n and all(type(v) is int and v >= 0 for v in value)
