"""Writing index files so that a reader sees the old file or the new one, never half of one; and the
safetensors container that holds several serialised indexes in one file (two-stage, sharded)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load, load_file, save, save_file

from .errors import IndexFileError


def atomic_write(path: str | Path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)``, flush it to disk, then rename it over ``path``."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    write(str(tmp))
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_arrays(path: str | Path, arrays: dict[str, np.ndarray], fmt: str, **meta: str) -> None:
    """Save named ``uint8`` arrays (serialised indexes) in one safetensors file, atomically."""
    atomic_write(path, lambda tmp: save_file(arrays, tmp, metadata={"format": fmt, **meta}))


def arrays_bytes(arrays: dict[str, np.ndarray], fmt: str, **meta: str) -> np.ndarray:
    """What :func:`write_arrays` writes, as ``uint8`` in memory."""
    return np.frombuffer(save(arrays, metadata={"format": fmt, **meta}), dtype=np.uint8)


def read_arrays(source: str | Path | np.ndarray, name: str, what: str) -> dict[str, np.ndarray]:
    """The arrays in a file written by :func:`write_arrays`, or in bytes from :func:`arrays_bytes`."""
    try:
        if isinstance(source, np.ndarray):
            return load(np.ascontiguousarray(source, dtype=np.uint8).tobytes())
        return load_file(str(source))
    except (OSError, SafetensorError, ValueError) as exc:
        raise IndexFileError(f"{name}: not a readable {what} ({exc})") from exc
