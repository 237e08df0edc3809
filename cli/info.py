"""``aer info DIR``: what a collection holds."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .common import db_option, library_errors


@click.command("info")
@click.argument("collection", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (size_on_disk in bytes).")
@db_option
@library_errors
def info_cmd(collection: Path, as_json: bool, db: str | None) -> None:
    """Items, encoder, code size, bytes per item, size on disk and index type of COLLECTION (read from its
    files: its encoder and index are not loaded)."""
    from retrieval.summary import summarise

    info = summarise(collection, db=db)
    if as_json:
        click.echo(json.dumps(info))
        return
    info["size_on_disk"] = human_bytes(info["size_on_disk"])
    width = max(map(len, info))
    for key, value in info.items():
        click.echo(f"{key:<{width}}  {value}")


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
