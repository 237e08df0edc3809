"""``aer info DIR``: what a collection holds."""

from __future__ import annotations

import json
from pathlib import Path

import click

import retrieval

from .common import db_option, library_errors


@click.command("info")
@click.argument("collection", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@db_option
@library_errors
def info_cmd(collection: Path, as_json: bool, db: str | None) -> None:
    """Items, encoder, code size, bytes per item and index type of COLLECTION."""
    with retrieval.open(collection, device="cpu", db=db) as col:
        info = col.info()
    if as_json:
        click.echo(json.dumps(info))
        return
    width = max(map(len, info))
    for key, value in info.items():
        click.echo(f"{key:<{width}}  {value}")
