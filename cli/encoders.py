"""``aer encoders [NAME]``: the encoders ``--encoder`` can name, and one encoder's options (read from
``retrieval.defaults``: neither torch nor scikit-learn is loaded)."""

from __future__ import annotations

import json

import click

from .command import AerCommand
from .common import library_errors


@click.command("encoders", cls=AerCommand)
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (NAME: its options; else the encoders).")
@library_errors
def encoders_cmd(name: str | None, as_json: bool) -> None:
    """List the encoders, or with NAME every option of that encoder: its default and what it does. Give an option
    to `aer index` as -o KEY=VALUE (e.g. -o lr=0.002 -o hidden=500,250)."""
    from retrieval.encoders import catalog

    if name is None:
        rows = [(n, catalog.modality(n), catalog.is_default(n), catalog.summary(n)) for n in catalog.encoder_names()]
        if as_json:
            click.echo(json.dumps([dict(zip(("name", "modality", "default", "summary"), row)) for row in rows]))
            return
        width = max(len(n) for n, *_ in rows)
        for n, modality, default, summary in rows:
            click.echo(f"{n:<{width}}  {modality:<5}  {'default ' if default else '':8}{summary}")
        click.echo("\naer encoders NAME lists an encoder's options.")
        return
    options = catalog.describe(name)
    if as_json:
        click.echo(json.dumps([{"name": o.name, "type": o.type, "default": o.default, "doc": o.doc} for o in options]))
        return
    click.echo(f"{name} ({catalog.modality(name)}): {catalog.summary(name)}")
    if not options:
        click.echo("no options")
        return
    cells = [(o.name, catalog.format_default(o.default), o.doc) for o in options]
    name_w, default_w = (max(len(c[i]) for c in cells) for i in (0, 1))
    click.echo(f"\n{'option':<{name_w}}  {'default':<{default_w}}  description")
    for option, default, doc in cells:
        click.echo(f"{option:<{name_w}}  {default:<{default_w}}  {doc}")
    click.echo(f"\nSet with aer index --encoder {name} -o KEY=VALUE. Defaults and the rules behind unset values: "
               "retrieval/defaults.py.")  # fmt: skip
