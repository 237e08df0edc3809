"""``aer snapshot DIR FILE`` and ``aer restore FILE DIR``: a collection as one archive file, and back."""

from __future__ import annotations

from pathlib import Path

import click

from .command import AerCommand
from .common import db_option, library_errors


@click.command("snapshot", cls=AerCommand)
@click.argument("collection", type=click.Path(path_type=Path))
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@db_option
@library_errors
def snapshot_cmd(collection: Path, file: Path, db: str | None) -> None:
    """Write COLLECTION to the new archive FILE (a tar; compressed when FILE ends in .tar.gz, .tgz, .tar.bz2 or
    .tar.xz), as one committed state: writers wait while its files are pinned, readers never. A collection whose
    metadata is in PostgreSQL is written with its rows in an embedded SQLite store."""
    from retrieval.collection.snapshot import snapshot

    made = snapshot(collection, file, db=db)
    click.echo(f"wrote {made.file}: {made.items:,} items, {made.size:,} bytes")


@click.command("restore", cls=AerCommand)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("collection", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Replace a collection already at COLLECTION (swapped in one step).")
@library_errors
def restore_cmd(file: Path, collection: Path, force: bool) -> None:
    """Make COLLECTION from the snapshot FILE: every file checked against the snapshot's digests and the whole by
    `aer verify` before it is put in place; a damaged or truncated FILE leaves nothing behind."""
    from retrieval.collection.restore import restore

    made = restore(file, collection, force=force)
    click.echo(f"restored {collection}: {made.items:,} items (snapshot of {made.created}, ae-retrieval "
               f"{made.library_version})")  # fmt: skip
