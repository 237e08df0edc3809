"""The data of each suite: the train split is the database, the test split the queries, labels say what is relevant."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SourceError
from ..sources import Document, ImageItem, is_cifar10, iter_cifar10, iter_newsgroups, load_cifar10
from ..sources.newsgroups import is_newsgroups_archive

QUICK_SIZES = {"text": (1500, 300), "image": (3000, 300)}  # database items, queries
SEED = 0


@dataclass
class SuiteData:
    """Database items (indexed) and queries with their labels."""

    database: list[Document] | list[ImageItem]
    queries: list[Any]  # texts, or (32, 32, 3) uint8 arrays
    labels: list[str]


def load_suite(suite: str, data: str | Path, quick: bool = False) -> SuiteData:
    """Read ``data`` for a ``text`` or ``image`` suite (20 Newsgroups by-date archive, CIFAR-10).

    ``quick`` keeps a seeded random slice (``QUICK_SIZES``) of each split.
    """
    data = Path(data)
    if not data.exists():
        raise SourceError(f"{data}: no such file or directory")
    if suite == "text":
        if not is_newsgroups_archive(data):
            raise SourceError(f"{data}: not the 20 Newsgroups by-date archive (20news-bydate.tar.gz)")
        database = [d for d in iter_newsgroups(data, "train") if isinstance(d, Document)]
        tests = [d for d in iter_newsgroups(data, "test") if isinstance(d, Document)]
        if quick:
            database, tests = _slice(database, QUICK_SIZES[suite][0], 1), _slice(tests, QUICK_SIZES[suite][1], 2)
        return SuiteData(database, [d.text for d in tests], [d.label for d in tests])
    if suite == "image":
        if not is_cifar10(data):
            raise SourceError(f"{data}: not the CIFAR-10 binary archive (cifar-10-binary.tar.gz) or its folder")
        database = list(iter_cifar10(data, "train"))
        images, labels, names = load_cifar10(data, "test")
        order = np.arange(len(images))
        if quick:
            database = _slice(database, QUICK_SIZES[suite][0], 1)
            order = np.sort(np.random.default_rng(SEED + 2).permutation(len(images))[: QUICK_SIZES[suite][1]])
        return SuiteData(database, list(images[order]), [names[i] for i in labels[order]])
    raise ValueError(f"The 'suite' parameter must be 'text' or 'image'. Got {suite!r} instead.")


def _slice(items: list, n: int, salt: int) -> list:
    if len(items) <= n:
        return items
    keep = np.sort(np.random.default_rng(SEED + salt).permutation(len(items))[:n])
    return [items[i] for i in keep]
