"""``aer index COLLECTION SOURCE``: fit, encode and index a corpus (the old ``aer index SOURCE -c COLLECTION``
too)."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from retrieval.defaults import (DEFAULT_ENCODER, DEFAULT_FIT_SAMPLE, ENCODER_CONFIGS, KEEP_FLOAT, AeConfig, ConvAeConfig,
                                LsaConfig)  # fmt: skip

from .command import CLUSTER, STORAGE, TRAINING, TUNING, AerCommand, option
from .common import (
    EncoderName,
    commit_option,
    db_option,
    device_option,
    follow_links_option,
    library_errors,
    parse_option,
    parse_value,
    print_report,
)


def _encoders(modality: str) -> str:
    """The encoders of ``modality`` for ``--encoder``'s help, its default marked."""
    return ", ".join(f"{name} (default)" if DEFAULT_ENCODER[modality] == name else name
                     for name, config in ENCODER_CONFIGS.items() if config.modality == modality)  # fmt: skip


@click.command("index", cls=AerCommand)
@click.argument("collection", type=click.Path(path_type=Path))
@click.argument("source", type=click.Path(path_type=Path), required=False, metavar="SOURCE")
@click.option("--collection", "-c", "old_collection", type=click.Path(path_type=Path), default=None, hidden=True,
              help="The old form: aer index SOURCE -c COLLECTION.")  # fmt: skip
@option(
    "--encoder",
    type=EncoderName(),
    default=None,
    help=f"Text: {_encoders('text')}. Images: {_encoders('image')}. `aer encoders` describes them.",
)
@option(
    "--dim", type=click.IntRange(1, 4096), default=None,
    help=f"Code size (ae: {AeConfig.dim}, lsa: {LsaConfig.dim}, conv-ae: {ConvAeConfig.dim}).",
)  # fmt: skip
@option(
    "--bits",
    type=click.IntRange(8, 1024),
    default=None,
    help="Binary codes of this many bits (a multiple of 8) instead of --dim floats: ae, minilm-ae, conv-ae, "
    "dense-ae, pca (sign bits).",
)
@option(
    "--short-bits",
    section=TRAINING,
    type=click.IntRange(8, 64),
    default=None,
    help="Two-stage codes: also train a code of this many bits (a multiple of 8) whose hash lookup shortlists "
    "items for the --bits code to rank (Krizhevsky & Hinton 2011: 28 + 256).",
)
@option(
    "--radius",
    section=TUNING,
    type=click.IntRange(0, 64),
    default=None,
    help="Two-stage codes: Hamming radius of the short-code lookup [2].",
)
@option(
    "--index",
    "index_spec",
    section=TUNING,
    default=None,
    metavar="SPEC",
    help="FAISS index of a new collection (default: chosen from its size, --memory-budget and --target-latency): "
    "IDMap2,Flat, IDMap2,SQfp16 (half the bytes), IDMap2,IVF1024,Flat, IDMap2,IVF1024,PQ16...; binary codes: "
    "BFlat, BHash16, BHash4x16.",
)
@option(
    "--fit-sample",
    section=TRAINING,
    type=click.IntRange(1),
    default=DEFAULT_FIT_SAMPLE,
    show_default=True,
    help="New collection: fit the vocabulary, the encoder and the index on a seeded sample of this many items; "
    "everything is then encoded in batches, so memory stays flat however large SOURCE is.",
)
@option(
    "--memory-budget",
    section=TUNING,
    default=None,
    metavar="SIZE",
    help="New collection: the index must fit in SIZE (e.g. 2GB); picks IVF-PQ for real-valued codes if needed.",
)
@option(
    "--target-latency",
    section=TUNING,
    type=click.FloatRange(0, min_open=True),
    default=None,
    metavar="MS",
    help="New collection: exact search while its estimated one-query latency is within MS [10]; "
    "IVF (real-valued codes) or hash lookup (binary codes) beyond.",
)
@option(
    "--shards",
    section=TUNING,
    type=click.IntRange(1, 1024),
    default=None,
    help="New collection: split the index into N shards searched in parallel (default 1; with --ray, one per CPU).",
)
@option(
    "--ray",
    "ray_address",
    section=CLUSTER,
    default=None,
    metavar="ADDRESS",
    help="Cluster mode: encode in Ray tasks spread over the nodes of the Ray cluster at ADDRESS (auto, local, "
    "ray://head:10001) and hold the index shards in Ray actors. Needs ae-retrieval[cluster].",
)
@option(
    "--vocab-size", section=TRAINING, type=click.IntRange(10), default=None,
    help=f"Vocabulary size [ae {AeConfig.vocab_size}, lsa {LsaConfig.vocab_size}].",
)  # fmt: skip
@option("--hidden", section=TRAINING, default=None,
        help="Autoencoder hidden layers, e.g. 500,250,125 (dense-ae: krizhevsky2011).")  # fmt: skip
@option("--epochs", section=TRAINING, type=click.IntRange(1), default=None, help="Autoencoder training epochs.")
@option("--seed", section=TRAINING, type=int, default=None, help=f"Random seed [{AeConfig.seed}].")
@option(
    "--option",
    "-o",
    "options",
    section=TRAINING,
    multiple=True,
    metavar="KEY=VALUE",
    help="Any other encoder option, e.g. -o contrastive=0 -o channels=32,64,128 (repeatable; `aer encoders NAME` "
    "lists an encoder's options).",
)
@option(
    "--keep", section=STORAGE, type=click.Choice(["text", "snippet"]), default=None,
    help="New text collection: store each item's whole text (default; a search shows its passage that best "
    "matches the query), or only a snippet (the text's start, past any mail headers).",
)  # fmt: skip
@option(
    "--keep-float/--no-keep-float", "keep_float", section=STORAGE, default=None,
    help="New binary collection (--bits, bits by rotation): also keep each item's float code in the store, and "
    "re-score the Hamming top candidates with it at search time (aer query --oversample) "
    f"[{'yes' if KEEP_FLOAT else 'no'} for text].",
)  # fmt: skip
@commit_option
@db_option
@device_option
@follow_links_option
@option("--quiet", "-q", is_flag=True, help="No progress bars.")
@library_errors
def index_cmd(
    collection: Path,
    source: Path | None,
    old_collection: Path | None,
    encoder: str | None,
    dim: int | None,
    bits: int | None,
    short_bits: int | None,
    radius: int | None,
    index_spec: str | None,
    fit_sample: int,
    memory_budget: str | None,
    target_latency: float | None,
    shards: int | None,
    ray_address: str | None,
    vocab_size: int | None,
    hidden: str | None,
    epochs: int | None,
    seed: int | None,
    options: tuple[str, ...],
    keep: str | None,
    keep_float: bool | None,
    commit_every: int,
    db: str | None,
    device: str,
    follow_links: bool,
    quiet: bool,
) -> None:
    """Index SOURCE into COLLECTION (made if missing, added to if it exists). SOURCE: a folder of text files or
    of images, a .jsonl file, the 20 Newsgroups by-date archive or the CIFAR-10 binary archive (their train
    splits). The old form, aer index SOURCE -c COLLECTION, still works."""
    collection, source = _order(collection, source, old_collection)
    from retrieval import index_source

    layers = parse_value(hidden) if hidden else None  # "500,250" -> (500, 250); a preset name stays a string
    if isinstance(layers, int):
        layers = (layers,)
    named = {
        "dim": dim, "bits": bits, "short_bits": short_bits, "vocab_size": vocab_size, "hidden": layers,
        "epochs": epochs, "seed": seed,
    }  # fmt: skip
    extra = dict(parse_option(o) for o in options)
    named = {k: v for k, v in named.items() if v is not None}  # unset: "-o" may give it (e.g. -o vocab_size=N)
    twice = sorted(set(named) & set(extra))
    if twice:
        raise click.BadParameter(f"{', '.join(twice)} given both as an option and with -o", param_hint="--option")
    report = index_source(
        source,
        collection,
        encoder=encoder,
        index=index_spec,
        radius=radius,
        device=device,
        progress=not quiet,
        commit_every=commit_every,
        db=db,
        fit_sample=fit_sample,
        memory_budget=_size(memory_budget),
        target_latency_ms=target_latency,
        shards=shards,
        ray=ray_address,
        follow_links=follow_links,
        keep_text=None if keep is None else keep == "text",
        keep_float=keep_float,
        **named,
        **extra,
    )
    print_report(report, collection)


def _order(first: Path, second: Path | None, old_collection: Path | None) -> tuple[Path, Path]:
    """``(collection, source)`` from ``aer index COLLECTION SOURCE``, or from the old ``aer index SOURCE -c
    COLLECTION`` (with a one-line note on stderr)."""
    if old_collection is None:
        if second is None:
            raise click.UsageError("Missing argument 'SOURCE': aer index COLLECTION SOURCE.")
        return first, second
    if second is not None:
        raise click.UsageError(f"give COLLECTION once: aer index COLLECTION SOURCE (not also -c {old_collection})")
    click.echo(f"note: SOURCE -c COLLECTION is the old form; every command takes COLLECTION first: "
               f"{shlex.join(['aer', 'index', str(old_collection), str(first)])}", err=True)  # fmt: skip
    return old_collection, first


def _size(text: str | None) -> int | None:
    from indexers import parse_size

    try:
        return parse_size(text) if text else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--memory-budget") from exc
