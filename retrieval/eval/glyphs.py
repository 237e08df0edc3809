"""The ``glyphs`` corpus of ``aer bench general``: every letter and digit drawn in each installed TrueType font of
two Debian font packages, an aligned set with many kinds of image (62 characters) and few of each (one a font).

Where the fonts are read from (every ``*.ttf`` of the first folders that hold any, sorted by name):

- ``<data dir>/glyph-fonts`` (any TrueType fonts copied there);
- Debian's ``fonts-dejavu-core`` and ``fonts-liberation`` (``apt-get install fonts-dejavu-core fonts-liberation``):
  ``/usr/share/fonts/truetype/dejavu`` and ``/usr/share/fonts/truetype/liberation``.

Each character is drawn white at ``SIZE`` points on a 32×32 black square, its ink box centred, with Pillow; the
label is the character (``O``, ``o`` and ``0`` are three labels, as a reader of the fonts would tell them).
Leave-one-out, as digits: each query is an item, left out of its own ranking.
"""

from __future__ import annotations

import string
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SourceError
from ..sources import ImageItem

PACKAGES = ("fonts-dejavu-core", "fonts-liberation")  # Debian
SYSTEM_FOLDERS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/liberation"))
FOLDER_NAME = "glyph-fonts"
CHARACTERS = string.ascii_letters + string.digits
SIZE = 22  # points: the tallest glyphs fill most of the square
SOURCE = "characters drawn in the TrueType fonts of Debian's fonts-dejavu-core and fonts-liberation"


def find_fonts(data_dir: str | Path | None = None, *, system: bool = True) -> list[Path]:
    """The fonts to draw: ``<data_dir>/glyph-fonts``'s if it holds any, else (``system``) Debian's packages';
    ``SourceError`` naming the packages and the folders looked in when there are none."""
    local = [Path(data_dir) / FOLDER_NAME] if data_dir is not None else []
    for group in (local, list(SYSTEM_FOLDERS) if system else []):
        fonts = sorted(f for folder in group if folder.is_dir() for f in folder.glob("*.ttf") if f.is_file())
        if fonts:
            return fonts
    looked = ", ".join(map(str, [*local, *(SYSTEM_FOLDERS if system else ())]))
    raise SourceError(f"no TrueType fonts for the glyphs corpus (looked in {looked}): install Debian's "
                      f"{' and '.join(PACKAGES)} (apt-get install {' '.join(PACKAGES)}) or copy .ttf files into "
                      f"{Path(data_dir or '.') / FOLDER_NAME}")  # fmt: skip


@lru_cache(maxsize=64)
def _font(font_path: Path) -> Any:
    """The font at ``SIZE`` points, read once however many characters are drawn in it; ``SourceError`` naming it
    when it cannot be read."""
    from PIL import ImageFont

    try:
        return ImageFont.truetype(str(font_path), SIZE)
    except OSError as exc:
        raise SourceError(f"{font_path}: not a readable TrueType font ({exc})") from exc


def draw(character: str, font_path: Path) -> np.ndarray:
    """``character`` in the font, white on a 32×32 black square, its ink box centred: ``(32, 32, 3)`` uint8;
    ``SourceError`` naming the font when it cannot be read."""
    from PIL import Image, ImageDraw

    font = _font(font_path)
    canvas = Image.new("L", (32, 32), 0)
    pen = ImageDraw.Draw(canvas)
    left, top, right, bottom = pen.textbbox((0, 0), character, font=font)
    pen.text(((32 - (right - left)) / 2 - left, (32 - (bottom - top)) / 2 - top), character, fill=255, font=font)
    return np.repeat(np.asarray(canvas)[:, :, None], 3, axis=2)


def glyph_items(data_dir: str | Path | None = None) -> tuple[list[ImageItem], dict[str, str]]:
    """Every character of ``CHARACTERS`` in every font ``find_fonts`` finds, labelled by character, and notes
    naming the fonts."""
    fonts = find_fonts(data_dir)
    items = [ImageItem(id=f"glyphs/{font.stem}/{i:02d}", pixels=draw(c, font), label=c, source=f"{font.name} {c!r}")
             for font in fonts for i, c in enumerate(CHARACTERS)]  # fmt: skip
    notes = {"subset": f"{len(CHARACTERS)} characters × {len(fonts)} fonts ({', '.join(f.stem for f in fonts)})",
             "source": SOURCE}  # fmt: skip
    return items, notes
