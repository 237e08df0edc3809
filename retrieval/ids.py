"""What an item id may be, and lists of ids where a list is meant.

An id is a non-empty string of at most ``MAX_ID_CHARS`` characters, valid Unicode (no lone surrogates, so it can
be stored as UTF-8), without control characters (``\\n``, ``\\t``, ``\\x00``: Unicode category Cc). It is kept in
NFC form, so the composed and decomposed spellings of "é" name one item. Anything else may appear, ``/``
included (through the HTTP API, write it as ``%2F`` where it could be read as a path separator).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from .errors import InvalidParameterError

MAX_ID_CHARS = 1000


def id_problem(item_id: object) -> str | None:
    """Why ``item_id`` cannot be an item id, in words; ``None`` when it can (after ``normal_id``)."""
    if not isinstance(item_id, str):
        return f"the id must be a string, not {type(item_id).__name__}"
    if not item_id:
        return "the id is empty"
    if len(item_id) > MAX_ID_CHARS:
        return f"the id is {len(item_id):,} characters long, more than {MAX_ID_CHARS:,}"
    if not encodable(item_id):
        return "the id is not valid Unicode (it holds a lone surrogate)"
    if bad := next((c for c in item_id if unicodedata.category(c) == "Cc"), None):
        return f"the id holds a control character ({bad!r}); ids may not"
    return None


def normal_id(item_id: str) -> str:
    """``item_id`` as stored: NFC (left as given when it is not valid Unicode: ``id_problem`` refuses it)."""
    return unicodedata.normalize("NFC", item_id) if encodable(item_id) else item_id


def encodable(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 (no lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(text: str, os_name: bool = False) -> str:
    """``text`` safe to print on one line and to send as JSON: control characters, lone surrogates and (in a
    file name read from the OS, ``os_name``) undecodable bytes as backslash escapes (``\\n``, ``\\xff``)."""
    if not encodable(text):
        try:
            if not os_name:
                raise UnicodeEncodeError("utf-8", text, 0, 0, "not a file name")
            text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:
            text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return "".join(repr(c)[1:-1] if unicodedata.category(c) == "Cc" else c for c in text)


def id_list(item_ids: Iterable[str], name: str = "item_ids") -> list[str]:
    """``item_ids`` as a list of strings; a single string (or bytes) is refused, not read as its characters."""
    if isinstance(item_ids, (str, bytes)):
        raise InvalidParameterError(
            f"The {name!r} parameter must be a list of ids. Got the string {item_ids!r} instead "
            f"(for one id, pass [{item_ids!r}])."
        )
    ids = list(item_ids)
    if bad := next((i for i in ids if not isinstance(i, str)), None):
        raise InvalidParameterError(f"The {name!r} parameter must hold strings. Got {bad!r} among them instead.")
    return ids
