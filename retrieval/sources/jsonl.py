"""A JSON Lines file: one ``{"id", "text", "label"}`` object a line (``label`` optional)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from .decode import UndecodableError, decode_text
from .items import Document, Rejected


def iter_jsonl(path: Path) -> Iterator[Document | Rejected]:
    """Yield a ``Document`` per valid line and a ``Rejected`` (named ``file:line``) per bad one."""
    first_line: dict[str, int] = {}
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            where = f"{path.name}:{lineno}"
            if not raw.strip():
                continue
            try:
                obj = json.loads(decode_text(raw))
            except (UndecodableError, ValueError, RecursionError) as exc:  # bad JSON, a too long int, deep nesting
                yield Rejected(where, f"not a JSON object ({str(exc)[:200]})")
                continue
            if not isinstance(obj, dict):
                yield Rejected(where, "not a JSON object")
                continue
            item_id, text, label = obj.get("id"), obj.get("text"), obj.get("label")
            if not isinstance(item_id, (str, int)) or str(item_id) == "":
                yield Rejected(where, "missing or invalid 'id'")
                continue
            item_id = str(item_id)
            if not isinstance(text, str) or not text.strip():
                yield Rejected(f"{where} (id {item_id})", "missing or empty 'text'")
                continue
            if item_id in first_line:
                yield Rejected(f"{where} (id {item_id})", f"duplicate id (first on line {first_line[item_id]})")
                continue
            first_line[item_id] = lineno
            yield Document(
                id=item_id,
                text=text,
                label=None if label is None else str(label),
                source=f"{path}:{lineno}",
            )
