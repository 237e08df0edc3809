"""The geometric head (``transforms=geometric``): GEOM's 72 transformations, the head trained to tell them apart
and its score, through a collection."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import retrieval
from cli.main import main
from retrieval.collection.outliers import AUTO, describe_score, outlier_scores, resolve_score, score_items
from retrieval.errors import InvalidParameterError
from retrieval.nn.orientation import Transform, apply_transform, transform_batch, transform_set
from retrieval.sources import ImageItem

FAST = {"dim": 16, "channels": (8, 16), "orientation": 1.0, "transforms": "geometric", "epochs": 30,
        "batch_size": 32, "contrastive": 0.0, "progress": False}  # fmt: skip


def framed(n: int, seed: int) -> np.ndarray:
    """Images with a way up and a place: a bright sky over dark ground, a bright block at the top left."""
    rng = np.random.default_rng(seed)
    out = rng.integers(0, 40, size=(n, 32, 32, 3)).astype(np.int16)
    for img, horizon in zip(out, rng.integers(12, 20, n)):
        img[:horizon] += 120
        img[2:10, 2:8, 0] = 255
    return np.clip(out, 0, 255).astype(np.uint8)


def noise(n: int, seed: int) -> np.ndarray:
    """A clearly different class: uniform noise, with no way up and no frame."""
    return np.random.default_rng(seed).integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)


def test_the_72_transformations_are_distinct_and_as_specified():
    transforms = transform_set("geometric")
    assert len(transforms) == len(set(transforms)) == 72
    assert transforms[0] == Transform(False, 0, 0, 0)
    x = torch.rand(1, 3, 16, 16)
    outs = [apply_transform(x, t) for t in transforms]
    assert len({o.numpy().tobytes() for o in outs}) == 72
    shift = 16 // 4
    for t, out in zip(transforms, outs):
        back = torch.rot90(out, -t.turns, (2, 3))  # undo the turn: the flipped image, shifted
        source = x.flip(3) if t.flip else x
        dy, dx = t.dy * shift, t.dx * shift
        # the pixels the shift keeps sit dx right and dy down of where they were
        kept = source[..., max(0, -dy) : 16 - max(0, dy), max(0, -dx) : 16 - max(0, dx)]
        moved = back[..., max(0, dy) : 16 - max(0, -dy), max(0, dx) : 16 - max(0, -dx)]
        assert torch.equal(kept, moved), t
        if not (t.dx or t.dy):  # flips and turns alone lose nothing: undone, the image itself
            assert torch.equal(back.flip(3) if t.flip else back, x)
    which = torch.tensor([0, 5, 71, 40])
    batch = transform_batch(x.repeat(4, 1, 1, 1), which, transforms)
    for row, j in enumerate(which.tolist()):
        assert torch.equal(batch[row : row + 1], outs[j])
    with pytest.raises(ValueError, match="geometric"):
        transform_set("affine")


@pytest.fixture(scope="module")
def encoder() -> retrieval.Encoder:
    return retrieval.create_encoder("conv-ae", **FAST).fit(framed(64, seed=1))


def test_the_score_ranks_the_trained_on_class_below_a_different_one(encoder):
    scores = encoder.orientation_errors(np.concatenate([framed(8, seed=2), noise(8, seed=3)]))
    assert scores[8:].min() > scores[:8].max()
    assert scores[:8].max() < 0.75 * np.log(72)  # the head learned them: well under chance's cross-entropy
    assert "72" in encoder.training_info()["orientation"]


def test_a_collection_built_with_it_gives_geometric_outlier_scores(encoder, tmp_path):
    items = [ImageItem(id=f"n-{i}", pixels=p) for i, p in enumerate(framed(20, seed=4))]
    items += [ImageItem(id=f"odd-{i}", pixels=p) for i, p in enumerate(noise(2, seed=5))]
    with retrieval.Collection.create(tmp_path / "g.aer", encoder, device="cpu") as col:
        col.add(items)
    with retrieval.open(tmp_path / "g.aer", device="cpu") as col:
        assert resolve_score(col, AUTO) == "orientation"
        assert "72 geometric transformations" in describe_score(col, AUTO)
        scores = outlier_scores(col)
        assert min(scores["odd-0"], scores["odd-1"]) > max(v for k, v in scores.items() if k.startswith("n-"))
        assert {h.id for h in col.outliers(2)} == {"odd-0", "odd-1"}
        new = score_items(col, [*framed(3, seed=6), *noise(3, seed=7)])
        assert new[3:].min() > new[:3].max()
        direct = col.encoder.orientation_errors(np.stack([*framed(3, seed=6), *noise(3, seed=7)]))
        np.testing.assert_allclose(new, direct, rtol=1e-5)
    out = CliRunner().invoke(main, ["outliers", str(tmp_path / "g.aer"), "-k", "2"])
    assert out.exit_code == 0, out.output
    assert out.output.startswith("score: orientation (") and "72 geometric transformations" in out.output
    assert "odd-0" in out.output and "odd-1" in out.output and "n-0" not in out.output


def test_an_unknown_transformation_set_is_refused():
    with pytest.raises(InvalidParameterError, match="transforms"):
        retrieval.create_encoder("conv-ae", **{**FAST, "transforms": "affine"}).fit(framed(8, seed=1))


def test_the_dense_autoencoder_scores_with_the_head_too():
    """The dense model takes flattened pixels: the score transforms the images before they are flattened."""
    options = {k: v for k, v in FAST.items() if k != "channels"}
    dense = retrieval.create_encoder("dense-ae", **options, hidden=(64,)).fit(framed(32, seed=1))
    scores = dense.orientation_errors(np.concatenate([framed(4, seed=2), noise(4, seed=3)]))
    assert scores.shape == (8,) and np.isfinite(scores).all()
