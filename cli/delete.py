"""``aer delete DIR ID...``: remove items from a collection."""

from __future__ import annotations

from pathlib import Path

import click

import retrieval

from .command import AerCommand
from .common import db_option, library_errors


@click.command("delete", cls=AerCommand)
@click.argument("collection", type=click.Path(path_type=Path))
@click.argument("ids", nargs=-1, required=True)
@db_option
@library_errors
def delete_cmd(collection: Path, ids: tuple[str, ...], db: str | None) -> None:
    """Remove the items with IDS from COLLECTION; exit 1 if some id was not there."""
    with retrieval.open(collection, device="cpu", db=db) as col:
        removed = col.delete(list(ids))
    wanted = list(dict.fromkeys(ids))
    missing = [i for i in wanted if i not in set(removed)]
    click.echo(f"deleted {len(removed)} of {len(wanted)} items from {collection}")
    for item_id in missing:
        click.echo(f"not found: {item_id}", err=True)
    if missing:
        raise SystemExit(1)
