"""Two binary encoders of one kind, a short code for hash lookup and a long one for ranking (Krizhevsky & Hinton 2011).

The 2011 paper trains a 28-bit autoencoder whose code is a hash address and a 256-bit one whose code re-ranks
the items found there. ``TwoStageEncoder`` fits both on the same items and gives each item its two codes joined
in one packed row, short code first (``indexers.join_codes``), the form ``indexers.TwoStageIndex`` takes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from indexers import join_codes

from ..errors import InvalidParameterError
from .base import BinaryCapable, Encoder, Errors
from .registry import ENCODERS, register


def _inner_class(name: str) -> type[Encoder]:
    if name not in ENCODERS or not issubclass(ENCODERS[name], BinaryCapable):
        binary = sorted(n for n, cls in ENCODERS.items() if issubclass(cls, BinaryCapable))
        raise InvalidParameterError(
            f"two-stage codes need a binary-capable encoder ({', '.join(binary)}). Got {name!r} instead."
        )
    return ENCODERS[name]


@register
class TwoStageEncoder(Encoder):
    """A short-code and a long-code encoder of kind ``inner``, fitted on the same items.

    ``short`` and ``long`` are the two encoders' configurations; the attributes of those names are the
    encoders themselves (``get_config`` gives their configurations back).
    """

    name: ClassVar[str] = "two-stage"
    composite: ClassVar[bool] = True
    metric: str = "hamming"

    def __init__(
        self, inner: str, short: dict[str, Any], long: dict[str, Any], device: str = "auto", progress: bool = True
    ) -> None:
        cls = _inner_class(inner)
        if not short.get("bits") or not long.get("bits"):
            raise InvalidParameterError("two-stage codes need 'bits' for both the short and the long code")
        runtime = {k: v for k, v in (("device", device), ("progress", progress)) if k in cls.param_names()}
        self.inner = inner
        self.short = cls(**short, **runtime)
        self.long = cls(**long, **runtime)
        self.device = device
        self.progress = progress

    @classmethod
    def saved_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(config, dict) or not isinstance(config.get("inner"), str):
            return config  # the constructor's to refuse
        inner = ENCODERS.get(config["inner"])
        if inner is None or not isinstance(config.get("short"), dict) or not isinstance(config.get("long"), dict):
            return config
        return {**config, "short": inner.saved_config(config["short"]), "long": inner.saved_config(config["long"])}

    @classmethod
    def create(cls, inner: str, short_bits: int, bits: int | None = None, **options: Any) -> TwoStageEncoder:
        """Short codes of ``short_bits`` and long codes of ``bits`` from encoders of kind ``inner``.

        ``options`` apply to both; ``device`` and ``progress`` are not saved.
        """
        if not bits:
            raise InvalidParameterError("two-stage codes need 'bits' for the long code as well as 'short_bits'")
        runtime = {k: options.pop(k) for k in cls.runtime_params if k in options}
        return cls(inner, {**options, "bits": short_bits}, {**options, "bits": bits}, **runtime)

    @property
    def modality(self) -> str:  # type: ignore[override]
        return self.long.modality

    @property
    def bits(self) -> int:  # type: ignore[override]
        """The long (ranking) code's length."""
        return self.long.bits

    @property
    def short_bits(self) -> int:  # type: ignore[override]
        """The short (hash lookup) code's length."""
        return self.short.bits

    @property
    def dim(self) -> int:  # type: ignore[override]
        """Width of a joined code in bits."""
        return self.short.bits + self.long.bits

    def describe(self) -> str:
        return f"two-stage(short={self.short.describe()}, long={self.long.describe()})"

    def _fit(self, items: Sequence[Any]) -> None:
        """Fit both codes; when both are rotations of the same real-valued code, train that network once."""
        self.long.fit(items)
        if self.short.shares_network(self.long):
            self.short.adopt(self.long, self.long._prepare(items))
        else:
            self.short.fit(items)

    def _is_fitted(self) -> bool:
        return self.short._is_fitted() and self.long._is_fitted()

    def _prepare(self, items: Sequence[Any]) -> tuple[Any, Any]:
        """Each part's input; made once when the two parts take the same (same vocabulary, same pixels)."""
        long = self.long._prepare(items)
        return (long if self.short._shares_input(self.long) else self.short._prepare(items)), long

    def _prepare_queries(self, queries: Sequence[Any]) -> tuple[Any, Any]:
        long = self.long._prepare_queries(queries)
        return (long if self.short._shares_input(self.long) else self.short._prepare_queries(queries)), long

    def _encode(self, inputs: tuple[Any, Any], errors: bool) -> tuple[np.ndarray, Errors]:
        """Joined codes, short code first (``indexers.join_codes``); the errors are the long code's."""
        short, long = inputs
        if getattr(self.short, "model_", None) is getattr(self.long, "model_", False):  # one network, two rotations
            units, long_errors = self.long._encode_units(long, errors)
            return join_codes(self.short._finish(units), self.long._finish(units)), long_errors
        long_codes, long_errors = self.long._encode(long, errors)
        return join_codes(self.short._encode(short, False)[0], long_codes), long_errors

    def reconstruction_error(self, items: Sequence[Any]) -> Errors:
        return self.long.reconstruction_error(items)

    def _get_state(self) -> dict[str, Any]:
        return {"short": self.short._get_state(), "long": self.long._get_state()}

    def _get_arrays(self) -> dict[str, np.ndarray]:
        return {
            **{f"short.{k}": v for k, v in self.short._get_arrays().items()},
            **{f"long.{k}": v for k, v in self.long._get_arrays().items()},
        }

    def _set_arrays(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        for part in ("short", "long"):
            prefix = f"{part}."
            own = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
            getattr(self, part)._set_arrays(state[part], own)
        super()._set_arrays(state, arrays)
