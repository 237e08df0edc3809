"""A JSON Lines file: one ``{"id", "text", "label"}`` object a line (``label`` optional).

``id``: a string or an integer, an item id as ``retrieval.ids`` allows (stored in NFC form; each once in the
file); ``text``: a non-empty string; ``label``: a string or an integer. A byte order mark at the start is read
past. A line that breaks a rule is rejected with its reason, the others are read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from ..ids import encodable, id_problem, normal_id, printable
from .decode import UndecodableError, decode_text
from .items import Document, Rejected

BOM = b"\xef\xbb\xbf"  # UTF-8's byte order mark, which some editors write first


def iter_jsonl(path: Path) -> Iterator[Document | Rejected]:
    """Yield a ``Document`` per valid line and a ``Rejected`` (named ``file:line``) per bad one."""
    first_line: dict[str, int] = {}
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            where = f"{path.name}:{lineno}"
            if lineno == 1:
                raw = raw.removeprefix(BOM)
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
            if not isinstance(item_id, (str, int)) or isinstance(item_id, bool) or str(item_id) == "":
                yield Rejected(where, "missing or invalid 'id'")
                continue
            item_id = normal_id(str(item_id))
            named = f"{where} (id {printable(item_id)})"
            if why := id_problem(item_id):
                yield Rejected(named, f"invalid 'id': {why}")
                continue
            if not isinstance(text, str) or not text.strip():
                yield Rejected(named, "missing or empty 'text'")
                continue
            if not encodable(text):
                yield Rejected(named, "'text' is not valid Unicode (it holds a lone surrogate)")
                continue
            if label is not None and (not isinstance(label, (str, int)) or isinstance(label, bool)):
                shown = json.dumps(label)[:80]
                yield Rejected(named, f"'label' must be a string, not {type(label).__name__} ({shown})")
                continue
            if label is not None and not encodable(str(label)):
                yield Rejected(named, "'label' is not valid Unicode (it holds a lone surrogate)")
                continue
            if item_id in first_line:
                yield Rejected(named, f"duplicate id (first on line {first_line[item_id]})")
                continue
            first_line[item_id] = lineno
            yield Document(
                id=item_id,
                text=text,
                label=None if label is None else str(label),
                source=f"{path}:{lineno}",
            )
