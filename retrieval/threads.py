"""One setting for every thread pool the library runs: torch's, the BLAS under NumPy/scikit-learn, faiss's
OpenMP, and the Rust tokenizers'.

``AER_THREADS`` (or ``aer --threads N``, or :func:`set_threads`) sizes them all; unset, each pool gets the
CPUs this process may run on. What made two processes on one machine slow each other down by 5× rather than 2×
was not the pool sizes but OpenMP's spin-waiting: an idle worker thread spins for a while before it sleeps,
burning the core another process needs. ``OMP_WAIT_POLICY=PASSIVE`` (set here unless the user set it) makes
idle workers sleep at once; it must be in the environment before torch or faiss is first imported, which is
why ``retrieval`` imports this module first. NumPy's OpenBLAS spins likewise, and is told the same here
(``OPENBLAS_THREAD_TIMEOUT``), which takes effect when ``retrieval`` is imported before NumPy. Importing
``retrieval`` loads neither torch nor faiss: they load when first used, after these variables are set.
"""

from __future__ import annotations

import os
import sys
import warnings

ENV = "AER_THREADS"
# read once by OpenMP runtimes (torch's, faiss's), OpenBLAS and MKL when each loads: its pool size
POOL_SIZE_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

# Before torch / faiss load their OpenMP runtimes (they read these once, at load time).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("KMP_BLOCKTIME", "0")  # the same, for an Intel OpenMP runtime
# NumPy's OpenBLAS (pthreads, not OpenMP) spins about 0.1 s after each call by default: a batch query's encode
# then slowed the index scan after it from about 105 to 170-200 ms. 4 is its shortest wait; read when NumPy first loads.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def thread_count() -> int:
    """Threads per pool: ``AER_THREADS`` when it is a positive int (anything else is warned about and ignored),
    else :func:`available_cpus`."""
    value = os.environ.get(ENV, "").strip()
    if value:
        if value.isdigit() and int(value) >= 1:
            return int(value)
        warnings.warn(f"{ENV}={value!r} is not a positive number of threads; using {available_cpus()}", stacklevel=2)
    return available_cpus()


def set_threads(n: int | None = None) -> int:
    """Size every pool to ``n`` threads (default :func:`thread_count`) in this process; return ``n``. Later
    child processes inherit it through ``AER_THREADS``.

    A pool already running (torch, faiss or a BLAS that is loaded) is resized now; one that is not loaded yet
    reads the standard variables set here when it loads, so this does not import torch or faiss itself (``aer``
    commands that never need them start without them)."""
    n = thread_count() if n is None else int(n)
    if n < 1:
        raise ValueError(f"the thread count must be at least 1. Got {n!r} instead.")
    os.environ[ENV] = str(n)
    os.environ["RAYON_NUM_THREADS"] = str(n)  # the tokenizers library reads it when it starts its pool
    for var in POOL_SIZE_VARIABLES:
        os.environ[var] = str(n)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)
    if "faiss" in sys.modules:
        sys.modules["faiss"].omp_set_num_threads(n)
    from threadpoolctl import threadpool_limits

    threadpool_limits(n)  # the BLAS and OpenMP runtimes loaded so far
    return n
