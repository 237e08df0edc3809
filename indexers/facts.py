"""What a saved index holds, read from its file's headers without faiss: the code width, the item count, the
search parameters, its size per item and the one-line description ``aer info`` prints.

The file is mapped, not loaded, and walked as every load checks it (``indexers.faiss_check``); a sharded or
two-stage container's header is read the same way, and each index inside it walked in place. So describing
a collection of any size takes milliseconds and loads neither faiss nor the codes.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import IndexFileError
from .faiss_check import FaissFacts, check_faiss
from .files import check_header
from .spec import Spec, check_family, check_metric, format_spec, parse_spec

SHARDED_FORMAT = "ae-retrieval-sharded"  # indexers.sharded.FORMAT
TWO_STAGE_FORMAT = "ae-retrieval-two-stage"  # indexers.two_stage.FORMAT


@dataclass(frozen=True)
class IndexFacts:
    """A saved index as its file describes it. ``dim``: floats, or bits (two-stage: short plus long bits)."""

    spec: str  # canonical, with the search parameters in effect
    dim: int
    items: int
    serialised_bytes: int  # the faiss indexes' bytes (a container's header left out)
    description: str  # as ``CodeIndex.describe()`` says it
    short_bits: int | None = None  # two-stage: the short code's width

    @property
    def bytes_per_item(self) -> float:
        """Serialised size per item, codes and keys included (what ``CodeIndex.bytes_per_item`` measures)."""
        return self.serialised_bytes / max(1, self.items)


def read_facts(path: str | Path, spec: str, metric: str) -> IndexFacts:
    """The facts of the index file at ``path`` that ``spec`` names (a manifest's spec: parameters it gives
    replace the saved ones, as ``load_index`` does). ``IndexFileError`` when it is missing or damaged."""
    metric = check_metric(metric)
    parsed = parse_spec(spec)
    check_family(parsed, metric, spec)
    path = Path(path)
    if not path.is_file():
        raise IndexFileError(f"{path}: missing (no index file)")
    try:
        size = path.stat().st_size
        data = np.memmap(path, dtype=np.uint8, mode="r") if size else None
    except OSError as exc:
        raise IndexFileError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if data is None:
        raise IndexFileError(f"{path}: empty (0 bytes), not an index")
    name = str(path)
    if parsed.shards is not None:
        shards = _arrays(data, name, "sharded index", SHARDED_FORMAT)
        if len(shards) != parsed.shards:
            raise IndexFileError(f"{name}: holds {len(shards)} shards, not the {parsed.shards} of {parsed.text}")
        parts = [check_faiss(part, f"{name} ({key})", parsed.binary) for key, part in sorted(shards.items())]
        found = FaissFacts(parts[0].dim, sum(p.ntotal for p in parts), parts[0].params)
        short_bits, size = None, sum(len(part) for part in shards.values())
    elif parsed.kind == "two-stage":
        stages = _arrays(data, name, "two-stage index", TWO_STAGE_FORMAT)
        if set(stages) != {"short", "long"}:
            raise IndexFileError(f"{name}: not a two-stage index (holds {sorted(stages)})")
        short = check_faiss(stages["short"], f"{name} (short codes)", binary=True)
        long = check_faiss(stages["long"], f"{name} (long codes)", binary=True)
        found = FaissFacts(short.dim + long.dim, long.ntotal, {"radius": short.params.get("nflip", 0)})
        short_bits, size = short.dim, len(stages["short"]) + len(stages["long"])
    else:
        found = check_faiss(data, name, parsed.binary)
        short_bits = None
    params = {**found.params, **dict(parsed.params)}
    structure = f"TwoStage{short_bits}" if short_bits else parsed.structure
    return IndexFacts(
        spec=("" if parsed.shards is None else f"Shards{parsed.shards},") + format_spec(structure, params),
        dim=found.dim,
        items=found.ntotal,
        serialised_bytes=size,
        description=describe(parsed, metric, found.dim, params, short_bits=short_bits),
        short_bits=short_bits,
    )


def describe(spec: Spec, metric: str, dim: int, params: Mapping[str, int], *, short_bits: int | None = None) -> str:
    """One line for people, e.g. ``IDMap2,IVF64,Flat (inner product, nprobe 8)``, ``BHash2x32 (Hamming, 64 bits,
    nflip 1)``, ``2 shards of IDMap2,Flat (inner product)``: the words each index's ``describe()`` uses."""
    if spec.shards is not None:
        return f"{spec.shards} shards of {describe(spec.one, metric, dim, params)}"
    if spec.kind == "two-stage":
        short = short_bits or spec.short_bits or 0
        long = describe(parse_spec("BFlat"), "hamming", dim - short, {})
        radius = params.get("radius")
        return f"TwoStage{short} (two-stage: {short}-bit hash shortlist within radius {radius}, {long} re-ranking)"
    extra = "".join(f", {name} {value}" for name, value in sorted(params.items()))
    if spec.kind == "float":
        return f"{spec.structure} ({'inner product' if metric == 'cosine' else 'L2'}{extra})"
    return f"{spec.structure} (Hamming, {dim} bits{extra})"


def _arrays(data: np.ndarray, name: str, what: str, fmt: str) -> dict[str, memoryview]:
    """The serialised indexes in a safetensors container (``indexers.files.write_arrays``), as views of ``data``;
    its header is checked first, as reading it checks it."""
    view = memoryview(data).cast("B")
    check_header(lambda start, n: bytes(view[start : start + n]), len(view), name, what, fmt)
    (length,) = struct.unpack("<Q", view[:8])
    header = json.loads(bytes(view[8 : 8 + length]))
    header.pop("__metadata__", None)
    base = 8 + length
    return {key: view[base + e["data_offsets"][0] : base + e["data_offsets"][1]] for key, e in header.items()}
