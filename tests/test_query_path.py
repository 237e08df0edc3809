"""The query path's NumPy network: the same codes as the torch modules, for every layer kind it takes over."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from torch import nn

from retrieval.encoders import create_encoder
from retrieval.encoders.teacher import word_features
from retrieval.encoders.text_autoencoder import log_normalise_dense
from retrieval.encoders.text_forward import TextForward
from retrieval.encoders.weighting import tfidf
from retrieval.nn import inference
from retrieval.nn.binary import BinaryCode
from retrieval.nn.dense import mlp

from .conftest import FAST_AE, make_docs


def _counts(n: int, vocab: int, seed: int = 0) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    dense = rng.poisson(0.05, size=(n, vocab)).astype(np.float32)
    dense[3] = 0  # an empty document
    return sp.csr_matrix(dense)


@pytest.mark.parametrize("with_word_vectors", [False, True])
@pytest.mark.parametrize("small", [True, False])  # NumPy's gather (a few queries) and scipy's product (a batch)
def test_the_sparse_first_layer_equals_the_dense_network(with_word_vectors, small, monkeypatch):
    torch.manual_seed(0)
    vocab, width = 300, 12
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(vocab, width)).astype(np.float32) if with_word_vectors else None
    idf = rng.uniform(1, 5, size=vocab).astype(np.float32)
    encoder = mlp([vocab + (width if with_word_vectors else 0), 40, 20, 6], "relu", "tanh", norm=False).eval()
    monkeypatch.setattr(inference, "SMALL_GATHER", 1 << 30 if small else 0)
    counts = _counts(50, vocab)
    x = log_normalise_dense(counts)
    if with_word_vectors:
        x = np.hstack([x, word_features(tfidf(counts, idf, True), vectors)])
    with torch.no_grad():
        want = encoder(torch.from_numpy(x)).numpy()
    got = TextForward.of(encoder, vocab, idf, vectors)(counts)
    np.testing.assert_allclose(got, want, atol=2e-6)


def test_numpy_layers_match_torch_for_each_layer_kind():
    torch.manual_seed(0)
    seq = nn.Sequential(nn.Linear(10, 16), nn.LayerNorm(16), nn.GELU(), nn.Linear(16, 8), nn.Sigmoid(),
                        nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 4), nn.Identity()).eval()  # fmt: skip
    x = np.random.default_rng(0).normal(size=(7, 10)).astype(np.float32)
    with torch.no_grad():
        want = seq(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(inference.run_layers(inference.numpy_layers(seq), x.copy()), want, atol=1e-5)
    binary = nn.Sequential(nn.Linear(10, 8), BinaryCode()).eval()
    with torch.no_grad():
        assert (
            inference.run_layers(inference.numpy_layers(binary), x.copy()) == binary(torch.from_numpy(x)).numpy()
        ).all()
    assert inference.numpy_layers(nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5))) is None  # no NumPy twin: torch runs


@pytest.mark.parametrize("options", [{}, {"bits": 16}])
def test_a_fitted_autoencoder_encodes_the_same_through_numpy_and_torch(options):
    texts = [t for _, _, t in make_docs()]
    enc = create_encoder("ae", **{**FAST_AE, **options}).fit(texts)
    assert enc._forward() is not None
    fast = enc.encode(texts)
    enc._forward_cache = (enc.model_, None)  # force the torch pass
    slow = enc.encode(texts)
    if options:
        assert (fast == slow).mean() > 0.99  # packed bits: a unit exactly at 0 may round either way
    else:
        np.testing.assert_allclose(fast, slow, atol=2e-6)


def test_cached_hit_rows_follow_every_write(tmp_path, docs):
    import retrieval

    from .conftest import FAKE, write_corpus

    retrieval.index_source(write_corpus(tmp_path / "corpus", docs), tmp_path / "c.aer", **FAKE)
    with retrieval.open(tmp_path / "c.aer") as col, retrieval.open(tmp_path / "c.aer") as other:
        first = col.search("orbit rocket", k=3)[0]
        col.update(retrieval.Document(id=first.id, text="orbit rocket launch", label="relabelled"))
        assert {h.label for h in col.search("orbit rocket launch", k=40) if h.id == first.id} == {"relabelled"}
        col.search("orbit rocket", k=40)  # fill the cache
        other.delete([first.id])  # another process's write: the reader's index still has the code
        assert first.id not in {h.id for h in col.search("orbit rocket launch", k=40)}  # no stale row served
