"""``aer query DIR TEXT``: search a collection."""

from __future__ import annotations

import json
from pathlib import Path

import click

import retrieval

from .common import device_option, library_errors


@click.command("query")
@click.argument("collection", type=click.Path(path_type=Path))
@click.argument("text", required=False)
@click.option("-k", type=click.IntRange(1), default=10, show_default=True, help="Number of results.")
@click.option("--like", "like_id", default=None, help="Find items like this stored item id instead of TEXT.")
@click.option("--json", "as_json", is_flag=True, help="Print the hits as a JSON list.")
@device_option
@library_errors
def query_cmd(collection: Path, text: str | None, k: int, like_id: str | None, as_json: bool, device: str) -> None:
    """Search COLLECTION for TEXT (or for items like --like ID)."""
    if (text is None) == (like_id is None):
        raise click.UsageError("give either TEXT or --like ID")
    with retrieval.open(collection, device=device) as col:
        hits = col.search_by_id(like_id, k=k) if like_id else col.search(text, k=k)
    if as_json:
        click.echo(json.dumps([h.to_dict() for h in hits], indent=1))
        return
    for rank, h in enumerate(hits, start=1):
        click.echo(f"{rank:3d}  {h.score:6.3f}  {h.id}  [{h.label or '-'}]")
        click.echo(f"     {h.snippet[:100]}")
