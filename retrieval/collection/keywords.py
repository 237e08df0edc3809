"""A text collection's keyword index: each item's word counts, kept beside the codes and ranked by Okapi BM25.

Words are what the encoders count (``tokenise``: lowercased runs of two or more word characters, scikit-learn's
token pattern, which is also ``bm25s.tokenize``'s) less scikit-learn's English stop words, as the codes' vocabulary
leaves them out (``bag_of_words``), but over an open vocabulary: a word that no code's vocabulary holds (a name, a
part number) is still found.

The index keeps the counts, not the scores: BM25's idf and average length change with every write, so the
weights are computed when the index is read (vectorised; the formula of ``bm25s``' default, the Lucene variant
with k1 1.5 and b 0.75: the tests check the scores against ``bm25s``). ``bm25s`` itself builds a fixed index of
a whole corpus in a Python loop over the documents, seconds per ten thousand, which a collection that changes
with every write would pay again after each one.

``keywords.npz`` holds plain arrays (``numpy.savez``, read back with ``allow_pickle=False``): the index keys,
a CSR matrix of term ids and counts, one row per item, and the vocabulary as UTF-8 text, one word a line. It is
written like the index (``directory.save_recorded``: staged, digest recorded, renamed) in the same write as
the codes, before the store commits; ``directory.index_undo`` puts it back when the write fails.
"""

from __future__ import annotations

import re
import zipfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..errors import CollectionError
from . import directory

K1, B = 1.5, 0.75  # bm25s' defaults (Lucene's)
FORMAT_VERSION = 1
# scikit-learn's English stop words, which the codes' vocabulary leaves out too (bag_of_words; a test checks they
# agree): BM25 ranks better with them than with bm25s' 33 (benchmarks/results/hybrid). Kept here so that a query
# imports neither scikit-learn nor bm25s.
STOP_WORDS = frozenset((
    "a about above across after afterwards again against all almost alone along already also although always am "
    "among amongst amoungst amount an and another any anyhow anyone anything anyway anywhere are around as at "
    "back be became because become becomes becoming been before beforehand behind being below beside besides "
    "between beyond bill both bottom but by call can cannot cant co con could couldnt cry de describe detail do "
    "done down due during each eg eight either eleven else elsewhere empty enough etc even ever every everyone "
    "everything everywhere except few fifteen fifty fill find fire first five for former formerly forty found "
    "four from front full further get give go had has hasnt have he hence her here hereafter hereby herein "
    "hereupon hers herself him himself his how however hundred i ie if in inc indeed interest into is it its "
    "itself keep last latter latterly least less ltd made many may me meanwhile might mill mine more moreover "
    "most mostly move much must my myself name namely neither never nevertheless next nine no nobody none noone "
    "nor not nothing now nowhere of off often on once one only onto or other others otherwise our ours ourselves "
    "out over own part per perhaps please put rather re same see seem seemed seeming seems serious several she "
    "should show side since sincere six sixty so some somehow someone something sometime sometimes somewhere "
    "still such system take ten than that the their them themselves then thence there thereafter thereby "
    "therefore therein thereupon these they thick thin third this those though three through throughout thru thus "
    "to together too top toward towards twelve twenty two un under until up upon us very via was we well were "
    "what whatever when whence whenever where whereafter whereas whereby wherein whereupon wherever whether which "
    "while whither who whoever whole whom whose why will with within without would yet you your yours yourself "
    "yourselves"
).split())
QUERY_CHUNK = 256  # queries scored at a time (their score rows are sparse, but a common word touches every item)
_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # = tokenise._TOKEN, CountVectorizer's and bm25s' token pattern


def words(text: str) -> list[str]:
    """The words of ``text`` the keyword index counts, in order (repeats kept)."""
    return [w for w in _TOKEN.findall(text.lower()) if w not in STOP_WORDS]


class KeywordIndex:
    """Word counts by index key (``counts[i]`` is the item with key ``keys[i]``); immutable: a write makes a new one."""

    def __init__(self, keys: np.ndarray, counts: sp.csr_matrix, vocabulary: list[str]) -> None:
        self.keys = np.asarray(keys, dtype=np.int64)
        self.counts = counts
        self.vocabulary = vocabulary
        self._term_of: dict[str, int] | None = None
        self._weights: sp.csr_matrix | None = None

    @classmethod
    def empty(cls) -> KeywordIndex:
        return cls(np.empty(0, np.int64), sp.csr_matrix((0, 0), dtype=np.int32), [])

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def term_of(self) -> dict[str, int]:
        if self._term_of is None:
            self._term_of = {w: i for i, w in enumerate(self.vocabulary)}
        return self._term_of

    # --- writes ------------------------------------------------------------------------------------------

    def with_texts(self, keys: np.ndarray, texts: Sequence[str]) -> KeywordIndex:
        """A new index with the items ``keys`` counted from ``texts`` (an existing key's row is replaced)."""
        kept = self.without(keys)
        term_of = dict(kept.term_of)
        vocabulary = list(kept.vocabulary)
        indptr, terms, counts = [0], [], []
        for text in texts:
            row = []
            for word, count in Counter(words(text)).items():
                term = term_of.get(word)
                if term is None:
                    term = term_of[word] = len(vocabulary)
                    vocabulary.append(word)
                row.append((term, count))
            row.sort()
            terms += [t for t, _ in row]
            counts += [c for _, c in row]
            indptr.append(len(terms))
        added = sp.csr_matrix(
            (np.array(counts, np.int32), np.array(terms, np.int32), np.array(indptr, np.int64)),
            shape=(len(texts), len(vocabulary)),
        )
        old = kept.counts.copy()
        old.resize((len(kept), len(vocabulary)))
        out = KeywordIndex(np.concatenate([kept.keys, np.asarray(keys, np.int64)]),
                           sp.vstack([old, added], format="csr", dtype=np.int32), vocabulary)  # fmt: skip
        out._term_of = term_of
        return out

    def without(self, keys: np.ndarray) -> KeywordIndex:
        """A new index without the items ``keys`` (this one when it holds none of them)."""
        drop = np.isin(self.keys, np.asarray(keys, np.int64))
        if not drop.any():
            return self
        out = KeywordIndex(self.keys[~drop], self.counts[~drop], self.vocabulary)
        out._term_of = self._term_of
        return out

    def only(self, keys: np.ndarray) -> KeywordIndex:
        """A new index of the items among ``keys`` (those the store lists: a crashed write may leave others)."""
        return self.without(self.keys[~np.isin(self.keys, np.asarray(keys, np.int64))])

    # --- files ---------------------------------------------------------------------------------------------

    def save(self, file: Path) -> None:
        """Write the index to ``file`` (``.npz``), its vocabulary less the words no item holds any more."""
        counts = self.counts.tocsr()
        used = np.unique(counts.indices)
        remap = np.zeros(len(self.vocabulary) + 1, np.int32)
        remap[used] = np.arange(len(used), dtype=np.int32)
        text = "\n".join(self.vocabulary[i] for i in used.tolist()).encode("utf-8")
        with open(file, "wb") as fh:
            np.savez(fh, version=np.array(FORMAT_VERSION), keys=self.keys, indptr=counts.indptr.astype(np.int64),
                     terms=remap[counts.indices], counts=counts.data.astype(np.int32),
                     vocabulary=np.frombuffer(text, np.uint8))  # fmt: skip

    @classmethod
    def load(cls, file: Path) -> KeywordIndex:
        """The index ``save`` wrote; a file that is not one is a ``CollectionError`` naming it."""
        try:
            with np.load(file, allow_pickle=False) as data:
                arrays = {name: data[name] for name in ("version", "keys", "indptr", "terms", "counts", "vocabulary")}
            text = arrays["vocabulary"].tobytes().decode("utf-8")
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:  # a pickle is a ValueError
            raise CollectionError(f"{file}: damaged keyword index ({type(exc).__name__}: {exc})") from exc
        vocabulary = text.split("\n") if text else []
        keys, indptr, terms = arrays["keys"], arrays["indptr"], arrays["terms"]
        if (int(arrays["version"]) != FORMAT_VERSION or indptr.shape != (len(keys) + 1,) or indptr[0] != 0
                or indptr[-1] != len(terms) or len(terms) != len(arrays["counts"])
                or (len(terms) and (terms.min() < 0 or terms.max() >= len(vocabulary)))):  # fmt: skip
            raise CollectionError(f"{file}: damaged keyword index (its arrays do not agree)")
        counts = sp.csr_matrix((arrays["counts"], terms, indptr), shape=(len(keys), len(vocabulary)))
        return cls(keys, counts, vocabulary)

    # --- search ---------------------------------------------------------------------------------------------

    def weights(self) -> sp.csr_matrix:
        """BM25 weight of each (term, item): ``idf * tf / (tf + k1 (1 - b + b len / mean len))``, terms as rows."""
        if self._weights is None:
            n = len(self)
            counts = self.counts
            lengths = np.asarray(counts.sum(axis=1)).ravel().astype(np.float64)
            mean = lengths.mean() if n and lengths.mean() > 0 else 1.0
            df = np.bincount(counts.indices, minlength=counts.shape[1])
            idf = np.log1p((n - df + 0.5) / (df + 0.5))
            tf = counts.data.astype(np.float64)
            rows = np.repeat(np.arange(n), np.diff(counts.indptr))
            w = idf[counts.indices] * tf / (tf + K1 * (1 - B + B * lengths[rows] / mean))
            scored = sp.csr_matrix((w.astype(np.float32), counts.indices, counts.indptr), shape=counts.shape)
            self._weights = scored.T.tocsr()
        return self._weights

    def search(self, queries: Sequence[str], k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` ``(scores, keys)`` per query by BM25 (key -1 past the items holding any of its words), among
        the keys ``allowed`` (``None``: all); ties go to the lower key."""
        scores = np.zeros((len(queries), k), np.float32)
        keys = np.full((len(queries), k), -1, np.int64)
        if not len(self) or not len(queries):
            return scores, keys
        mask = None if allowed is None else np.isin(self.keys, allowed)
        for start in range(0, len(queries), QUERY_CHUNK):
            found = self._scores(queries[start : start + QUERY_CHUNK])
            for q in range(found.shape[0]):
                span = slice(found.indptr[q], found.indptr[q + 1])
                cols, vals = found.indices[span], found.data[span]
                if mask is not None:
                    keep = mask[cols]
                    cols, vals = cols[keep], vals[keep]
                item_keys = self.keys[cols]
                order = np.lexsort((item_keys, -vals))[:k]
                scores[start + q, : len(order)] = vals[order]
                keys[start + q, : len(order)] = item_keys[order]
        return scores, keys

    def _scores(self, queries: Sequence[str]) -> sp.csr_matrix:
        """BM25 scores, queries × items: only the items holding a query word (a repeated word counts again)."""
        term_of = self.term_of
        rows = [Counter(t for w in words(q) if (t := term_of.get(w)) is not None) for q in queries]
        query_counts = sp.csr_matrix(
            (np.fromiter((c for r in rows for c in r.values()), np.float32),
             np.fromiter((t for r in rows for t in r), np.int64),
             np.cumsum([0, *map(len, rows)])),
            shape=(len(queries), len(self.vocabulary)),
        )  # fmt: skip
        return (query_counts @ self.weights()).tocsr()


# --- a collection's keyword index --------------------------------------------------------------------------------

NOT_KEPT = ("{path}: no keyword index: it was made before keyword search existed, so it can be searched by its "
            "codes only (mode='codes'); re-index its source into a new collection (aer index NEW SOURCE) for "
            "keyword and hybrid search")  # fmt: skip
IMAGES = "{path}: an image collection has no words to search: keyword and hybrid search are for text collections"


def keeps(col: Any) -> bool:
    """Whether the collection keeps a keyword index (text collections made since keyword search exists)."""
    return bool(col.manifest.get(directory.KEYWORDS_KEPT))


def create(building: Path, modality: str) -> dict[str, str]:
    """Write an empty keyword index into a new text collection's directory; the manifest entries that say so
    (none for an image collection)."""
    if modality != "text":
        return {}
    directory.save_recorded(building, directory.KEYWORDS_FILE, KeywordIndex.empty().save, "the keyword index")
    return {directory.KEYWORDS_KEPT: directory.KEYWORDS_FILE}


def read(col: Any) -> KeywordIndex:
    """The collection's keyword index as its file holds it (kept while the file is unchanged); a
    ``CollectionError`` saying why when it has none."""
    if not keeps(col):
        raise CollectionError((IMAGES if col.manifest.get("modality") == "image" else NOT_KEPT).format(path=col.path))
    try:
        stamp = directory.stamp(col.path, directory.KEYWORDS_FILE)  # before reading: a later write reads as a change
    except FileNotFoundError:
        raise CollectionError(f"{col.path}: damaged collection: {directory.KEYWORDS_FILE}: missing (aer verify "
                              "tells more)") from None  # fmt: skip
    # Kept per (file, codes in memory): a collection answers from the codes it read (a reader opened before
    # another process's write keeps its snapshot), so the keyword side holds only the items those codes hold.
    stamp = (stamp, col._index_stamp)
    cached = col.__dict__.get("_keywords")
    if cached is not None and cached[0] == stamp:
        return cached[1]
    index = KeywordIndex.load(col.path / directory.KEYWORDS_FILE).only(col.index.keys())
    col._keywords = (stamp, index)
    return index


def write(col: Any, keys: np.ndarray, items: Sequence[Any] | None = None) -> None:
    """Inside a write (the lock held, in ``directory.index_undo``, after the codes changed): the keyword index
    with the items ``keys`` counted from ``items``' texts, or without them when ``items`` is ``None``, written.
    Its keys stay within the index's: ``read`` keeps only those (a crashed write may have left others in the file)."""
    if not keeps(col):
        return
    current = read(col)
    updated = current.without(keys) if items is None else current.with_texts(keys, [d.text for d in items])
    directory.save_recorded(col.path, directory.KEYWORDS_FILE, updated.save, "the keyword index")
    col._keywords = ((directory.stamp(col.path, directory.KEYWORDS_FILE), col._index_stamp), updated)
