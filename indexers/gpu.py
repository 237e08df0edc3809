"""Moving FAISS indexes to the GPU when the installed faiss has GPU support and sees a GPU."""

from __future__ import annotations

import functools

import faiss


@functools.cache
def gpu_count() -> int:
    """GPUs faiss can use (0 with ``faiss-cpu``)."""
    get = getattr(faiss, "get_num_gpus", None)
    return int(get()) if get else 0


@functools.cache
def gpu_resources() -> object:
    """One ``StandardGpuResources`` for the process (scratch memory, streams)."""
    return faiss.StandardGpuResources()


def to_gpu(index: faiss.Index) -> faiss.Index:
    """A GPU copy of ``index`` on device 0 for searching; the CPU index stays the one saved."""
    return faiss.index_cpu_to_gpu(gpu_resources(), 0, index)
