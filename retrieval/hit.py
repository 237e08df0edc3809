"""A search result."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Hit:
    """One item found by a search; ``score`` is the cosine similarity of the codes (higher is closer)."""

    id: str
    score: float
    label: str | None
    source: str
    snippet: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
