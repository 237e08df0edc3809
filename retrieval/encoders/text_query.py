"""A saved text encoder's query side in NumPy: the codes its ``encode_queries`` gives, without torch or scikit-learn.

Searching encodes a few queries; loading the whole encoder for that imports torch and scikit-learn (seconds) for a
forward pass that runs in NumPy on the CPU anyway (``text_forward``). :func:`load_query_encoder` reads the saved
folder (``config.json`` and ``weights.safetensors``, expanded as the encoder expands them: ``compact.expand``) into
the same maths:

- ``ae``: ``TextForward`` over the saved encoder layers, then the floats, the bits of the learned rotation or those
  of the binary code layer (``base.finish_codes``);
- ``tfidf`` and ``lsa``: the TF-IDF rows (times the LSA components);
- ``two-stage`` codes of ``ae``: each part's code, joined short code first.

The query checks (``QueryError``) are the encoders' own (``text_base.query_counts``). Anything else (image encoders,
MiniLM, a layout or a file this reader does not recognise) gives ``None``: the caller loads the full encoder, which
also says what is wrong with a damaged file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np
import scipy.sparse as sp

from indexers import join_codes

from ..bag_of_words import BagOfWords
from ..errors import EncoderFileError
from ..nn.inference import ACTIVATIONS
from .base import finish_codes, read_saved
from .compact import expand
from .params import layer_sizes
from .text_base import query_counts
from .text_forward import TextForward
from .weighting import tfidf

Codes = Callable[[sp.csr_matrix], np.ndarray]  # counts -> codes as the encoder stores them
Reading = tuple[Codes, int, int | None] | tuple[Codes, int, int | None, Codes]  # codes, width, bits (None: floats)
# and, for bits by rotation, the real-valued codes they are made from
ENCODER_LAYER = "model.encoder.{}.{}"  # a saved ``nn.dense.mlp(..., norm=False)``: Linear layers at 0, 2, 4, ...


class QueryEncoder(Protocol):
    """What searching needs of an encoder: the codes of queries, and what they are (an ``Encoder`` is one too)."""

    modality: str
    metric: str
    dim: int
    bits: int | None
    short_bits: int | None

    def encode_queries(self, queries: Sequence[Any]) -> np.ndarray: ...


class TextQueries:
    """The query codes of a saved text encoder named ``name``: ``codes`` of the queries' counts over its vocabulary."""

    modality: ClassVar[str] = "text"
    short_bits: ClassVar[None] = None

    def __init__(self, name: str, bag_of_words: BagOfWords, codes: Codes, dim: int, bits: int | None = None,
                 floats: Codes | None = None):  # fmt: skip
        self.name = name
        self.bag_of_words = bag_of_words
        self.codes = codes
        self.floats = floats
        self.dim = dim
        self.bits = bits
        self.metric = "hamming" if bits else "cosine"

    def encode_queries(self, queries: Sequence[Any]) -> np.ndarray:
        """Codes of ``queries``; ``QueryError`` naming the first that cannot be encoded."""
        return self.codes(query_counts(self.bag_of_words, queries))

    def has_float_code(self) -> bool:
        """Whether the bits come from a real-valued code this reader gives too (``Encoder.has_float_code``)."""
        return self.floats is not None

    def encode_queries_with_floats(self, queries: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        """Query codes and the real-valued codes their bits are made from (``has_float_code``)."""
        counts = query_counts(self.bag_of_words, queries)
        return self.codes(counts), self.floats(counts)


class TwoStageQueries:
    """Two-stage query codes: the ``short`` and ``long`` codes joined, short first (``indexers.join_codes``)."""

    modality: ClassVar[str] = "text"
    metric: ClassVar[str] = "hamming"
    name: ClassVar[str] = "two-stage"

    def __init__(self, short: TextQueries, long: TextQueries) -> None:
        self.short = short
        self.long = long
        self.bits = long.bits
        self.short_bits = short.bits
        self.dim = short.bits + long.bits

    def encode_queries(self, queries: Sequence[Any]) -> np.ndarray:
        long = self.long.encode_queries(queries)  # the long code's checks first, as the encoder's
        return join_codes(self.short.encode_queries(queries), long)


def load_query_encoder(folder: str | Path) -> TextQueries | TwoStageQueries | None:
    """The NumPy query side of the encoder saved in ``folder``, or ``None`` where it has none here (see the module
    docstring): then the full encoder is the one to load."""
    try:
        read = read_saved(folder, lambda cfg: cfg.get("encoder") == "two-stage" or cfg.get("encoder") in _READERS)
        if read is None:
            return None  # another kind of encoder: its weights are read once, by the full loader
        config, arrays = read
        saved = config["config"], config["state"]
        if config.get("encoder") == "two-stage":
            return _two_stage(*saved, arrays)
        return _text(config.get("encoder"), *saved, arrays)
    except (EncoderFileError, KeyError, TypeError, ValueError, AttributeError, IndexError):
        return None  # damaged or unfamiliar: the full encoder's loader says what is wrong


def _two_stage(options: dict[str, Any], state: dict[str, Any], arrays: dict[str, np.ndarray]) -> TwoStageQueries | None:
    parts = {
        part: _text(options["inner"], options[part], state[part],
                    {k.removeprefix(f"{part}."): v for k, v in arrays.items() if k.startswith(f"{part}.")})
        for part in ("short", "long")
    }  # fmt: skip
    if any(p is None or not p.bits for p in parts.values()):
        return None
    return TwoStageQueries(parts["short"], parts["long"])


def _text(
    name: Any, options: dict[str, Any], state: dict[str, Any], arrays: dict[str, np.ndarray]
) -> TextQueries | None:
    reader = _READERS.get(name) if isinstance(name, str) else None
    if reader is None:
        return None
    bag_of_words = BagOfWords.from_saved({}, state["bag_of_words"])
    arrays = expand({k: v for k, v in arrays.items() if not k.startswith("model.decoder.")})  # no decoder here
    idf = arrays["idf"]
    if idf.shape != (len(bag_of_words.vocabulary_),):
        return None
    found = reader(options, arrays, idf)
    return None if found is None else TextQueries(name, bag_of_words, *found)


def _autoencoder(options: dict[str, Any], arrays: dict[str, np.ndarray], idf: np.ndarray) -> Reading | None:
    """``TextAutoencoder``'s encoder pass and finish (its ``_encode`` on the CPU), or ``None`` where the arrays do not
    make the network its config describes."""
    bits, binarise = options["bits"], options.get("binarise", "layer")  # as BinaryCapable.saved_config reads it
    if bits and binarise not in ("layer", "rotation"):
        return None
    code = "binary" if bits and binarise == "layer" else options["code_activation"]
    hidden = layer_sizes(options["hidden"], "TextAutoencoder")  # as given: "500,250" or a list
    activations = [options["activation"]] * len(hidden) + [code]
    linears, vectors = _linears(arrays, len(activations)), arrays.get("word_vectors")
    if not set(activations) <= set(ACTIVATIONS) or linears is None:
        return None
    if vectors is not None and len(vectors) != len(idf):
        return None
    units = len(linears[-1][1])
    sizes = [len(idf) + (0 if vectors is None else vectors.shape[1]), *hidden, units]
    if any(w.shape != (b, a) or bias.shape != (b,) for (w, bias), a, b in zip(linears, sizes[:-1], sizes[1:])):
        return None
    rotation = (arrays["rotation_mean"], arrays["rotation"]) if bits and binarise == "rotation" else None
    if rotation is None and bits and units != bits:
        return None
    if rotation is not None and (rotation[0].shape != (units,) or rotation[1].shape != (units, bits)):
        return None
    forward = TextForward.from_arrays(linears, activations, len(idf), idf, vectors)
    reading = (lambda counts: finish_codes(forward(counts), bits, rotation)), bits or units, bits
    return (*reading, forward) if rotation is not None else reading


def _linears(arrays: dict[str, np.ndarray], n: int) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """The ``(weight, bias)`` of the ``n`` Linear layers of a saved ``nn.dense.mlp(..., norm=False)`` (its modules
    0, 2, 4, ...), or ``None`` where the file's encoder arrays are others."""
    layers = [ENCODER_LAYER.format(2 * i, "{}") for i in range(n)]
    expected = {layer.format(part) for layer in layers for part in ("weight", "bias")}
    if {k for k in arrays if k.startswith("model.encoder.")} != expected:
        return None
    return [(arrays[layer.format("weight")], arrays[layer.format("bias")]) for layer in layers]


def _tfidf(options: dict[str, Any], arrays: dict[str, np.ndarray], idf: np.ndarray) -> Reading:
    """``TfidfEncoder._encode``: the TF-IDF rows themselves."""
    sublinear = options["sublinear_tf"]
    return (lambda counts: tfidf(counts, idf, sublinear).toarray()), len(idf), None


def _lsa(options: dict[str, Any], arrays: dict[str, np.ndarray], idf: np.ndarray) -> Reading | None:
    """``LsaEncoder._encode``: the TF-IDF rows projected on the saved components."""
    components, sublinear = arrays["components"], options["sublinear_tf"]
    if components.shape != (options["dim"], len(idf)):
        return None

    def codes(counts: sp.csr_matrix) -> np.ndarray:
        return np.asarray(tfidf(counts, idf, sublinear) @ components.T, dtype=np.float32)

    return codes, len(components), None


_READERS: dict[str, Callable[[dict[str, Any], dict[str, np.ndarray], np.ndarray], Reading | None]] = {
    "ae": _autoencoder, "tfidf": _tfidf, "lsa": _lsa,
}  # fmt: skip
