"""Encoders: raw items to codes, one interface (fit, encode, save/load)."""

from .base import Encoder, TextEncoder
from .factory import ENCODERS, create_encoder, load_encoder
from .lsa import LsaEncoder
from .text_autoencoder import TextAutoencoder
from .tfidf import TfidfEncoder

__all__ = [
    "ENCODERS", "Encoder", "LsaEncoder", "TextAutoencoder", "TextEncoder", "TfidfEncoder",
    "create_encoder", "load_encoder",
]  # fmt: skip
