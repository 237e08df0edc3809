"""``aer outliers DIR -k 20 --score knn``: the least typical items, under the score asked for."""

from __future__ import annotations

import json
from pathlib import Path

import click

import retrieval
from retrieval.defaults import CHOICES, DEFAULT_K, DEFAULT_SCORE

from .command import AerCommand
from .common import db_option, library_errors, print_hits


@click.command("outliers", cls=AerCommand)
@click.argument("collection", type=click.Path(path_type=Path))
@click.option("-k", "-n", "--limit", "k", type=click.IntRange(1), default=20, show_default=True,
              help="How many items.")  # fmt: skip
@click.option(
    "--score", type=click.Choice(CHOICES), default=DEFAULT_SCORE, show_default=True,
    help="reconstruction: the autoencoder's reconstruction error (autoencoders, PCA); knn: distance to the "
    "--neighbours-th nearest stored code (every encoder); combined: the mean of the two, z-scored; "
    "orientation: how badly the image autoencoder tells the image's quarter-turns apart (trained with "
    "orientation > 0); auto: orientation where the encoder has it, else knn.",
)  # fmt: skip
@click.option(
    "--neighbours", type=click.IntRange(1), default=DEFAULT_K, show_default=True,
    help="Which nearest stored code the knn score measures the distance to.",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list (each entry names its score).")
@db_option
@library_errors
def outliers_cmd(collection: Path, k: int, score: str, neighbours: int, as_json: bool, db: str | None) -> None:
    """List COLLECTION's K least typical items under --score; the first line says which score it is."""
    from retrieval.collection.outliers import describe_score, resolve_score, top_outliers

    with retrieval.open(collection, device="cpu", db=db) as col:
        hits = top_outliers(col, k, score=score, k=neighbours)
        what = describe_score(col, score, neighbours)
        score = resolve_score(col, score)
    if as_json:
        click.echo(json.dumps([{**h.to_dict(), "score_kind": score} for h in hits], indent=1))
        return
    click.echo(f"score: {score} ({what}); higher = less typical")
    print_hits(hits, as_json=False)
