"""``aer bench SUITE --data FILE --out DIR``: the retrieval benchmarks, tables and pictures."""

from __future__ import annotations

from pathlib import Path

import click

from retrieval.bench import METHODS, run_anomaly, run_benchmark

from .common import library_errors

METHOD_LIST = "; ".join(f"{suite}: {','.join(m.name for m in methods)}" for suite, methods in METHODS.items())


@click.command("bench")
@click.argument("suite", type=click.Choice([*sorted(METHODS), "anomaly"]))
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    required=True,
    help="text: the 20 Newsgroups by-date archive; image, variants, anomaly: the CIFAR-10 binary archive "
    "(or its folder).",
)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Output directory [runs/SUITE].")
@click.option(
    "--methods",
    default=None,
    metavar="A,B,...",
    help=f"Comma-separated methods (default: all, or the quick subset). {METHOD_LIST}.",
)
@click.option("--quick", is_flag=True, help="A seeded slice of the data, short training: a smoke test, not results.")
@library_errors
def bench_cmd(suite: str, data: Path, out: Path | None, methods: str | None, quick: bool) -> None:
    """Run the SUITE benchmark: text (20 Newsgroups), image (CIFAR-10), variants (the autoencoder family on
    CIFAR-10 at one budget) or anomaly (CIFAR-10, each class in turn as the normal one). Test split as
    queries, train split as database, same label = relevant. Writes results.json, results.md and pictures
    into --out; collections already built there are reused."""
    out = out or Path("runs") / suite
    if suite == "anomaly":
        run_anomaly(data, out, quick=quick, log=click.echo)
    else:
        run_benchmark(suite, data, out, methods=methods, quick=quick, log=click.echo)
