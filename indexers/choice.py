"""Which FAISS index a collection gets, from its size, its codes and an optional memory / latency budget.

Exact search while its estimated latency is within the target; beyond that an inverted file (IVF) for
real-valued codes — with product quantisation (PQ) when flat codes would not fit the memory budget —
and multi-table hash lookup for binary codes. The latency model is a linear scan cost per stored byte,
calibrated on the 2-core reference machine (``benchmarks/scale.py`` measures the real figures).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from .spec import DEFAULT_BINARY_SPEC, DEFAULT_FLOAT_SPEC

DEFAULT_TARGET_LATENCY_MS = 10.0
# Seconds per stored code byte of an exhaustive one-query scan on one core (measured with faiss
# IndexFlatIP, 1M x 32 floats: ~13 ms unloaded; IndexBinaryFlat, 1M x 64 bits: ~1.4 ms unloaded).
SCAN_S_PER_FLOAT_BYTE = 1.0e-10
SCAN_S_PER_BINARY_BYTE = 1.8e-10
ID_BYTES = 8  # the int64 key kept beside each code
MIN_TRAIN_PER_LIST = 39  # faiss's k-means wants at least this many training points per centroid
PQ_MIN_TRAIN = 256 * MIN_TRAIN_PER_LIST  # each PQ sub-quantiser has 256 centroids
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class IndexChoice:
    """A spec (``indexers.spec`` grammar, search parameters included) and why it was picked."""

    spec: str
    reason: str
    exact: bool

    def as_dict(self) -> dict[str, object]:
        """What a collection's manifest keeps of the choice."""
        return {"spec": self.spec, "reason": self.reason, "exact": self.exact}


def parse_size(text: str) -> int:
    """Bytes in ``text``: ``"512MB"``, ``"2G"``, ``"1.5GiB"``, ``"1000000"``."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"The memory budget must be a size such as 512MB or 2GB. Got {text!r} instead.")
    number, unit = float(match.group(1)), match.group(2).lower()
    return int(number * 1024 ** "kmgt".index(unit) * 1024) if unit else int(number)


def choose_index(
    n: int,
    dim: int,
    *,
    binary: bool,
    train_items: int | None = None,
    memory_budget: int | None = None,
    target_latency_ms: float | None = None,
) -> IndexChoice:
    """The index for ``n`` codes of ``dim`` floats (or ``dim`` bits when ``binary``); its spec carries the search
    parameter it needs (``BHash2x32,nflip=1``, ``IDMap2,IVF256,Flat,nprobe=8``).

    ``train_items``: codes available to train an IVF quantiser (the fit sample), which caps the lists;
    ``memory_budget``: bytes the index may take; ``target_latency_ms``: the one-query latency to stay under.
    """
    target = DEFAULT_TARGET_LATENCY_MS if target_latency_ms is None else target_latency_ms
    code_bytes = dim // 8 if binary else 4 * dim
    flat_bytes = n * (code_bytes + ID_BYTES)
    scan_ms = n * code_bytes * (SCAN_S_PER_BINARY_BYTE if binary else SCAN_S_PER_FLOAT_BYTE) * 1000
    size = f"{n:,} items of {dim} {'bits' if binary else 'floats'}"
    over_budget = memory_budget is not None and flat_bytes > memory_budget
    budget = f"memory budget {_human(memory_budget)}" if memory_budget is not None else ""
    if scan_ms <= target and not over_budget:
        return IndexChoice(
            DEFAULT_BINARY_SPEC if binary else DEFAULT_FLOAT_SPEC,
            f"exact search: {size}, estimated scan {scan_ms:.1f} ms <= target {target:g} ms"
            + (f", {_human(flat_bytes)} within the {budget}" if budget else ""),
            exact=True,
        )
    why = (
        f"{size}: {_human(flat_bytes)} exceeds the {budget}"
        if over_budget
        else f"{size}: estimated exact scan {scan_ms:.1f} ms > target {target:g} ms"
    )
    if binary:
        # Long keys probed one flip away: few, small buckets. On 64-bit 20 Newsgroups codes at 1M items
        # this gave recall@10 0.99 at a quarter of exhaustive search's latency (benchmarks/scale.py);
        # 16-bit keys with 2 flips found everything but were 30x slower than exhaustive search.
        width = min(32, dim)
        tables = dim // width
        spec = f"BHash{tables}x{width},nflip=1" if tables > 1 else f"BHash{width},nflip=1"
        note = " (binary codes are already the compact form; the budget cannot be met)" if over_budget else ""
        return IndexChoice(spec, f"{why}; hash lookup in {tables} tables of {width} bits, 1 flip{note}", exact=False)
    nlist = _nlist(n, train_items)
    nprobe = min(nlist, max(8, nlist // 32))  # FloatIndex's default for IVF specs
    if over_budget and (train_items or 0) < PQ_MIN_TRAIN:
        return IndexChoice("IDMap2,SQ8", f"{why}; 8-bit scalar quantisation (too few codes to train PQ)", False)
    if over_budget:
        m = _pq_bytes(dim, memory_budget, n)
        return IndexChoice(
            f"IDMap2,IVF{nlist},PQ{m},nprobe={nprobe}", f"{why}; IVF with {nlist} lists, PQ codes of {m} bytes", False
        )
    return IndexChoice(
        f"IDMap2,IVF{nlist},Flat,nprobe={nprobe}", f"{why}; IVF with {nlist} lists, {nprobe} probed", False
    )


def explain_choice(choice: dict[str, Any] | None, items: int) -> dict[str, Any]:
    """What a collection says of its index: why it was chosen (``IndexChoice.as_dict()`` as kept in the
    manifest), the measured recall, and a hint when the collection has outgrown the choice."""
    if not choice:
        return {}
    out = {"index_reason": choice["reason"]}
    if choice.get("recall_at_10") is not None:
        out["index_recall_at_10"] = choice["recall_at_10"]
    chosen_for = choice.get("items") or 0
    if chosen_for and items > 10 * chosen_for:
        out["index_hint"] = (
            f"chosen for {chosen_for:,} items, now {items:,}: re-index into a new collection to choose again"
        )
    return out


def _nlist(n: int, train_items: int | None) -> int:
    """About 4 sqrt(n) lists, a power of two, no more than the training codes support."""
    want = 4 * math.sqrt(n)
    if train_items is not None:
        want = min(want, train_items / MIN_TRAIN_PER_LIST)
    return 2 ** max(4, int(math.log2(max(want, 16))))


def _pq_bytes(dim: int, budget: int | None, n: int) -> int:
    """The largest PQ code (a divisor of ``dim``, at most ``dim`` bytes) that fits ``budget`` for ``n`` items."""
    room = (budget or 0) / max(n, 1) - ID_BYTES
    fits = [m for m in range(1, dim + 1) if dim % m == 0 and m <= room]
    return max(fits) if fits else 1


def _human(nbytes: int | None) -> str:
    value = float(nbytes or 0)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"
