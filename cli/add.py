"""``aer add DIR SOURCE``: add a source's items to an existing collection (known ids are updated)."""

from __future__ import annotations

from pathlib import Path

import click

from .command import AerCommand
from .common import commit_option, db_option, device_option, follow_links_option, library_errors, print_report


@click.command("add", cls=AerCommand)
@click.argument("collection", type=click.Path(path_type=Path))
@click.argument("source", type=click.Path(path_type=Path))
@commit_option
@db_option
@device_option
@follow_links_option
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@library_errors
def add_cmd(
    collection: Path, source: Path, commit_every: int, db: str | None, device: str, follow_links: bool, quiet: bool
) -> None:
    """Encode SOURCE's items with COLLECTION's encoder and add them; an id already there is updated."""
    from retrieval import add_source

    report = add_source(collection, source, device=device, progress=not quiet, commit_every=commit_every, db=db,
                        follow_links=follow_links)  # fmt: skip
    print_report(report, collection)
