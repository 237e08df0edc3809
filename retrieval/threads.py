"""One setting for every thread pool the library runs: torch's, the BLAS under NumPy/scikit-learn, faiss's
OpenMP, and the Rust tokenizers'.

Importing ``retrieval`` changes nothing in its host process: no environment variable, no pool size. A program
that embeds the library sizes the pools itself with :func:`set_threads`; the ``aer`` command does it for its own
process (``aer --threads N`` or ``AER_THREADS``), and also calls :func:`set_wait_defaults` before anything loads
NumPy, torch or faiss.

Why the wait defaults: what made two processes on one machine slow each other down by 5× rather than 2× was not
the pool sizes but OpenMP's spin-waiting: an idle worker thread spins for a while before it sleeps, burning the
core another process needs. ``OMP_WAIT_POLICY=PASSIVE`` makes idle workers sleep at once; NumPy's OpenBLAS spins
likewise and is told the same (``OPENBLAS_THREAD_TIMEOUT``). Each runtime reads its variable once, when it
loads, so they are set by the program that owns the process, first thing, never by a library import.
"""

from __future__ import annotations

import os
import sys
import warnings

ENV = "AER_THREADS"
# read once by OpenMP runtimes (torch's, faiss's), OpenBLAS and MKL when each loads: its pool size
POOL_SIZE_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

WAIT_DEFAULTS = {
    "OMP_WAIT_POLICY": "PASSIVE",  # idle OpenMP workers (torch's, faiss's) sleep at once instead of spinning
    "KMP_BLOCKTIME": "0",  # the same, for an Intel OpenMP runtime
    # NumPy's OpenBLAS (pthreads, not OpenMP) spins about 0.1 s after each call by default: a batch query's
    # encode then slowed the index scan after it from about 105 to 170-200 ms. 4 is its shortest wait.
    "OPENBLAS_THREAD_TIMEOUT": "4",
}


def set_wait_defaults() -> None:
    """Set each of ``WAIT_DEFAULTS`` the user has not set, in this process's environment (see the module docstring).

    For the program that owns the process (``aer`` and ``aer serve`` call it first): a runtime reads its variable
    once, when it loads, so this must run before NumPy, torch or faiss is imported; importing ``retrieval``
    never calls it."""
    for name, value in WAIT_DEFAULTS.items():
        os.environ.setdefault(name, value)


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
