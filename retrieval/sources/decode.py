"""Bytes to text: UTF-8, falling back to Latin-1; binary data is refused."""

from __future__ import annotations


class UndecodableError(ValueError):
    """The bytes are not text (empty, or binary)."""


def decode_text(data: bytes) -> str:
    """Decode ``data`` as UTF-8, else Latin-1. Raise ``UndecodableError`` for empty or binary data."""
    if not data or not data.strip():
        raise UndecodableError("empty file" if not data else "file holds only whitespace")
    if b"\x00" in data:
        raise UndecodableError("binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # Latin-1 maps every byte, so this never fails; old Usenet posts need it.
        return data.decode("latin-1")
