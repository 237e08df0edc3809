"""The glyphs corpus (retrieval/eval/glyphs.py): characters drawn in installed fonts, an aligned many-class set."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from retrieval.errors import SourceError
from retrieval.eval.corpus import load_corpora, select
from retrieval.eval.glyphs import CHARACTERS, FOLDER_NAME, PACKAGES, draw, find_fonts, glyph_items

SYSTEM_FONTS = sorted(f for folder in map(Path, ("/usr/share/fonts/truetype/dejavu",
                                                 "/usr/share/fonts/truetype/liberation"))  # fmt: skip
                      if folder.is_dir() for f in folder.glob("*.ttf"))
needs_a_font = pytest.mark.skipif(not SYSTEM_FONTS, reason="no TrueType font installed to copy")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data folder whose glyph-fonts folder holds one installed font."""
    (tmp_path / FOLDER_NAME).mkdir()
    shutil.copy(SYSTEM_FONTS[0], tmp_path / FOLDER_NAME / "Only.ttf")
    return tmp_path


def test_no_fonts_names_the_packages(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=f"{PACKAGES[0]} and {PACKAGES[1]}.*{FOLDER_NAME}"):
        find_fonts(tmp_path, system=False)


def test_a_broken_font_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "Broken.ttf"
    bad.write_bytes(b"not a font")
    with pytest.raises(SourceError, match="Broken.ttf: not a readable TrueType font"):
        draw("A", bad)


@needs_a_font
def test_the_data_folders_fonts_come_first(data_dir: Path) -> None:
    assert find_fonts(data_dir) == [data_dir / FOLDER_NAME / "Only.ttf"]


@needs_a_font
def test_a_glyph_is_white_on_black_and_centred(data_dir: Path) -> None:
    pixels = draw("H", data_dir / FOLDER_NAME / "Only.ttf")
    assert pixels.shape == (32, 32, 3) and pixels.dtype == np.uint8
    assert (pixels[..., 0] == pixels[..., 2]).all() and pixels.max() == 255 and pixels[0, 0, 0] == 0
    ink = np.argwhere(pixels[..., 0] > 127)
    assert np.abs(ink.mean(axis=0) - 15.5).max() < 1.5  # the ink box's middle is the square's
    assert not np.array_equal(pixels, draw("I", data_dir / FOLDER_NAME / "Only.ttf"))


@needs_a_font
def test_the_corpus_is_every_character_in_every_font_leave_one_out(data_dir: Path) -> None:
    items, notes = glyph_items(data_dir)
    assert [item.label for item in items] == list(CHARACTERS) and "62 characters × 1 fonts (Only)" in notes["subset"]
    assert select("glyphs") == ["glyphs"]
    corpus = next(load_corpora(data_dir, ["glyphs"]))
    assert corpus.protocol == "leave-one-out" and len(corpus.database) == 62 and len(corpus.query_labels) == 62
