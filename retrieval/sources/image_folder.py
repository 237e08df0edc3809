"""A folder of images (anything Pillow reads), recursively; the first-level subfolder is the label."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..ids import printable
from ..images import IMAGE_SUFFIXES, ImageError, to_pixels
from .items import ImageItem, Rejected
from .walk import walk, walk_files


def looks_like_image_folder(root: Path, sample: int = 200) -> bool:
    """True when most of the first files under ``root`` have image suffixes."""
    names = []
    for path in walk_files(root):
        names.append(path.suffix.lower() in IMAGE_SUFFIXES)
        if len(names) == sample:
            break
    return bool(names) and sum(names) > len(names) / 2


def iter_image_folder(root: Path, follow_links: bool = False) -> Iterator[ImageItem | Rejected]:
    """Yield an ``ImageItem`` per readable image (any suffix), a ``Rejected`` per other file (see ``walk``:
    symlinks out of ``root`` are refused unless ``follow_links``, special files are never opened)."""
    for entry in walk(root, follow_links):
        if isinstance(entry, Rejected):
            yield entry
            continue
        try:
            pixels = to_pixels(entry.path)
        except ImageError as exc:
            yield Rejected(entry.id, str(exc))
            continue
        yield ImageItem(id=entry.id, pixels=pixels, label=entry.label, source=printable(str(entry.path), os_name=True))
