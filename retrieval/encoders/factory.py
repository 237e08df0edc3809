"""Encoders by name: build one from ``--encoder`` and its options, or load a saved one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..defaults import ENCODER_CONFIGS, RUNTIME_OPTIONS
from ..errors import EncoderFileError, InvalidParameterError
from .base import Encoder, read_saved
from .catalog import nearest
from .registry import REGISTERED, encoder_class, import_builtin
from .two_stage import TwoStageEncoder

# Runtime options every caller may pass: dropped where an encoder does not take them (e.g. LSA has no device).
# Anything else an encoder does not take is an error, never silently ignored (`--epochs` for LSA included).
COMMON_OPTIONS = set(RUNTIME_OPTIONS)


def _accepted(cls: type[Encoder], options: dict[str, Any]) -> dict[str, Any]:
    """The options ``cls`` takes (``None`` values dropped, so defaults apply)."""
    params = set(cls.param_names())
    return {k: v for k, v in options.items() if k in params and v is not None}


def create_encoder(name: str, *, short_bits: int | None = None, **options: Any) -> Encoder:
    """A new, unfitted encoder; with ``short_bits``, a two-stage one (short hash code plus ``bits`` long code).

    ``device`` and ``progress`` are dropped where an encoder does not take them; any other option it does
    not take is an error (``epochs`` for LSA, a misspelt ``-o`` option), never silently ignored. ``None``
    values are dropped, so defaults apply. Values pass through and are kept as given (``hidden="500,250"``,
    ``hidden="krizhevsky2011"``): the encoder reads them where it uses them, and checks them when it is made.
    """
    cls = encoder_class(name)
    if cls.composite:
        raise InvalidParameterError(f"encoder {name!r} is made from another one by options, not by name")
    accepted = _accepted(cls, options)
    unknown = sorted(k for k, v in options.items() if k not in accepted and k not in COMMON_OPTIONS and v is not None)
    if unknown:
        raise unknown_options(name, unknown, cls.param_names())
    if short_bits:
        return TwoStageEncoder.create(name, short_bits, **accepted)
    return cls(**accepted)


def unknown_options(name: str, unknown: list[str], valid: tuple[str, ...]) -> InvalidParameterError:
    """The error for options encoder ``name`` does not take: the nearest valid one to each, then every valid one."""
    near = {key: found for key in unknown if (found := nearest(key, valid))}
    hints = [f"did you mean {found}?" if len(unknown) == 1 else f"{key}: did you mean {found}?"
             for key, found in near.items()]  # fmt: skip
    hint = f" ({'; '.join(hints)})" if hints else ""
    described = f" (aer encoders {name} describes them)" if name in ENCODER_CONFIGS else ""
    return InvalidParameterError(f"encoder {name!r} takes no option {', '.join(map(repr, unknown))}{hint}; its "
                                 f"options: {', '.join(sorted(valid)) or 'none'}{described}")  # fmt: skip


def load_encoder(folder: str | Path, **runtime: Any) -> Encoder:
    """Rebuild a saved encoder; ``runtime`` options (``device``, ``progress``) apply where taken."""
    import torch

    import_builtin()
    config, arrays = read_saved(folder)
    name = config.get("encoder", "")
    cls = REGISTERED.get(name) if isinstance(name, str) else None  # a list or object there: damaged (fuzzing)
    if cls is None:
        raise EncoderFileError(f"{folder}: unknown encoder {config.get('encoder')!r}")
    try:
        encoder = cls(**cls.saved_config(config["config"]), **_accepted(cls, runtime))
        with torch.device("meta"):  # sizes in a (possibly hand-edited) config are checked before any allocation
            encoder._set_arrays(config.get("state", {}), arrays)
        training = config.get("training", {})
        encoder.training_ = dict(training) if isinstance(training, dict) else {}
    except EncoderFileError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise EncoderFileError(f"{folder}: saved encoder does not match its config ({exc})") from exc
    return encoder
