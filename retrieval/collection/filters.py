"""Metadata filters for searches: ``col.search(q, k, where={"label": "sci.space"})``.

A filter names the items that may be hits: ``label`` (one label or a list of them) and ``id_prefix`` (ids that
start with it, case-sensitively); both given means both must hold. The store turns a filter into the matching
index keys, and the index searches among those keys exactly (``CodeIndex.search_among``), so a filtered search
returns ``k`` hits whenever ``k`` items match.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidParameterError

FIELDS = ("label", "id_prefix")


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
