"""Encoders: raw items to codes, one interface (fit, encode, save/load); each registers itself by name.

Importing the package is cheap: its public names load on first use (PEP 562), and the first one asked for
imports every built-in encoder (``registry.import_builtin``), so ``ENCODERS`` is complete whenever it is seen.
A module imported by its own name (``retrieval.encoders.text_query``, the NumPy query side of a saved text
encoder) loads only what it imports: no torch, no scikit-learn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..lazy import lazy_names
from .registry import import_builtin

# public name -> the submodule that defines it
_LAZY = {
    "Encoder": "base", "create_encoder": "factory", "load_encoder": "factory",
    "ConvImageAutoencoder": "image_autoencoder", "DenseImageAutoencoder": "image_autoencoder",
    "ImageEncoder": "image_base", "LsaEncoder": "lsa", "PcaEncoder": "pca", "PixelEncoder": "pixels",
    "DEFAULT_ENCODER": "registry", "ENCODERS": "registry", "REGISTERED": "registry", "register": "registry",
    "EmbeddingAutoencoder": "sentence", "SentenceEncoder": "sentence", "embedding_cache": "sentence",
    "TextAutoencoder": "text_autoencoder", "TextEncoder": "text_base", "TfidfEncoder": "tfidf",
    "TwoStageEncoder": "two_stage",
}  # fmt: skip

if TYPE_CHECKING:
    from .base import Encoder
    from .factory import create_encoder, load_encoder
    from .image_autoencoder import ConvImageAutoencoder, DenseImageAutoencoder
    from .image_base import ImageEncoder
    from .lsa import LsaEncoder
    from .pca import PcaEncoder
    from .pixels import PixelEncoder
    from .registry import DEFAULT_ENCODER, ENCODERS, REGISTERED, register
    from .sentence import EmbeddingAutoencoder, SentenceEncoder, embedding_cache
    from .text_autoencoder import TextAutoencoder
    from .text_base import TextEncoder
    from .tfidf import TfidfEncoder
    from .two_stage import TwoStageEncoder

_load_name, __dir__ = lazy_names(__name__, _LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import_builtin()  # every public name comes with a complete registry
    return _load_name(name)


__all__ = [
    "DEFAULT_ENCODER", "ENCODERS", "REGISTERED", "ConvImageAutoencoder", "DenseImageAutoencoder",
    "EmbeddingAutoencoder", "Encoder", "ImageEncoder", "LsaEncoder", "PcaEncoder", "PixelEncoder",
    "SentenceEncoder", "TextAutoencoder", "TextEncoder", "TfidfEncoder", "TwoStageEncoder", "create_encoder",
    "embedding_cache", "load_encoder", "register",
]  # fmt: skip
