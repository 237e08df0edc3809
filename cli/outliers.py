"""``aer outliers DIR -k 20``: the least typical items (highest reconstruction error)."""

from __future__ import annotations

from pathlib import Path

import click

import retrieval

from .common import db_option, library_errors, print_hits


@click.command("outliers")
@click.argument("collection", type=click.Path(path_type=Path))
@click.option("-k", type=click.IntRange(1), default=20, show_default=True, help="How many items.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@db_option
@library_errors
def outliers_cmd(collection: Path, k: int, as_json: bool, db: str | None) -> None:
    """List COLLECTION's K least typical items: those its autoencoder reconstructs worst."""
    with retrieval.open(collection, device="cpu", db=db) as col:
        hits = col.outliers(k)
        encoder = col.encoder.describe()
    if not hits:
        raise click.ClickException(f"{collection}: no outlier scores ({encoder} does not reconstruct its input)")
    print_hits(hits, as_json)
