"""Word counts over a fixed vocabulary in NumPy: what ``CountVectorizer(vocabulary=...)`` gives, faster.

scikit-learn's vectoriser lowercases each text (``str.lower``), takes every maximal run of two or more word
characters (its ``(?u)\\b\\w\\w+\\b``: ``\\w`` as Python's ``re`` defines it) and counts the runs that are
vocabulary words. Here the texts of a chunk are lowercased and joined, and every character becomes a small
code through one table: 0 for a non-word character, its rank in the vocabulary's alphabet for a character some
vocabulary word has, the top code for any other word character (a run holding one is no vocabulary word). The
runs come from where the codes turn zero or non-zero; each run of at most the longest word's length becomes a
few ``uint64`` words of its codes, looked up in an open-addressing table and compared exactly, so the counts are
the vectoriser's, not a hash's guess. The table of word characters is built from ``re`` itself, so it follows
the running Python's Unicode version as the vectoriser does. Chunks of 256 texts run on ``thread_count()``
threads (``AER_THREADS``); a few thousand characters in all (a query) take the vectoriser's own regex instead,
which is faster there.

The Hugging Face ``tokenizers`` library (WordLevel model, ``\\W+`` split) was tried first and was slower than the
vectoriser, its cost being the per-document ``Encoding`` objects (benchmarks/encode_speed.py measures the counting).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import numpy as np
import scipy.sparse as sp

from .threads import thread_count

FEW_CHARACTERS = 4000  # up to this many in all, the vectoriser's regex in Python is faster (a query, say)
CHUNK = 256  # texts per chunk: its character arrays stay in cache, and chunks run in parallel
_MULTIPLIERS = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F)  # odd: the home slot's hash
MAX_KEYS = 4  # uint64s per word in the table; longer words go to a dict
_WORD = re.compile(r"\w+")
_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # CountVectorizer's default token_pattern


@cache
def word_characters() -> np.ndarray:
    """``is_word[c]``: whether ``chr(c)`` matches ``re``'s ``\\w`` (for every code point; built once)."""
    every = "".join(map(chr, range(0x110000)))
    is_word = np.zeros(0x110000, dtype=bool)
    for m in _WORD.finditer(every):
        is_word[m.start() : m.end()] = True
    return is_word


def vectoriser_words(vocabulary: Sequence[str]) -> list[int]:
    """Positions of the vocabulary words the vectoriser can ever count (two or more word characters)."""
    is_word = word_characters()
    return [i for i, w in enumerate(vocabulary) if len(w) >= 2 and all(is_word[ord(c)] for c in w)]


class WordCounter:
    """Counts of ``vocabulary``'s words in texts, column ``i`` for ``vocabulary[i]``; see the module docstring."""

    def __init__(self, vocabulary: Sequence[str]) -> None:
        self.width = len(vocabulary)
        if len(set(vocabulary)) < len(vocabulary):
            raise ValueError("the vocabulary repeats a word; each word must be one column")
        kept = vectoriser_words(vocabulary)
        words = [vocabulary[i] for i in kept]
        self.columns_of = {w: i for w, i in zip(words, kept)}
        alphabet = sorted({c for w in words for c in w})
        dtype = np.uint8 if len(alphabet) < 255 else np.uint16  # more than 65,534 letters: none exists in Unicode
        foreign = np.iinfo(dtype).max
        self.codes = word_characters().astype(dtype) * dtype(foreign)
        self.codes[[ord(c) for c in alphabet]] = np.arange(1, len(alphabet) + 1, dtype=dtype)
        self.latin1 = np.ascontiguousarray(self.codes[:256])
        self.per_word = 8 // np.dtype(dtype).itemsize  # characters per uint64
        limit = MAX_KEYS * self.per_word  # longer words are looked up one by one, in a dict
        self.long_words = {w: kept[i] for i, w in enumerate(words) if len(w) > limit}
        self.longest_long = max(map(len, self.long_words), default=0)
        kept = [kept[i] for i, w in enumerate(words) if len(w) <= limit]
        words = [w for w in words if len(w) <= limit]
        self.longest = max(map(len, words), default=2)
        self.k = -(-self.longest // self.per_word)
        bits = 8 * np.dtype(dtype).itemsize
        self.masks = np.array([(1 << (bits * j)) - 1 for j in range(self.per_word)] + [2**64 - 1], dtype=np.uint64)
        packed = np.zeros((len(words), self.k * self.per_word), dtype=dtype)
        for row, w in zip(packed, words):
            row[: len(w)] = self.codes[[ord(c) for c in w]]
        self.keys = [np.ascontiguousarray(col) for col in packed.view("<u8").T]  # k arrays, one per uint64
        self.columns = np.array(kept, dtype=np.int32)
        self._build_slots([len(w) for w in words])

    def _build_slots(self, lengths: list[int]) -> None:
        """An open-addressing table of the words' ranks, homed by their first key and length; an empty slot
        holds ``n``, a row of zero keys that no run has (a run's first key holds at least two non-zero codes)."""
        n = len(lengths)
        self.keys = [np.append(key, np.uint64(0)) for key in self.keys]
        self.lengths = np.array([*lengths, 0], dtype=np.int64)
        bits = max(10, int(np.ceil(np.log2(16 * max(n, 1)))))  # load at most 1/16: few runs probe twice
        self.shift = np.uint64(64 - bits)
        self.mask = (1 << bits) - 1
        self.slots = np.full(1 << bits, n, dtype=np.int32)
        self.probes = 0
        for i, home in enumerate(self._home(self.keys[0][:n], self.lengths[:n])):
            step = 0
            while self.slots[(home + step) & self.mask] < n:
                step += 1
            self.slots[(home + step) & self.mask] = i
            self.probes = max(self.probes, step)

    def _home(self, first: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Home slots of runs with first key ``first`` and ``lengths`` characters."""
        with np.errstate(over="ignore"):
            h = first * np.uint64(_MULTIPLIERS[0]) + lengths.astype(np.uint64) * np.uint64(_MULTIPLIERS[1])
        return ((h ^ (h >> np.uint64(29))) >> self.shift).astype(np.intp)

    def __call__(self, texts: Sequence[str]) -> sp.csr_matrix:
        """The ``float32`` count matrix of ``texts`` (strings), sorted indices, one row per text."""
        if sum(map(len, texts)) <= FEW_CHARACTERS:
            return self._few(texts)
        chunks = [texts[i : i + CHUNK] for i in range(0, len(texts), CHUNK)]
        threads = min(thread_count(), len(chunks))
        if threads <= 1:
            parts = [self._chunk(c) for c in chunks]
        else:  # NumPy lets go of the GIL in the array passes, so chunks overlap
            with ThreadPoolExecutor(threads) as pool:
                parts = list(pool.map(self._chunk, chunks))
        return _stack(parts, len(texts), self.width)

    def _few(self, texts: Sequence[str]) -> sp.csr_matrix:
        return few_counts(texts, self.columns_of, self.width)

    def _chunk(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(row lengths, column indices, counts)`` of one chunk."""
        lowered = [t.lower() for t in texts]
        joined = "\0".join(lowered)  # NUL is no word character, so no run crosses two texts
        try:
            raw, table = np.frombuffer(joined.encode("latin-1"), dtype=np.uint8), self.latin1
        except UnicodeEncodeError:
            raw, table = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32), self.codes
        # A zero before the text, and zeros after it for the last run's uint64 reads (a multiple of 8 bytes).
        size = -(-(len(raw) + 2 + (self.k + 1) * self.per_word) // self.per_word) * self.per_word
        codes = np.zeros(size, dtype=table.dtype)
        np.take(table, raw, out=codes[1 : len(raw) + 1])
        is_word = codes != 0
        edges = np.flatnonzero(is_word[1:] != is_word[:-1])
        run_starts, run_ends = edges[0::2] + 1, edges[1::2] + 1  # run i is codes[run_starts[i] : run_ends[i]]
        lengths = run_ends - run_starts
        keep = np.flatnonzero((lengths >= 2) & (lengths <= self.longest))
        ids = self._lookup(codes, run_starts[keep], lengths[keep])
        found = np.flatnonzero(ids >= 0)
        columns, starts = self.columns[ids[found]], run_starts[keep[found]]
        if self.long_words:
            columns, starts = self._long_runs(joined, run_starts, run_ends, columns, starts)
        text_starts = np.ones(len(lowered), dtype=np.int64)  # in `codes`, after the leading zero
        np.cumsum(np.fromiter(map(len, lowered), np.int64, len(lowered))[:-1] + 1, out=text_starts[1:])
        text_starts[1:] += 1
        runs_per_text = np.diff(np.searchsorted(starts, text_starts), append=len(starts))
        rows = np.repeat(np.arange(len(lowered), dtype=np.int64), runs_per_text)
        key_type = np.int32 if len(lowered) * self.width < 2**31 else np.int64
        keys, counts = np.unique((rows * self.width + columns).astype(key_type), return_counts=True)
        row_lengths = np.bincount(keys // self.width, minlength=len(lowered))
        return row_lengths, (keys % self.width).astype(np.int32), counts.astype(np.float32)

    def _long_runs(
        self, joined: str, starts: np.ndarray, ends: np.ndarray, columns: np.ndarray, found: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(columns, found)`` with the runs that are words too long for the table added, in text order."""
        lengths = ends - starts
        long = np.flatnonzero((lengths > self.longest) & (lengths <= self.longest_long))
        hits = [(s, self.long_words.get(joined[s - 1 : e - 1], -1)) for s, e in zip(starts[long], ends[long])]
        hits = [(s, c) for s, c in hits if c >= 0]
        if not hits:
            return columns, found
        found = np.concatenate([found, np.array([s for s, _ in hits], dtype=found.dtype)])
        columns = np.concatenate([columns, np.array([c for _, c in hits], dtype=columns.dtype)])
        order = np.argsort(found, kind="stable")
        return columns[order], found[order]

    def _lookup(self, codes: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """The vocabulary rank of each run (``codes[starts[i]:][:lengths[i]]``), -1 for a run that is no word."""
        words = codes.view("<u8")  # aligned reads: NumPy gathers from a byte-strided view are 7× slower
        byte = starts * codes.dtype.itemsize
        first, shift = byte >> 3, ((byte & 7) << 3).astype(np.uint64)

        def key(j: int, runs: np.ndarray | slice = slice(None)) -> np.ndarray:
            """The ``j``-th uint64 of the runs' codes, zero past their ends."""
            at, by = first[runs] + j, shift[runs]
            high = (words.take(at + 1) << (np.uint64(63) - by)) << np.uint64(1)  # a shift by 64 is undefined
            left = np.minimum(np.maximum(lengths[runs] - j * self.per_word, 0), self.per_word)
            return ((words.take(at) >> by) | high) & self.masks.take(left)

        head = key(0)
        slot = self._home(head, lengths)
        empty = len(self.lengths) - 1
        ids = self.slots.take(slot)
        same = (self.keys[0].take(ids) == head) & (self.lengths.take(ids) == lengths)
        longer = np.flatnonzero(same & (lengths > self.per_word))  # the first key and length are not all
        for j in range(1, self.k):
            same[longer] &= self.keys[j].take(ids[longer]) == key(j, longer)
        todo = np.flatnonzero(~same & (ids != empty))  # an empty slot ends the probe sequence: no word
        ids[~same] = -1
        for step in range(1, self.probes + 1):
            if not len(todo):
                break
            cand = self.slots.take((slot[todo] + step) & self.mask)
            occupied = cand != empty
            todo, cand = todo[occupied], cand[occupied]
            same = (self.keys[0].take(cand) == head[todo]) & (self.lengths.take(cand) == lengths[todo])
            for j in range(1, self.k):
                same &= self.keys[j].take(cand) == key(j, todo)
            ids[todo[same]] = cand[same]
            todo = todo[~same]
        return ids


def query_tokens(text: str) -> list[str]:
    """The tokens the vectoriser takes from ``text``: lowercased runs of two or more word characters, in order."""
    return _TOKEN.findall(text.lower())


def few_counts(texts: Sequence[str], columns_of: dict[str, int], width: int) -> sp.csr_matrix:
    """The counts as the vectoriser makes them, for a few texts (a query): its regex over each lowercased text,
    a dict lookup a token. ``columns_of`` maps vocabulary words to columns (words the regex cannot yield are
    never looked up, so the plain vocabulary index will do); needs none of :class:`WordCounter`'s tables."""
    indptr, indices, data = [0], [], []
    for text in texts:
        found = Counter(c for c in map(columns_of.get, query_tokens(text)) if c is not None)
        columns = sorted(found)
        indices += columns
        data += [found[c] for c in columns]
        indptr.append(len(indices))
    arrays = np.array(data, dtype=np.float32), np.array(indices, dtype=np.int32), np.array(indptr, dtype=np.int32)
    return sp.csr_matrix(arrays, shape=(len(texts), width))


def _stack(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]], n: int, width: int) -> sp.csr_matrix:
    if not parts:
        return sp.csr_matrix((n, width), dtype=np.float32)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.concatenate([p[0] for p in parts]), out=indptr[1:])
    indices = np.concatenate([p[1] for p in parts])
    data = np.concatenate([p[2] for p in parts])
    return sp.csr_matrix((data, indices, indptr.astype(np.int32)), shape=(n, width))
