"""The FAISS layer: code indexes with stable keys, named by spec strings, saved beside the collection.

``create_index(spec, dim, metric)``, ``load_index(path, spec, metric)`` and ``index_from_bytes(data, spec, name)``
build and read every kind of index (``indexers.spec`` is the grammar); each is a ``CodeIndex``.
"""

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

__all__ = [
    "DEFAULT_BINARY_SPEC", "DEFAULT_FLOAT_SPEC", "BinaryFlatIndex", "BinaryHashIndex", "CodeIndex", "FloatIndex",
    "HammingIndex", "IndexChoice", "IndexFileError", "InvalidParameterError", "RecallProbe", "RetrievalError",
    "ShardedIndex", "TwoStageIndex", "TwoStageStats", "check_spec", "choose_index", "create_index", "default_spec",
    "explain_choice", "gpu_count", "hamming_distances", "index_from_bytes", "join_codes", "load_index", "merge_top_k",
    "pack_bits", "parse_size", "parse_spec", "recall_at_k", "shard_spec", "unpack_bits",
]  # fmt: skip
