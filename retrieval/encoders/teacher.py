"""A sentence-transformer teacher for the bag-of-words autoencoder, run at fit time only.

The teacher (the bundled all-MiniLM-L6-v2 by default) gives the student two things, both computed once while
fitting and never at encode or query time:

- **neighbourhoods**: it embeds a seeded sample of the fit texts (at most ``max_docs``: reading is the teacher's
  cost, so the sample bounds the fit time), and the student's codes are asked to rank those texts' neighbours as
  the teacher does (:func:`neighbourhood_loss`);
- **word vectors** (Model2Vec-style): each vocabulary word through the teacher. A document's TF-IDF-weighted
  mean of them (:func:`word_features`) is an input feature beside its word counts, so words the small fit sample
  never paired still land near their synonyms. The vectors are saved with the encoder.

Why: on corpora the defaults were not tuned on, a bag-of-words autoencoder alone loses to LSA on small fit sets
(it learns word co-occurrence from a few thousand texts by SGD, where LSA solves it exactly); the teacher brings
what a model trained on a billion sentence pairs knows. The default teacher and sample size, and the rule that
picks the teacher: ``retrieval.defaults``; the measurements: docs/encoders.md and docs/results.md.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from ..defaults import DEFAULT_TEACHER, NO_TEACHER, TEACHER_TEMPERATURE, teacher_sample
from ..device import resolve_device
from ..progress import bar as progress_bar
from .params import invalid
from .sentence import MODEL_NAME, SentenceModels, embed
from .token_vectors import token_table, word_vectors

PROGRESS_STEP = 256  # texts embedded between two updates of the teacher's progress bar
TOKENISE_CHUNK = 1024  # texts tokenised at a time while the reading budget is counted


def check_teacher(teacher: str, owner: str) -> None:
    """``InvalidParameterError`` unless ``teacher`` is ``minilm``, ``none`` or a sentence-transformers name/path."""
    if not isinstance(teacher, str) or not teacher.strip():
        expected = f"'{DEFAULT_TEACHER}', '{NO_TEACHER}' or a sentence-transformers model"
        raise invalid("teacher", owner, expected, teacher)


def model_name(teacher: str) -> str:
    """The sentence-transformers model a teacher option names."""
    return MODEL_NAME if teacher == DEFAULT_TEACHER else teacher


@dataclass
class TeacherSignal:
    """What the teacher said about a fit sample."""

    positions: np.ndarray  # fit rows it embedded, sorted
    embeddings: torch.Tensor  # their unit-length embeddings, (len(positions), d)
    word_vectors: np.ndarray  # unit-length vectors of the vocabulary's words, (vocab, d) float32
    seconds: float  # spent embedding
    budget: str = ""  # the reading budget the sample was drawn within

    def info(self, n_fit: int) -> dict[str, object]:
        return {"teacher_docs": f"{len(self.positions):,} of {n_fit:,} fit texts (seeded uniform sample, "
                                f"{self.budget})",
                "teacher_s": round(self.seconds, 1)}  # fmt: skip


def teach(
    texts: Sequence[str], vocabulary: Sequence[str], teacher: str, *, max_docs: int, seed: int, device: str,
    progress: bool, max_tokens: int | None = None,
) -> TeacherSignal:  # fmt: skip
    """Embed a seeded sample of ``texts`` (their first ``max_tokens`` tokens) and every vocabulary word with
    ``teacher`` (loaded once for this call, and let go after it). The sample is what fits in ``max_docs`` full
    windows of the teacher's reading (``defaults.teacher_sample``): ``max_docs`` texts or more, all of them where
    they fit."""
    t0 = time.perf_counter()
    name = model_name(teacher)
    models = SentenceModels()  # the teacher is needed while fitting only: no process-wide cache keeps it
    model = models.get(resolve_device(device), name)
    window = model.max_seq_length if max_tokens is None else min(model.max_seq_length, max_tokens)
    order = np.random.default_rng(seed).permutation(len(texts))
    count = teacher_sample(read_lengths(texts, order, model.tokenizer, window), max_docs, window)
    positions = np.sort(order[:count])
    words = teacher_word_vectors(vocabulary, name, device, progress, models)
    # longest first, so each chunk's batches pad little (model.encode sorts within the texts it is given)
    order = sorted(range(len(positions)), key=lambda j: -len(texts[positions[j]]))
    emb = np.zeros((len(positions), words.shape[1]), dtype=np.float32)
    with progress_bar(desc="teacher: embedding texts", total=len(order), unit="text", enabled=progress) as shown:
        for start in range(0, len(order), PROGRESS_STEP):
            chunk = order[start : start + PROGRESS_STEP]
            emb[chunk] = embed([texts[positions[j]] for j in chunk], device, False, model=name, max_tokens=max_tokens,
                               models=models)  # fmt: skip
            shown.update(len(chunk))
    budget = f"read within {max_docs:,} × {window} tokens"
    return TeacherSignal(positions, torch.from_numpy(emb), words, time.perf_counter() - t0, budget)


def read_lengths(texts: Sequence[str], order: np.ndarray, tokenizer: Any, window: int) -> Iterator[int]:
    """The tokens the teacher reads of each text (at most ``window``, its special tokens included), in ``order``,
    tokenised a chunk at a time as they are asked for: choosing the sample costs a small part of embedding it."""
    for start in range(0, len(order), TOKENISE_CHUNK):
        chunk = [texts[i] for i in order[start : start + TOKENISE_CHUNK]]
        yield from (len(ids) for ids in tokenizer(chunk, truncation=True, max_length=window)["input_ids"])


def teacher_word_vectors(
    vocabulary: Sequence[str], name: str, device: str, progress: bool = False, models: SentenceModels | None = None
) -> np.ndarray:
    """Unit-length vectors of the vocabulary's words: from the teacher's cached token table where it has one
    (``token_vectors``), else each word through the teacher (loaded in ``models``, else for this call)."""
    models = SentenceModels() if models is None else models
    model = models.get(resolve_device(device), name)
    table = token_table(model, name, progress)
    if table is None:
        return embed(list(vocabulary), device, False, model=name, models=models)
    return word_vectors(vocabulary, model.tokenizer, table)


def word_features(weighted: sp.csr_matrix, word_vectors: np.ndarray) -> np.ndarray:
    """Unit-length weighted means of the word vectors, one row per document (``weighted``: e.g. TF-IDF rows)."""
    means = np.asarray(weighted @ word_vectors, dtype=np.float32)
    norms = np.sqrt(np.einsum("ij,ij->i", means, means))[:, None]
    return np.divide(means, norms, out=means, where=norms > 0)


def neighbourhood_loss(
    codes: torch.Tensor, teacher: torch.Tensor, tau: float = TEACHER_TEMPERATURE
) -> torch.Tensor:
    """Cross-entropy from the teacher's to the codes' softmax over each item's batch neighbours (self left out):
    the codes learn to rank a batch as the teacher does. ``codes``: tanh units, or soft bits in (-1, 1)."""
    eye = torch.eye(len(codes), dtype=torch.bool, device=codes.device)
    c = F.normalize(codes, dim=1)
    target = F.softmax((teacher @ teacher.T).masked_fill(eye, -1e9) / tau, dim=1)
    logp = F.log_softmax((c @ c.T).masked_fill(eye, -1e9) / tau, dim=1)
    return -(target * logp).sum(1).mean()
