"""The FAISS layer: code indexes with stable keys, saved beside the collection."""

from .binary_index import DEFAULT_BINARY_SPEC, BinaryIndex, hamming_distances, pack_bits, unpack_bits
from .float_index import DEFAULT_SPEC, FloatIndex, IndexFileError
from .gpu import gpu_count
from .two_stage import TwoStageIndex, TwoStageStats

__all__ = [
    "DEFAULT_BINARY_SPEC", "DEFAULT_SPEC", "BinaryIndex", "FloatIndex", "IndexFileError", "TwoStageIndex",
    "TwoStageStats", "gpu_count", "hamming_distances", "pack_bits", "unpack_bits",
]  # fmt: skip
