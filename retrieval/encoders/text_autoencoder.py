"""The deep text autoencoder (Hinton & Salakhutdinov 2006, trained the modern way).

- output: a softmax over the vocabulary, trained with the multinomial log-likelihood of the IDF-weighted word
  counts (unweighted, frequent header words dominate the loss);
- input: ``log(1 + count)``, L2-normalised per document, with input dropout while training (denoising), and the
  teacher's word features beside it; the first layer trains over each text's own words (``nn/sparse_input``);
- layers ``vocab → 500 → 250 → 125 → dim``, ReLU, a tanh code layer; variants off by default: ``input_noise``,
  ``sparse`` (L1 on the code), ``code_l2``, ``contractive``, ``tied`` weights, layer-wise pre-training;
- AdamW with a one-cycle learning rate, for the budget ``retrieval.defaults.text_steps`` chooses from the corpus;
- a teacher (``teacher.py``; ``retrieval.defaults.teacher_for`` says which by default): its neighbourhoods are a
  second loss term and its word vectors an input feature;
- the ``vocab_size`` most frequent words, bits (``bits``) by a learned rotation of the real-valued code
  (``rotation.py``), weights saved small (``compact.py``) and the decoder only with ``decoder=True``.

The options, their defaults and the rules: ``retrieval.defaults`` (``AeConfig``). The measurements behind each
choice: docs/encoders.md and docs/results.md.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from sklearn.preprocessing import normalize

from ..bag_of_words import BagOfWords
from ..defaults import NO_TEACHER, AeConfig, min_df, teacher_for, text_steps, vocabulary_note
from ..device import resolve_device
from ..nn.dense import DenseAutoencoder
from ..nn.pretraining import pretrain_layers
from ..nn.sparse_input import dense_first, sparse_first
from ..progress import bar as progress_bar
from ..nn.regularizers import code_penalty, contractive_penalty
from ..nn.early_stopping import EarlyStopping, held_out_mean, held_out_split, seeded, stopping_note
from ..nn.training import seeded_fit, train
from .base import BinaryCapable, CodeWidth, HiddenLayers, binary_note
from .compact import FORMATS, compact, expand, round_trip
from .params import check_binarise, check_bits, invalid
from .registry import register
from .teacher import TeacherSignal, check_teacher, neighbourhood_loss, teach, word_features
from .text_base import TextEncoder
from .text_batches import TextBatches
from .text_forward import TextForward
from .torch_weights import load_model_arrays, model_arrays
from .weighting import fit_idf, tfidf

ENCODE_BATCH = 2048


def log_normalise(counts: sp.csr_matrix) -> sp.csr_matrix:
    """``log(1 + count)`` rows scaled to unit L2 norm: the network's input."""
    x = counts.astype(np.float32, copy=True).tocsr()
    x.data = np.log1p(x.data)
    return normalize(x, norm="l2", copy=False)


def log_normalise_dense(counts: sp.csr_matrix) -> np.ndarray:
    """:func:`log_normalise` as a dense ``float32`` array, without sklearn's input checks (the query path)."""
    x = np.log1p(counts.toarray().astype(np.float32, copy=False))
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))[:, None]
    return np.divide(x, norms, out=x, where=norms > 0)


def idf_weighted_nll(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per document: the multinomial negative log-likelihood of its IDF-weighted counts ``target`` under
    the softmax of ``logits``, per weighted word (the training loss, and the outlier score)."""
    return -(target * F.log_softmax(logits, dim=1)).sum(1) / target.sum(1).clamp(min=1e-6)


@register
class TextAutoencoder(CodeWidth, HiddenLayers, BinaryCapable, TextEncoder):
    """Deep autoencoder on bag-of-words; its ``dim``-D code layer (``bits`` binary units) is the document's code."""

    name: ClassVar[str] = "ae"
    config_class: ClassVar[type] = AeConfig

    @classmethod
    def saved_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        """Encoders saved before ``decoder`` and ``weights`` existed kept their decoder, in float32."""
        config = super().saved_config(config)
        if isinstance(config, dict):
            config = {"decoder": True, "weights": "float32", **config}
        return config

    def describe(self) -> str:
        sizes = "-".join(str(s) for s in (self._in_dim(), *self.hidden_layers(), self._units()))
        taught = f"teacher={self._teacher()}, " if getattr(self, "word_vectors_", None) is not None else ""
        return f"ae({taught}{sizes}{binary_note(self)})"

    def _teacher(self) -> str:
        """The teacher asked for, else the default for this code (``retrieval.defaults.teacher_for``)."""
        return teacher_for(self.teacher, self._layer_bits())

    def _taught(self) -> bool:
        return self._teacher() != NO_TEACHER

    def _in_dim(self) -> int:
        """Input width: the vocabulary's counts, and the teacher's word-vector feature when there is one."""
        vectors = getattr(self, "word_vectors_", None)
        return len(self.bag_of_words_.vocabulary_) + (0 if vectors is None else vectors.shape[1])

    def _inputs(self, counts: sp.csr_matrix) -> np.ndarray:
        """The network's dense input rows for ``counts``."""
        x = log_normalise_dense(counts)
        return x if getattr(self, "word_vectors_", None) is None else np.hstack([x, self._word_features(counts)])

    def _word_features(self, counts: sp.csr_matrix) -> np.ndarray:
        """The teacher's word vectors averaged over each document, weighted by its TF-IDF."""
        return word_features(tfidf(counts, self.idf_, True), self.word_vectors_)

    def _build(self, in_dim: int) -> DenseAutoencoder:
        code_activation = "binary" if self._layer_bits() else self.code_activation
        return DenseAutoencoder(in_dim, self.hidden_layers(), self._units(), self.activation, code_activation,
                                norm=False, tied=self.tied, out_dim=len(self.bag_of_words_.vocabulary_))  # fmt: skip

    def _logits(self, code: torch.Tensor) -> torch.Tensor:
        """The decoder's scores of the vocabulary's words (a tied decoder also scores the word-vector inputs)."""
        return self.model_.decoder(code)[:, : len(self.bag_of_words_.vocabulary_)]

    def _targets(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        """IDF-weighted counts: what the decoder's softmax is scored against."""
        return (counts @ sp.diags(self.idf_)).tocsr()

    def _fit(self, items: Sequence[str]) -> None:
        check_bits(self.bits, type(self).__name__)
        check_binarise(self.binarise, self.float_dim, type(self).__name__)
        if self.teacher is not None:
            check_teacher(self.teacher, type(self).__name__)
        t0 = time.perf_counter()
        self.bag_of_words_ = BagOfWords(self.vocab_size, min_df=min_df(len(items)))
        with progress_bar(desc="vocabulary", total=len(items), unit="text", enabled=self.progress) as shown:
            counts = self.bag_of_words_.fit_transform(items)
            shown.update(len(items))
        self._stage_s = {"vocabulary_s": round(time.perf_counter() - t0, 1)}
        signal = None
        if self._taught():
            signal = teach(list(items), self.bag_of_words_.vocabulary_, self._teacher(),
                           max_docs=self.teacher_docs, seed=self.seed, device=self.device,
                           progress=self.progress)  # fmt: skip
        self._train(counts, signal)

    def _fit_counts(self, counts: sp.csr_matrix) -> None:
        self._train(counts, None)

    @seeded_fit
    def _train(self, counts: sp.csr_matrix, signal: TeacherSignal | None) -> None:
        check_bits(self.bits, type(self).__name__)
        if self.weights not in FORMATS:
            raise invalid("weights", type(self).__name__, f"one of {list(FORMATS)}", self.weights)
        device = resolve_device(self.device)
        self.idf_ = fit_idf(counts)
        self.word_vectors_ = None if signal is None else signal.word_vectors
        self.model_ = self._build(self._in_dim()).to(device)
        inputs = log_normalise(counts)
        extra = None if signal is None else self._word_features(counts)
        targets = self._targets(counts)
        rng = np.random.default_rng(self.seed)
        taught_all = signal is not None and len(signal.positions) == counts.shape[0]
        fit_rows, held = held_out_split(counts.shape[0], self.seed, self.early_stop and not self.epochs)
        if signal is not None and not taught_all:  # the held-out slice never trains, through the teacher neither
            teachable = np.flatnonzero(~np.isin(signal.positions, held))

        # The first layer over each text's own words (nn/sparse_input.py), unless an option needs dense rows.
        sparse = not (self.contractive or self.pretrain_epochs or self.input_noise or self.tied)
        batches = TextBatches(inputs, extra, dropout=self.input_dropout, noise=self.input_noise, sparse=sparse,
                              device=device, seed=self.seed + 1)  # fmt: skip
        rows, noisy_rows = batches.rows, batches.noisy

        def codes(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            """The code of ``x``, and what the teacher term sees of it: the code itself, or for binary codes the
            soft bits ``2·sigmoid(z) - 1`` (through the hard bits, the term collapses every code onto one)."""
            z = self.model_.encoder[:-1](x)
            code = self.model_.encoder[-1](z)
            return code, (2 * torch.sigmoid(z) - 1 if self._layer_bits() else code)

        def teacher_term(idx: np.ndarray, soft: torch.Tensor) -> torch.Tensor:
            """The neighbourhood loss on this batch (all fit texts taught) or on a batch of the taught sample."""
            if taught_all:
                emb = signal.embeddings[idx]
            else:
                pick = teachable[rng.integers(0, len(teachable), len(idx))]
                soft, emb = codes(noisy_rows(signal.positions[pick]))[1], signal.embeddings[pick]
            return self.teacher_weight * neighbourhood_loss(soft, emb.to(device))

        if self.pretrain_epochs:
            pretrain_layers(self.model_, counts.shape[0], rows, epochs=self.pretrain_epochs,
                            batch_size=self.batch_size, lr=self.lr, seed=self.seed, progress=self.progress)  # fmt: skip

        if sparse:
            sparse_first(self.model_.encoder, len(self.bag_of_words_.vocabulary_))

        def batch_loss(idx: np.ndarray) -> torch.Tensor:
            x = noisy_rows(idx)
            target = torch.from_numpy(targets[idx].toarray()).to(device)
            code, soft = codes(x)
            loss = idf_weighted_nll(self._logits(code), target).mean()
            loss = loss + code_penalty(code, self.sparse, self.code_l2)
            if self.contractive:
                loss = loss + self.contractive * contractive_penalty(self.model_.encoder, x)
            if signal is not None and self.teacher_weight:
                loss = loss + teacher_term(idx, soft)
            return loss

        def reconstruction(idx: np.ndarray) -> torch.Tensor:
            """The held-out check: the denoising reconstruction loss alone (no teacher vectors for unseen texts)."""
            target = torch.from_numpy(targets[idx].toarray()).to(device)
            return idf_weighted_nll(self._logits(codes(noisy_rows(idx))[0]), target).mean()

        stopper = None if not len(held) else EarlyStopping(
            seeded(lambda: held_out_mean(reconstruction, held, self.batch_size), self.seed))
        budget = text_steps(len(fit_rows), self.batch_size, self._in_dim(), signal is not None, self.epochs,
                            self.min_steps)  # fmt: skip
        t0 = time.perf_counter()
        self.history_ = train(
            self.model_, len(fit_rows), lambda idx: batch_loss(fit_rows[idx]), epochs=budget.epochs,
            batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay, seed=self.seed,
            progress=self.progress, desc="training autoencoder", early_stop=stopper,
        )  # fmt: skip
        per_epoch = -(-len(fit_rows) // self.batch_size)
        self.training_ = {
            "epochs": len(self.history_), "steps": len(self.history_) * per_epoch, "budget": budget.note,
            "early stopping": stopping_note(stopper, self.early_stop, self.epochs, per_epoch),
            "vocabulary": vocabulary_note(len(self.bag_of_words_.vocabulary_), self.vocab_size,
                                          self.bag_of_words_.min_df),
            "teacher": self._teacher() if signal is not None else NO_TEACHER,
            **({} if signal is None else signal.info(counts.shape[0])),
            **getattr(self, "_stage_s", {}), "train_s": round(time.perf_counter() - t0, 1),
        }  # fmt: skip
        dense_first(self.model_.encoder)
        self.model_.eval()
        self._compact()
        if self.bits and self.binarise == "rotation":
            self._fit_rotation(self._real_codes(counts))

    def _compact(self) -> None:
        """Drop the decoder unless ``decoder`` keeps it, and round the weights as ``weights`` stores them, so that
        the codes written at build time are those a reloaded encoder computes."""
        if not self.decoder:
            self.model_.decoder = None
        arrays = round_trip(self._weight_arrays(), self.weights)
        device = next(self.model_.parameters()).device
        state = {k.removeprefix("model."): torch.from_numpy(v).to(device) for k, v in arrays.items()
                 if k.startswith("model.")}  # fmt: skip
        self.model_.load_state_dict(state, strict=True)
        if self.word_vectors_ is not None:
            self.word_vectors_ = arrays["word_vectors"]
        self.training_["weights"] = (f"{self.weights} ({'with' if self.decoder else 'without'} the decoder: "
                                     + ("reconstruction scores kept)" if self.decoder else
                                        "no reconstruction scores; -o decoder=true keeps it)"))  # fmt: skip

    def _has_decoder(self) -> bool:
        return getattr(self.model_, "decoder", None) is not None

    def _encode(self, inputs: sp.csr_matrix, errors: bool) -> tuple[np.ndarray, np.ndarray | None]:
        units, nll = self._encode_units(inputs, errors)
        return self._finish(units), nll

    @torch.no_grad()
    def _encode_units(self, inputs: sp.csr_matrix, errors: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Code-layer outputs (and the training loss per document) batch by batch, one forward pass each: on the
        CPU the encoder runs in NumPy over each document's own words (``text_forward``), the decoder in torch."""
        device = next(self.model_.parameters()).device
        if self.model_.training:
            self.model_.eval()
        forward = self._forward() if device.type == "cpu" else None
        n = inputs.shape[0]
        codes = np.empty((n, self._units()), dtype=np.float32)
        nll = np.empty(n, dtype=np.float32) if errors and self._has_decoder() else None
        if forward is not None and not errors and n <= ENCODE_BATCH:  # a query or a small batch: no copies
            return forward(inputs), None
        for start in range(0, n, ENCODE_BATCH):
            batch = inputs[start : start + ENCODE_BATCH]
            if forward is not None:
                code = torch.from_numpy(forward(batch))
            else:
                code = self.model_.encoder(torch.from_numpy(self._inputs(batch)).to(device))
            codes[start : start + len(code)] = code.cpu().numpy()
            if nll is not None and self._has_decoder():
                target = torch.from_numpy(self._targets(batch).toarray()).to(device)
                nll[start : start + len(code)] = idf_weighted_nll(self._logits(code), target).cpu().numpy()
        return codes, nll

    @torch.no_grad()
    def _real_codes(self, counts: sp.csr_matrix) -> np.ndarray:
        """The code layer's real-valued output for ``counts`` (before any binarising), batch by batch."""
        device = next(self.model_.parameters()).device
        parts = [self.model_.encoder(torch.from_numpy(self._inputs(counts[s : s + ENCODE_BATCH])).to(device)).cpu()
                 for s in range(0, counts.shape[0], ENCODE_BATCH)]  # fmt: skip
        return torch.cat(parts).numpy()

    def _forward(self) -> TextForward | None:
        """The NumPy encoder pass for the current weights (built once per trained or loaded model)."""
        cached = getattr(self, "_forward_cache", None)
        if cached is None or cached[0] is not self.model_:
            vocab = len(self.bag_of_words_.vocabulary_)
            cached = (self.model_, TextForward.of(self.model_.encoder, vocab, self.idf_, self.word_vectors_))
            self._forward_cache = cached
        return cached[1]

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_forward_cache"}  # rebuilt where it is needed

    def _weight_arrays(self) -> dict[str, np.ndarray]:
        vectors = {} if self.word_vectors_ is None else {"word_vectors": self.word_vectors_}
        return {**model_arrays(self.model_), "idf": self.idf_, **vectors}

    def _get_arrays(self) -> dict[str, np.ndarray]:
        return {**compact(self._weight_arrays(), self.weights), **self._rotation_arrays()}

    def _set_arrays(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        super()._set_arrays(state, arrays)
        arrays = expand(arrays)
        self.idf_ = arrays["idf"]
        self.word_vectors_ = arrays.get("word_vectors")
        self._set_rotation(arrays)
        model = self._build(self._in_dim())
        if not any(k.startswith("model.decoder.") for k in arrays):  # what the file holds decides
            model.decoder = None
        self.model_ = load_model_arrays(model, arrays, resolve_device(self.device))
