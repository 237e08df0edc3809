"""Encoders: raw items to codes, one interface (fit, encode, save/load)."""

from .base import Encoder, TextEncoder
from .factory import DEFAULT_ENCODER, ENCODERS, create_encoder, load_encoder
from .image_autoencoder import ConvImageAutoencoder, DenseImageAutoencoder
from .image_base import ImageEncoder
from .lsa import LsaEncoder
from .pca import PcaEncoder
from .pixels import PixelEncoder
from .sentence import EmbeddingAutoencoder, SentenceEncoder, embedding_cache
from .text_autoencoder import TextAutoencoder
from .tfidf import TfidfEncoder
from .two_stage import TwoStageEncoder

__all__ = [
    "DEFAULT_ENCODER", "ENCODERS", "ConvImageAutoencoder", "DenseImageAutoencoder", "EmbeddingAutoencoder",
    "Encoder", "ImageEncoder", "LsaEncoder", "PcaEncoder", "PixelEncoder", "SentenceEncoder", "TextAutoencoder",
    "TextEncoder", "TfidfEncoder", "TwoStageEncoder", "create_encoder", "embedding_cache", "load_encoder",
]  # fmt: skip
