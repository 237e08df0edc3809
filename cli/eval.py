"""``aer eval COLLECTION SOURCE``: on SOURCE's own labels, do the collection's codes beat the classic spaces?"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

import retrieval
from retrieval.defaults import DEFAULT_QUERIES

from .command import AerCommand
from .common import db_option, library_errors


@click.command("eval", cls=AerCommand)
@click.argument("collection", type=click.Path(path_type=Path))
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "--queries", type=click.IntRange(1), default=DEFAULT_QUERIES, show_default=True,
    help="Labelled items of SOURCE drawn (seeded, uniformly) as queries; all of them when fewer.",
)  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the query sample.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@db_option
@library_errors
def eval_cmd(collection: Path, source: Path, queries: int, seed: int, as_json: bool, db: str | None) -> None:
    """Leave-one-out P@10 and P@100 of COLLECTION on SOURCE's labels (a folder's subfolder names, a JSONL
    'label'), against baselines fitted on the same items (text: LSA-50, TF-IDF, BM25; images: pixels, PCA-64).
    SOURCE is what COLLECTION was made from: every item of it must be in COLLECTION."""
    from retrieval.eval.labels import evaluate_labels

    with retrieval.open(collection, device="cpu", db=db) as col:
        result = evaluate_labels(col, source, queries=queries, seed=seed)
        encoder = col.encoder.describe()
    if as_json:
        click.echo(json.dumps(result))
        return
    _print(result, encoder)


def _print(result: dict[str, Any], encoder: str) -> None:
    rows = {f"collection ({encoder})": result["collection"], **result["baselines"]}
    width = max(map(len, rows))
    click.echo(f"leave-one-out over {result['queries']} queries; relevant = same label")
    click.echo(f"{'':<{width}}  {'P@10':>6}  {'P@100':>6}")
    for name, score in rows.items():
        if score["p@10"] is None:
            click.echo(f"{name:<{width}}  not fitted: {score.get('error')}")
            continue
        click.echo(f"{name:<{width}}  {score['p@10']:6.3f}  {score['p@100']:6.3f}")
    ratio = result["collection"]["ratio"]
    for metric in ("p@10", "p@100"):
        if ratio[metric] is not None:
            click.echo(f"collection ÷ {ratio['reference'][metric]} on {metric.upper()}: {ratio[metric]:.2f}×")
    mine = result["collection"]["p@10"]
    ahead = [n for n, s in result["baselines"].items() if s["p@10"] is not None and s["p@10"] > mine]
    if ahead:
        click.echo(f"above the collection on P@10: {', '.join(ahead)}")
    else:
        click.echo("the collection is at or above every baseline on P@10")
