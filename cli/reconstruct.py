"""``aer reconstruct DIR --id ID --out FILE.png``: an image item beside its reconstruction; decoder maps."""

from __future__ import annotations

from pathlib import Path

import click

import retrieval

from .command import AerCommand
from .common import db_option, library_errors


@click.command("reconstruct", cls=AerCommand)
@click.argument("collection", type=click.Path(path_type=Path))
@click.option("--id", "item_ids", multiple=True, help="An image item to show beside its reconstruction (repeatable).")
@click.option("--lattice", type=click.IntRange(2, 40), default=None, metavar="N",
              help="2-D codes: an N×N grid of decoder outputs over the range of the stored codes.")  # fmt: skip
@click.option("--out", type=click.Path(path_type=Path), required=True, help="PNG file to write.")
@db_option
@library_errors
def reconstruct_cmd(
    collection: Path, item_ids: tuple[str, ...], lattice: int | None, out: Path, db: str | None
) -> None:
    """Show what COLLECTION's image autoencoder makes of its items (--id), or of a lattice of codes."""
    if bool(item_ids) == bool(lattice):
        raise click.UsageError("give --id ID (one or more) or --lattice N")
    from retrieval.pictures import draw_lattice, draw_reconstructions

    with retrieval.open(collection, device="cpu", db=db) as col:
        if lattice:
            draw_lattice(col, lattice, out)
        else:
            draw_reconstructions(col, list(item_ids), out)
    click.echo(f"wrote {out}")
