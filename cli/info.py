"""``aer info DIR``: what a collection holds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click

from retrieval import defaults

from .command import AerCommand
from .common import db_option, library_errors

DEFAULTS = f"{defaults.__name__.replace('.', '/')}.py"  # every default, and the rules choosing values from the data


@click.command("info", cls=AerCommand)
@click.argument("collection", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (size_on_disk, store_size in bytes).")
@db_option
@library_errors
def info_cmd(collection: Path, as_json: bool, db: str | None) -> None:
    """Items, encoder, code size, bytes per item, size on disk (and its metadata store's, and whether that keeps
    whole texts) and index type of COLLECTION (read from its files: its encoder and index are not loaded), and
    where the defaults and the rules behind its training choices live (retrieval/defaults.py)."""
    from retrieval.collection.summary import summarise

    info = summarise(collection, db=db)
    if as_json:
        click.echo(json.dumps(info))
        return
    info["size_on_disk"] = human_bytes(info["size_on_disk"])
    info["store_size"] = "unknown" if info["store_size"] is None else human_bytes(info["store_size"])
    info["defaults"] = f"{DEFAULTS}, with the rules behind the training values{_options_hint(str(info['encoder']))}"
    width = max(map(len, info))
    for key, value in info.items():
        click.echo(f"{key:<{width}}  {value}")


def _options_hint(encoder: str) -> str:
    """`` (aer encoders ae: its options)`` for the encoder line ``ae(...)`` (a two-stage one's inner encoder)."""
    names = [name for name in re.findall(r"([\w-]+)\(", encoder) if name in defaults.ENCODER_CONFIGS]
    return f" (aer encoders {names[0]}: its options)" if names else ""


def human_bytes(n: int) -> str:
    """``1234567`` → ``1.2 MB (1,234,567 bytes)`` (decimal units); under 1,000: ``812 bytes``."""
    if n < 1000:
        return f"{n:,} bytes"
    size = float(n)
    for unit in ("kB", "MB", "GB", "TB", "PB"):
        size /= 1000
        if size < 999.95:
            break
    return f"{size:.1f} {unit} ({n:,} bytes)"
