"""The encoders ``--encoder`` can name and their options, read from their configs in ``retrieval.defaults``.

What ``aer encoders`` prints and what the documentation's options table is made of (``options_markdown``). Only
``retrieval.defaults`` is read, so listing the encoders loads neither torch nor scikit-learn.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import MISSING, dataclass, fields
from typing import Any

from ..defaults import DEFAULT_ENCODER, ENCODER_CONFIGS, OPTION_DOC, RUNTIME_OPTIONS
from ..errors import InvalidParameterError


@dataclass(frozen=True)
class OptionDoc:
    """One option of an encoder: its name, its type as written in the config, its default and what it does."""

    name: str
    type: str
    default: Any
    doc: str


def encoder_names() -> list[str]:
    """The encoders ``--encoder`` can name: text first, each modality's default first."""
    return list(ENCODER_CONFIGS)


def config_class(name: str) -> type:
    """The config dataclass of encoder ``name``; ``InvalidParameterError`` naming the nearest for an unknown one."""
    if name not in ENCODER_CONFIGS:
        raise InvalidParameterError(f"no encoder {name!r}{did_you_mean(name, ENCODER_CONFIGS)}; the encoders: "
                                    f"{', '.join(ENCODER_CONFIGS)}")  # fmt: skip
    return ENCODER_CONFIGS[name]


def describe(name: str) -> list[OptionDoc]:
    """Every option encoder ``name`` takes, in its config's order with the runtime options (``device``,
    ``progress``: never saved) last."""
    found = [
        OptionDoc(f.name, str(f.type), f.default if f.default is not MISSING else None, f.metadata.get(OPTION_DOC, ""))
        for f in fields(config_class(name))
    ]
    return sorted(found, key=lambda o: o.name in RUNTIME_OPTIONS)  # stable: the config's order otherwise


def summary(name: str) -> str:
    """One line on what encoder ``name`` is (its config's docstring)."""
    return (config_class(name).__doc__ or "").strip().splitlines()[0]


def modality(name: str) -> str:
    """``"text"`` or ``"image"``: what encoder ``name`` encodes."""
    return str(config_class(name).modality)  # type: ignore[attr-defined]


def is_default(name: str) -> bool:
    """Whether ``aer index`` picks encoder ``name`` when no ``--encoder`` is given (for its modality)."""
    return DEFAULT_ENCODER.get(modality(name)) == name


def format_default(value: Any) -> str:
    """A default as ``-o KEY=VALUE`` takes it: ``500,250,125``, ``true``, ``0.001``; ``—`` for unset (``None``)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (tuple, list)):
        return ",".join(map(format_default, value))
    return str(value)


def nearest(key: str, names: Iterable[str]) -> str | None:
    """The name in ``names`` closest to the misspelt ``key`` (``difflib``), or a name that is one of its
    underscore-separated words (``lr_rate`` → ``lr``); ``None`` when nothing is close."""
    names = list(names)
    close = difflib.get_close_matches(key, names, n=1)
    if close:
        return close[0]
    return next((part for part in key.split("_") if part in names), None)


def did_you_mean(key: str, names: Iterable[str]) -> str:
    """`` (did you mean lr?)`` for the nearest of ``names``, or nothing."""
    found = nearest(key, names)
    return f" (did you mean {found}?)" if found else ""


def options_markdown(level: int = 3) -> str:
    """A markdown section per encoder (heading ``level``): what it is, and a table of its options with their
    defaults and descriptions (the documentation's options reference)."""
    out = []
    for name in encoder_names():
        kind = f"{modality(name)}, the default" if is_default(name) else modality(name)
        out += [f"{'#' * level} `{name}` ({kind})", "", summary(name), ""]
        options = describe(name)
        if not options:
            out += ["No options.", ""]
            continue
        out += ["| option | default | description |", "|---|---|---|"]
        out += [f"| `{o.name}` | `{format_default(o.default)}` | {_cell(o.doc)} |" for o in options]
        out.append("")
    return "\n".join(out)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")
