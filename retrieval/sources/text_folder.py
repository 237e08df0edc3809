"""A folder of text files, read recursively; the first-level subfolder is the label."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from .decode import UndecodableError, decode_text_noting
from .items import Document, Rejected

# Bigger files are cut to this many bytes before decoding, so one huge file cannot exhaust memory
# (the item gets a note saying so).
MAX_TEXT_BYTES = 2_000_000


def iter_folder(root: Path) -> Iterator[Document | Rejected]:
    """Yield a ``Document`` per readable file under ``root`` (sorted), a ``Rejected`` per bad one."""
    for path in walk_files(root):
        item_id = path.relative_to(root).as_posix()
        parts = path.relative_to(root).parts
        label = parts[0] if len(parts) > 1 else None
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
        yield Document(id=item_id, text=text, label=label, source=str(path), note=note)


def walk_files(root: Path) -> Iterator[Path]:
    """Regular files below ``root`` in a stable order, skipping hidden names and symlink loops."""
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = folder.stat()
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in seen:  # a symlink loop
            continue
        seen.add((st.st_dev, st.st_ino))
        try:
            entries = sorted(folder.iterdir(), key=lambda p: p.name)
        except OSError:
            continue
        subfolders = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                subfolders.append(entry)
            else:
                yield entry
        stack.extend(reversed(subfolders))


def _reason(exc: Exception) -> str:
    if isinstance(exc, FileNotFoundError):
        return "file not found (a broken link?)"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, OSError):
        return f"cannot read file ({exc.strerror or exc})"
    return str(exc)
