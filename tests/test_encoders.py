from __future__ import annotations

import json

import numpy as np
import pytest

from retrieval.bag_of_words import BagOfWords
from retrieval.encoders import ENCODERS, create_encoder, load_encoder
from retrieval.errors import EncoderFileError, NotFittedError
from retrieval.evaluation import RankingScores

from .conftest import FAST_AE

OPTIONS = {
    "ae": FAST_AE, "lsa": {"dim": 4}, "tfidf": {}, "minilm": {"progress": False},
    "minilm-ae": {"dim": 8, "epochs": 40, "batch_size": 16, "progress": False},
}  # fmt: skip


def texts_labels(docs):
    return [t for _, _, t in docs], [lab for _, lab, _ in docs]


@pytest.fixture(params=sorted(n for n, cls in ENCODERS.items() if cls.modality == "text"))
def fitted(request, docs):
    texts, _ = texts_labels(docs)
    return create_encoder(request.param, **OPTIONS[request.param]).fit(texts)


def test_bag_of_words_vocabulary_and_counts(docs):
    texts, _ = texts_labels(docs)
    bow = BagOfWords(vocab_size=20).fit(texts)
    assert len(bow.vocabulary_) == 20
    assert not {"the", "and", "of"} & set(bow.vocabulary_)  # stop-words removed
    counts = bow.transform(["orbit orbit launch zzzunseen"])
    assert counts.shape == (1, 20) and counts.dtype == np.float32
    col = {w: i for i, w in enumerate(bow.vocabulary_)}
    if "orbit" in col:
        assert counts[0, col["orbit"]] == 2
    again = BagOfWords.from_saved(bow.get_config(), bow.get_state())
    assert (again.transform(texts) != bow.transform(texts)).nnz == 0


def test_encode_shape_and_dtype(fitted, docs):
    texts, _ = texts_labels(docs)
    codes = fitted.encode(texts)
    assert codes.shape == (len(texts), fitted.dim) and codes.dtype == np.float32
    assert np.isfinite(codes).all()


def test_save_load_round_trip_gives_same_codes(fitted, docs, tmp_path):
    texts, _ = texts_labels(docs)
    fitted.save(tmp_path / "enc")
    again = load_encoder(tmp_path / "enc", device="cpu")
    assert type(again) is type(fitted) and again.get_config() == fitted.get_config()
    np.testing.assert_allclose(again.encode(texts), fitted.encode(texts), rtol=1e-5, atol=1e-6)


def test_codes_group_documents_by_topic(fitted, docs):
    """Nearest neighbours in code space share the topic far more often than chance (1/3)."""
    texts, labels = texts_labels(docs)
    codes = fitted.encode(texts)
    codes /= np.linalg.norm(codes, axis=1, keepdims=True) + 1e-9
    sims = codes @ codes.T
    np.fill_diagonal(sims, -np.inf)
    order = np.argsort(-sims, axis=1)[:, :-1]
    scores = RankingScores(labels, ks=(5,))
    scores.add(labels, np.array(labels)[order])
    assert scores.result()["p@5"] > 0.8


def test_autoencoder_is_reproducible_with_a_seed(docs):
    texts, _ = texts_labels(docs)
    a = create_encoder("ae", **FAST_AE, seed=3).fit(texts).encode(texts)
    b = create_encoder("ae", **FAST_AE, seed=3).fit(texts).encode(texts)
    np.testing.assert_array_equal(a, b)


def test_unfitted_encoder_raises():
    with pytest.raises(NotFittedError):
        create_encoder("lsa").encode(["text"])


def test_unknown_encoder_name():
    with pytest.raises(ValueError, match="'encoder' parameter"):
        create_encoder("word2vec")


def test_tampered_or_foreign_files_are_refused(fitted, tmp_path):
    folder = tmp_path / "enc"
    fitted.save(folder)
    (folder / "weights.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(EncoderFileError, match="weights.safetensors"):
        load_encoder(folder)
    (folder / "config.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(EncoderFileError, match="not an ae-retrieval encoder"):
        load_encoder(folder)
    with pytest.raises(EncoderFileError, match="not an ae-retrieval encoder .no config.json"):
        load_encoder(tmp_path / "empty")


def test_autoencoder_weights_must_fit_the_config(docs, tmp_path):
    texts, _ = texts_labels(docs)
    create_encoder("ae", **FAST_AE).fit(texts).save(tmp_path / "a")
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    config["config"]["hidden"] = [16, 8]
    (tmp_path / "a" / "config.json").write_text(json.dumps(config))
    with pytest.raises(EncoderFileError, match="do not fit"):
        load_encoder(tmp_path / "a")
