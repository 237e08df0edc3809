"""Labelled corpora, the one type every evaluation reads (``Corpus``): the items indexed, and queries with the
labels that say what is relevant (same label = relevant).

``load_suite``: a whole archive split in two, the train split the database and the test split the queries (the
``text`` and ``image`` suites of ``aer bench``: 20 Newsgroups by-date, CIFAR-10).

The corpora of the generalisation suite (``aer bench general``), read from one data folder by ``load_corpora``.
Archives are streamed by ``load_suite`` and the readers of ``retrieval.sources`` (nothing is extracted):

- ``20news-<n>`` / ``20news-full``: a seeded class-stratified sample of ``n`` train messages (or the whole train
  split) is the database; the queries are one seeded uniform sample of the test split, the same for every size.
- ``fortunes``: ``fortunes.jsonl`` less its grab-bag categories and those under ``FORTUNES_MIN_ITEMS`` items,
  leave-one-out.
- ``cifar-<n>``: a seeded class-stratified sample of ``n`` train images; queries as for 20 Newsgroups.
- ``brown`` (named, not in the default plan): passages of the Brown Corpus by genre, read from where npm or NLTK
  installed it (``retrieval.eval.prose``); queries are a seeded uniform sample of the passages of held-out texts.
- ``fashion-<n>`` (named, not in the default plan): a seeded class-stratified sample of ``n`` Fashion-MNIST train
  images, read from where Debian's ``dataset-fashion-mnist`` installed it (``retrieval.eval.images_extra``);
  queries as for CIFAR-10.
- ``glyphs`` (named, not in the default plan): 62 letters and digits drawn in each font of Debian's
  ``fonts-dejavu-core`` and ``fonts-liberation`` (``retrieval.eval.glyphs``), labelled by character, leave-one-out.
- ``digits``: scikit-learn's ``load_digits`` (8×8, values 0..16) scaled to 0..255 and brought to 32×32 RGB by
  ``retrieval.images.to_pixels``, leave-one-out.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..collection import Item
from ..errors import InvalidParameterError, SourceError
from ..images import to_pixels
from ..sources import Document, ImageItem, is_cifar10, iter_cifar10, iter_items, iter_newsgroups, load_cifar10
from ..sources.newsgroups import is_newsgroups_archive
from . import images_extra
from .glyphs import find_fonts, glyph_items
from .labels import sample_queries
from .prose import brown_notes, brown_passages, find_brown, split_by_text

SEED = 0
FILES = {"20news": "20news-bydate.tar.gz", "cifar": "cifar-10-binary.tar.gz", "fortunes": "fortunes.jsonl"}
MODALITY = {"20news": "text", "fortunes": "text", "brown": "text", "cifar": "image", "digits": "image",
            "fashion": "image", "glyphs": "image"}
# run when named (--corpora brown,fashion): read from an installed package, not the data folder
NAMED_ONLY = ("brown", *images_extra.NAMES, "glyphs")
SIZES: dict[str, tuple[int | None, ...]] = {"20news": (1000, 3000, None), "cifar": (1000, 3000, 10_000, 50_000)}
QUICK_SIZES: dict[str, tuple[int | None, ...]] = {"20news": (100, 300), "cifar": (300, 1000)}
QUERIES, QUICK_QUERIES = 1000, 100
SUITE_QUICK_SIZES = {"text": (1500, 300), "image": (3000, 300)}  # load_suite(quick=True): database items, queries
QUICK_LOO_ITEMS = 600  # fortunes and digits in a quick run: a stratified sample of this many items
FORTUNES_GRAB_BAGS = ("cookie", "fortunes", "miscellaneous", "platitudes", "zippy")  # mixed subjects: noisy labels
FORTUNES_MIN_ITEMS = 50
PROTOCOLS = {
    "test-vs-train": "the test-split queries rank the database (train items); same label = relevant",
    "leave-one-out": "each query is a database item, left out of its own ranking; same label = relevant",
}


@dataclass
class Corpus:
    """The items indexed, and the queries with their labels: given (test-vs-train) or database positions
    left out of their own rankings (leave-one-out)."""

    name: str
    family: str
    modality: str
    protocol: str  # "test-vs-train" or "leave-one-out"
    database: list[Item]
    query_labels: list[str]
    queries: list[Any] = field(default_factory=list)  # test-vs-train: texts or (32, 32, 3) uint8 images
    leave_out: np.ndarray | None = None  # leave-one-out: database positions of the queries
    notes: dict[str, Any] = field(default_factory=dict)  # how the items were chosen


def load_suite(suite: str, data: str | Path, quick: bool = False) -> Corpus:
    """Read ``data`` for a ``text`` or ``image`` suite (20 Newsgroups by-date archive, CIFAR-10).

    ``quick`` keeps a seeded random slice (``SUITE_QUICK_SIZES``) of each split.
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
            sizes = SUITE_QUICK_SIZES[suite]
            database, tests = _slice(database, sizes[0], 1), _slice(tests, sizes[1], 2)
        return Corpus("20news", "20news", "text", "test-vs-train", database, [d.label for d in tests],
                      queries=[d.text for d in tests])  # fmt: skip
    if suite == "image":
        if not is_cifar10(data):
            raise SourceError(f"{data}: not the CIFAR-10 binary archive (cifar-10-binary.tar.gz) or its folder")
        database = list(iter_cifar10(data, "train"))
        images, labels, names = load_cifar10(data, "test")
        order = np.arange(len(images))
        if quick:
            database = _slice(database, SUITE_QUICK_SIZES[suite][0], 1)
            order = np.sort(np.random.default_rng(SEED + 2).permutation(len(images))[: SUITE_QUICK_SIZES[suite][1]])
        return Corpus("cifar", "cifar", "image", "test-vs-train", database, [names[i] for i in labels[order]],
                      queries=list(images[order]))  # fmt: skip
    raise ValueError(f"The 'suite' parameter must be 'text' or 'image'. Got {suite!r} instead.")


def _slice(items: list, n: int, salt: int) -> list:
    if len(items) <= n:
        return items
    keep = np.sort(np.random.default_rng(SEED + salt).permutation(len(items))[:n])
    return [items[i] for i in keep]


def planned_names(quick: bool = False) -> list[str]:
    """Every corpus name, in run order (sizes larger than an archive's split become ``<family>-full``)."""
    sizes = QUICK_SIZES if quick else SIZES
    return [*(_sized("20news", n) for n in sizes["20news"]), "fortunes",
            *(_sized("cifar", n) for n in sizes["cifar"]), "digits"]  # fmt: skip


def select(corpora: str | Sequence[str] | None, quick: bool = False) -> list[str]:
    """The planned names chosen by ``corpora`` (comma-separated names or families; default: all)."""
    planned = planned_names(quick)
    if corpora is None:
        return planned
    planned = [*planned, *NAMED_ONLY]
    wanted = [c.strip() for c in (corpora.split(",") if isinstance(corpora, str) else corpora) if c.strip()]
    chosen = []
    for want in wanted:
        match = [n for n in planned if n == want or _family(n) == want]
        if not match:
            raise InvalidParameterError(
                f"The 'corpora' parameter takes names or families from {', '.join([*MODALITY, *planned])}. "
                f"Got {want!r} instead."
            )
        chosen += [n for n in match if n not in chosen]
    return [n for n in planned if n in chosen]


def check_files(data_dir: Path, names: Sequence[str]) -> None:
    """``SourceError`` naming the first data file the chosen corpora need and ``data_dir`` lacks."""
    if not data_dir.is_dir():
        raise SourceError(f"{data_dir}: no such folder (give the folder holding {', '.join(FILES.values())})")
    for family in dict.fromkeys(map(_family, names)):
        if family in FILES and not (data_dir / FILES[family]).exists():
            raise SourceError(f"{data_dir}: no {FILES[family]} (the {family} corpora need it; choose others with "
                              "--corpora)")  # fmt: skip
        if family == "brown":
            find_brown(data_dir)
        if family == "fashion":
            images_extra.find_fashion(data_dir)
        if family == "glyphs":
            find_fonts(data_dir)


def load_corpora(data_dir: Path, names: Sequence[str], quick: bool = False) -> Iterator[Corpus]:
    """The corpora named (``select``), each archive read once, lazily family by family."""
    queries = QUICK_QUERIES if quick else QUERIES
    sizes = QUICK_SIZES if quick else SIZES
    families = list(dict.fromkeys(map(_family, names)))
    for family in families:
        wanted = [n for n in names if _family(n) == family]
        if family in ("20news", "cifar"):
            suite = load_suite(MODALITY[family], data_dir / FILES[family])
            pick = _uniform(len(suite.queries), queries, SEED + 1)
            query_labels = [suite.query_labels[i] for i in pick]
            query_items = [suite.queries[i] for i in pick]
            train_labels = [d.label for d in suite.database]
            done: set[str] = set()
            for size in sizes[family]:
                if _sized(family, size) not in wanted:
                    continue
                full = size is None or size > len(suite.database)
                name = f"{family}-full" if full else _sized(family, size)
                if name in done:
                    continue
                done.add(name)
                keep = np.arange(len(suite.database)) if full else stratified(train_labels, size, SEED)
                yield Corpus(name, family, MODALITY[family], "test-vs-train", [suite.database[i] for i in keep],
                             query_labels, queries=query_items,
                             notes={"subset": "the whole train split" if full else
                                    f"class-stratified seeded sample of the train split (seed {SEED})",
                                    "query_sample": f"seeded uniform sample of the test split (seed {SEED + 1}), "
                                    "the same for every size"})  # fmt: skip
        elif family == "fortunes":
            items, notes = fortunes(data_dir / FILES["fortunes"])
            yield _leave_one_out("fortunes", items, notes, queries, quick)
        elif family == "brown":
            yield brown(data_dir, queries, quick)
        elif family == "fashion":
            yield from fashion(data_dir, wanted, queries, quick)
        elif family == "glyphs":
            yield _leave_one_out("glyphs", *glyph_items(data_dir), queries, quick)
        else:
            yield _leave_one_out("digits", digits(), {"subset": "all 1,797 images"}, queries, quick)


def fortunes(path: Path) -> tuple[list[Document], dict[str, Any]]:
    """The labelled quotations of ``path`` less the grab-bags and small categories; notes saying which went."""
    items = [d for d in iter_items(path) if isinstance(d, Document) and d.label is not None]
    counts: dict[str, int] = {}
    for d in items:
        counts[d.label] = counts.get(d.label, 0) + 1
    grab_bags = {c: counts[c] for c in FORTUNES_GRAB_BAGS if c in counts}
    small = {c: n for c, n in sorted(counts.items()) if n < FORTUNES_MIN_ITEMS and c not in grab_bags}
    kept = [d for d in items if d.label not in grab_bags and d.label not in small]
    notes = {
        "excluded_grab_bags": grab_bags,
        f"excluded_under_{FORTUNES_MIN_ITEMS}_items": small,
        "kept_categories": len(counts) - len(grab_bags) - len(small),
        "subset": f"{len(kept):,} of {len(items):,} quotations",
    }
    return kept, notes


def brown(data_dir: Path, queries: int, quick: bool = False) -> Corpus:
    """The Brown Corpus's passages by genre (``retrieval.eval.prose``): the database texts' passages (quick: a
    class-stratified sample of ``QUICK_LOO_ITEMS``), queried by a seeded uniform sample of the held-out texts'."""
    folder = find_brown(data_dir)
    database, tests = split_by_text(brown_passages(folder), seed=SEED)
    notes = brown_notes(folder, database, tests)
    if quick:
        database = [database[i] for i in stratified([d.label for d in database], QUICK_LOO_ITEMS, SEED)]
        notes["subset"] += f"; quick: a class-stratified sample of {len(database)} database passages"
    pick = _uniform(len(tests), queries, SEED + 1)
    notes["query_sample"] = f"seeded uniform sample of the held-out texts' passages (seed {SEED + 1})"
    return Corpus("brown", "brown", "text", "test-vs-train", list(database), [tests[i].label or "" for i in pick],
                  queries=[tests[i].text for i in pick], notes=notes)  # fmt: skip


def fashion(data_dir: Path, names: Sequence[str], queries: int, quick: bool = False) -> Iterator[Corpus]:
    """The ``fashion-<n>`` corpora named (``retrieval.eval.images_extra``): a class-stratified sample of ``n`` train
    images (quick: ``images_extra.QUICK_SIZE``), queried by one seeded uniform sample of the test split."""
    folder = images_extra.find_fashion(data_dir)
    train, train_labels = images_extra.load_split(folder, "train")
    test, test_labels = images_extra.load_split(folder, "test")
    pick = _uniform(len(test), queries, SEED + 1)
    query_labels = [images_extra.CLASSES[t] for t in test_labels[pick]]
    for name in names:
        size = images_extra.QUICK_SIZE if quick else int(name.split("-", 1)[1])
        keep = stratified(train_labels.tolist(), size, SEED)
        notes = {"subset": f"class-stratified seeded sample of the train split (seed {SEED})"
                 + (f"; quick: {size} images" if quick else ""), "source": images_extra.LICENCE,
                 "query_sample": f"seeded uniform sample of the test split (seed {SEED + 1}), the same for every size"}
        yield Corpus(name, "fashion", "image", "test-vs-train", images_extra.items(train, train_labels, keep),
                     query_labels, queries=list(test[pick]), notes=notes)  # fmt: skip


def digits() -> list[ImageItem]:
    """scikit-learn's 1,797 digits as 32×32 RGB items through the product's image path (labels ``0``..``9``)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    pixels = np.round(data.images * (255 / 16)).astype(np.uint8)
    return [ImageItem(id=f"digits/{i:04d}", pixels=to_pixels(img), label=str(t), source=f"load_digits()[{i}]")
            for i, (img, t) in enumerate(zip(pixels, data.target))]  # fmt: skip


def stratified(labels: Sequence[Any], n: int, seed: int = SEED) -> np.ndarray:
    """Sorted positions of a seeded sample of ``n`` items keeping each label's share (largest remainders)."""
    labels = np.asarray(labels, dtype=object)
    if n >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    classes = sorted(set(labels.tolist()), key=str)
    members = [rng.permutation(np.flatnonzero(labels == c)) for c in classes]
    shares = np.array([len(m) for m in members]) * n / len(labels)
    quota = np.floor(shares).astype(int)
    for i in np.argsort(-(shares - quota), kind="stable")[: n - quota.sum()]:
        quota[i] += 1
    return np.sort(np.concatenate([m[:q] for m, q in zip(members, quota)]))


def _leave_one_out(family: str, items: list[Item], notes: dict[str, Any], queries: int, quick: bool) -> Corpus:
    if quick and len(items) > QUICK_LOO_ITEMS:
        items = [items[i] for i in stratified([d.label for d in items], QUICK_LOO_ITEMS, SEED)]
        notes = {**notes, "subset": f"{notes['subset']}; quick: a class-stratified sample of {len(items)}"}
    labels = [d.label for d in items]
    pick = sample_queries(labels, queries, SEED)
    notes = {**notes, "query_sample": f"seeded uniform sample of the items (seed {SEED})"}
    return Corpus(family, family, MODALITY[family], "leave-one-out", items, [labels[i] for i in pick],
                  leave_out=pick, notes=notes)  # fmt: skip


def _uniform(total: int, n: int, seed: int) -> np.ndarray:
    return np.arange(total) if total <= n else np.sort(np.random.default_rng(seed).permutation(total)[:n])


def _sized(family: str, size: int | None) -> str:
    return f"{family}-full" if size is None else f"{family}-{size}"


def _family(name: str) -> str:
    return name.split("-", 1)[0]
