"""The FAISS layer: code indexes with stable keys, saved beside the collection."""

from .float_index import DEFAULT_SPEC, FloatIndex, IndexFileError
from .gpu import gpu_count

__all__ = ["DEFAULT_SPEC", "FloatIndex", "IndexFileError", "gpu_count"]
