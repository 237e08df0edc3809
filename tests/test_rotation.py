"""Bits by a learned rotation of the real-valued code (ITQ): the rotation itself, the encoders that use it, old
collections whose bits came from a binary layer, and two-stage codes that share one network."""

from __future__ import annotations

import json

import numpy as np
import pytest

from indexers import unpack_bits
from retrieval.encoders import create_encoder, load_encoder
from retrieval.encoders.rotation import learn_rotation, rotated_bits

from .conftest import FAST_AE, make_images


def _clustered(n: int = 600, d: int = 16, clusters: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, d)) * 3
    labels = rng.integers(0, clusters, n)
    return (centres[labels] + rng.standard_normal((n, d)) + 5).astype(np.float32), labels  # off-centre on purpose


def _neighbour_agreement(bits: np.ndarray, labels: np.ndarray) -> float:
    dist = (bits[:, None, :] != bits[None, :, :]).sum(2) + np.eye(len(bits)) * 1e9
    nearest = np.argsort(dist, axis=1, kind="stable")[:, :5]
    return float((labels[nearest] == labels[:, None]).mean())


@pytest.mark.parametrize("bits", [8, 16, 48])
def test_rotation_is_orthonormal_balanced_and_keeps_neighbourhoods(bits):
    x, labels = _clustered()
    mean, projection = learn_rotation(x, bits, seed=0)
    assert projection.shape == (16, bits)
    gram = projection.T @ projection if bits <= 16 else projection @ projection.T
    np.testing.assert_allclose(gram, np.eye(min(bits, 16)), atol=1e-4)
    b = rotated_bits(x, mean, projection)
    assert b.shape == (len(x), bits) and 0.2 < b.mean() < 0.8  # centred: no bit is always on
    rng = np.random.default_rng(1)
    random_signs = (x - x.mean(0)) @ rng.standard_normal((16, bits)) >= 0
    assert _neighbour_agreement(b, labels) >= _neighbour_agreement(random_signs, labels)
    uncentred = x @ projection >= 0  # what signs of the raw, off-centre codes would give
    assert _neighbour_agreement(b, labels) > _neighbour_agreement(uncentred, labels)


def test_rotation_is_reproducible_and_quantises_better_than_its_start():
    x, _ = _clustered(d=12)
    a, b = learn_rotation(x, 12, seed=3), learn_rotation(x, 12, seed=3)
    np.testing.assert_array_equal(a[1], b[1])
    v = x - x.mean(0)
    v /= np.linalg.norm(v, axis=1, keepdims=True)

    def loss(p: np.ndarray) -> float:
        return float(np.square(np.where(v @ p >= 0, 1.0, -1.0) - v @ p).sum())

    assert loss(learn_rotation(x, 12, seed=3)[1]) < loss(learn_rotation(x, 12, iterations=0, seed=3)[1])


def test_text_bits_by_rotation_round_trip_and_use_the_float_width(docs, tmp_path):
    texts = [t for _, _, t in docs]
    enc = create_encoder("ae", **{**FAST_AE, "epochs": 60}, bits=24).fit(texts)
    assert enc.binarise == "rotation" and enc.rotation_.shape == (8, 24)  # FAST_AE's dim=8 floats, 24 bits
    assert "24 bits by a learned rotation of 8 floats" in enc.training_info()["bits"]
    codes = enc.encode(texts)
    assert codes.shape == (len(texts), 3)
    enc.save(tmp_path / "e")
    again = load_encoder(tmp_path / "e", device="cpu")
    np.testing.assert_array_equal(again.encode(texts), codes)
    np.testing.assert_array_equal(again.encode_queries(texts[:2]), codes[:2])  # the one-query NumPy path too


def test_image_bits_by_rotation_round_trip():
    images = np.stack([img for _, img in make_images()])
    enc = create_encoder("conv-ae", dim=16, bits=32, channels=(8, 16), epochs=2, batch_size=16, progress=False)
    codes = enc.fit(images).encode(images)
    assert codes.shape == (len(images), 4) and enc.rotation_.shape == (16, 32)
    assert "→ 32 bits by rotation" in enc.describe()
    assert 0.1 < unpack_bits(codes, 32).mean() < 0.9


def test_a_binary_encoder_saved_before_the_option_still_uses_its_binary_layer(docs, tmp_path):
    texts = [t for _, _, t in docs]
    enc = create_encoder("ae", **{**FAST_AE, "epochs": 5}, bits=16, binarise="layer").fit(texts)
    enc.save(tmp_path / "e")
    config_file = tmp_path / "e" / "config.json"
    saved = json.loads(config_file.read_text())
    for key in ("binarise", "float_dim"):  # as collections built before them were saved
        del saved["config"][key]
    config_file.write_text(json.dumps(saved))
    old = load_encoder(tmp_path / "e", device="cpu")
    assert old.binarise == "layer" and old.describe().endswith("binary)")
    np.testing.assert_array_equal(old.encode(texts), enc.encode(texts))


def test_two_stage_codes_by_rotation_train_one_network(docs):
    texts = [t for _, _, t in docs]
    enc = create_encoder("ae", short_bits=8, bits=32, **{**FAST_AE, "epochs": 20}).fit(texts)
    assert enc.short.model_ is enc.long.model_
    assert enc.short.rotation_.shape == (8, 8) and enc.long.rotation_.shape == (8, 32)
    layered = create_encoder("ae", short_bits=8, bits=32, binarise="layer", **{**FAST_AE, "epochs": 2})
    layered.fit(texts)
    assert layered.short.model_ is not layered.long.model_


def test_binarise_is_checked():
    with pytest.raises(ValueError, match="'binarise' parameter"):
        create_encoder("ae", bits=16, binarise="median").fit(["a b c d", "b c d e"])
