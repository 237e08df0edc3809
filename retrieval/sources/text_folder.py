"""A folder of text files, read recursively; the first-level subfolder is the label."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..ids import printable
from .decode import UndecodableError, decode_text_noting
from .items import Document, Rejected
from .walk import walk

# Bigger files are cut to this many bytes before decoding, so one huge file cannot exhaust memory
# (the item gets a note saying so).
MAX_TEXT_BYTES = 2_000_000


def iter_folder(root: Path, follow_links: bool = False) -> Iterator[Document | Rejected]:
    """Yield a ``Document`` per readable file under ``root`` (sorted), a ``Rejected`` per bad one (see
    ``walk``: symlinks out of ``root`` are refused unless ``follow_links``, special files are never opened)."""
    for entry in walk(root, follow_links):
        if isinstance(entry, Rejected):
            yield entry
            continue
        path, item_id = entry.path, entry.id
        try:
            with path.open("rb") as fh:
                data = fh.read(MAX_TEXT_BYTES + 1)
            truncated = len(data) > MAX_TEXT_BYTES
            text, note = decode_text_noting(data[:MAX_TEXT_BYTES], truncated)
        except (OSError, UndecodableError) as exc:
            yield Rejected(item_id, _reason(exc))
            continue
        if truncated:
            size = path.stat().st_size
            cut = f"truncated to the first {MAX_TEXT_BYTES:,} of its {size:,} bytes"
            note = f"{cut}; {note}" if note else cut
        yield Document(id=item_id, text=text, label=entry.label, source=printable(str(path), os_name=True), note=note)


def _reason(exc: Exception) -> str:
    if isinstance(exc, FileNotFoundError):
        return "file not found (a broken link?)"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, OSError):
        return f"cannot read file ({exc.strerror or exc})"
    return str(exc)
