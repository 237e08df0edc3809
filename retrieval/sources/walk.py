"""Walking a source folder: which files become items, under which id and label, and which are refused.

Hidden names (``.x``) are skipped. A symlink whose target lies outside the folder is refused unless
``follow_links`` (a folder of untrusted files must not reach ``/etc/shadow``); a FIFO, socket or device is
refused without being opened (opening a FIFO waits for a writer forever); a file whose name cannot be an id
(``retrieval.ids``: not UTF-8, a control character) is refused. Each refusal is a ``Rejected`` naming the file.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..ids import encodable, id_problem, normal_id, printable
from .items import Rejected

_SPECIAL = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
            (stat.S_ISBLK, "a block device"))  # fmt: skip


@dataclass(frozen=True)
class Entry:
    """A regular file to read: its path, its item id (the path below the folder, ``/``-separated, NFC) and its
    label (the first-level subfolder, if any)."""

    path: Path
    id: str
    label: str | None


def walk(root: Path, follow_links: bool = False) -> Iterator[Entry | Rejected]:
    """The regular files below ``root`` in a stable order (an ``Entry`` each), and a ``Rejected`` per file
    refused (see the module's docstring); symlink loops are walked once."""
    inside = os.path.realpath(root)
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
            rel = entry.relative_to(root)
            name = printable(rel.as_posix(), os_name=True)
            if not follow_links and entry.is_symlink() and not _within(os.path.realpath(entry), inside):
                yield Rejected(name, "a symlink to outside the source folder (not followed; --follow-links to)")
                continue
            try:
                mode = entry.stat().st_mode
            except OSError as exc:
                yield Rejected(name, "file not found (a broken link?)" if isinstance(exc, FileNotFoundError)
                               else f"cannot read file ({exc.strerror or exc})")  # fmt: skip
                continue
            if stat.S_ISDIR(mode):
                subfolders.append(entry)
            elif kind := next((what for test, what in _SPECIAL if test(mode)), None):
                yield Rejected(name, f"not a regular file ({kind}): not read")
            else:
                yield _entry(entry, rel, name)
        stack.extend(reversed(subfolders))


def _entry(path: Path, rel: Path, name: str) -> Entry | Rejected:
    item_id = normal_id(rel.as_posix())
    if not encodable(item_id):
        return Rejected(name, "its name is not valid UTF-8, so it cannot be an item id")
    if why := id_problem(item_id):
        return Rejected(name, f"its name cannot be an item id: {why}")
    label = normal_id(rel.parts[0]) if len(rel.parts) > 1 else None
    return Entry(path, item_id, label)


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def walk_files(root: Path, follow_links: bool = False) -> Iterator[Path]:
    """The paths of the regular files ``walk`` would read (what a folder holds, for telling its kind)."""
    return (e.path for e in walk(root, follow_links) if isinstance(e, Entry))
