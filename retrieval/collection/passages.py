"""Which part of a text a result shows: the passage that best matches the query, with the query's words marked.

A text's body is what is left once header-like lines are set aside: a block of ``Key: value`` lines at its top
(mail and news headers, with their folded continuation lines), mail and news header lines further down (a
forwarded message's), quoted lines (``> ...``), attribution lines (``In article <...> x writes:``) and everything
after a signature separator (``--``). When nothing is left, the whole text is the body.

A query's words are its tokens as the collection's tokeniser takes them (``retrieval.tokenise``: lowercased runs of
two or more word characters), common English words left out unless the query has nothing else. The passage is the
window of at most ``PASSAGE_CHARS`` characters of the body that holds the most distinct query words (then the most
occurrences; the earliest on a tie), widened to start at a sentence or a word, white space folded, cut at word
boundaries with ``…`` where text goes on. Without query words (a search for items like a stored one, an image
query) it is the start of the body. The marks are character spans ``(start, end)`` into the snippet, in Unicode
code points, one per occurrence of a query word, so a caller can emphasise them without parsing markup.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from ..tokenise import query_tokens
from .hits import Hit, Spans

PASSAGE_CHARS = 240  # at most this many characters of text in a snippet (SNIPPET_CHARS, what was shown before)
SCAN_CHARS = 50_000  # a longer text's passages are chosen from its start (what a search reads of it)
ELLIPSIS = "…"

_HEADER = re.compile(r"([A-Za-z][\w.-]*):[ \t]")  # an RFC 822 header line: ``Key: value``
_MAIL_HEADERS = frozenset(
    "from subject organization organisation lines date message-id newsgroups path reply-to sender to cc "
    "nntp-posting-host distribution references article-i.d. followup-to xref in-reply-to return-path".split()
)  # header names skipped anywhere in a text (any name is, in a header block at its top that has one of them)
_QUOTED = re.compile(r"[ \t]*\|?>")
_ATTRIBUTION = re.compile(r"\s*in article <|.*\b(writes|wrote|says):\s*$", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*\s+|\n[ \t]*\n")
# Common English words: a query's words are marked without them (unless it has no others).
STOP_WORDS = frozenset(
    "a about above after again against all am an and any are as at be because been before being below between "
    "both but by can could did do does doing down during each few for from further had has have having he her "
    "here hers him his how if in into is it its itself just me more most my no nor not of off on once only or "
    "other our ours out over own same she should so some such than that the their theirs them then there these "
    "they this those through to too under until up very was we were what when where which while who whom why "
    "will with would you your yours".split()
)


def query_words(query: Any) -> frozenset[str]:
    """The words of a text ``query`` to find and mark (none for anything but text)."""
    if not isinstance(query, str):
        return frozenset()
    words = frozenset(query_tokens(query))
    return (words - STOP_WORDS) or words


def words_pattern(words: frozenset[str]) -> re.Pattern[str] | None:
    """A pattern matching any of ``words`` as a whole token, in any case (``None`` for no words)."""
    if not words:
        return None
    alternatives = "|".join(map(re.escape, sorted(words, key=lambda w: (-len(w), w))))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def body_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` character ranges of ``text``'s body (see the module docstring), in order."""
    lines, at = [], 0
    for line in text.split("\n"):
        lines.append((at, at + len(line)))
        at += len(line) + 1
    spans: list[tuple[int, int]] = []
    kept_last = False
    for start, end in lines[_header_block(text, lines) :]:
        line = text[start:end]
        if line.rstrip() == "--":  # a signature follows
            break
        kept = not _skipped(line)
        if kept and kept_last:
            spans[-1] = (spans[-1][0], end)
        elif kept:
            spans.append((start, end))
        kept_last = kept
    spans = spans if any(text[s:e].strip() for s, e in spans) else [(0, len(text))]
    return [_trimmed(text[s:e], s) for s, e in spans if text[s:e].strip()]


def _trimmed(chunk: str, at: int) -> tuple[int, int]:
    """The range of ``chunk`` (found at ``at``) without its leading and trailing white space."""
    return at + len(chunk) - len(chunk.lstrip()), at + len(chunk.rstrip())


def _header_block(text: str, lines: list[tuple[int, int]]) -> int:
    """How many lines at the top of ``text`` are a header block (0: none), blank lines after it included."""
    names: list[str] = []
    n = 0
    for n, (start, end) in enumerate(lines):  # noqa: B007 - n is read after the loop
        line = text[start:end]
        if match := _HEADER.match(line):
            names.append(match.group(1).lower())
        elif not (names and line[:1] in (" ", "\t") and line.strip()):  # not a folded header's next line
            break
    else:
        n = len(lines)
    if not any(name in _MAIL_HEADERS or name.startswith("x-") for name in names):
        return 0
    while n < len(lines) and not text[lines[n][0] : lines[n][1]].strip():
        n += 1
    return n


def _skipped(line: str) -> bool:
    """Whether a body line is set aside: a mail header, a quote or an attribution."""
    if (match := _HEADER.match(line)) and ((name := match.group(1).lower()) in _MAIL_HEADERS or name.startswith("x-")):
        return True
    return bool(_QUOTED.match(line) or _ATTRIBUTION.match(line))


def passage(text: str, pattern: re.Pattern[str] | None = None) -> tuple[str, Spans]:
    """The snippet of ``text`` for a query whose words ``pattern`` matches (``None``: no words), and the spans of
    those words in it."""
    body = "\n".join(text[s:e] for s, e in body_spans(text[:SCAN_CHARS]))
    window = _best_window(body, pattern) if pattern is not None else None
    if window is None:  # the body's start
        start = last = len(body) - len(body.lstrip())
    else:
        start, last = _widen_start(body, *window), window[1]
    end = _cut_end(body, start, last)
    before, after = bool(body[:start].strip()), bool(body[end:].strip())
    shown = (ELLIPSIS if before else "") + " ".join(body[start:end].split()) + (ELLIPSIS if after else "")
    return shown, marks(shown, pattern)


def marks(snippet: str, pattern: re.Pattern[str] | None) -> Spans:
    """The ``(start, end)`` spans of ``pattern``'s matches in ``snippet``."""
    return () if pattern is None else tuple(m.span() for m in pattern.finditer(snippet))


def _best_window(body: str, pattern: re.Pattern[str]) -> tuple[int, int] | None:
    """``(first, last)``: the character range of the run of query-word matches in ``body`` that fits a passage
    with the most distinct words, then the most matches, earliest first; ``None``: no match."""
    best: tuple[tuple[int, int, int], int, int] | None = None
    room = PASSAGE_CHARS - 2 * len(ELLIPSIS)
    found = [(m.start(), m.end(), m.group().lower()) for m in pattern.finditer(body)]
    inside: Counter[str] = Counter()  # the words of found[left : right + 1]
    left = 0
    for right, (_, end, word) in enumerate(found):
        inside[word] += 1
        while end - found[left][0] > room:
            gone = found[left][2]
            inside[gone] -= 1
            if not inside[gone]:
                del inside[gone]
            left += 1
        score = (len(inside), right - left + 1, -found[left][0])
        if best is None or score > best[0]:
            best = (score, found[left][0], end)
    return None if best is None else best[1:]


def _widen_start(body: str, first: int, last: int) -> int:
    """Where a passage holding ``body[first:last]`` begins: a third of the room left before ``first`` (more near
    the end of the body), moved on to a sentence's start or else a word's."""
    start = max(0, min(first - (PASSAGE_CHARS - (last - first)) // 3, len(body) - PASSAGE_CHARS))
    if not body[:start].strip():
        return len(body) - len(body.lstrip())
    sentence = None
    for sentence in _SENTENCE_END.finditer(body, start, first):
        pass
    if sentence is not None:
        return sentence.end()
    gap = re.search(r"\s+", body[start:first])
    return start + gap.end() if gap else first


def _cut_end(body: str, start: int, last: int) -> int:
    """Where a passage from ``start`` that must hold ``body[:last]`` ends: at most ``PASSAGE_CHARS`` on, at a
    word boundary where there is one."""
    end = min(len(body), start + PASSAGE_CHARS)
    if end == len(body) or body[end].isspace():
        return end
    for at in range(end - 1, last, -1):
        if body[at].isspace():
            return at
    return max(last, end)  # one word longer than a passage: cut inside it


def with_passages(hits: list[list[Hit]], queries: Sequence[Any], texts: Mapping[str, str]) -> list[list[Hit]]:
    """Each hit with its snippet chosen from its text for its row's query (``texts`` by id; a hit whose text is
    not there keeps its stored snippet) and the query words in it marked."""
    out = []
    for row, query in zip(hits, queries):
        pattern = words_pattern(query_words(query))
        out.append([_chosen(h, texts.get(h.id), pattern) for h in row])
    return out


def _chosen(hit: Hit, text: str | None, pattern: re.Pattern[str] | None) -> Hit:
    if text is None:  # only the snippet is kept (already its text's first passage, or all an old collection has)
        return hit._replace(highlights=marks(hit.snippet, pattern))
    shown, spans = passage(text, pattern)
    return hit._replace(snippet=shown, highlights=spans)


def stored_snippet(item: Any) -> str:
    """What the store keeps as an item's snippet: a text's first passage (its body's start), an image's none."""
    text = getattr(item, "text", None)
    return passage(text)[0] if isinstance(text, str) else item.snippet
