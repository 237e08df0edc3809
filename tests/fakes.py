"""Tiny deterministic encoders for tests of everything around a model (collections, the CLI, indexes).

Importing this module registers them (``@register``), so ``create_encoder("fake-text")`` and
``aer index --encoder fake-text`` work. Both fit in microseconds and give the same codes on every run:

- ``fake-text`` (options ``dim``, ``bits``, ``buckets``, ``seed``): words (two or more letters, English
  stop-words dropped) hashed into ``buckets``; ``fit`` learns each bucket's IDF (0 for buckets no training
  word fell in); a document's ``log(1 + count) * idf`` vector, projected by a fixed seeded Gaussian matrix,
  is its code (``dim`` floats, cosine), or with ``bits`` the projection's signs (packed, Hamming). Its
  "reconstruction error" is the document's mean weight per distinct word (high for documents of rare words). A query
  none of whose words was seen in training raises ``QueryError``, as a vocabulary would.
- ``fake-image`` (options ``dim``, ``bits``, ``seed``): ``fit`` learns the mean image; the code is the
  centred pixels (in [0, 1]) projected by a fixed seeded Gaussian matrix (L2), or its signs with ``bits``.
  It does not reconstruct (errors ``None``).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from indexers import pack_bits
from retrieval.encoders.base import BinaryCapable, Encoder
from retrieval.encoders.image_base import PIXELS, ImageEncoder, flat_unit
from retrieval.encoders.params import check_bits, code_width
from retrieval.encoders.registry import register
from retrieval.encoders.text_base import check_text_queries, unknown_words

WORD = re.compile(r"(?u)\b\w\w+\b")


@lru_cache(maxsize=8)
def projection(rows: int, cols: int, seed: int) -> np.ndarray:
    """A fixed Gaussian ``(rows, cols)`` matrix, scaled so that projections keep lengths on average."""
    matrix = (np.random.default_rng(seed).standard_normal((rows, cols)) / np.sqrt(cols)).astype(np.float32)
    matrix.flags.writeable = False
    return matrix


def signs_or_floats(projected: np.ndarray, bits: int | None) -> np.ndarray:
    return pack_bits(projected > 0) if bits else projected.astype(np.float32)


@register
class FakeTextEncoder(BinaryCapable, Encoder):
    """Hashed, IDF-weighted word counts under a fixed random projection (see the module docstring)."""

    name: ClassVar[str] = "fake-text"
    modality: ClassVar[str] = "text"

    def __init__(self, dim: int = 16, bits: int | None = None, buckets: int = 4096, seed: int = 0) -> None:
        self.dim = code_width(dim, bits)
        self.bits = bits
        self.buckets = buckets
        self.seed = seed

    def describe(self) -> str:
        return f"fake-text({'bits=' + str(self.bits) if self.bits else 'dim=' + str(self.dim)})"

    def _counts(self, texts: Sequence[str]) -> sp.csr_matrix:
        rows, cols = [], []
        for i, text in enumerate(texts):
            words = [w for w in WORD.findall(text.lower()) if w not in ENGLISH_STOP_WORDS]
            cols += [zlib.crc32(w.encode("utf-8", "surrogatepass")) % self.buckets for w in words]
            rows += [i] * len(words)
        data = np.ones(len(rows), dtype=np.float32)
        return sp.csr_matrix((data, (rows, cols)), shape=(len(texts), self.buckets), dtype=np.float32)

    def _fit(self, items: Sequence[str]) -> None:
        check_bits(self.bits, type(self).__name__)
        counts = self._counts(list(items))
        df = np.bincount(counts.indices, minlength=self.buckets)
        idf = np.log((1 + counts.shape[0]) / (1 + df)) + 1
        self.idf_ = np.where(df > 0, idf, 0).astype(np.float32)

    def _prepare(self, items: Sequence[str]) -> sp.csr_matrix:
        counts = self._counts(list(items))
        counts.data = np.log1p(counts.data)
        return (counts @ sp.diags(self.idf_)).tocsr()

    def _prepare_queries(self, queries: Sequence[Any]) -> sp.csr_matrix:
        texts = check_text_queries(queries)
        weighted = self._prepare(texts)
        empty = np.flatnonzero(np.asarray(weighted.sum(axis=1)).ravel() == 0)  # no word seen in training
        if len(empty):
            raise unknown_words(texts[empty[0]])
        return weighted

    def _encode(self, inputs: sp.csr_matrix, errors: bool) -> tuple[np.ndarray, np.ndarray | None]:
        codes = signs_or_floats(np.asarray(inputs @ projection(self.buckets, self.dim, self.seed)), self.bits)
        if not errors:
            return codes, None
        words = np.maximum(np.diff(inputs.indptr), 1)  # distinct words (buckets) per document
        return codes, (np.asarray(inputs.sum(axis=1)).ravel() / words).astype(np.float32)

    def _get_arrays(self) -> dict[str, np.ndarray]:
        return {"idf": self.idf_}

    def _set_arrays(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.idf_ = arrays["idf"]
        super()._set_arrays(state, arrays)


@register
class FakeImageEncoder(ImageEncoder):
    """Centred pixels under a fixed random projection (see the module docstring)."""

    name: ClassVar[str] = "fake-image"

    def __init__(self, dim: int = 16, bits: int | None = None, seed: int = 0) -> None:
        self.dim = code_width(dim, bits)
        self.bits = bits
        self.seed = seed

    @property
    def metric(self) -> str:  # type: ignore[override]
        return "hamming" if self.bits else "l2"

    def _fit_images(self, images: np.ndarray) -> None:
        check_bits(self.bits, type(self).__name__)
        self.mean_ = flat_unit(images).mean(0)

    def _encode(self, inputs: np.ndarray, errors: bool) -> tuple[np.ndarray, None]:
        projected = (flat_unit(inputs) - self.mean_) @ projection(PIXELS, self.dim, self.seed)
        return signs_or_floats(projected, self.bits), None

    def _get_arrays(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean_}

    def _set_arrays(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.mean_ = arrays["mean"]
        super()._set_arrays(state, arrays)
