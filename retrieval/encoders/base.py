"""The one interface every encoder has: fit on a corpus, encode a batch, save and load.

The estimator contract (scikit-learn's): an encoder's options are the fields of its frozen config dataclass
(``config_class``, in ``retrieval.defaults``: each with its default and doc); the constructor keeps them as given,
unchanged, in ``config`` and under their own names (read them, never set them; ``dim`` is the exception where it
is the code's width, which ``bits`` decides), so ``get_config`` returns exactly what was passed and
``cls(**encoder.get_config())`` rebuilds the encoder unfitted. What an option means is worked out where it is
used (layer sizes from a string, a binary code's width). ``fit`` learns attributes ending in ``_`` and returns
``self``; every other public method first checks that the encoder is fitted. Runtime options
(``runtime_params``: ``device``, ``progress``) are constructor arguments too, but are never saved.
An encoder without a ``config_class`` (a plug-in's) has its ``__init__`` signature as its configuration.

A subclass implements ``_fit``, ``_prepare`` (raw items to what the network takes: counts, pixels,
embeddings; done once per batch), ``_prepare_queries`` (the same for queries, raising ``QueryError``)
and ``_encode`` (codes, and reconstruction errors when asked, from one forward pass), and exposes its
learned arrays through ``_get_state``/``_get_arrays``/``_set_arrays`` so that saving never needs pickle.
"""

from __future__ import annotations

import inspect
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import fields
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from indexers import pack_bits

from ..defaults import RUNTIME_OPTIONS
from ..errors import EncoderFileError, NotFittedError
from ..manifest import read_manifest
from .params import code_width, layer_sizes
from .rotation import learn_rotation, rotated_bits

FORMAT = "ae-retrieval-encoder"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"

Errors = np.ndarray | None


class Encoder(ABC):
    """Maps raw items (texts, images) to fixed-size codes: ``(n, dim)`` ``float32``, or for binary
    encoders ``(n, bits / 8)`` ``uint8`` with the bits packed (``indexers.pack_bits`` order).

    ``dim`` is the length of one code (floats, or bits when binary; the joined width for two-stage),
    ``bits`` the length of a binary code (``None`` for float codes), ``short_bits`` the length of a
    two-stage encoder's short code (``None`` otherwise), ``metric`` how codes are compared.
    """

    name: ClassVar[str]
    modality: ClassVar[str]  # "text" or "image"
    metric: str = "cosine"  # "cosine", "l2" or "hamming"
    dim: int
    bits: int | None = None
    short_bits: int | None = None
    composite: ClassVar[bool] = False  # made from other encoders by options, never chosen by name
    runtime_params: ClassVar[tuple[str, ...]] = RUNTIME_OPTIONS  # constructor options never saved
    config_class: ClassVar[type | None] = None  # the frozen dataclass of its options (retrieval.defaults)

    # --- configuration ---------------------------------------------------------------------

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "config_class" in cls.__dict__ and cls.config_class is not None:  # help() and inspect show the options
            cls.__signature__ = inspect.signature(cls.config_class)  # type: ignore[attr-defined]

    def __init__(self, **options: Any) -> None:
        """Keep the options as given: in ``config`` and, for reading, under their own names."""
        if self.config_class is None:
            raise TypeError(f"{type(self).__name__} has no config_class: it needs its own __init__")
        self.config = self.config_class(**options)
        for name in self.param_names():
            if not isinstance(getattr(type(self), name, None), property):  # e.g. ``dim``, the code's width
                setattr(self, name, getattr(self.config, name))
        self._check_options()

    @classmethod
    def param_names(cls) -> tuple[str, ...]:
        """The options' names: the config's fields, else the constructor's keywords (parents' included where
        ``__init__`` passes ``**options`` on)."""
        if cls.config_class is not None:
            return tuple(f.name for f in fields(cls.config_class))
        return _param_names(cls)

    def get_config(self) -> dict[str, Any]:
        """The options as given (runtime options left out), JSON-safe (tuples as lists): they rebuild this encoder
        unfitted."""
        source = getattr(self, "config", self)
        return {p: _json_value(getattr(source, p)) for p in self.param_names() if p not in self.runtime_params}

    @classmethod
    def saved_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        """A saved configuration as today's constructor takes it (options added since get their old meaning)."""
        return config

    def _check_options(self) -> None:
        """Refuse options that cannot work together or cannot be read, at construction (subclasses extend it)."""

    def describe(self) -> str:
        """One line for ``aer info``."""
        return f"{self.name}(dim={self.dim})"

    def training_info(self) -> dict[str, Any]:
        """How fitting went, for ``aer info``: what was chosen from the data and why (empty when nothing was).
        Encoders that choose something set ``training_`` while fitting; it is saved beside their config."""
        return dict(getattr(self, "training_", {}))

    # --- fitting and encoding -----------------------------------------------------------------

    def fit(self, items: Sequence[Any]) -> Encoder:
        """Learn from ``items``; return ``self``."""
        self._fit(items)
        self.fitted_ = True
        return self

    def check_fitted(self) -> None:
        """Raise ``NotFittedError`` unless ``fit`` (or loading) has run."""
        if not self._is_fitted():
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet; call fit() first.")

    def encode(self, items: Sequence[Any]) -> np.ndarray:
        """Codes of ``items``."""
        self.check_fitted()
        return self._encode(self._prepare(items), errors=False)[0]

    def encode_with_errors(self, items: Sequence[Any]) -> tuple[np.ndarray, Errors]:
        """Codes of ``items`` and, from the same forward pass, their reconstruction errors (``None`` for an
        encoder that does not reconstruct)."""
        self.check_fitted()
        return self._encode(self._prepare(items), errors=True)

    def reconstruction_error(self, items: Sequence[Any]) -> Errors:
        """Per item, how badly the encoder reconstructs it (higher = less typical), or ``None`` for an
        encoder that does not reconstruct (TF-IDF, pixels, MiniLM)."""
        return self.encode_with_errors(items)[1]

    def encode_queries(self, queries: Sequence[Any]) -> np.ndarray:
        """Codes of search queries; ``QueryError`` naming the first query that cannot be encoded."""
        self.check_fitted()
        return self._encode(self._prepare_queries(queries), errors=False)[0]

    def _is_fitted(self) -> bool:
        return getattr(self, "fitted_", False)

    @abstractmethod
    def _fit(self, items: Sequence[Any]) -> None:
        """Learn the attributes ending in ``_`` from ``items``."""

    @abstractmethod
    def _prepare(self, items: Sequence[Any]) -> Any:
        """``items`` as ``_encode`` takes them (a count matrix, a pixel batch, embeddings)."""

    @abstractmethod
    def _prepare_queries(self, queries: Sequence[Any]) -> Any:
        """Like ``_prepare``, raising ``QueryError`` for a query that cannot be encoded."""

    @abstractmethod
    def _encode(self, inputs: Any, errors: bool) -> tuple[np.ndarray, Errors]:
        """Codes of prepared ``inputs`` and, if ``errors`` and the encoder reconstructs, the errors."""

    def _shares_input(self, other: Encoder) -> bool:
        """Whether ``other._prepare`` gives what ours gives (a two-stage encoder then prepares once)."""
        return type(self) is type(other)

    # --- saving -------------------------------------------------------------------------------

    def _get_state(self) -> dict[str, Any]:
        """JSON-safe fitted state beside the arrays."""
        return {}

    def _get_arrays(self) -> dict[str, np.ndarray]:
        """Fitted arrays (weights) to save."""
        return {}

    def _set_arrays(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Restore what ``_get_state`` and ``_get_arrays`` returned (subclasses extend it and call ``super()``)."""
        self.fitted_ = True

    def save(self, folder: str | Path) -> None:
        """Write ``config.json`` and ``weights.safetensors`` into ``folder``."""
        self.check_fitted()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {k: np.ascontiguousarray(v).reshape(np.shape(v)) for k, v in self._get_arrays().items()}  # 0-d kept
        save_file(arrays, str(folder / WEIGHTS_FILE))
        config = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "encoder": self.name,
            "modality": self.modality,
            "config": self.get_config(),
            "state": self._get_state(),
            **({"training": training} if (training := self.training_info()) else {}),
        }
        (folder / CONFIG_FILE).write_text(json.dumps(config, indent=1))


@cache
def _param_names(cls: type) -> tuple[str, ...]:
    names: dict[str, None] = {}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        params = list(inspect.signature(init).parameters.values())[1:]  # without self
        names.update((p.name, None) for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break  # this __init__ passes nothing further up
    return tuple(names)


def _json_value(value: Any) -> Any:
    if isinstance(value, Encoder):
        return value.get_config()
    if isinstance(value, (tuple, list)):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def read_saved(
    folder: str | Path, wanted: Callable[[dict[str, Any]], bool] | None = None
) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
    """Read and check an encoder folder; raise ``EncoderFileError`` with the reason if it is bad. With ``wanted``,
    ``None`` (and the weights left unread) when ``wanted(config)`` is false."""
    folder = Path(folder)
    config = read_manifest(folder / CONFIG_FILE, FORMAT, FORMAT_VERSION, EncoderFileError, "an ae-retrieval encoder")
    if wanted is not None and not wanted(config):
        return None
    try:
        arrays = load_file(str(folder / WEIGHTS_FILE))
    except (OSError, SafetensorError, ValueError) as exc:
        raise EncoderFileError(f"{folder / WEIGHTS_FILE}: unreadable weight file ({exc})") from exc
    return config, arrays


class BinaryCapable:
    """Mixin for encoders whose code is ``dim`` floats compared by cosine or, given ``bits``, that many
    bits compared by Hamming distance (the encoders a two-stage encoder can be made of).

    Bits come one of two ways (``binarise``): ``"rotation"`` trains the real-valued code (``float_dim`` wide:
    by default the ``dim`` asked for) and learns a rotation of it whose signs are the bits (``rotation.py``);
    ``"layer"`` trains a code layer of ``bits`` binary units through.
    """

    bits: int | None
    binarise: str = "layer"  # encoders without the option, and every one saved before it existed
    float_dim: int | None = None

    @property
    def metric(self) -> str:
        return "hamming" if self.bits else "cosine"

    @classmethod
    def saved_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        """A binary encoder saved before ``binarise`` existed trained its bits through a binary layer."""
        known = isinstance(config, dict) and "binarise" in cls.param_names()  # type: ignore[attr-defined]
        if known and config.get("bits") and "binarise" not in config:
            return {**config, "binarise": "layer"}
        return config  # anything else is the constructor's to refuse

    def _layer_bits(self) -> bool:
        """Whether the network's code layer is binary units (else it is real-valued)."""
        return bool(self.bits) and self.binarise == "layer"

    def _units(self) -> int:
        """Width of the network's code layer: the floats, the bits of a binary layer, or the floats the bits are
        rotated from (``float_dim``, else the ``dim`` option)."""
        if not self.bits:
            return self.dim  # type: ignore[attr-defined]
        if self.binarise == "layer":
            return self.bits
        return self.float_dim or getattr(self, "config", self).dim  # type: ignore[attr-defined]

    def _fit_rotation(self, units: np.ndarray) -> None:
        """Learn the rotation that turns the fit sample's real-valued codes ``units`` into bits (rotation only)."""
        if self.bits and self.binarise == "rotation":
            self.rotation_mean_, self.rotation_ = learn_rotation(units, self.bits, seed=getattr(self, "seed", 0))
            training = getattr(self, "training_", {})
            self.training_ = {**training, "bits": f"{self.bits} bits by a learned rotation of {units.shape[1]} floats"}

    def _encode_units(self, inputs: Any, errors: bool) -> tuple[np.ndarray, Errors]:
        """``_encode`` before ``_finish``: the code layer's output (and the errors) of prepared ``inputs``."""
        raise NotImplementedError

    def _real_codes(self, prepared: Any) -> np.ndarray:
        """The network's real-valued code-layer output for prepared inputs (before any binarising)."""
        return self._encode_units(prepared, errors=False)[0]

    def has_float_code(self) -> bool:
        """Whether the bits come from a real-valued code this encoder can give too (bits by rotation): what a
        collection may keep beside the bits to re-score the Hamming candidates exactly."""
        return bool(self.bits) and self.binarise == "rotation"

    def encode_with_floats(self, items: Sequence[Any]) -> tuple[np.ndarray, Errors, np.ndarray]:
        """Codes, reconstruction errors and the real-valued codes the bits are made from (``has_float_code``),
        from one forward pass."""
        self.check_fitted()  # type: ignore[attr-defined]
        units, errors = self._encode_units(self._prepare(items), errors=True)  # type: ignore[attr-defined]
        return self._finish(units), errors, units

    def encode_queries_with_floats(self, queries: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        """Query codes and the real-valued codes their bits are made from (``QueryError`` as ``encode_queries``)."""
        self.check_fitted()  # type: ignore[attr-defined]
        units = self._encode_units(self._prepare_queries(queries), errors=False)[0]  # type: ignore[attr-defined]
        return self._finish(units), units

    def shares_network(self, other: BinaryCapable) -> bool:
        """Whether ``other``'s trained network is the one this encoder would train: both take bits by rotation and
        differ in nothing else than how many (a two-stage encoder then trains one network for its two codes)."""
        if type(self) is not type(other) or not self.binarise == other.binarise == "rotation":
            return False
        mine, theirs = self.get_config(), other.get_config()  # type: ignore[attr-defined]
        return {**mine, "bits": None, "dim": None, "float_dim": self._units()} == {
            **theirs, "bits": None, "dim": None, "float_dim": other._units()}  # fmt: skip

    def adopt(self, other: BinaryCapable, prepared: Any) -> None:
        """Take ``other``'s fitted network (``shares_network``) and learn this encoder's own rotation on the real
        codes of the ``prepared`` fit items."""
        self.__dict__.update({k: v for k, v in vars(other).items() if k.endswith("_") and not k.startswith("rotation")})
        self._fit_rotation(other._real_codes(prepared))

    def _finish(self, units: np.ndarray) -> np.ndarray:
        """Code-layer output as stored: the floats, or the packed bits of the layer or of the rotation."""
        rotation = (self.rotation_mean_, self.rotation_) if self.binarise == "rotation" and self.bits else None
        return finish_codes(units, self.bits, rotation)

    def _rotation_arrays(self) -> dict[str, np.ndarray]:
        if self.bits and self.binarise == "rotation":
            return {"rotation_mean": self.rotation_mean_, "rotation": self.rotation_}
        return {}

    def _set_rotation(self, arrays: dict[str, np.ndarray]) -> None:
        if self.bits and self.binarise == "rotation":
            self.rotation_mean_, self.rotation_ = arrays["rotation_mean"], arrays["rotation"]
            if self.rotation_.shape != (self._units(), self.bits) or self.rotation_mean_.shape != (self._units(),):
                raise ValueError(f"rotation of shape {self.rotation_.shape}, the config makes "
                                 f"({self._units()}, {self.bits})")  # fmt: skip


class CodeWidth:
    """For encoders whose options ask for ``dim`` floats or ``bits`` bits: ``dim`` is the code's width, ``bits``
    when given; the ``dim`` option itself stays as given in ``config``."""

    config: Any

    @property
    def dim(self) -> int:
        return code_width(self.config.dim, self.config.bits)


class HiddenLayers:
    """For encoders with a ``hidden`` option: the layer sizes it names, checked at construction."""

    hidden: Any
    hidden_presets: ClassVar[dict[str, tuple[int, ...]]] = {}

    def hidden_layers(self) -> tuple[int, ...]:
        """``hidden`` as layer sizes: a sequence, one int, a string such as ``"500,250"`` or a preset's name."""
        return layer_sizes(self.hidden, type(self).__name__, self.hidden_presets)

    def _check_options(self) -> None:
        self.hidden_layers()
        super()._check_options()  # type: ignore[misc]


def binary_note(encoder: BinaryCapable) -> str:
    """What ``describe`` adds for a binary code: how its bits are made."""
    if not encoder.bits:
        return ""
    return " binary" if encoder.binarise == "layer" else f" → {encoder.bits} bits by rotation"


def finish_codes(
    units: np.ndarray, bits: int | None, rotation: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """Code-layer output as stored: the packed bits of a learned ``rotation`` (``(mean, projection)``) of the units,
    packed bits of binary units when ``bits``, else the float units."""
    if rotation is not None:
        return pack_bits(rotated_bits(units, *rotation))
    return pack_bits(units > 0.5) if bits else units
