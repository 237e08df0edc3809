"""The FAISS layer: code indexes with stable keys, named by spec strings, saved beside the collection.

``create_index(spec, dim, metric)``, ``load_index(path, spec, metric)`` and ``index_from_bytes(data, spec, name)``
build and read every kind of index (``indexers.spec`` is the grammar); each is a ``CodeIndex``.

Importing the package is cheap: each public name is imported from its module on first use (PEP 562), so a
caller that needs only ``indexers.errors`` or ``indexers.spec`` does not load faiss.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> the module that defines it
_LAZY = {
    "CodeIndex": "base", "HammingIndex": "binary_base", "BinaryFlatIndex": "binary_flat",
    "BinaryHashIndex": "binary_hash", "hamming_distances": "bits", "pack_bits": "bits", "unpack_bits": "bits",
    "IndexChoice": "choice", "choose_index": "choice", "explain_choice": "choice", "parse_size": "choice",
    "IndexFileError": "errors", "InvalidParameterError": "errors", "RetrievalError": "errors",
    "check_spec": "factory", "create_index": "factory", "default_spec": "factory", "index_from_bytes": "factory",
    "load_index": "factory", "shard_spec": "factory", "FloatIndex": "float_index", "gpu_count": "gpu",
    "RecallProbe": "recall", "recall_at_k": "recall", "ShardedIndex": "sharded", "merge_top_k": "sharded",
    "DEFAULT_BINARY_SPEC": "spec", "DEFAULT_FLOAT_SPEC": "spec", "parse_spec": "spec",
    "TwoStageIndex": "two_stage", "TwoStageStats": "two_stage", "join_codes": "two_stage",
}  # fmt: skip

if TYPE_CHECKING:
    from .base import CodeIndex
    from .binary_base import HammingIndex
    from .binary_flat import BinaryFlatIndex
    from .binary_hash import BinaryHashIndex
    from .bits import hamming_distances, pack_bits, unpack_bits
    from .choice import IndexChoice, choose_index, explain_choice, parse_size
    from .errors import IndexFileError, InvalidParameterError, RetrievalError
    from .factory import check_spec, create_index, default_spec, index_from_bytes, load_index, shard_spec
    from .float_index import FloatIndex
    from .gpu import gpu_count
    from .recall import RecallProbe, recall_at_k
    from .sharded import ShardedIndex, merge_top_k
    from .spec import DEFAULT_BINARY_SPEC, DEFAULT_FLOAT_SPEC, parse_spec
    from .two_stage import TwoStageIndex, TwoStageStats, join_codes


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value  # later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "DEFAULT_BINARY_SPEC", "DEFAULT_FLOAT_SPEC", "BinaryFlatIndex", "BinaryHashIndex", "CodeIndex", "FloatIndex",
    "HammingIndex", "IndexChoice", "IndexFileError", "InvalidParameterError", "RecallProbe", "RetrievalError",
    "ShardedIndex", "TwoStageIndex", "TwoStageStats", "check_spec", "choose_index", "create_index", "default_spec",
    "explain_choice", "gpu_count", "hamming_distances", "index_from_bytes", "join_codes", "load_index", "merge_top_k",
    "pack_bits", "parse_size", "parse_spec", "recall_at_k", "shard_spec", "unpack_bits",
]  # fmt: skip
