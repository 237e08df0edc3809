"""What checking a large collection costs: `aer verify` and the digest check on open, at N binary codes.

    python benchmarks/verify_cost.py --items 1000000 --out runs/verify

Builds (once) a collection of N items with 64-bit codes through the library: a tiny encoder registered
here gives each text a code from its hash, so building measures the collection and not a model. Then times
``retrieval.collection.verify.verify`` (manifest, digests, encoder, index, store binding, key agreement) and the
digest check alone, and prints one JSON line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

import retrieval
from retrieval.collection import directory
from retrieval.encoders.base import Encoder
from retrieval.encoders.registry import register
from retrieval.collection.verify import verify


@register
class HashBits(Encoder):
    """64 bits from a text's blake2b digest: no model, so the build is the collection's cost alone."""

    name: ClassVar[str] = "bench-hash-bits"
    modality: ClassVar[str] = "text"
    metric: ClassVar[str] = "hamming"

    def __init__(self, bits: int = 64) -> None:
        self.bits = self.dim = bits

    def _fit(self, items: Any) -> None:
        self.fitted_ = True

    def _prepare(self, items: Any) -> Any:
        return list(items)

    def _prepare_queries(self, queries: Any) -> Any:
        return list(queries)

    def _encode(self, inputs: Any, errors: bool) -> tuple[np.ndarray, None]:
        raw = [hashlib.blake2b(t.encode(), digest_size=self.bits // 8).digest() for t in inputs]
        return np.frombuffer(b"".join(raw), dtype=np.uint8).reshape(len(inputs), -1), None

    def _get_arrays(self) -> dict[str, np.ndarray]:
        return {"bits": np.array([self.bits])}

    def _set_arrays(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.fitted_ = True


def build(path: Path, items: int) -> float:
    t0 = time.perf_counter()
    docs = (retrieval.Document(id=f"d{i}", text=f"document {i}") for i in range(items))
    retrieval.index_source(list(docs), path, encoder="bench-hash-bits", index="BFlat", fit_sample=1000)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path("runs/verify"))
    args = parser.parse_args()
    path = args.out / f"hash-{args.items}.aer"
    built_s = None if directory.is_collection(path) else build(path, args.items)
    t0 = time.perf_counter()
    found = verify(path)
    verify_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    damaged = directory.damaged_files(path)
    digest_s = time.perf_counter() - t0
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    print(json.dumps({
        "items": args.items, "ok": found.ok and not damaged, "build_s": built_s, "verify_s": round(verify_s, 2),
        "digest_check_s": round(digest_s, 3), "collection_mb": round(size / 2**20, 1),
        "index_mb": round((path / directory.INDEX_FILE).stat().st_size / 2**20, 1),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
