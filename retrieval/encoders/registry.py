"""Encoders by name. Each encoder class registers itself with ``@register`` when its module is imported;
``import_builtin`` imports the built-in ones (the package ``retrieval.encoders`` does on its first name asked for).

``ENCODERS`` lists the encoders ``--encoder`` can name; ``REGISTERED`` also holds composite encoders
(``two-stage``), which are made from others by options but read back from disk by name.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, TypeVar

from ..defaults import DEFAULT_ENCODER  # noqa: F401  (re-exported: retrieval.encoders.DEFAULT_ENCODER)
from ..errors import InvalidParameterError

if TYPE_CHECKING:  # the encoders' base imports NumPy: `aer encoders` reads the registry's names without it
    from .base import Encoder

E = TypeVar("E", bound="type[Encoder]")

ENCODERS: dict[str, type[Encoder]] = {}
REGISTERED: dict[str, type[Encoder]] = {}
# The modules of the built-in encoders (they import torch or scikit-learn: imported when an encoder is asked for)
BUILTIN = ("image_autoencoder", "lsa", "pca", "pixels", "sentence", "text_autoencoder", "tfidf", "two_stage")


def import_builtin() -> None:
    """Import the built-in encoders' modules, each registering its encoders (a no-op once they are imported)."""
    for module in BUILTIN:
        importlib.import_module(f".{module}", __package__)


def register(cls: E) -> E:
    """Class decorator: make ``cls`` known by its ``name`` (to ``create_encoder`` and ``load_encoder``)."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise TypeError(f"{cls.__qualname__} needs a class attribute 'name' to be registered")
    old = REGISTERED.get(name)
    if old is not None and (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ValueError(f"encoder name {name!r} is taken by {old.__module__}.{old.__qualname__}")
    REGISTERED[name] = cls
    if not cls.composite:
        ENCODERS[name] = cls
    return cls


def encoder_class(name: str) -> type[Encoder]:
    """The class registered as ``name`` (composite encoders too)."""
    import_builtin()
    if name not in REGISTERED:
        raise InvalidParameterError(f"The 'encoder' parameter must be one of {sorted(ENCODERS)}. Got {name!r} instead.")
    return REGISTERED[name]
