"""Checks and normal forms for encoder parameters, with scikit-learn's message template."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import InvalidParameterError


def invalid(param: str, owner: str, expected: str, got: Any) -> InvalidParameterError:
    """``The 'param' parameter of Owner must be <expected>. Got <got> instead.``"""
    return InvalidParameterError(f"The {param!r} parameter of {owner} must be {expected}. Got {got!r} instead.")


def check_bits(bits: int | None, owner: str = "this encoder") -> None:
    """Binary codes are stored packed in bytes: ``bits`` must be a positive multiple of 8 (or ``None``)."""
    if bits is not None and (isinstance(bits, bool) or not isinstance(bits, int) or bits <= 0 or bits % 8):
        raise invalid("bits", owner, "a positive multiple of 8", bits)


def code_width(dim: int, bits: int | None) -> int:
    """The length of one code: ``bits`` for a binary code, else ``dim`` floats."""
    return bits if bits else dim


def layer_sizes(hidden: Any, owner: str, presets: Mapping[str, Sequence[int]] | None = None) -> tuple[int, ...]:
    """Hidden layer sizes as a tuple: from a sequence or a single int, a string such as ``"500,250"``,
    or the name of one of ``presets`` (``"krizhevsky2011"``), as ``--hidden`` passes it."""
    presets = presets or {}
    expected = "a sequence of positive ints or a string such as '500,250'" + (
        f" or one of {sorted(presets)}" if presets else ""
    )
    if isinstance(hidden, str):
        if hidden in presets:
            return tuple(presets[hidden])
        parts = [p.strip() for p in hidden.split(",") if p.strip()]
        if not all(p.isdigit() for p in parts):
            raise invalid("hidden", owner, expected, hidden)
        sizes: Any = [int(p) for p in parts]
    elif isinstance(hidden, int) and not isinstance(hidden, bool):
        sizes = [hidden]
    elif isinstance(hidden, Sequence):
        sizes = list(hidden)
    else:
        raise invalid("hidden", owner, expected, hidden)
    if not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes):
        raise invalid("hidden", owner, expected, hidden)
    return tuple(sizes)


BINARISE = ("rotation", "layer")


def check_binarise(binarise: str, float_dim: int | None, owner: str = "this encoder") -> None:
    """``binarise`` is one of ``BINARISE``; ``float_dim`` (the real-valued code the bits come from) a positive int."""
    if binarise not in BINARISE:
        raise invalid("binarise", owner, f"one of {', '.join(map(repr, BINARISE))}", binarise)
    if float_dim is not None and (isinstance(float_dim, bool) or not isinstance(float_dim, int) or float_dim < 1):
        raise invalid("float_dim", owner, "a positive int", float_dim)
