"""The unsupervised text-hashing literature's 20 Newsgroups protocol, rebuilt from the by-date archive.

The recipe the papers share (VDSH, NASH, AMMI, SNUH, ...), as ``load_literature`` applies it:

1. the by-date archive's train and test posts, read as scikit-learn's ``fetch_20newsgroups`` reads them (Latin-1,
   ordered by newsgroup, then by file name), with ``remove=('headers', 'footers', 'quotes')``: scikit-learn's own
   ``strip_newsgroup_header``, ``strip_newsgroup_footer`` and ``strip_newsgroup_quoting``, in that order;
2. a vocabulary of the 10,000 most frequent words of the train posts (``CountVectorizer``: English stop words,
   ``min_df=3``, ``max_df=0.8``);
3. every post with at most 5 or more than 500 vocabulary words (counted with repeats) dropped;
4. the kept test posts shuffled (seeded) and halved: the first half validation, the second half test.

Relevant = same newsgroup; precision over the top 100 of the train posts by Hamming distance. Ties in Hamming
distance are common at short widths, so ``ranked_precision`` reports two figures: ties broken by database order
(the stable sort), and the expectation over random tie-breaking (the tied items at the cut share its places).
"""

from __future__ import annotations

import re
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SourceError
from ..sources.newsgroups import ARCHIVE_ERRORS

SEED = 0
VOCABULARY = {"max_features": 10_000, "stop_words": "english", "min_df": 3, "max_df": 0.8}
MIN_WORDS, MAX_WORDS = 5, 500  # a post is kept when MIN_WORDS < its vocabulary words <= MAX_WORDS
K = 100
_MEMBER = re.compile(r"^(?:\./)?20news-bydate-(train|test)/([^/]+)/([^/]+)$")


@dataclass
class Split:
    """Texts (stripped) and their newsgroups, with the ids ``<split>/<group>/<file>`` they came from."""

    texts: list[str]
    labels: list[str]
    ids: list[str]

    def __len__(self) -> int:
        return len(self.texts)


@dataclass
class LiteratureData:
    """The protocol's train (the database), validation and test (the queries) splits, and how they were made."""

    train: Split
    validation: Split
    test: Split
    vocabulary: list[str]
    counts: dict[str, Any] = field(default_factory=dict)

    @property
    def all_test(self) -> Split:
        """Validation and test together: every kept test post (what a run without a validation half queries)."""
        v, t = self.validation, self.test
        return Split(v.texts + t.texts, v.labels + t.labels, v.ids + t.ids)


def strip(text: str) -> str:
    """``text`` with headers, signature block and quoted lines removed, exactly as scikit-learn's
    ``fetch_20newsgroups(remove=('headers', 'footers', 'quotes'))`` removes them."""
    from sklearn.datasets._twenty_newsgroups import (
        strip_newsgroup_footer,
        strip_newsgroup_header,
        strip_newsgroup_quoting,
    )

    return strip_newsgroup_quoting(strip_newsgroup_footer(strip_newsgroup_header(text)))


def read_archive(path: str | Path) -> dict[str, list[tuple[str, str, str]]]:
    """``{"train": [...], "test": [...]}`` of ``(id, newsgroup, raw text)``, in scikit-learn's order (newsgroup,
    then file name, as strings), decoded as Latin-1 as ``fetch_20newsgroups`` decodes them."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: no such file (give the 20 Newsgroups by-date archive, 20news-bydate.tar.gz)")
    splits: dict[str, list[tuple[str, str, str]]] = {"train": [], "test": []}
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                m = _MEMBER.match(member.name)
                if not m or not member.isfile():
                    continue
                split, group, name = m.groups()
                fh = tar.extractfile(member)
                raw = fh.read() if fh else b""
                splits[split].append((f"{split}/{group}/{name}", group, raw.decode("latin-1")))
    except ARCHIVE_ERRORS as exc:
        raise SourceError(f"{path}: cannot read as the 20 Newsgroups by-date archive ({exc})") from exc
    if not splits["train"] or not splits["test"]:
        raise SourceError(f"{path}: not the 20 Newsgroups by-date archive (no 20news-bydate-train/test posts)")
    for posts in splits.values():
        posts.sort(key=lambda p: (p[1], p[0].rsplit("/", 1)[1]))
    return splits


def load_literature(path: str | Path, seed: int = SEED) -> LiteratureData:
    """The protocol's splits from the by-date archive at ``path`` (see the module docstring); ``counts`` says how
    many posts each step kept."""
    from sklearn.feature_extraction.text import CountVectorizer

    raw = read_archive(path)
    stripped = {s: [(i, g, strip(t)) for i, g, t in posts] for s, posts in raw.items()}
    vectoriser = CountVectorizer(**VOCABULARY)
    vectoriser.fit([t for _, _, t in stripped["train"]])
    kept, counts = {}, {}
    for split, posts in stripped.items():
        words = np.asarray(vectoriser.transform([t for _, _, t in posts]).sum(axis=1)).ravel()
        keep = np.flatnonzero((words > MIN_WORDS) & (words <= MAX_WORDS))
        kept[split] = Split([posts[i][2] for i in keep], [posts[i][1] for i in keep], [posts[i][0] for i in keep])
        counts[split] = {"read": len(posts), "at_most_5_words": int((words <= MIN_WORDS).sum()),
                         "over_500_words": int((words > MAX_WORDS).sum()), "kept": len(keep)}  # fmt: skip
    validation, test = halve(kept["test"], seed)
    counts["validation"], counts["test_half"] = len(validation), len(test)
    vocabulary = list(vectoriser.get_feature_names_out())
    counts["vocabulary"] = len(vocabulary)
    return LiteratureData(kept["train"], validation, test, vocabulary, counts)


def halve(split: Split, seed: int = SEED) -> tuple[Split, Split]:
    """``split`` shuffled by ``np.random.default_rng(seed)``; the first ``len // 2`` posts of the shuffle are the
    validation half, the rest the test half."""
    order = np.random.default_rng(seed).permutation(len(split))
    half = len(split) // 2

    def take(positions: np.ndarray) -> Split:
        return Split([split.texts[i] for i in positions], [split.labels[i] for i in positions],
                     [split.ids[i] for i in positions])  # fmt: skip

    return take(order[:half]), take(order[half:])


def ranked_precision(
    distances: np.ndarray, query_labels: Sequence[str], database_labels: Sequence[str], k: int = K
) -> dict[str, float]:
    """Mean precision over each query's ``k`` nearest database items (smallest ``distances``, one row per query):
    ``ties_by_order``, ties at the cut broken by database position; ``ties_expected``, the expectation when they
    are broken at random (the items tied with the ``k``-th share the places left, in proportion)."""
    distances = np.asarray(distances)
    if distances.shape[1] < k:
        raise ValueError(f"precision over the top {k} needs a database of at least {k} items; got {distances.shape[1]}")
    ids: dict[str, int] = {}
    db = np.array([ids.setdefault(lab, len(ids)) for lab in database_labels])
    q = np.array([ids.get(lab, -1) for lab in query_labels])
    rel = db[None, :] == q[:, None]
    top = np.argsort(distances, axis=1, kind="stable")[:, :k]
    by_order = np.take_along_axis(rel, top, axis=1).sum(axis=1) / k
    cut = np.take_along_axis(distances, top[:, -1:], axis=1)
    closer, tied = distances < cut, distances == cut
    places = k - closer.sum(axis=1)
    expected = ((rel & closer).sum(axis=1) + places * (rel & tied).sum(axis=1) / tied.sum(axis=1)) / k
    return {"ties_by_order": float(by_order.mean()), "ties_expected": float(expected.mean())}


def hamming_distances(queries: np.ndarray, database: np.ndarray) -> np.ndarray:
    """Hamming distances between rows of bits (``{0, 1}`` or booleans, unpacked), as ``int32``."""
    a = np.where(np.asarray(queries, dtype=bool), 1.0, -1.0).astype(np.float32)
    b = np.where(np.asarray(database, dtype=bool), 1.0, -1.0).astype(np.float32)
    return np.rint((a.shape[1] - a @ b.T) / 2).astype(np.int32)


def cosine_distances(queries: np.ndarray, database: np.ndarray) -> np.ndarray:
    """One minus the cosine similarity between rows of floats (a zero row is at distance 1 from everything)."""

    def unit(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    return 1.0 - unit(queries) @ unit(database).T
