"""Bytes to text: UTF-8, falling back to Latin-1; binary data is refused."""

from __future__ import annotations


class UndecodableError(ValueError):
    """The bytes are not text (empty, or binary)."""


def decode_text(data: bytes) -> str:
    """Decode ``data`` as UTF-8, else Latin-1. Raise ``UndecodableError`` for empty or binary data."""
    return decode_text_noting(data)[0]


def decode_text_noting(data: bytes, truncated: bool = False) -> tuple[str, str | None]:
    """As :func:`decode_text`, plus a note when the bytes were not UTF-8 (read as Latin-1).

    ``truncated``: ``data`` was cut from a longer file, so a multi-byte character cut in two at its end
    is dropped rather than taken as a sign of Latin-1.
    """
    if not data or not data.strip():
        raise UndecodableError("empty file" if not data else "file holds only whitespace")
    if b"\x00" in data:
        raise UndecodableError("binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        if truncated and exc.start >= len(data) - 3 and exc.reason == "unexpected end of data":
            return data[: exc.start].decode("utf-8"), None
        # Latin-1 maps every byte, so this never fails; old Usenet posts need it.
        return data.decode("latin-1"), "not valid UTF-8: read as Latin-1"
