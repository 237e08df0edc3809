"""Early stopping on a held-out slice: the split, the stopping rule, the best weights, and the encoders' use of it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from retrieval.encoders.image_autoencoder import ConvImageAutoencoder
from retrieval.encoders.text_autoencoder import TextAutoencoder
from retrieval.nn.early_stopping import (
    HELD_OUT_MAX,
    MIN_FIT_ITEMS,
    EarlyStopping,
    held_out_split,
    seeded,
)
from retrieval.nn.training import train
from tests.conftest import make_docs, make_images


def test_held_out_split_is_seeded_disjoint_and_bounded() -> None:
    fit, held = held_out_split(1000, seed=3)
    assert len(held) == 100 and len(fit) == 900
    assert not set(fit) & set(held) and set(fit) | set(held) == set(range(1000))
    assert np.array_equal(held, held_out_split(1000, seed=3)[1])
    assert not np.array_equal(held, held_out_split(1000, seed=4)[1])
    assert len(held_out_split(100_000)[1]) == HELD_OUT_MAX


@pytest.mark.parametrize("n, enabled", [(MIN_FIT_ITEMS - 1, True), (5000, False)])
def test_no_slice_for_small_sets_or_when_off(n: int, enabled: bool) -> None:
    fit, held = held_out_split(n, enabled=enabled)
    assert len(held) == 0 and np.array_equal(fit, np.arange(n))


def _walker() -> tuple[torch.nn.Module, callable]:
    """A one-parameter model that every step pushes up by a fixed amount; its held-out loss is lowest at 3."""
    model = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.zeros_(model.weight)
    return model, lambda idx: -model.weight.sum()


def test_training_stops_when_the_held_out_loss_rises_and_keeps_the_best_weights() -> None:
    model, loss = _walker()
    seen: list[float] = []

    def held_out() -> float:
        w = float(model.weight)
        seen.append(w)
        return (w - 3.0) ** 2

    stopper = EarlyStopping(held_out, patience=3)
    history = train(model, 1, loss, epochs=40, batch_size=1, lr=0.5, warmup=0.0, early_stop=stopper)
    assert stopper.stopped and len(history) < 40
    best = int(np.argmin([(w - 3.0) ** 2 for w in seen]))
    assert stopper.best_check == best and len(seen) - 1 - best == 3  # stopped exactly `patience` checks later
    assert model.weight.item() == pytest.approx(seen[best])  # the best check's weights came back


def test_a_falling_loss_runs_the_whole_budget() -> None:
    model, loss = _walker()
    stopper = EarlyStopping(lambda: -float(model.weight), patience=2)
    history = train(model, 1, loss, epochs=12, batch_size=1, lr=0.1, warmup=0.0, early_stop=stopper)
    assert len(history) == 12 and not stopper.stopped
    assert stopper.checked[-1] == 12 and "ran the whole budget" in stopper.summary(1)


def test_checks_are_spread_over_long_runs() -> None:
    model, loss = _walker()
    stopper = EarlyStopping(lambda: -float(model.weight))
    train(model, 1, loss, epochs=500, batch_size=1, lr=1e-3, warmup=0.0, early_stop=stopper)
    assert len(stopper.losses) <= 50 and stopper.checked[-1] == 500


def test_seeded_loss_repeats_its_noise_and_leaves_the_stream_alone() -> None:
    torch.manual_seed(0)
    noisy = seeded(lambda: float(torch.rand(())), seed=5)
    first = noisy()
    after = torch.rand(())
    torch.manual_seed(0)
    assert noisy() == first == noisy()
    assert torch.rand(()) == after


TEXTS = [text for _, _, text in make_docs(per_topic=80)]  # 240 texts: enough for a held-out slice


def test_text_early_stopping_reports_what_it_did() -> None:
    enc = TextAutoencoder(dim=4, hidden=(16,), early_stop=True, min_steps=60, teacher="none", progress=False)
    enc.fit(TEXTS)
    info = enc.training_info()
    assert "held-out loss" in info["early stopping"]
    assert "of 216 texts" in info["budget"]  # 24 of 240 held out
    assert enc.encode(TEXTS).shape == (len(TEXTS), 4)


def test_explicit_epochs_are_never_cut_short() -> None:
    enc = TextAutoencoder(dim=4, hidden=(16,), epochs=2, early_stop=True, teacher="none", progress=False)
    enc.fit(TEXTS)
    assert enc.training_info()["epochs"] == 2
    assert enc.training_info()["early stopping"] == "off: --epochs is exact"


def test_small_image_sets_train_on_every_image() -> None:
    images = [img for _, img in make_images(per_class=10)]
    enc = ConvImageAutoencoder(dim=8, channels=(4, 8, 8), early_stop=True, min_steps=4, progress=False)
    enc.fit(images)
    assert enc.training_info()["early stopping"].startswith(f"off: under {MIN_FIT_ITEMS}")


@pytest.mark.slow
def test_image_early_stopping_holds_out_a_slice() -> None:
    images = [img for _, img in make_images(per_class=80)]  # 240 images
    enc = ConvImageAutoencoder(dim=8, channels=(4, 8, 8), early_stop=True, min_steps=8, progress=False)
    enc.fit(images)
    info = enc.training_info()
    assert "216 training images" in info["budget"] and "held-out loss" in info["early stopping"]
