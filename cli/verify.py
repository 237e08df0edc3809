"""``aer verify DIR`` and ``aer repair DIR``: check a collection end to end; mend what can be mended safely."""

from __future__ import annotations

from pathlib import Path

import click

from .command import AerCommand
from .common import db_option, library_errors


@click.command("verify", cls=AerCommand)
@click.argument("collection", type=click.Path(path_type=Path))
@db_option
@library_errors
def verify_cmd(collection: Path, db: str | None) -> None:
    """Check COLLECTION: manifest, file digests, encoder, index, store binding, store and index keys."""
    from retrieval.collection.verify import verify

    found = verify(collection, db)
    for check in found.passed:
        click.echo(f"ok       {check}")
    for problem in found.problems:
        click.echo(f"PROBLEM  {problem}")
    if not found.ok:
        raise SystemExit(1)


@click.command("repair", cls=AerCommand)
@click.argument("collection", type=click.Path(path_type=Path))
@db_option
@library_errors
def repair_cmd(collection: Path, db: str | None) -> None:
    """Mend COLLECTION where it is safe (codes the store does not list are dropped); refuse the rest."""
    from retrieval.collection.repair import repair

    done = repair(collection, db)
    click.echo("\n".join(done) if done else f"{collection}: nothing to repair")
