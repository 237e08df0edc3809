"""Corpus sources: a folder of text files, a JSONL file, or the 20 Newsgroups archive."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..errors import SourceError
from .items import Document, Rejected
from .jsonl import iter_jsonl
from .newsgroups import is_newsgroups_archive, iter_newsgroups
from .text_folder import iter_folder

__all__ = ["Document", "Rejected", "iter_documents", "iter_newsgroups"]


def iter_documents(source: str | Path) -> Iterator[Document | Rejected]:
    """Yield the documents of ``source`` (and what had to be rejected), whatever its kind.

    A folder is read recursively, a ``.jsonl`` file line by line, and the 20 Newsgroups by-date
    archive by its train split. Raise ``SourceError`` if ``source`` is missing or of no known kind.
    """
    path = Path(source)
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    if path.is_dir():
        return iter_folder(path)
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        return iter_jsonl(path)
    if is_newsgroups_archive(path):
        return iter_newsgroups(path, "train")
    raise SourceError(
        f"{path}: not a folder, a .jsonl file or a 20 Newsgroups by-date archive"
    )
