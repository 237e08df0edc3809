"""The FAISS layer: code indexes with stable keys, saved beside the collection."""

from .binary_index import (
    DEFAULT_BINARY_SPEC,
    BinaryIndex,
    hamming_distances,
    pack_bits,
    parse_binary_spec,
    unpack_bits,
)  # fmt: skip
from .choice import IndexChoice, choose_index, parse_size
from .float_index import DEFAULT_SPEC, FloatIndex, IndexFileError
from .gpu import gpu_count
from .recall import RecallProbe
from .sharded import ShardedIndex, merge_top_k
from .two_stage import TwoStageIndex, TwoStageStats, join_codes


def check_spec(spec: str, binary: bool) -> None:
    """Refuse a spec of the wrong family early (before minutes of training), with a clear message."""
    if binary:
        parse_binary_spec(spec, 1024)
    elif not spec.startswith("IDMap2"):
        raise ValueError(f"The 'spec' parameter must start with 'IDMap2' (stable ids). Got {spec!r} instead.")


__all__ = [
    "check_spec", "choose_index", "parse_size", "IndexChoice", "RecallProbe", "ShardedIndex", "merge_top_k",
    "DEFAULT_BINARY_SPEC", "DEFAULT_SPEC", "BinaryIndex", "FloatIndex", "IndexFileError", "TwoStageIndex",
    "TwoStageStats", "gpu_count", "join_codes", "hamming_distances", "pack_bits", "unpack_bits",
]  # fmt: skip
