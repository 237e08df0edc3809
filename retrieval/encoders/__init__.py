"""Encoders: raw items to codes, one interface (fit, encode, save/load); each registers itself by name."""

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

__all__ = [
    "DEFAULT_ENCODER", "ENCODERS", "REGISTERED", "ConvImageAutoencoder", "DenseImageAutoencoder",
    "EmbeddingAutoencoder", "Encoder", "ImageEncoder", "LsaEncoder", "PcaEncoder", "PixelEncoder",
    "SentenceEncoder", "TextAutoencoder", "TextEncoder", "TfidfEncoder", "TwoStageEncoder", "create_encoder",
    "embedding_cache", "load_encoder", "register",
]  # fmt: skip
