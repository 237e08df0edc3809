"""What ``aer index`` does: read a source, fit an encoder on it (new collection), encode, index."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from .collection import MANIFEST, Collection
from .encoders import create_encoder
from .errors import SourceError
from .sources import Document, Rejected, iter_documents


@dataclass
class IndexReport:
    """The outcome of indexing one source into a collection."""

    collection: Path
    added: int = 0
    updated: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    fitted: bool = False


def read_source(source: str | Path, progress: bool = False) -> tuple[list[Document], list[Rejected]]:
    """All documents of ``source`` and the items it rejected."""
    docs: list[Document] = []
    rejected: list[Rejected] = []
    for item in tqdm(iter_documents(source), desc="reading", unit="item", disable=not progress, leave=False):
        (rejected if isinstance(item, Rejected) else docs).append(item)
    return docs, rejected


def index_source(
    source: str | Path,
    collection: str | Path,
    *,
    encoder: str = "ae",
    device: str = "auto",
    progress: bool = False,
    **encoder_options: Any,
) -> IndexReport:
    """Index ``source`` into ``collection``.

    A new collection gets an encoder of kind ``encoder`` fitted on the source's documents; an
    existing one keeps its fitted encoder and gets the documents added (known ids updated).
    """
    collection = Path(collection)
    docs, rejected = read_source(source, progress)
    report = IndexReport(collection=collection, rejected=rejected)
    if not docs:
        raise SourceError(f"{source}: no document could be read ({len(rejected)} rejected)")
    if (collection / MANIFEST).exists():
        col = Collection.open(collection, device=device)
    else:
        model = create_encoder(encoder, device=device, progress=progress, **encoder_options)
        model.fit([d.text for d in docs])
        col = Collection.create(collection, model, device=device)
        report.fitted = True
    with col:
        result = col.add(docs, progress=progress)
    report.added, report.updated = result.added, result.updated
    return report
