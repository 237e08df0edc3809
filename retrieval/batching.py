"""Fixed-size batches of any iterable, read lazily (a stream larger than memory stays a stream)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last one shorter)."""
    if size < 1:
        raise ValueError(f"The 'size' parameter must be at least 1. Got {size} instead.")
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch
