"""Spec string -> index: the one place that decides which class runs (the grammar is ``indexers.spec``).

index = create_index("IDMap2,IVF256,Flat,nprobe=8", dim=32, metric="cosine")
index = create_index("Shards4,BHash2x32,nflip=1", dim=64, metric="hamming")
index = load_index(path, manifest_spec, metric)          # parameters in the spec override the saved ones
shard = index_from_bytes(data, shard_spec(spec), "shard 0")
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from .base import CodeIndex
from .binary_base import read_binary
from .binary_flat import BinaryFlatIndex
from .binary_hash import BinaryHashIndex
from .errors import IndexFileError, InvalidParameterError
from .float_index import FloatIndex, faiss_message
from .sharded import Runner, ShardedIndex, run_local
from .spec import (
    DEFAULT_BINARY_SPEC,
    DEFAULT_FLOAT_SPEC,
    Spec,
    check_family,
    check_metric,
    parse_spec,
)  # fmt: skip
from .two_stage import TwoStageIndex

__all__ = [
    "DEFAULT_BINARY_SPEC", "DEFAULT_FLOAT_SPEC", "check_spec", "create_index", "default_spec", "index_from_bytes",
    "load_index", "shard_spec",
]  # fmt: skip


def default_spec(metric: str, short_bits: int | None = None) -> str:
    """Exact search for ``metric``'s codes (``IDMap2,Flat`` or ``BFlat``); ``TwoStage<short_bits>`` when given."""
    metric = check_metric(metric)
    if short_bits:
        return check_spec(f"TwoStage{short_bits}", metric)
    return DEFAULT_BINARY_SPEC if metric == "hamming" else DEFAULT_FLOAT_SPEC


def check_spec(spec: str, metric: str, dim: int | None = None) -> str:
    """The canonical form of ``spec`` for codes of ``metric`` (and ``dim``, when known), checked before any
    training: ``InvalidParameterError`` (a ``ValueError``) saying what is wrong."""
    return _checked(spec, metric, dim, try_build=True).text


def shard_spec(spec: str) -> str:
    """The spec of one shard of a ``Shards<N>,...`` spec."""
    parsed = parse_spec(spec)
    if parsed.shards is None:
        raise InvalidParameterError(f"The 'spec' parameter must be a Shards<N>,... spec. Got {spec!r} instead.")
    return parsed.one.text


def create_index(spec: str, dim: int, metric: str, *, use_gpu: bool = False, runner: Runner | None = None) -> CodeIndex:
    """A new, empty index for ``dim``-wide codes (floats, or bits: the joined width for two-stage codes).

    ``runner``: how a sharded index calls its shards (default: local threads).
    """
    parsed = _checked(spec, metric, dim)
    if parsed.shards is None:
        return _build(parsed, dim, metric, use_gpu)
    one = parsed.one
    return ShardedIndex.create(parsed.shards, lambda: _build(one, dim, metric, use_gpu), runner or run_local)


def load_index(
    path: str | Path, spec: str, metric: str, *, use_gpu: bool = False, runner: Runner | None = None
) -> CodeIndex:
    """Read the index file at ``path`` as the index ``spec`` names (legacy manifest specs included: ``two-stage``,
    ``IDMap2,BFlat``). Parameters the spec gives replace the saved ones; the others keep their saved values.
    ``IndexFileError`` when the file is missing, damaged or holds another kind of index."""
    parsed = _checked(spec, metric, None)
    if not Path(path).is_file():
        raise IndexFileError(f"{path}: missing (no index file)")
    return _read(parsed, Path(path), str(path), metric, use_gpu, runner or run_local)


def index_from_bytes(
    data: np.ndarray, spec: str, name: str, *, use_gpu: bool = False, runner: Runner | None = None
) -> CodeIndex:
    """Rebuild an index from its ``to_bytes()`` (e.g. one shard in a Ray actor, with ``shard_spec``'s spec);
    ``name`` says where the bytes came from, in errors."""
    parsed = parse_spec(spec)
    return _read(parsed, np.asarray(data, dtype=np.uint8), name, None, use_gpu, runner or run_local)


# --- internals ------------------------------------------------------------------------------


def _checked(spec: str, metric: str, dim: int | None, *, try_build: bool = False) -> Spec:
    """Parse ``spec`` and check it fits ``metric`` and ``dim``; ``try_build``: let faiss try a float structure."""
    metric = check_metric(metric)
    parsed = parse_spec(spec)
    check_family(parsed, metric, spec)
    if parsed.kind == "float" and try_build:
        _try_float(parsed.structure, metric, dim, spec)
    elif parsed.kind != "float" and dim is not None:
        _check_width(parsed, dim, spec)
    return parsed


def _try_float(structure: str, metric: str, dim: int | None, spec: str) -> None:
    """Let faiss build the structure, for ``dim`` or else a width its PQ / OPQ / PCA components accept."""
    codes = "real-valued codes" if dim is None else f"{dim}-dimensional codes"
    if dim is None:
        sizes = [int(n) for n in re.findall(r"(?:PQ|_|PCAW?R?)(\d+)", structure) if 0 < int(n) <= 1024]
        dim = math.lcm(8, *sizes)
        dim *= -(-max(sizes, default=1) // dim)
    try:
        FloatIndex(dim, structure, metric)
    except InvalidParameterError as exc:
        raise InvalidParameterError(
            f"The 'spec' parameter must name an index faiss can build for {codes}. Got {spec!r} instead "
            f"({faiss_message(exc.__cause__)})."
        ) from exc


def _check_width(parsed: Spec, dim: int, spec: str) -> None:
    if not isinstance(dim, (int, np.integer)) or dim <= 0 or dim % 8:
        raise InvalidParameterError(f"Binary codes must be a positive multiple of 8 bits wide. Got {dim!r} bits.")
    if parsed.kind == "bhash" and parsed.tables * parsed.table_bits > dim:
        raise InvalidParameterError(
            f"The 'spec' parameter must hash at most the {dim} bits of a code. Got {spec!r} instead "
            f"({parsed.tables} x {parsed.table_bits} bits)."
        )
    if parsed.kind == "two-stage" and parsed.short_bits is not None and dim - parsed.short_bits < 8:
        raise InvalidParameterError(
            f"The 'spec' parameter {spec!r} needs codes wider than its {parsed.short_bits}-bit short code "
            f"(short code, then a long code of at least 8 bits). Got {dim} bits."
        )


def _build(parsed: Spec, dim: int, metric: str, use_gpu: bool) -> CodeIndex:
    index: CodeIndex
    if parsed.kind == "float":
        index = FloatIndex(dim, parsed.structure, metric, use_gpu=use_gpu)
    elif parsed.kind == "bflat":
        index = BinaryFlatIndex(dim, use_gpu=use_gpu)
    elif parsed.kind == "bhash":
        index = BinaryHashIndex(dim, parsed.tables, parsed.table_bits)
    elif parsed.short_bits is None:
        raise InvalidParameterError(
            "The 'spec' parameter 'two-stage' names a saved two-stage index; a new one is 'TwoStage<short_bits>'."
        )
    else:
        index = TwoStageIndex(parsed.short_bits, dim - parsed.short_bits, use_gpu=use_gpu)
    index.set_params(dict(parsed.params))
    return index


Source = Path | np.ndarray  # a file, or serialised bytes


def _read(parsed: Spec, source: Source, name: str, metric: str | None, use_gpu: bool, runner: Runner) -> CodeIndex:
    """The index ``parsed`` names, read from ``source``; ``metric`` (when given) must be the file's."""
    if parsed.shards is not None:
        return _read_sharded(parsed, source, name, metric, use_gpu, runner)
    index = _read_one(parsed, source, name, metric, use_gpu)
    index.set_params(dict(parsed.params))
    return index


def _read_sharded(
    parsed: Spec, source: Source, name: str, metric: str | None, use_gpu: bool, runner: Runner
) -> ShardedIndex:
    one = parsed.one

    def read(data: np.ndarray, shard_name: str) -> CodeIndex:
        return _read(one, data, shard_name, metric, use_gpu, runner)

    if isinstance(source, Path):
        index = ShardedIndex.load(source, read, runner)
    else:
        index = ShardedIndex.from_bytes(source, name, read, runner)
    if index.count != parsed.shards:
        raise IndexFileError(f"{name}: holds {index.count} shards, not the {parsed.shards} of {parsed.text}")
    return index


def _read_one(parsed: Spec, source: Source, name: str, metric: str | None, use_gpu: bool) -> CodeIndex:
    index: CodeIndex
    if parsed.kind == "float":
        if isinstance(source, Path):
            index = FloatIndex.load(source, parsed.structure, use_gpu)
        else:
            index = FloatIndex.from_bytes(source, name, parsed.structure, use_gpu)
        if metric is not None and index.metric != metric:
            raise IndexFileError(f"{name}: holds an index for {index.metric} codes, not {metric}")
        return index
    if parsed.kind == "two-stage":
        if isinstance(source, Path):
            index = TwoStageIndex.load(source, use_gpu)
        else:
            index = TwoStageIndex.from_bytes(source, name, use_gpu)
        if parsed.short_bits is not None and index.structure != parsed.structure:
            raise IndexFileError(f"{name}: holds a {index.structure} index, not {parsed.structure}")
        return index
    raw = read_binary(source, name)
    for cls in (BinaryFlatIndex, BinaryHashIndex):
        found = cls.structure_of(raw)
        if found == parsed.structure:
            return cls.from_faiss(raw, name, use_gpu)
        if found is not None:
            raise IndexFileError(f"{name}: holds a {found} index, not {parsed.structure}")
    raise IndexFileError(f"{name}: a FAISS binary index, but not one this package writes")
