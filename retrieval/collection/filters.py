"""Metadata filters for searches: ``col.search(q, k, where={"label": "sci.space"})``.

A filter names the items that may be hits: ``label`` (one label or a list of them) and ``id_prefix`` (ids that
start with it, case-sensitively); both given means both must hold. The store turns a filter into the matching
index keys, and the index searches among those keys exactly (``CodeIndex.search_among``), so a filtered search
returns ``k`` hits whenever ``k`` items match.

A label no item has is not an error (the filter may be written before the items are added) but a
``UnknownLabelWarning`` that names the nearest labels; ``collecting_warnings`` gathers such warnings instead (the
server puts them in its answers, the CLI prints them on stderr).
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidParameterError, UnknownLabelWarning

FIELDS = ("label", "id_prefix")
NEAREST = 3  # labels an unknown-label warning names at most
# Where filter warnings go instead of warnings.warn: a context variable, so each thread (each server request)
# has its own, and no process-wide warnings filter changes.
_COLLECTED: ContextVar[list[str] | None] = ContextVar("filter_warnings", default=None)


@dataclass(frozen=True)
class Where:
    """A parsed filter; ``None`` fields do not restrict."""

    labels: tuple[str, ...] | None = None
    id_prefix: str | None = None


def parse_where(where: Mapping[str, Any] | None) -> Where | None:
    """``where`` checked and parsed (``None`` or empty: no filter); ``InvalidParameterError`` naming what is wrong."""
    if not where:
        return None
    if not isinstance(where, Mapping):
        raise InvalidParameterError(f"The 'where' parameter must be a mapping such as {{'label': 'x'}}. Got {where!r}.")
    unknown = sorted(set(where) - set(FIELDS), key=str)
    if unknown:
        raise InvalidParameterError(f"The 'where' filter has no field {unknown[0]!r}; the fields are {FIELDS}.")
    labels = where.get("label")
    if labels is not None:
        labels = (labels,) if isinstance(labels, str) else labels
        if not isinstance(labels, (list, tuple, set, frozenset)) or not all(isinstance(x, str) for x in labels):
            raise InvalidParameterError(f"The 'label' filter must be a label or a list of labels. Got {labels!r}.")
        labels = tuple(sorted(labels))
    prefix = where.get("id_prefix")
    if prefix is not None and (not isinstance(prefix, str) or not prefix):
        raise InvalidParameterError(f"The 'id_prefix' filter must be a non-empty string. Got {prefix!r}.")
    return Where(labels=labels, id_prefix=prefix)


def unknown_label_notes(unknown: Sequence[str], counts: Mapping[str, int]) -> list[str]:
    """A message for each label of ``unknown``, naming the nearest labels of ``counts`` (label -> items): close
    spellings, ignoring case; where none is close, the most common labels."""
    by_folded: dict[str, list[str]] = {}
    for name in counts:
        by_folded.setdefault(name.casefold(), []).append(name)
    notes = []
    for label in unknown:
        close = difflib.get_close_matches(label.casefold(), list(by_folded), n=NEAREST, cutoff=0.6)
        near = [name for folded in close for name in by_folded[folded]][:NEAREST]
        if near:
            notes.append(f"no item has the label {label!r}; nearest: {_listed(near, counts)}")
        elif counts:
            common = list(counts)[:NEAREST]
            notes.append(f"no item has the label {label!r}, nor one like it; the most common of the collection's "
                         f"{len(counts)} labels: {_listed(common, counts)}")  # fmt: skip
        else:
            notes.append(f"no item has the label {label!r}: the collection's items have no labels")
    return notes


def _listed(names: Sequence[str], counts: Mapping[str, int]) -> str:
    return ", ".join(f"{name!r} ({counts[name]} items)" for name in names)


@contextmanager
def collecting_warnings() -> Iterator[list[str]]:
    """Inside, a search's filter warnings are appended to the list this yields instead of being issued with
    ``warnings.warn`` (in this thread or task only)."""
    notes: list[str] = []
    token = _COLLECTED.set(notes)
    try:
        yield notes
    finally:
        _COLLECTED.reset(token)


def report(notes: Sequence[str], stacklevel: int = 2) -> None:
    """Hand ``notes`` to the innermost ``collecting_warnings``, or else issue each as an ``UnknownLabelWarning``
    (``stacklevel`` counted from the caller of ``report``)."""
    sink = _COLLECTED.get()
    if sink is not None:
        sink.extend(notes)
        return
    for note in notes:
        warnings.warn(note, UnknownLabelWarning, stacklevel=stacklevel + 1)
