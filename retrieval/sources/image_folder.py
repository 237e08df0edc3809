"""A folder of images (anything Pillow reads), recursively; the first-level subfolder is the label."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..images import IMAGE_SUFFIXES, ImageError, to_pixels
from .items import ImageItem, Rejected
from .text_folder import walk_files


def looks_like_image_folder(root: Path, sample: int = 200) -> bool:
    """True when most of the first files under ``root`` have image suffixes."""
    names = []
    for path in walk_files(root):
        names.append(path.suffix.lower() in IMAGE_SUFFIXES)
        if len(names) == sample:
            break
    return bool(names) and sum(names) > len(names) / 2


def iter_image_folder(root: Path) -> Iterator[ImageItem | Rejected]:
    """Yield an ``ImageItem`` per readable image (any suffix), a ``Rejected`` per other file."""
    for path in walk_files(root):
        rel = path.relative_to(root)
        label = rel.parts[0] if len(rel.parts) > 1 else None
        try:
            pixels = to_pixels(path)
        except ImageError as exc:
            yield Rejected(rel.as_posix(), str(exc))
            continue
        yield ImageItem(id=rel.as_posix(), pixels=pixels, label=label, source=str(path))
