"""Encoders over texts: the query checks they share, and the base of those that work on word counts."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from ..bag_of_words import BagOfWords
from ..errors import QueryError
from .base import Encoder, Errors


def check_text_queries(queries: Sequence[Any]) -> list[str]:
    """``queries`` as a list of strings; ``QueryError`` for one that is not text or has no words."""
    for q in queries:
        if not isinstance(q, str):
            raise QueryError(f"query {q!r} is a {type(q).__name__}, not text: give some words to search for")
        if not q.strip():
            raise QueryError("empty query: give some words to search for")
    return list(queries)


def unknown_words(query: str) -> QueryError:
    """The error for a query none of whose words the encoder knows."""
    return QueryError(
        f"no word of the query {query!r} is in the collection's vocabulary (only stop-words or unseen words)"
    )


def query_counts(bag_of_words: BagOfWords, queries: Sequence[Any]) -> sp.csr_matrix:
    """The counts of ``queries`` over ``bag_of_words``; ``QueryError`` for one that is not text, has no words or
    none the vocabulary holds."""
    texts = check_text_queries(queries)
    counts = bag_of_words.transform(texts)
    empty = np.flatnonzero(np.diff(counts.indptr) == 0)  # counts hold no explicit zeros
    if len(empty):
        raise unknown_words(texts[empty[0]])
    return counts


class TextEncoder(Encoder):
    """An encoder over bag-of-words counts; subclasses work on the count matrix (tokenised once per batch)."""

    modality: ClassVar[str] = "text"
    vocab_size: int  # an option of each subclass

    def counts(self, items: Sequence[str]) -> sp.csr_matrix:
        """Bag-of-words counts of ``items`` over the fitted vocabulary."""
        self.check_fitted()
        return self.bag_of_words_.transform(items)

    def _fit(self, items: Sequence[str]) -> None:
        self.bag_of_words_ = BagOfWords(self.vocab_size)
        self._fit_counts(self.bag_of_words_.fit_transform(items))

    @abstractmethod
    def _fit_counts(self, counts: sp.csr_matrix) -> None: ...

    @abstractmethod
    def _encode(self, inputs: sp.csr_matrix, errors: bool) -> tuple[np.ndarray, Errors]: ...

    def _prepare(self, items: Sequence[str]) -> sp.csr_matrix:
        return self.bag_of_words_.transform(items)

    def _prepare_queries(self, queries: Sequence[Any]) -> sp.csr_matrix:
        return query_counts(self.bag_of_words_, queries)

    def _shares_input(self, other: Encoder) -> bool:
        return (
            super()._shares_input(other)
            and isinstance(other, TextEncoder)
            and self.bag_of_words_.get_config() == other.bag_of_words_.get_config()
            and self.bag_of_words_.vocabulary_ == other.bag_of_words_.vocabulary_
        )

    def _get_state(self) -> dict[str, Any]:
        return {"bag_of_words": self.bag_of_words_.get_state()}

    def _set_arrays(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.bag_of_words_ = BagOfWords.from_saved({"vocab_size": self.vocab_size}, state["bag_of_words"])
        super()._set_arrays(state, arrays)
