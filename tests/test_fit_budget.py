"""The text autoencoder's fit budget and its small collections: the rules on tiny data, the saved file's contents,
and what a collection without the decoder refuses."""

import json

import numpy as np
import pytest
from safetensors.numpy import load_file

import retrieval
from retrieval.encoders import create_encoder, load_encoder
from retrieval.encoders.compact import compact, expand, round_trip
from retrieval.defaults import FEWEST_STEPS, STEP_WORK, min_df, teacher_sample
from retrieval.defaults import TEXT_EPOCHS as DEFAULT_EPOCHS, TEXT_MIN_STEPS as MIN_STEPS, text_steps as steps
from retrieval.errors import CollectionError
from .conftest import FAST_AE


def texts_labels(docs):
    return [t for _, _, t in docs], [lab for _, lab, _ in docs]


def test_explicit_epochs_are_exact_whatever_the_size():
    for n in (10, 1_000, 1_000_000):
        budget = steps(n, 128, 10_384, True, 3, None)
        assert budget.epochs == 3 and budget.steps == 3 * -(-n // 128)


def test_small_corpora_train_to_the_floor_large_ones_stop_at_the_cap():
    for n in (10, 300, 700, 5_000):  # a few steps an epoch: the floor decides, one step per text within its bounds
        floor = min(MIN_STEPS[True], max(FEWEST_STEPS, n))
        small = steps(n, 128, 5_000, True, None, None)
        assert floor <= small.steps < floor + -(-n // 128) or small.epochs == DEFAULT_EPOCHS
    assert steps(10_000, 128, 1_000, False, None, None).steps >= MIN_STEPS[False]
    assert steps(100, 128, 5_000, True, None, 50).steps == 50  # min_steps given: that floor
    middle = steps(12_800, 128, 1, True, None, None)  # 100 steps an epoch, above the floor, far below the cap
    assert middle.epochs == DEFAULT_EPOCHS
    cap = STEP_WORK // 10_384
    for n in (100_000, 1_000_000):  # the cap holds, whole epochs, at least one
        big = steps(n, 128, 10_384, True, None, None)
        per_epoch = -(-n // 128)
        assert big.epochs == max(1, cap // per_epoch) and big.steps == big.epochs * per_epoch
        assert "bounded" in big.note
    # the bound does not grow with the corpus: 10x the texts, the same steps or fewer epochs
    assert steps(20_000, 128, 10_384, True, None, None).steps <= cap
    assert steps(200_000, 128, 10_384, True, None, None).steps <= -(-200_000 // 128)


def test_teacher_sample_and_vocabulary_floor():
    full = [256] * 100_000  # texts of a full window or more: the budget is that many texts
    assert teacher_sample(full[:50], 2000, 256) == 50  # a few texts: all of them
    assert teacher_sample(full, 2000, 256) == 2000
    assert [teacher_sample([999] * n, 2000, 256) for n in (1, 1999, 2000, 5_000)] == [1, 1999, 2000, 2000]
    # shorter texts count for what is read of them: a quarter window each, four times the texts
    assert teacher_sample([64] * 100_000, 2000, 256) == 8000
    assert teacher_sample([64] * 5000, 2000, 256) == 5000  # all of them where they fit
    # in their order: the sample stops at the first text past the budget
    assert teacher_sample([100, 100, 100, 1], 1, 256) == 2
    assert teacher_sample([0, 0], 1, 256) == 2  # an empty text still counts (at least one token)
    assert min_df(99) == 1 and min_df(100) == 2


def test_int8_tables_round_trip_within_their_scale():
    rng = np.random.default_rng(0)
    arrays = {"model.encoder.0.weight": rng.normal(size=(16, 40)).astype(np.float32),
              "word_vectors": rng.normal(size=(30, 8)).astype(np.float32),
              "model.encoder.0.bias": rng.normal(size=16).astype(np.float32),
              "idf": rng.random(30).astype(np.float32)}  # fmt: skip
    saved = compact(arrays, "int8")
    assert saved["model.encoder.0.weight"].dtype == np.int8 and saved["word_vectors"].dtype == np.int8
    assert saved["model.encoder.0.bias"].dtype == np.float16 and saved["idf"].dtype == np.float32
    back = expand(saved)
    for key in ("model.encoder.0.weight", "word_vectors"):
        axis = 0 if key.startswith("model") else 1
        step = np.abs(arrays[key]).max(axis=axis, keepdims=True) / 127
        assert np.all(np.abs(back[key] - arrays[key]) <= step / 2 + 1e-7)
    np.testing.assert_array_equal(round_trip(back, "int8")["word_vectors"], back["word_vectors"])  # idempotent
    assert expand(compact(arrays, "float32"))["idf"] is arrays["idf"]


def test_default_collection_is_small_and_keeps_no_decoder(docs, tmp_path):
    texts, _ = texts_labels(docs)
    options = {k: v for k, v in FAST_AE.items() if k != "decoder"}
    enc = create_encoder("ae", **options).fit(texts)
    enc.save(tmp_path / "small")
    arrays = load_file(str(tmp_path / "small" / "weights.safetensors"))
    assert not any(k.startswith("model.decoder") for k in arrays)
    assert arrays["model.encoder.0.weight"].dtype == np.int8
    assert "without the decoder" in json.loads((tmp_path / "small" / "config.json").read_text())["training"]["weights"]
    again = load_encoder(tmp_path / "small", device="cpu")
    np.testing.assert_array_equal(again.encode(texts), enc.encode(texts))  # build-time codes = reloaded codes
    assert enc.encode_with_errors(texts)[1] is None
    full = create_encoder("ae", **FAST_AE).fit(texts)  # decoder=True
    full.save(tmp_path / "full")
    assert (tmp_path / "small" / "weights.safetensors").stat().st_size < (
        (tmp_path / "full" / "weights.safetensors").stat().st_size
    )


def test_a_collection_without_decoder_refuses_reconstruction_scores(docs, tmp_path):
    from retrieval.sources import Document

    items = [Document(id=i, text=t, label=lab) for i, lab, t in docs]
    options = {k: v for k, v in FAST_AE.items() if k not in ("decoder", "progress")}
    retrieval.index_source(items, tmp_path / "c.aer", encoder="ae", **options)
    with retrieval.open(tmp_path / "c.aer") as col:
        assert set(col.manifest["build"]) == {"read_s", "fit_s", "encode_s", "index_s"}  # the stages, for aer info
        assert col.encoder.training_info()["train_s"] >= 0 and "vocabulary_s" in col.encoder.training_info()
        for score in ("reconstruction", "combined"):
            with pytest.raises(CollectionError, match="decoder=true"):
                col.outlier_scores(score=score)
        assert len(col.outlier_scores(score="knn")) == len(items)  # the code space still scores every item
