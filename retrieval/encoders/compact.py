"""Small weight files: the large tables in int8 with a scale per word, everything else in float16.

A text autoencoder's saved weights are dominated by two tables with a row per vocabulary word: the first layer's
columns (``encoder.0.weight``, ``width × (vocab + teacher dim)``) and the teacher's word vectors (``vocab ×
teacher dim``). Stored as ``int8`` with one ``float32`` scale per word (symmetric, ``max |w| / 127``), they take a
quarter of their ``float32`` bytes; the other arrays are stored as ``float16``.

The fitted encoder rounds its own weights the same way before it encodes anything (:func:`round_trip`), so the
codes it writes at build time are exactly those a reloaded encoder computes for queries.

Formats (``weights`` option): ``"int8"`` (the default for new text autoencoders), ``"float16"``, ``"float32"``.
"""

from __future__ import annotations

import numpy as np

from ..errors import EncoderFileError

FORMATS = ("int8", "float16", "float32")
SCALE = ".scale"  # suffix of an int8 array's per-word scales
# int8 tables, each with the axis its per-word scale is taken over (the first layer's columns are words)
WORD_TABLES = {"model.encoder.0.weight": 0, "word_vectors": 1}
KEEP = ("idf",)  # small arrays whose precision matters more than their size


def compact(arrays: dict[str, np.ndarray], fmt: str) -> dict[str, np.ndarray]:
    """``arrays`` as saved under format ``fmt``: int8 tables with their ``.scale`` arrays, float16 the rest."""
    if fmt == "float32":
        return dict(arrays)
    out: dict[str, np.ndarray] = {}
    for key, value in arrays.items():
        if not np.issubdtype(value.dtype, np.floating) or key in KEEP or value.ndim == 0:
            out[key] = value
        elif fmt == "int8" and key in WORD_TABLES:
            out[key], out[key + SCALE] = _int8(value, WORD_TABLES[key])
        else:
            out[key] = value.astype(np.float16)
    return out


def expand(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Saved arrays back as ``float32`` (int8 tables times their scales); older float32 files pass unchanged."""
    out: dict[str, np.ndarray] = {}
    for key, value in arrays.items():
        if key.endswith(SCALE):
            continue
        if value.dtype == np.int8:
            scale = arrays.get(key + SCALE)
            if scale is None or key not in WORD_TABLES:
                raise EncoderFileError(f"int8 array {key!r} without its {key + SCALE!r} scales")
            out[key] = value.astype(np.float32) * np.expand_dims(scale.astype(np.float32), WORD_TABLES[key])
        elif value.dtype == np.float16:
            out[key] = value.astype(np.float32)
        else:
            out[key] = value
    return out


def round_trip(arrays: dict[str, np.ndarray], fmt: str) -> dict[str, np.ndarray]:
    """What ``arrays`` read back as after saving under ``fmt``."""
    return expand(compact(arrays, fmt))


def _int8(value: np.ndarray, reduce_axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 with one scale per word: the largest magnitude over ``reduce_axis``, over 127."""
    scale = np.abs(value).max(axis=reduce_axis) / 127.0
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    q = np.clip(np.rint(value / np.expand_dims(scale, reduce_axis)), -127, 127).astype(np.int8)
    return q, scale
