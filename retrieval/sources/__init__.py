"""Corpus sources, recognised by what they are.

Text: a folder of text files, a ``.jsonl`` file, the 20 Newsgroups by-date archive (train split).
Images: a folder of images, the CIFAR-10 binary archive or its folder (train split).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..errors import SourceError
from .cifar import is_cifar10, iter_cifar10, load_cifar10
from .image_folder import iter_image_folder, looks_like_image_folder
from .items import Document, ImageItem, Rejected, check_item, contents
from .jsonl import iter_jsonl
from .newsgroups import is_newsgroups_archive, iter_newsgroups
from .text_folder import iter_folder

__all__ = [
    "Document", "ImageItem", "Rejected", "check_item", "contents", "iter_cifar10", "iter_items", "iter_newsgroups",
    "load_cifar10",
    "source_kind", "source_modality",
]  # fmt: skip

Item = Document | ImageItem
_MODALITY = {"text-folder": "text", "jsonl": "text", "20news": "text", "image-folder": "image", "cifar10": "image"}


def source_kind(source: str | Path) -> str:
    """``text-folder``, ``image-folder``, ``jsonl``, ``20news`` or ``cifar10``; ``SourceError`` otherwise."""
    path = Path(source)
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    if path.is_dir():
        if is_cifar10(path):
            return "cifar10"
        return "image-folder" if looks_like_image_folder(path) else "text-folder"
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        return "jsonl"
    if is_newsgroups_archive(path):
        return "20news"
    if is_cifar10(path):
        return "cifar10"
    raise SourceError(
        f"{path}: not a folder, a .jsonl file, a 20 Newsgroups by-date archive or a CIFAR-10 binary archive"
    )


def source_modality(source: str | Path) -> str:
    """``text`` or ``image``."""
    return _MODALITY[source_kind(source)]


def iter_items(source: str | Path, follow_links: bool = False) -> Iterator[Item | Rejected]:
    """The items of ``source`` (and what had to be rejected, each with its reason). In a folder, a symlink to
    outside it is refused unless ``follow_links``, and FIFOs, sockets and devices are refused unopened."""
    path = Path(source)
    kind = source_kind(path)
    if kind == "text-folder":
        return iter_folder(path, follow_links)
    if kind == "image-folder":
        return iter_image_folder(path, follow_links)
    if kind == "jsonl":
        return iter_jsonl(path)
    if kind == "20news":
        return iter_newsgroups(path, "train")
    return iter_cifar10(path, "train")
