"""Encoders by name: build one from ``--encoder`` and its options, or load a saved one."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from ..errors import EncoderFileError
from .base import Encoder, read_saved
from .image_autoencoder import ConvImageAutoencoder, DenseImageAutoencoder
from .lsa import LsaEncoder
from .pca import PcaEncoder
from .pixels import PixelEncoder
from .sentence import EmbeddingAutoencoder, SentenceEncoder
from .text_autoencoder import TextAutoencoder
from .tfidf import TfidfEncoder
from .two_stage import TwoStageEncoder

ENCODERS: dict[str, type[Encoder]] = {
    cls.name: cls
    for cls in (
        TextAutoencoder, LsaEncoder, TfidfEncoder, SentenceEncoder, EmbeddingAutoencoder,
        ConvImageAutoencoder, DenseImageAutoencoder, PcaEncoder, PixelEncoder,
    )
}  # fmt: skip
# Encoders that are made from others (by options), never chosen by name, but read back from disk by name.
COMPOSITE: dict[str, type[Encoder]] = {TwoStageEncoder.name: TwoStageEncoder}
# What `aer index` uses when no --encoder is given, by the source's modality.
DEFAULT_ENCODER = {"text": "ae", "image": "conv-ae"}


def _accepted(cls: type[Encoder], options: dict[str, Any]) -> dict[str, Any]:
    """The options ``cls`` takes (``None`` values dropped, so defaults apply), parents' too."""
    params: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None:
            params |= set(inspect.signature(init).parameters)
    return {k: v for k, v in options.items() if k in params and v is not None}


COMMON_OPTIONS = {"dim", "vocab_size", "hidden", "epochs", "seed", "device", "progress"}  # "bits" is not one


def create_encoder(name: str, *, short_bits: int | None = None, **options: Any) -> Encoder:
    """A new, unfitted encoder; with ``short_bits``, a two-stage one (short hash code plus ``bits`` long code).

    The options every encoder is offered by ``aer index`` (``dim``, ``epochs``, ``device``, …) are
    dropped where an encoder does not take them (``dim`` for TF-IDF); any other unknown option is
    an error, so a misspelt ``-o`` option is never silently ignored.
    """
    if name not in ENCODERS:
        raise ValueError(f"The 'encoder' parameter must be one of {sorted(ENCODERS)}. Got {name!r} instead.")
    cls = ENCODERS[name]
    accepted = _accepted(cls, options)
    unknown = sorted(k for k, v in options.items() if k not in accepted and k not in COMMON_OPTIONS and v is not None)
    if unknown:
        raise ValueError(f"encoder {name!r} takes no option {', '.join(map(repr, unknown))}")
    if short_bits:
        return TwoStageEncoder.create(name, short_bits, **accepted)
    return cls(**accepted)


def load_encoder(folder: str | Path, **runtime: Any) -> Encoder:
    """Rebuild a saved encoder; ``runtime`` options (``device``, ``progress``) apply where taken."""
    config, arrays = read_saved(folder)
    cls = ENCODERS.get(config.get("encoder", "")) or COMPOSITE.get(config.get("encoder", ""))
    if cls is None:
        raise EncoderFileError(f"{folder}: unknown encoder {config.get('encoder')!r}")
    try:
        encoder = cls(**config["config"], **_accepted(cls, runtime))
        encoder._set_arrays(config.get("state", {}), arrays)
    except EncoderFileError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise EncoderFileError(f"{folder}: saved encoder does not match its config ({exc})") from exc
    return encoder
