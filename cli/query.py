"""``aer query DIR TEXT``: search a collection."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

import click

import retrieval
from retrieval.collection.filters import collecting_warnings
from retrieval.defaults import OVERSAMPLE, SEARCH_MODE, SEARCH_MODES

from .command import CLUSTER, TUNING, AerCommand, option
from .common import db_option, device_option, library_errors, print_hits


@click.command("query", cls=AerCommand)
@click.argument("collection", type=click.Path(path_type=Path))
@click.argument("text", required=False)
@click.option("-k", "-n", "--limit", "k", type=click.IntRange(1), default=10, show_default=True,
              help="Number of results.")  # fmt: skip
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True,
              help="Skip this many of the best hits: the next page is --offset K (approximate indexes: see "
              "docs/search.md).")  # fmt: skip
@click.option(
    "--image",
    "image",
    type=click.Path(path_type=Path),
    default=None,
    help="Query an image collection with this image file.",
)
@click.option("--like", "like_id", default=None, help="Find items like this stored item id instead of TEXT.")
@click.option(
    "--query-file",
    type=click.File("r", encoding="utf-8", errors="replace"),
    default=None,
    help="Read the query text from this file ('-': standard input), for queries too long for a command line.",
)
@click.option(
    "--grid",
    type=click.Path(path_type=Path),
    default=None,
    help="Image collections: save the query and its hits as a picture (PNG); hits that share the query's label "
    "(a --like item's, or the --image file's folder name when that is a label) are framed in green.",
)
@click.option("--label", "labels", multiple=True, help="Only items with this label (repeat for any of several).")
@click.option("--id-prefix", default=None, help="Only items whose id starts with this.")
@click.option("--json", "as_json", is_flag=True, help="Print the hits as a JSON list.")
@click.option("--mode", type=click.Choice(SEARCH_MODES), default=None,
              help="Text collections: codes (the nearest codes), keyword (BM25 over the words) or hybrid (the two "
              f"fused); default: {SEARCH_MODE} where the collection keeps a keyword index, else codes.")  # fmt: skip
@option(
    "--oversample", section=TUNING, type=float, default=None, metavar="N",
    help="Binary collections that keep float codes: re-score the Hamming top (offset + k) × N with them "
    f"[{OVERSAMPLE}]; 0: the Hamming ranking alone.",
)  # fmt: skip
@option(
    "--ray", "ray_address", section=CLUSTER, default=None, metavar="ADDRESS",
    help="Search the index shards in Ray actors at ADDRESS.",
)  # fmt: skip
@db_option
@device_option
@library_errors
def query_cmd(collection: Path, text: str | None, image: Path | None, like_id: str | None, query_file: TextIO | None,
              grid: Path | None, k: int, labels: tuple[str, ...], id_prefix: str | None, as_json: bool,
              ray_address: str | None, db: str | None, device: str, mode: str | None, offset: int,
              oversample: float | None) -> None:  # fmt: skip
    """Search COLLECTION for TEXT (or a --query-file), for an --image, or for items like --like ID.

    A filter label no item has is a warning on stderr naming the nearest labels; no hits is not an error (exit 0)."""
    if sum(x is not None for x in (text, image, like_id, query_file)) != 1:
        raise click.UsageError("give exactly one of TEXT, --query-file FILE, --image PATH or --like ID")
    if like_id is not None and mode not in (None, "codes"):
        raise click.UsageError(f"--like searches by the item's code; --mode {mode} takes a TEXT query")
    if query_file is not None:
        text = query_file.read()
    where = {**({"label": list(labels)} if labels else {}), **({"id_prefix": id_prefix} if id_prefix else {})}
    with retrieval.open(collection, device=device, db=db, ray=ray_address, for_queries=True) as col:
        query = image if image is not None else text
        with collecting_warnings() as warnings:
            if like_id:
                hits = col.search_by_id(like_id, k=k, where=where, offset=offset, oversample=oversample)
            else:
                hits = col.search(query, k=k, where=where, mode=mode, offset=offset, oversample=oversample)
        for warning in warnings:
            click.echo(f"warning: {warning}", err=True)
        if grid is not None:
            from retrieval.pictures import save_results_grid

            save_results_grid(col, grid, hits, query=query, like_id=like_id)
    print_hits(hits, as_json, first_rank=offset + 1)
    if not hits and not as_json:
        click.echo("no hits" + (f" after the first {offset}" if offset else ""), err=True)
    if grid is not None and not as_json:
        click.echo(f"grid saved to {grid}")
