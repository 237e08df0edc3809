"""Keep freed memory in the process (Linux, glibc): training steps stop paying page faults for their tensors.

Why: glibc's malloc serves large blocks with ``mmap`` and hands them back to the kernel when they are freed, and
trims the heap's top whenever a little of it is free. A training step of the image autoencoders allocates and
frees activation tensors of tens of megabytes, so each step faulted its memory back in page by page, and a
CIFAR-10 build spent about as much time in the kernel as in training (measured: benchmarks/studies/graph-cifar).
Raising both thresholds to their limit makes freed blocks stay in the heap for the next step. The cost: the
process keeps its peak memory until it exits, rather than returning it.

Like ``retrieval.threads.set_wait_defaults``, this is for the program that owns the process (``aer`` calls it
first); importing ``retrieval`` never does. Where the user has set glibc's own variables (``MALLOC_TRIM_THRESHOLD_``,
``MALLOC_MMAP_THRESHOLD_``, or ``GLIBC_TUNABLES``), or the C library is not glibc, it does nothing. It is
``mallopt(3)`` through ``ctypes``: there is no library for it, and the two calls are all it takes.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt(3) parameters (malloc.h)
LIMIT = 2**31 - 1  # mallopt takes an int
USER_SETTINGS = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES")
applied = False  # whether this process's malloc was told (for `aer` and its tests)


def keep_freed_memory() -> bool:
    """Raise glibc's trim and mmap thresholds to their limit, unless the user set them or this is not glibc;
    whether it did."""
    global applied
    if not sys.platform.startswith("linux") or any(name in os.environ for name in USER_SETTINGS):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # musl and others: no libc.so.6, or no mallopt
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    applied = bool(mallopt(M_MMAP_THRESHOLD, LIMIT)) and bool(mallopt(M_TRIM_THRESHOLD, LIMIT))
    return applied
