"""The fast word counter gives scikit-learn's ``CountVectorizer(vocabulary=...)`` matrix exactly."""

from __future__ import annotations

import json
import os
import pickle
import random
import re
from itertools import islice
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import retrieval.tokenise as tokenise
from retrieval.bag_of_words import BagOfWords, reference_counts
from retrieval.errors import NotFittedError
from retrieval.sources.items import Document
from retrieval.sources.newsgroups import iter_newsgroups
from retrieval.tokenise import WordCounter

DATA = Path(os.environ.get("AER_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))
# Whole corpora with AER_FULL_CORPORA=1 (18,846 posts and 15,193 fortunes, about 20 s); a sample otherwise.
SAMPLE = None if os.environ.get("AER_FULL_CORPORA") == "1" else 1500

TRICKY = [
    "", " ", "a", "ab", "I", "Hello, World! HELLO world... hello-world hello_world",
    "don't won’t it's rock'n'roll O'Neil", "3.14 1,000 42nd 4x4 2023-01-01 0x1F a1 1a __ _ab_ a_b",
    "café CAFÉ Café cafe\u0301 naïve NAÏVE résumé Ærøskøbing", "straße STRASSE Straße ẞ", "İstanbul ISTANBUL ıi Iı",
    "ΟΔΟΣ οδος ΟΔΌΣ Σ σς", "ǅemal ǄEMAL ǆemal", "ﬁnance ﬀ ﬃ", "x² x2 ½ ⅫV ٣٤ ३४ ２０２４",
    "中文 中文字 日本語のテキスト 한국어 텍스트", "emoji 😀😀 ab😀cd 👍🏽 a\u200db zw\u200cnj",
    "tab\tnew\nline\rcr\x0bvt\x0cff", "nul\x00inside\x00text", "lone \ud800 surrogate ab\udfffcd",
    "MiXeD CaSe mixed CASE", "x" * 5000 + " " + "y" * 40 + " " + "abcdefghijklmnopq",
    "pneumonoultramicroscopicsilicovolcanoconiosis Pneumonoultramicroscopicsilicovolcanoconiosis",
    "html <b>bold</b> &amp; a@b.com http://example.org/path?q=1#frag",
]  # fmt: skip


@pytest.fixture(params=["arrays", "regex"])
def path(request, monkeypatch):
    """Both ways of counting: NumPy over chunks (any input over a few characters), the regex (queries)."""
    monkeypatch.setattr(tokenise, "FEW_CHARACTERS", -1 if request.param == "arrays" else 10**9)
    return request.param


def _words(texts: list[str]) -> list[str]:
    """Every token the vectoriser can take from ``texts``, in a seeded order."""
    words = sorted({w for t in texts for w in re.findall(r"(?u)\b\w\w+\b", t.lower())})
    random.Random(0).shuffle(words)
    return words


def assert_same(got: sp.csr_matrix, ref: sp.csr_matrix) -> None:
    assert got.shape == ref.shape and got.dtype == np.float32
    assert np.array_equal(got.indptr, ref.indptr) and np.array_equal(got.indices, ref.indices)
    assert np.array_equal(got.data, ref.data)


def _random_texts(n: int, seed: int, extra: str = "") -> list[str]:
    rng = random.Random(seed)
    pool = list("abcdeXYZ_019 \t\n.,'’-") + list("éÉßẞİıΣσςǅﬁ²½Ⅻ٣中文😀\u0301\u200d\x00ᾼΩKÅǰ") + list(extra)
    return ["".join(rng.choice(pool) for _ in range(rng.randint(0, 80))) for _ in range(n)]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_text_counts_as_the_vectoriser(text, path):
    texts = TRICKY + [text, text.upper(), text * 3]
    extra = ["Upper", "not-a-token", "a", "ab", "x" * 5000, "οδοσ", "i̇stanbul"]  # never / always tokens
    vocabulary = list(dict.fromkeys(_words(texts) + extra))
    mine = [text, text.upper(), text * 3]
    assert_same(WordCounter(vocabulary)(mine), reference_counts(vocabulary, mine))


@pytest.mark.parametrize("size", [5, 200, 3000])
def test_random_text_counts_as_the_vectoriser(size, path):
    texts = _random_texts(4000, seed=size)
    vocabulary = _words(texts)[:size]
    assert_same(WordCounter(vocabulary)(texts), reference_counts(vocabulary, texts))


def test_wide_alphabets_and_long_words(path):
    """Over 254 distinct letters (two bytes a character) and words past the table's width (a dict)."""
    cjk = [chr(0x4E00 + i) + chr(0x4E00 + (7 * i) % 3000) for i in range(1000)]
    rng = random.Random(1)
    texts = [" ".join(rng.choice(cjk) for _ in range(20)) + " École " + "q" * rng.randint(30, 40) for _ in range(300)]
    texts += _random_texts(500, seed=2)
    long_words = ["q" * k for k in range(30, 41)]
    for vocabulary in (cjk + ["école"], list(dict.fromkeys(cjk[:50] + long_words + _words(texts)[:500]))):
        counter = WordCounter(vocabulary)
        assert_same(counter(texts), reference_counts(vocabulary, texts))
    assert WordCounter(cjk).per_word == 4 and WordCounter(["q" * 40]).long_words


def test_chunks_and_threads_do_not_change_the_counts(monkeypatch, path):
    texts = _random_texts(700, seed=3)
    vocabulary = _words(texts)[:300]
    ref = reference_counts(vocabulary, texts)
    monkeypatch.setattr(tokenise, "CHUNK", 7)
    for threads in ("1", "2"):
        monkeypatch.setenv("AER_THREADS", threads)
        assert_same(WordCounter(vocabulary)(texts), ref)
    assert WordCounter(vocabulary)([]).shape == (0, 300)
    assert WordCounter([])(texts).shape == (700, 0)
    with pytest.raises(ValueError, match="repeats a word"):
        WordCounter(["ab", "cd", "ab"])


def test_stop_words_matter_only_when_fitting():
    texts = ["the cat and the hat", "the dog and the log", "a cat, a dog"] * 3
    bow = BagOfWords(vocab_size=10).fit(texts)
    assert "the" not in bow.vocabulary_ and "and" not in bow.vocabulary_
    kept = BagOfWords(vocab_size=10, stop_words=None).fit(texts)
    assert "the" in kept.vocabulary_
    assert_same(kept.transform(texts), reference_counts(kept.vocabulary_, texts))
    saved = BagOfWords.from_saved(bow.get_config(), {"vocabulary": ["the", "cat"]})  # a stop word in the vocabulary
    assert saved.transform(["The the cat"]).toarray().tolist() == [[2.0, 1.0]]


def test_saved_and_pickled_round_trips():
    texts = TRICKY * 2
    bow = BagOfWords(vocab_size=50).fit(texts)
    counts = bow.transform(texts)
    again = BagOfWords.from_saved(json.loads(json.dumps(bow.get_config())), json.loads(json.dumps(bow.get_state())))
    assert_same(again.transform(texts), counts)
    unpickled = pickle.loads(pickle.dumps(bow))
    assert "_counter" not in unpickled.__dict__ and unpickled.get_state() == bow.get_state()
    assert_same(unpickled.transform(texts), counts)
    old = BagOfWords.__new__(BagOfWords)  # as pickled by earlier versions: the vectoriser in `_cv`, no counter
    old.__dict__.update(vocab_size=50, stop_words="english", vocabulary_=bow.vocabulary_, _cv=object())
    assert_same(old.transform(texts), counts)
    with pytest.raises(NotFittedError):
        BagOfWords().transform(["text"])


def test_items_that_are_not_str_go_to_the_vectoriser():
    bow = BagOfWords(vocab_size=20).fit(TRICKY)
    items = ["hello world", b"hello world caf\xc3\xa9", np.str_("Hello")]
    assert_same(bow.transform(items), reference_counts(bow.vocabulary_, items))
    with pytest.raises((ValueError, AttributeError)):
        bow.transform([float("nan")])  # the vectoriser's own error


def _newsgroups(split: str) -> list[str]:
    docs = iter_newsgroups(DATA / "20news-bydate.tar.gz", split)
    return [d.text for d in islice(docs, SAMPLE) if isinstance(d, Document)]


def _fortunes() -> list[str]:
    with open(DATA / "fortunes.jsonl", encoding="utf-8") as fh:
        return [json.loads(line)["text"] for line in islice(fh, SAMPLE)]


@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "20news-bydate.tar.gz").exists(), reason="no 20 Newsgroups archive")
@pytest.mark.parametrize("vocab_size", [2000, 10000])
def test_real_newsgroups_counts_as_the_vectoriser(vocab_size):
    train, test = _newsgroups("train"), _newsgroups("test")
    bow = BagOfWords(vocab_size).fit(train)
    assert_same(bow.transform(train + test), reference_counts(bow.vocabulary_, train + test))


@pytest.mark.skipif(not (DATA / "fortunes.jsonl").exists(), reason="no fortunes.jsonl")
def test_real_fortunes_counts_as_the_vectoriser():
    texts = _fortunes()
    bow = BagOfWords(5000).fit(texts)
    assert_same(bow.transform(texts), reference_counts(bow.vocabulary_, texts))
