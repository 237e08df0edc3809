"""The sentence-transformer teacher of the text autoencoder, and the default training budgets (issue 15)."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from sklearn.preprocessing import normalize

from retrieval import defaults
from retrieval.defaults import FEWEST_STEPS, IMAGE_EPOCHS as DEFAULT_IMAGE_EPOCHS, TEXT_MIN_STEPS as MIN_STEPS
from retrieval.encoders import create_encoder, load_encoder
from retrieval.encoders import sentence as sentence_module
from retrieval.encoders import teacher as teacher_module
from retrieval.encoders.sentence import embed
from retrieval.encoders.teacher import neighbourhood_loss
from retrieval.nn.training import train
from tests.conftest import FAST_AE, make_images

LEXICON = {
    "sport": "football goal team match player coach score league season stadium referee tournament",
    "cooking": "recipe oven flour sugar butter bake kitchen dinner salt pepper soup sauce",
    "space": "rocket orbit planet moon astronaut telescope galaxy launch star mars satellite nasa",
    "money": "bank loan interest market stock price investor budget tax profit debt inflation",
}
# FAST_AE's network and budget, taught: the default teacher, its default step floor, no decoder kept
SMALL = {k: v for k, v in FAST_AE.items() if k not in ("teacher", "min_steps", "decoder")}


def english_docs(per_topic: int = 24, seed: int = 0) -> tuple[list[str], list[str]]:
    """Short texts of real English words, a topic each: the teacher has something to say about them."""
    rng = np.random.default_rng(seed)
    generic = "the people said today about many new things after some time".split()
    texts, labels = [], []
    for label, words in LEXICON.items():
        for _ in range(per_topic):
            texts.append(" ".join([*rng.choice(words.split(), 6), *rng.choice(generic, 3)]))
            labels.append(label)
    return texts, labels


def knn_overlap(a: np.ndarray, b: np.ndarray, k: int = 5) -> float:
    """Mean share of each row's ``k`` cosine neighbours in ``a`` that are also among its ``k`` in ``b``."""

    def top(x: np.ndarray) -> np.ndarray:
        x = normalize(x)
        s = x @ x.T
        np.fill_diagonal(s, -np.inf)
        return np.argsort(-s, axis=1)[:, :k]

    ta, tb = top(a), top(b)
    return float(np.mean([len(set(r) & set(q)) / k for r, q in zip(ta, tb)]))


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return english_docs()[0]


@pytest.mark.slow
def test_the_teacher_term_moves_codes_toward_the_teachers_neighbourhoods(texts):
    teacher = embed(texts)
    taught = create_encoder("ae", **SMALL).fit(texts)
    untaught = create_encoder("ae", **SMALL, teacher_weight=0.0).fit(texts)  # same inputs, no neighbourhood term
    with_term, without = knn_overlap(taught.encode(texts), teacher), knn_overlap(untaught.encode(texts), teacher)
    assert with_term > without + 0.05, (with_term, without)


@pytest.mark.slow
@pytest.mark.parametrize("binarise", ["layer", "rotation"])
def test_binary_codes_with_a_teacher(texts, binarise):
    enc = create_encoder("ae", **{**SMALL, "epochs": 60}, bits=16, binarise=binarise, teacher="minilm").fit(texts)
    codes = enc.encode(texts)
    assert codes.dtype == np.uint8 and codes.shape == (len(texts), 2)
    words = len(enc.bag_of_words_.vocabulary_)
    code = "16 binary" if binarise == "layer" else f"{SMALL['dim']} → 16 bits by rotation"
    assert enc.describe() == f"ae(teacher=minilm, {words + 384}-64-32-{code})"  # + 384 word-vector features
    assert knn_overlap(np.unpackbits(codes, axis=1).astype(np.float32) * 2 - 1, embed(texts)) > 0.3


@pytest.mark.slow
def test_the_teacher_default_follows_how_bits_are_made(texts):
    """On full 20 Newsgroups the teacher term lowered a 64-bit code layer (P@100 0.438 -> 0.406): opt-in there;
    bits by rotation come from the real-valued code, which the teacher lifts, so they have it by default."""
    enc = create_encoder("ae", **SMALL, bits=16, binarise="layer").fit(texts)
    assert enc.training_info()["teacher"] == "none" and "teacher" not in enc.describe()
    assert create_encoder("ae", **SMALL).fit(texts).training_info()["teacher"] == "minilm"
    assert create_encoder("ae", **SMALL, bits=16)._teacher() == "minilm"


def test_a_taught_encoder_saves_its_word_vectors_and_encodes_without_the_teacher(texts, tmp_path, monkeypatch):
    enc = create_encoder("ae", **SMALL).fit(texts)
    enc.save(tmp_path / "enc")

    def no_teacher(*args, **kwargs):
        raise AssertionError("the teacher must not run at encode or query time")

    monkeypatch.setattr(sentence_module, "_model", no_teacher)
    loaded = load_encoder(tmp_path / "enc")
    np.testing.assert_allclose(loaded.encode(texts), enc.encode(texts), atol=1e-6)
    assert loaded.encode_queries(["rocket launch to the moon"]).shape == (1, 8)
    assert loaded.training_info() == enc.training_info()
    assert loaded.training_info()["teacher"] == "minilm"


@pytest.mark.slow
def test_the_teacher_reads_a_seeded_sample_within_its_reading_budget(texts, monkeypatch):
    embedded: list[str] = []

    def slow_embed(batch, *args, **kwargs):  # the real teacher, a known 0.2 s slower per call
        embedded.extend(batch)
        time.sleep(0.2)
        return embed(batch, *args, **kwargs)

    monkeypatch.setattr(teacher_module, "embed", slow_embed)
    t0 = time.perf_counter()
    info = create_encoder("ae", **SMALL, teacher_docs=1, seed=3).fit(texts).training_info()
    fit_s = time.perf_counter() - t0
    window = sentence_module._model("cpu").max_seq_length
    assert info["teacher_docs"] == (f"{len(embedded)} of {len(texts)} fit texts (seeded uniform sample, read within "
                                    f"1 × {window} tokens)")  # fmt: skip
    # short texts: more of them than the budget's one text, as many as one full window of reading holds
    tokens = [len(ids) for ids in sentence_module._model("cpu").tokenizer(texts)["input_ids"]]
    read = sum(tokens[texts.index(t)] for t in embedded)
    assert 1 < len(embedded) < len(texts) and set(embedded) <= set(texts)
    assert window - max(tokens) < read <= window
    # the seconds spent embedding are counted: at least the calls' sleeps, at most the whole fit
    assert 0.2 <= info["teacher_s"] <= fit_s + 0.05


def test_no_teacher_trains_on_the_words_alone(texts):
    enc = create_encoder("ae", **SMALL, teacher="none").fit(texts)
    assert enc.describe() == f"ae({len(enc.bag_of_words_.vocabulary_)}-64-32-8)"
    assert enc.training_info()["teacher"] == "none"
    assert "teacher_docs" not in enc.training_info()


@pytest.mark.parametrize("bad", ["", "   ", 3])
def test_a_bad_teacher_is_refused_before_training(texts, bad):
    with pytest.raises(ValueError, match="teacher"):
        create_encoder("ae", **SMALL, teacher=bad).fit(texts)


def test_neighbourhood_loss_is_lowest_when_codes_rank_as_the_teacher_does():
    rng = np.random.default_rng(0)

    teacher = torch.nn.functional.normalize(torch.from_numpy(rng.normal(size=(32, 16)).astype(np.float32)), dim=1)
    other = torch.from_numpy(rng.normal(size=(32, 16)).astype(np.float32))
    assert neighbourhood_loss(teacher, teacher) < neighbourhood_loss(other, teacher)


@pytest.mark.slow
def test_default_text_budget_is_30_epochs_with_a_step_floor(texts):
    fast = {k: v for k, v in SMALL.items() if k != "epochs"}
    enc = create_encoder("ae", **fast, teacher="none").fit(texts)
    steps_per_epoch = -(-len(texts) // 16)
    # a small corpus trains one step per text, at least FEWEST_STEPS and at most MIN_STEPS (defaults.text_steps)
    floor = min(MIN_STEPS[False], max(FEWEST_STEPS, len(texts)))
    assert enc.training_info()["steps"] >= floor and len(enc.history_) == -(-floor // steps_per_epoch)
    assert f"at least {floor:,} optimiser steps" in enc.training_info()["budget"]
    taught = create_encoder("ae", **fast, min_steps=None).fit(texts)
    assert len(taught.history_) == -(-min(MIN_STEPS[True], max(FEWEST_STEPS, len(texts))) // steps_per_epoch)
    assert len(create_encoder("ae", **fast, teacher="none", min_steps=30).fit(texts).history_) == 30


def test_default_image_budget_trains_small_sets_on_to_the_step_floor():
    images = np.stack([img for _, img in make_images(per_class=4)])
    fast = {"dim": 8, "channels": (4, 8, 8), "batch_size": 8, "progress": False}
    per_epoch = -(-len(images) // 8)
    enc = create_encoder("conv-ae", **fast, min_steps=40).fit(images)
    assert len(enc.history_) == -(-40 // per_epoch) and enc.training_info()["steps"] >= 40
    assert len(create_encoder("conv-ae", **fast, epochs=2, min_steps=40).fit(images).history_) == 2  # exact
    default = create_encoder("conv-ae", **fast, min_steps=0).fit(images)
    assert len(default.history_) == DEFAULT_IMAGE_EPOCHS
    assert "5 epochs, 0 to 1,000 optimiser steps" in default.training_info()["budget"]


def test_default_image_budget_trains_large_sets_fewer_epochs_to_the_step_ceiling(monkeypatch):
    """A set too large for the default epochs within IMAGE_MAX_STEPS trains whole epochs up to it (at least one)."""
    images = np.stack([img for _, img in make_images(per_class=4)])
    fast = {"dim": 8, "channels": (4, 8, 8), "batch_size": 8, "progress": False, "min_steps": 0}
    per_epoch = -(-len(images) // 8)
    monkeypatch.setattr(defaults, "IMAGE_MAX_STEPS", 2 * per_epoch + 1)
    assert len(create_encoder("conv-ae", **fast).fit(images).history_) == 2
    monkeypatch.setattr(defaults, "IMAGE_MAX_STEPS", 1)
    assert len(create_encoder("conv-ae", **fast).fit(images).history_) == 1
    assert len(create_encoder("conv-ae", **{**fast, "epochs": 3}).fit(images).history_) == 3  # explicit: exact
    assert len(create_encoder("conv-ae", **{**fast, "min_steps": 3 * per_epoch}).fit(images).history_) == 3


def test_train_takes_whole_epochs_up_to_max_steps():
    model = torch.nn.Linear(2, 1)
    data = torch.ones(100, 2)

    def loss(idx):
        return model(data[idx]).pow(2).mean()

    def epochs(**kw):
        return len(train(model, 100, loss, epochs=5, batch_size=10, lr=1e-3, progress=False, **kw))

    assert epochs() == 5 and epochs(max_steps=25) == 2 and epochs(max_steps=3) == 1
    assert epochs(min_steps=70) == 7 and epochs(min_steps=70, max_steps=1000) == 7


def test_mirror_ratio_tells_photographs_from_digits():
    from retrieval.eval.corpus import digits
    from retrieval.nn.augment import mirror_ratio

    rng = np.random.default_rng(0)
    half = rng.integers(0, 256, size=(300, 32, 32, 3), dtype=np.uint8)
    closed = np.concatenate([half, half[:, :, ::-1]])  # a set closed under mirroring, as photographs nearly are
    assert mirror_ratio(closed) < 1.1
    assert mirror_ratio(np.stack([d.pixels for d in digits()])) > 1.5


@pytest.mark.slow
def test_image_training_mirrors_only_where_mirror_images_belong_to_the_set():
    from retrieval.eval.corpus import digits

    images = np.stack([d.pixels for d in digits()[:120]])
    fast = {"dim": 8, "channels": (4, 8, 8), "batch_size": 32, "epochs": 1, "progress": False}
    assert create_encoder("conv-ae", **fast).fit(images).training_info()["flips"].startswith("off: mirrored")
    assert create_encoder("conv-ae", **fast, flip=True).fit(images).training_info()["flips"] == "on (asked)"
    photos = np.concatenate([images, images[:, :, ::-1]])
    assert create_encoder("conv-ae", **fast).fit(photos).training_info()["flips"].startswith("on: mirrored")
