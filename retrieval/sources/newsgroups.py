"""The 20 Newsgroups by-date archive (``20news-bydate.tar.gz``), read as it is published."""

from __future__ import annotations

import re
import tarfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import SourceError
from .decode import UndecodableError, decode_text
from .items import Document, Rejected

_MEMBER = re.compile(r"^(?:\./)?20news-bydate-(train|test)/([^/]+)/([^/]+)$")


def is_newsgroups_archive(path: Path) -> bool:
    """True when ``path`` is a tar archive whose first file member has the by-date layout."""
    if not path.is_file() or not tarfile.is_tarfile(path):
        return False
    with tarfile.open(path, "r:*") as tar:
        for member in tar:
            if member.isfile():
                return bool(_MEMBER.match(member.name))
    return False


def iter_newsgroups(path: Path, split: str = "train") -> Iterator[Document | Rejected]:
    """Stream one split (``train`` or ``test``) of the archive; ids are ``<split>/<group>/<number>``."""
    if split not in ("train", "test"):
        raise ValueError(f"The 'split' parameter must be 'train' or 'test'. Got {split!r} instead.")
    try:
        tar = tarfile.open(path, "r:*")
    except (OSError, tarfile.TarError) as exc:
        raise SourceError(f"{path}: cannot open as a 20 Newsgroups archive ({exc})") from exc
    with tar:
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
