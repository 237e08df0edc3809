"""The teacher's word vectors from one table of its tokens, computed once per machine and cached.

Embedding a corpus's vocabulary word by word costs a forward pass per word at every fit. Instead, every token of
the teacher's tokenizer (30,522 WordPiece tokens for all-MiniLM-L6-v2) goes through the model once, as the
one-token text ``[CLS] token [SEP]`` (what ``model.encode(word)`` sees for a word that is one token), and the
table is kept in the user's cache folder. A word's vector is then the mean of its tokens' rows, unit length
(Model2Vec's distillation, without its PCA step): exact for one-token words, an average for the rest.

Cache folder: ``AER_CACHE_DIR``, else ``$XDG_CACHE_HOME/ae-retrieval``, else ``~/.cache/ae-retrieval``. The file
is a plain ``.npy`` array (read with ``allow_pickle=False``), named by the model and its tokenizer's size, written
to a temporary name and renamed so that a killed fit leaves no half file. A tokenizer larger than
``MAX_TABLE_TOKENS`` (a multilingual model) is not tabled: its words are embedded one by one as before.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .sentence import embedding_width

MAX_TABLE_TOKENS = 60_000
BATCH = 1024


def cache_dir() -> Path:
    """Where per-machine tables live (see the module docstring)."""
    if os.environ.get("AER_CACHE_DIR"):
        return Path(os.environ["AER_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ae-retrieval"


def table_path(model_key: str, n_tokens: int, width: int) -> Path:
    """The cache file of ``model_key``'s token table."""
    digest = hashlib.blake2b(model_key.encode(), digest_size=6).hexdigest()
    return cache_dir() / f"token-vectors-{digest}-{n_tokens}x{width}.npy"


def token_table(model: Any, model_key: str, progress: bool = False) -> np.ndarray | None:
    """Unit-length vectors of every token of ``model``'s tokenizer, ``(n_tokens, width)`` ``float32``: read from the
    cache, else computed (about 20 s on 2 cores for MiniLM) and cached. ``None`` for a tokenizer too large to table."""
    tokenizer = model.tokenizer
    n_tokens = len(tokenizer)
    if n_tokens > MAX_TABLE_TOKENS:
        return None
    width = embedding_width(model)
    path = table_path(model_key, n_tokens, width)
    if path.exists():
        try:
            table = np.load(path, allow_pickle=False, mmap_mode=None)
            if table.shape == (n_tokens, width):
                return table.astype(np.float32, copy=False)
        except (OSError, ValueError):
            pass  # a damaged cache file is recomputed below
    table = _embed_tokens(model, n_tokens, progress)
    _write_atomic(path, table)
    return table


def _embed_tokens(model: Any, n_tokens: int, progress: bool) -> np.ndarray:
    """Each token id as the text ``[CLS] id [SEP]`` through ``model`` (mean-pooled, normalised as it is set up)."""
    import torch

    from ..progress import bar

    tokenizer = model.tokenizer
    first = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
    last = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
    device = model.device
    out = np.empty((n_tokens, embedding_width(model)), dtype=np.float32)
    desc = "teacher word table (once per machine): embedding tokens"
    with torch.inference_mode(), bar(desc=desc, total=n_tokens, unit="token", enabled=progress) as shown:
        for start in range(0, n_tokens, BATCH):
            ids = torch.arange(start, min(start + BATCH, n_tokens)).unsqueeze(1)
            parts = [ids] if first is None else [torch.full_like(ids, first), ids]
            ids = torch.cat(parts + ([] if last is None else [torch.full_like(ids, last)]), dim=1).to(device)
            features = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
            if "token_type_ids" in getattr(tokenizer, "model_input_names", ()):
                features["token_type_ids"] = torch.zeros_like(ids)
            emb = model(features)["sentence_embedding"].float()
            out[start : start + len(ids)] = torch.nn.functional.normalize(emb, dim=1).cpu().numpy()
            shown.update(len(ids))
    return out


def _write_atomic(path: Path, table: np.ndarray) -> None:
    """Write ``table`` to ``path`` by a temporary file and a rename; a cache that cannot be written is skipped."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.save(fh, table, allow_pickle=False)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError:
        pass  # read-only home, full disk: the next fit computes the table again


def word_vectors(words: Sequence[str], tokenizer: Any, table: np.ndarray) -> np.ndarray:
    """Unit-length mean of each word's token rows in ``table`` (a word with no token gets the unknown token's)."""
    encoded = tokenizer(list(words), add_special_tokens=False)["input_ids"]
    unk = tokenizer.unk_token_id if tokenizer.unk_token_id is not None else 0
    lengths = np.array([max(len(ids), 1) for ids in encoded])
    flat = np.fromiter((i for ids in encoded for i in (ids or [unk])), dtype=np.int64, count=int(lengths.sum()))
    rows = np.repeat(np.arange(len(words)), lengths)
    sums = np.zeros((len(words), table.shape[1]), dtype=np.float32)
    np.add.at(sums, rows, table[flat])
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return np.divide(sums, norms, out=sums, where=norms > 0)
