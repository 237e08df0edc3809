"""Bag-of-words counts over a vocabulary learned from the corpus (scikit-learn's tokeniser and vocabulary).

Fitting is scikit-learn's ``CountVectorizer``; counting over the fitted vocabulary is :class:`WordCounter`
(``tokenise``), which gives the same matrix as ``CountVectorizer(vocabulary=...)`` about 8× faster. The
vectoriser itself stays the reference, and counts what the fast path does not take (items that are not ``str``).
scikit-learn is imported only where the vectoriser runs: counting texts over a fitted vocabulary (a query) needs
NumPy alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from .errors import NotFittedError
from .tokenise import FEW_CHARACTERS, WordCounter, few_counts


def reference_counts(vocabulary: Sequence[str], texts: Sequence[Any]) -> sp.csr_matrix:
    """``CountVectorizer(vocabulary=vocabulary)``'s counts of ``texts`` as ``float32`` (what :class:`BagOfWords`
    must give)."""
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(vocabulary=list(vocabulary)).transform(texts).astype(np.float32).tocsr()


class BagOfWords:
    """Word counts over the ``vocab_size`` most frequent corpus words, English stop-words removed.

    The default (2,000 words) is the vocabulary of Hinton & Salakhutdinov (2006). Stop words matter only when
    fitting (they are left out of the vocabulary); counting looks only at the vocabulary.
    """

    def __init__(self, vocab_size: int = 2000, stop_words: str | None = "english", min_df: int = 1) -> None:
        self.vocab_size = vocab_size
        self.stop_words = stop_words
        self.min_df = min_df

    def fit(self, texts: Sequence[str]) -> BagOfWords:
        """Learn the vocabulary from ``texts`` (words in at least ``min_df`` of them)."""
        from sklearn.feature_extraction.text import CountVectorizer

        cv = CountVectorizer(max_features=self.vocab_size, stop_words=self.stop_words, min_df=self.min_df)
        cv.fit(texts)
        self.vocabulary_ = sorted(cv.vocabulary_, key=cv.vocabulary_.__getitem__)
        self._counter = self._columns = None
        return self

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Count matrix, one row per text, ``float32`` (the same as :func:`reference_counts`)."""
        if not hasattr(self, "vocabulary_"):
            raise NotFittedError("This BagOfWords is not fitted yet; call fit() first.")
        texts = list(texts)
        if not all(type(t) is str for t in texts):  # bytes, str subclasses, NaN: the vectoriser decides
            return reference_counts(self.vocabulary_, texts)
        if sum(map(len, texts)) <= FEW_CHARACTERS:  # a query: no need for the counter's tables (0.1 s to build)
            columns = getattr(self, "_columns", None)
            if columns is None:
                columns = self._columns = {w: i for i, w in enumerate(self.vocabulary_)}
            if len(columns) == len(self.vocabulary_):  # a repeated word: the counter refuses the vocabulary
                return few_counts(texts, columns, len(self.vocabulary_))
        return self.counter()(texts)

    def counter(self) -> WordCounter:
        """The fast counter over the vocabulary (built on first use)."""
        if getattr(self, "_counter", None) is None:
            self._counter = WordCounter(self.vocabulary_)
        return self._counter

    def fit_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        return self.fit(texts).transform(texts)

    def get_config(self) -> dict[str, Any]:
        return {"vocab_size": self.vocab_size, "stop_words": self.stop_words, "min_df": self.min_df}

    def get_state(self) -> dict[str, Any]:
        """JSON-safe fitted state (the vocabulary, in column order)."""
        return {"vocabulary": self.vocabulary_}

    @classmethod
    def from_saved(cls, config: dict[str, Any], state: dict[str, Any]) -> BagOfWords:
        bow = cls(**config)
        bow.vocabulary_ = list(state["vocabulary"])
        bow._counter = bow._columns = None
        return bow

    def __getstate__(self) -> dict[str, Any]:
        # The counter's tables (a few MB) are rebuilt from the vocabulary where the object lands; `_cv` was
        # the vectoriser of earlier versions.
        return {k: v for k, v in self.__dict__.items() if k not in ("_counter", "_cv", "_columns")}
