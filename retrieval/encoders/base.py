"""The one interface every encoder has: fit on a corpus, encode a batch, save and load."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from indexers import pack_bits

from ..bag_of_words import BagOfWords
from ..errors import EncoderFileError, NotFittedError
from ..manifest import read_manifest

FORMAT = "ae-retrieval-encoder"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"


class Encoder(ABC):
    """Maps raw items (texts, images) to fixed-size ``float32`` codes.

    Subclasses take their configuration as constructor keywords (``get_config`` returns them),
    learn attributes ending in ``_`` in ``fit``, and expose learned arrays through
    ``_get_arrays``/``_set_arrays`` so that saving never needs pickle.
    """

    name: ClassVar[str]
    modality: ClassVar[str]
    metric: ClassVar[str] = "cosine"  # how codes are compared: "cosine", "l2" or "hamming"
    bits: int | None = None  # binary encoders: code length in bits (codes are packed uint8)

    @abstractmethod
    def fit(self, items: Sequence[Any]) -> Encoder:
        """Learn from ``items``; return ``self``."""

    @abstractmethod
    def encode(self, items: Sequence[Any]) -> np.ndarray:
        """Codes for ``items``: ``(n, dim)`` ``float32``, or for binary encoders ``(n, bits / 8)``
        ``uint8`` with the bits packed (``indexers.pack_bits`` order)."""

    @property
    @abstractmethod
    def dim(self) -> int:
        """Length of one code."""

    @abstractmethod
    def get_config(self) -> dict[str, Any]:
        """Constructor keywords that rebuild this encoder unfitted."""

    def _get_state(self) -> dict[str, Any]:
        """JSON-safe fitted state beside the arrays."""
        return {}

    @abstractmethod
    def _get_arrays(self) -> dict[str, np.ndarray]:
        """Fitted arrays (weights) to save."""

    @abstractmethod
    def _set_arrays(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Restore what ``_get_state`` and ``_get_arrays`` returned."""

    def describe(self) -> str:
        """One line for ``aer info``."""
        return f"{self.name}(dim={self.dim})"

    def reconstruction_error(self, items: Sequence[Any]) -> np.ndarray | None:
        """Per item, how badly the encoder reconstructs it (higher = less typical), or ``None`` for an
        encoder that does not reconstruct (TF-IDF, pixels, MiniLM)."""
        return None

    def save(self, folder: str | Path) -> None:
        """Write ``config.json`` and ``weights.safetensors`` into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {k: np.ascontiguousarray(v) for k, v in self._get_arrays().items()}
        save_file(arrays, str(folder / WEIGHTS_FILE))
        config = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "encoder": self.name,
            "modality": self.modality,
            "config": self.get_config(),
            "state": self._get_state(),
        }
        (folder / CONFIG_FILE).write_text(json.dumps(config, indent=1))


def read_saved(folder: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read and check an encoder folder; raise ``EncoderFileError`` with the reason if it is bad."""
    folder = Path(folder)
    config = read_manifest(folder / CONFIG_FILE, FORMAT, FORMAT_VERSION, EncoderFileError, "an ae-retrieval encoder")
    try:
        arrays = load_file(str(folder / WEIGHTS_FILE))
    except (OSError, SafetensorError, ValueError) as exc:
        raise EncoderFileError(f"{folder / WEIGHTS_FILE}: unreadable weight file ({exc})") from exc
    return config, arrays


class TextEncoder(Encoder):
    """An encoder over bag-of-words counts; subclasses work on the count matrix."""

    modality: ClassVar[str] = "text"

    def __init__(self, vocab_size: int = 2000) -> None:
        self.vocab_size = vocab_size

    def fit(self, items: Sequence[str]) -> TextEncoder:
        self.bag_of_words_ = BagOfWords(self.vocab_size)
        counts = self.bag_of_words_.fit_transform(items)
        self._fit_counts(counts)
        return self

    def encode(self, items: Sequence[str]) -> np.ndarray:
        return self.encode_counts(self.counts(items))

    def encode_counts(self, counts: sp.csr_matrix) -> np.ndarray:
        """Codes from a count matrix made by ``counts``."""
        self._check_fitted()
        return self._encode_counts(counts)

    def counts(self, items: Sequence[str]) -> sp.csr_matrix:
        """Bag-of-words counts of ``items`` over the fitted vocabulary."""
        self._check_fitted()
        return self.bag_of_words_.transform(items)

    @abstractmethod
    def _fit_counts(self, counts: sp.csr_matrix) -> None: ...

    @abstractmethod
    def _encode_counts(self, counts: sp.csr_matrix) -> np.ndarray: ...

    def _check_fitted(self) -> None:
        if not hasattr(self, "bag_of_words_"):
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet; call fit() first.")

    def _get_state(self) -> dict[str, Any]:
        return {"bag_of_words": self.bag_of_words_.get_state()}

    def _set_arrays(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.bag_of_words_ = BagOfWords.from_saved({"vocab_size": self.vocab_size}, state["bag_of_words"])


def check_bits(bits: int | None) -> None:
    """Binary codes are stored packed in bytes: ``bits`` must be a positive multiple of 8."""
    if bits is not None and (not isinstance(bits, int) or bits <= 0 or bits % 8):
        raise ValueError(f"The 'bits' parameter must be a positive multiple of 8. Got {bits!r} instead.")


class BinaryCapable:
    """Mixin for encoders with a real-valued code of ``code_dim`` floats or, given ``bits``, a binary one."""

    code_dim: int
    bits: int | None

    @property
    def dim(self) -> int:
        return self.bits or self.code_dim

    @property
    def metric(self) -> str:
        return "hamming" if self.bits else "cosine"


def finish_codes(units: np.ndarray, bits: int | None) -> np.ndarray:
    """Code-layer output as stored: packed bits for binary codes, else the float units."""
    return pack_bits(units > 0.5) if bits else units
