"""The methods each benchmark suite compares: a name, the encoder and its options (what ``aer index`` takes)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidParameterError


@dataclass(frozen=True)
class Method:
    """One row of a benchmark table: a collection built with ``encoder`` and ``options``."""

    name: str
    encoder: str
    options: dict[str, Any] = field(default_factory=dict)

    def index_options(self, quick: bool) -> dict[str, Any]:
        """Options for ``index_source``; ``quick`` runs shorten training (smoke tests, not results)."""
        if not quick:
            return dict(self.options)
        return {**self.options, **QUICK_TRAINING.get(self.encoder, {})}


def _m(name: str, encoder: str, **options: Any) -> Method:
    return Method(name, encoder, options)


TEXT_METHODS = [
    _m("tfidf", "tfidf"),
    _m("lsa-2", "lsa", dim=2),
    _m("lsa-10", "lsa", dim=10),
    _m("lsa-50", "lsa", dim=50),
    _m("lsa-128", "lsa", dim=128),
    _m("ae-2", "ae", dim=2),
    _m("ae-10", "ae", dim=10),
    _m("ae-32", "ae", dim=32),
    _m("ae-32bit", "ae", bits=32),
    _m("ae-64bit", "ae", bits=64),
    _m("ae-128bit", "ae", bits=128),
    _m("minilm", "minilm"),
    _m("minilm-ae-64bit", "minilm-ae", bits=64),
]
IMAGE_METHODS = [
    _m("pixels", "pixels"),
    _m("pca-64", "pca", dim=64),
    _m("pca-256", "pca", dim=256),
    _m("pca-256bit", "pca", bits=256),
    _m("dense-ae-64", "dense-ae", dim=64),
    _m("conv-ae-64-plain", "conv-ae", dim=64, contrastive=0.0),
    _m("conv-ae-64", "conv-ae", dim=64),
    _m("conv-ae-32bit", "conv-ae", bits=32),
    _m("conv-ae-64bit", "conv-ae", bits=64),
    _m("conv-ae-256bit", "conv-ae", bits=256),
    _m("conv-ae-32+256bit", "conv-ae", short_bits=32, bits=256),
]
# The autoencoder family at one budget and seed: a dense 3072-1024-512-64 autoencoder, plain MSE
# (no contrastive term), 1 epoch, each variant changing one thing.
_BASE = {"dim": 64, "epochs": 1, "contrastive": 0.0}
VARIANT_METHODS = [
    _m("plain", "dense-ae", **_BASE),
    _m("denoising-mask", "dense-ae", **_BASE, mask=0.25),
    _m("denoising-gauss", "dense-ae", **_BASE, input_noise=0.3),
    _m("contractive", "dense-ae", **_BASE, contractive=0.1),
    _m("sparse", "dense-ae", **_BASE, sparse=0.05),
    _m("code-l2", "dense-ae", **_BASE, code_l2=0.05),
    _m("tied", "dense-ae", **_BASE, tied=True),
    _m("pretrained", "dense-ae", **_BASE, pretrain_epochs=1),
    _m("vq-256x8", "dense-ae", **_BASE, codebook=256, segments=8),
]
METHODS = {"text": TEXT_METHODS, "image": IMAGE_METHODS, "variants": VARIANT_METHODS}
MODALITY = {"text": "text", "image": "image", "variants": "image"}
QUICK_METHODS = {
    "text": ["tfidf", "lsa-10", "ae-2", "ae-32bit"],
    "image": ["pixels", "pca-64", "conv-ae-64bit"],
    "variants": ["plain", "tied", "vq-256x8"],
}
QUICK_TRAINING: dict[str, dict[str, Any]] = {
    "ae": {"epochs": 3, "min_steps": 300},
    "minilm-ae": {"epochs": 5},
    "conv-ae": {"epochs": 1},
    "dense-ae": {"epochs": 1, "pretrain_epochs": 0},
}


def choose(suite: str, names: str | None, quick: bool, extra: Sequence[Method] = ()) -> list[Method]:
    """The methods named in the comma-separated ``names`` (default: all, or the quick subset), from the suite's own
    and ``extra`` (a study's methods, named only when wanted)."""
    known = {m.name: m for m in METHODS[suite]}
    default = QUICK_METHODS[suite] if quick else list(known)
    known.update({m.name: m for m in extra})
    wanted = names.split(",") if names else default
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise InvalidParameterError(f"unknown {suite} method {unknown[0]!r}; known: {', '.join(known)}")
    return [known[n] for n in wanted]
