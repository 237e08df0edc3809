"""The orientation head and its outlier score: an image autoencoder trained (``orientation`` > 0) to tell which
quarter-turn each training image was given scores images it cannot orient as unlike the stored ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import retrieval
from cli.main import main
from retrieval.errors import CollectionError
from retrieval.nn.orientation import TURNS, random_turns, turn
from retrieval.collection.outliers import AUTO, describe_score, outlier_scores, resolve_score, score_items, top_outliers
from retrieval.sources import ImageItem

PLANTED = 3
OPTIONS = {"dim": 16, "channels": (8, 16), "orientation": 1.0, "epochs": 40, "batch_size": 32, "progress": False}


def upright(n: int, seed: int) -> np.ndarray:
    """Images whose content has a way up: a bright sky over dark ground at a random horizon, with noise."""
    rng = np.random.default_rng(seed)
    out = rng.integers(0, 50, size=(n, 32, 32, 3)).astype(np.int16)
    for img, horizon in zip(out, rng.integers(10, 22, n)):
        img[:horizon] += 180
    return np.clip(out, 0, 255).astype(np.uint8)


def items() -> list[ImageItem]:
    """40 upright images and ``PLANTED`` upright ones on their side (the outliers)."""
    normal = upright(40, seed=1)
    odd = np.rot90(upright(PLANTED, seed=2), 1, axes=(1, 2))
    return [ImageItem(id=f"up-{i}", pixels=p, label="upright") for i, p in enumerate(normal)] + [
        ImageItem(id=f"side-{i}", pixels=np.ascontiguousarray(p), label="side") for i, p in enumerate(odd)
    ]


@pytest.fixture(scope="module")
def collection(tmp_path_factory) -> retrieval.Collection:
    encoder = retrieval.create_encoder("conv-ae", **OPTIONS).fit(upright(40, seed=1))
    col = retrieval.Collection.create(tmp_path_factory.mktemp("o") / "o.aer", encoder, device="cpu")
    col.add(items())
    col.close()
    return col


def test_turn_matches_rot90_image_by_image():
    x = torch.rand(6, 3, 8, 8)
    turns = torch.tensor([0, 1, 2, 3, 1, 0])
    turned = turn(x, turns)
    for i, t in enumerate(turns.tolist()):
        assert torch.equal(turned[i], torch.rot90(x[i], t, (1, 2)))
    drawn = random_turns(1000, torch.Generator().manual_seed(0), "cpu")
    assert set(drawn.tolist()) == set(range(TURNS))


def test_images_on_their_side_score_highest_stored_and_new(collection):
    with retrieval.open(collection.path, device="cpu") as col:
        assert resolve_score(col, AUTO) == "orientation"
        top = top_outliers(col, PLANTED, score="orientation")
        assert {h.label for h in top} == {"side"}
        assert top_outliers(col, PLANTED) == top  # the default (auto) is orientation here
        scores = outlier_scores(col, "orientation")
        assert len(scores) == len(col)
        fresh = np.concatenate([upright(5, seed=7), np.rot90(upright(5, seed=8), 3, axes=(1, 2))])
        new = score_items(col, list(fresh), score="orientation")
        assert new[5:].min() > new[:5].max()
        assert "quarter-turns" in describe_score(col, AUTO)


def test_the_score_survives_saving(collection, tmp_path):
    with retrieval.open(collection.path, device="cpu") as col:
        before = score_items(col, list(upright(4, seed=5)), score="orientation")
        col.encoder.save(tmp_path / "enc")
        loaded = retrieval.load_encoder(tmp_path / "enc")
        np.testing.assert_allclose(loaded.orientation_errors(upright(4, seed=5)), before, rtol=1e-5)
        assert loaded.mirrored_ == col.encoder.mirrored_


def test_cli_names_the_score_auto_chose(collection):
    out = CliRunner().invoke(main, ["outliers", str(collection.path), "-k", str(PLANTED)])
    assert out.exit_code == 0, out.output
    assert out.output.startswith("score: orientation (") and out.output.count("[side]") == PLANTED


def test_without_the_head_there_is_no_orientation_score_and_auto_is_knn(tmp_path):
    encoder = retrieval.create_encoder("conv-ae", **{**OPTIONS, "orientation": 0.0, "epochs": 1}).fit(upright(20, 1))
    assert encoder.orientation_errors(upright(2, 3)) is None
    with retrieval.Collection.create(tmp_path / "plain.aer", encoder, device="cpu") as col:
        col.add(items()[:20])
        assert resolve_score(col, AUTO) == "knn"
        with pytest.raises(CollectionError, match="orientation=1"):
            outlier_scores(col, "orientation")
        with pytest.raises(CollectionError, match="not trained to tell quarter-turns apart"):
            score_items(col, list(upright(2, 3)), score="orientation")
