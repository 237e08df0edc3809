"""The 20 Newsgroups by-date archive (``20news-bydate.tar.gz``), read as it is published."""

from __future__ import annotations

import re
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from ..errors import SourceError
from .decode import UndecodableError, decode_text
from .items import Document, Rejected

# What reading a truncated or bit-flipped (compressed) tar raises, part-way through.
ARCHIVE_ERRORS = (OSError, EOFError, tarfile.TarError, zlib.error)
_MEMBER = re.compile(r"^(?:\./)?20news-bydate-(train|test)/([^/]+)/([^/]+)$")


def first_file_member(path: Path) -> str | None:
    """The name of the first file in the tar archive ``path``; ``None`` when it is no tar, holds no file, or is
    damaged before its first file (then it is not recognisable as any archive this package reads)."""
    try:
        if not path.is_file() or not tarfile.is_tarfile(path):
            return None
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                if member.isfile():
                    return member.name
    except ARCHIVE_ERRORS:
        return None
    return None


def is_newsgroups_archive(path: Path) -> bool:
    """True when ``path`` is a tar archive whose first file member has the by-date layout."""
    name = first_file_member(path)
    return name is not None and bool(_MEMBER.match(name))


def iter_newsgroups(path: Path, split: str = "train") -> Iterator[Document | Rejected]:
    """Stream one split (``train`` or ``test``) of the archive; ids are ``<split>/<group>/<number>``."""
    if split not in ("train", "test"):
        raise ValueError(f"The 'split' parameter must be 'train' or 'test'. Got {split!r} instead.")
    try:
        tar = tarfile.open(path, "r:*")
    except ARCHIVE_ERRORS as exc:
        raise SourceError(f"{path}: cannot open as a 20 Newsgroups archive ({exc})") from exc
    try:
        with tar:
            yield from _members(tar, path, split)
    except ARCHIVE_ERRORS as exc:  # damaged part-way: what was read before stays read
        raise SourceError(f"{path}: damaged archive ({exc})") from exc


def _members(tar: tarfile.TarFile, path: Path, split: str) -> Iterator[Document | Rejected]:
    """The split's members of an open archive, as documents (or rejected items)."""
    for member in tar:
        m = _MEMBER.match(member.name)
        if not m or not member.isfile() or m.group(1) != split:
            continue
        _, group, number = m.groups()
        item_id = f"{split}/{group}/{number}"
        fh = tar.extractfile(member)
        try:
            text = decode_text(fh.read() if fh else b"")
        except UndecodableError as exc:
            yield Rejected(item_id, str(exc))
            continue
        yield Document(id=item_id, text=text, label=group, source=f"{path}::{member.name}")
