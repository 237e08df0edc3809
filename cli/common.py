"""What the commands share: library errors as clean messages, the options several commands take.

The command modules import only light parts of the library at the top (``retrieval.defaults``, ``.errors``,
``.device``) and the rest inside the command functions, so ``aer --help`` does not load torch or faiss."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from retrieval.defaults import COMMIT_EVERY
from retrieval.device import DEVICES
from retrieval.errors import RetrievalError
from retrieval.progress import close_all

from .command import RUNTIME, STORAGE, option

if TYPE_CHECKING:
    from retrieval.collection.hits import Hit
    from retrieval.collection.ingest import IndexReport

device_option = option(
    "--device", section=RUNTIME, type=click.Choice(DEVICES), default="auto", show_default=True,
    help="Where to run the encoder (auto = CUDA when torch sees a GPU).",
)  # fmt: skip


db_option = option(
    "--db", section=STORAGE, default=None, metavar="URL",
    help="Metadata database of the collection, e.g. postgresql://user@host:5432/dbname (one database per "
    "collection; default: metadata.sqlite inside it; or set AER_DATABASE_URL).",
)  # fmt: skip

commit_option = option(
    "--commit-every", section=STORAGE, type=click.IntRange(1), default=COMMIT_EVERY, show_default=True,
    help="Items encoded between writes to disk (a crash loses at most this much work, never the collection).",
)  # fmt: skip

follow_links_option = option(
    "--follow-links", is_flag=True,
    help="Follow symlinks in a source folder that point outside it (by default they are rejected, named).",
)  # fmt: skip


class EncoderName(click.ParamType):
    """An encoder's name, checked against the registered encoders when one is given: reading the registry loads
    the encoders (torch), which ``--help`` need not do."""

    name = "encoder"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from retrieval.encoders import ENCODERS

        if value not in ENCODERS:
            self.fail(f"{value!r} is not one of {', '.join(map(repr, sorted(ENCODERS)))}.", param, ctx)
        return str(value)


def print_report(report: IndexReport, collection: Path) -> None:
    """What ``aer index`` / ``aer add`` did; exit 1 if anything was rejected (after indexing the rest)."""
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    for rej in report.rejected:
        click.echo(f"rejected {rej}", err=True)
    verb = "created" if report.fitted else "updated"
    click.echo(f"{verb} {collection}: {report.added} added, {report.updated} updated, {len(report.rejected)} rejected")
    if report.rejected:
        raise SystemExit(1)


def print_hits(hits: list[Hit], as_json: bool, first_rank: int = 1) -> None:
    """Hits as a JSON list, or one ranked line each (with the snippet of text items, the query's words in bold on
    a terminal: click drops the styling when the output is not one)."""
    if as_json:
        click.echo(json.dumps([h.to_dict() for h in hits], indent=1))
        return
    for rank, h in enumerate(hits, start=first_rank):
        click.echo(f"{rank:3d}  {h.score:8.4f}  {h.id}  [{h.label or '-'}]")
        if h.snippet:
            click.echo(f"     {emphasised(h.snippet, h.highlights)}")


def emphasised(snippet: str, spans: tuple[tuple[int, int], ...]) -> str:
    """``snippet`` with its ``spans`` (``(start, end)`` character ranges) styled bold."""
    parts, at = [], 0
    for start, end in spans:
        parts += [snippet[at:start], click.style(snippet[start:end], bold=True)]
        at = end
    return "".join(parts) + snippet[at:]


def library_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the library's own errors into ``ClickException`` (message, exit code 1); anything else is a bug
    and keeps its traceback. Either way, progress bars still open are closed first, so that the error starts
    on a line of its own."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RetrievalError as exc:
            close_all()
            raise click.ClickException(str(exc)) from exc
        except BaseException:  # a bug, Ctrl-C, click's own usage errors
            close_all()
            raise

    return wrapper


def parse_value(text: str) -> Any:
    """``3`` → 3, ``0.5`` → 0.5, ``true`` → True, ``32,64`` → (32, 64); anything else stays a string."""
    if "," in text:
        return tuple(parse_value(part) for part in text.split(",") if part)
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_option(option: str) -> tuple[str, Any]:
    """``KEY=VALUE`` → ``(key, parsed value)``; dashes in the key become underscores."""
    key, sep, value = option.partition("=")
    if not sep or not key:
        raise click.BadParameter(f"expected KEY=VALUE, got {option!r}", param_hint="--option")
    return key.strip().replace("-", "_"), parse_value(value.strip())
