"""Image training adapts to the images, label-free: crops and mirrors that keep a picture like the set's, and a width for its size."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.encoders import create_encoder, load_encoder
from retrieval.defaults import NARROW_CHANNELS, WIDE_CHANNELS, WIDE_FROM, conv_channels
from retrieval.nn.augment import crop_ratio, mirror_ratio


def _scenes(n: int = 300, seed: int = 0) -> np.ndarray:
    """Smooth random 'photographs': low-frequency texture filling the frame, where a crop looks like another scene."""
    rng = np.random.default_rng(seed)
    small = rng.random((n, 4, 4, 3))
    big = small.repeat(8, axis=1).repeat(8, axis=2)
    return (big * 255).astype(np.uint8)


def _shapes(n: int = 300, seed: int = 0) -> np.ndarray:
    """Centred shapes on black: a crop cuts them apart, a mirror turns the asymmetric one into no member of the set."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, 32, 32, 3), np.uint8)
    for i in range(n):
        r = int(rng.integers(5, 8))
        out[i, 16 - r : 16 + r, 16 - r : 16 - r + 3] = 255  # an "L": a vertical bar ...
        out[i, 16 + r - 3 : 16 + r, 16 - r : 16 + r] = 255  # ... and a foot
    return out


def test_crops_of_centred_shapes_are_far_from_the_set_and_crops_of_scenes_are_not():
    shapes, scenes = _shapes(), _scenes()
    assert crop_ratio(shapes, 0.6) > crop_ratio(shapes, 0.9) > 1.2
    assert crop_ratio(scenes, 0.6) < 1.5
    assert mirror_ratio(shapes) > 1.25  # a mirrored L is no L


@pytest.mark.slow
def test_the_encoder_chooses_milder_crops_for_shapes_and_keeps_what_is_asked():
    opts = {"dim": 8, "channels": (4, 8), "epochs": 1, "batch_size": 64, "progress": False}
    shapes = create_encoder("conv-ae", **opts).fit(_shapes())
    scenes = create_encoder("conv-ae", **opts).fit(_scenes())
    assert scenes.training_info()["crops"].startswith("0.6 of each side")
    assert not shapes.training_info()["crops"].startswith("0.6 ")
    asked = create_encoder("conv-ae", **opts, crop=0.75).fit(_shapes())
    assert asked.training_info()["crops"] == "0.75 of each side (asked)"


def test_conv_width_follows_the_fit_set_size_unless_asked() -> None:
    assert conv_channels(WIDE_FROM - 1)[0] == NARROW_CHANNELS
    assert conv_channels(WIDE_FROM)[0] == WIDE_CHANNELS
    assert f"{WIDE_FROM:,}" in conv_channels(WIDE_FROM)[1]
    asked = create_encoder("conv-ae", dim=8, channels=(4, 8), epochs=1, batch_size=16, progress=False)
    asked.fit(list(_scenes(40)))
    assert asked.channels_ == (4, 8) and "channels" not in asked.training_info()


def test_a_chosen_width_is_saved_with_the_encoder(tmp_path) -> None:
    images = _scenes(40)
    enc = create_encoder("conv-ae", dim=8, epochs=1, batch_size=16, progress=False).fit(list(images))
    assert enc.channels is None and enc.channels_ == NARROW_CHANNELS
    assert enc.training_info()["channels"].startswith("16-32-64: 40 fit images, under")
    assert "channels=16-32-64" in enc.describe()
    enc.save(tmp_path / "enc")
    back = load_encoder(tmp_path / "enc")
    assert back.channels_ == NARROW_CHANNELS
    np.testing.assert_allclose(back.encode(list(images)), enc.encode(list(images)), atol=1e-5)
