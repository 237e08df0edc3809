"""Bag-of-words counts over a vocabulary learned from the corpus (scikit-learn's tokeniser)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer

from .errors import NotFittedError


class BagOfWords:
    """Word counts over the ``vocab_size`` most frequent corpus words, English stop-words removed.

    The default (2,000 words) is the vocabulary of Hinton & Salakhutdinov (2006).
    """

    def __init__(self, vocab_size: int = 2000, stop_words: str | None = "english") -> None:
        self.vocab_size = vocab_size
        self.stop_words = stop_words

    def fit(self, texts: Sequence[str]) -> BagOfWords:
        """Learn the vocabulary from ``texts``."""
        cv = CountVectorizer(max_features=self.vocab_size, stop_words=self.stop_words)
        cv.fit(texts)
        self.vocabulary_ = sorted(cv.vocabulary_, key=cv.vocabulary_.__getitem__)
        self._cv = CountVectorizer(vocabulary=self.vocabulary_)
        return self

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Count matrix, one row per text, ``float32``."""
        if not hasattr(self, "_cv"):
            raise NotFittedError("This BagOfWords is not fitted yet; call fit() first.")
        return self._cv.transform(texts).astype(np.float32).tocsr()

    def fit_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        return self.fit(texts).transform(texts)

    def get_config(self) -> dict[str, Any]:
        return {"vocab_size": self.vocab_size, "stop_words": self.stop_words}

    def get_state(self) -> dict[str, Any]:
        """JSON-safe fitted state (the vocabulary, in column order)."""
        return {"vocabulary": self.vocabulary_}

    @classmethod
    def from_saved(cls, config: dict[str, Any], state: dict[str, Any]) -> BagOfWords:
        bow = cls(**config)
        bow.vocabulary_ = list(state["vocabulary"])
        bow._cv = CountVectorizer(vocabulary=bow.vocabulary_)
        return bow
