"""``aer bench text|image --data FILE --out DIR``: the retrieval benchmarks, tables and pictures."""

from __future__ import annotations

from pathlib import Path

import click

from retrieval.bench import METHODS, run_benchmark

from .common import library_errors

DEFAULT_DATA = {"text": "../shared/data/20news-bydate.tar.gz", "image": "../shared/data/cifar-10-binary.tar.gz"}


@click.command("bench")
@click.argument("suite", type=click.Choice(sorted(METHODS)))
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    default=None,
    help="text: the 20 Newsgroups by-date archive; image: the CIFAR-10 binary archive (or its folder).",
)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Output directory [runs/SUITE].")
@click.option(
    "--methods",
    default=None,
    metavar="A,B,...",
    help="Comma-separated methods (default: all, or the quick subset). "
    f"text: {','.join(m.name for m in METHODS['text'])}; image: {','.join(m.name for m in METHODS['image'])}.",
)
@click.option("--quick", is_flag=True, help="A seeded slice of the data, short training: a smoke test, not results.")
@library_errors
def bench_cmd(suite: str, data: Path | None, out: Path | None, methods: str | None, quick: bool) -> None:
    """Run the SUITE benchmark (text or image): test split as queries, train split as database, same label =
    relevant. Writes results.json, results.md, pr_curves.png and pictures into --out; collections already
    built there are reused."""
    run_benchmark(suite, data or Path(DEFAULT_DATA[suite]), out or Path("runs") / suite, methods=methods,
                  quick=quick, log=click.echo)  # fmt: skip
