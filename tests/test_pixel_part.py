"""The pixel part of image codes (retrieval/encoders/pixel_part.py) and the rule that chooses it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.defaults import ALIGNED_FROM, PIXEL_WEIGHT
from retrieval.encoders import create_encoder, load_encoder
from retrieval.encoders.pixel_part import choose_pixel_part, fit_pixel_part, unit_rows

FAST = {"dim": 8, "channels": (4, 8), "epochs": 1, "batch_size": 32, "progress": False, "device": "cpu"}


def aligned_images(n: int = 60, seed: int = 0) -> np.ndarray:
    """Centred bright squares of a few sizes on black: crops cut them apart (an aligned set)."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 32, 32, 3), np.uint8)
    for i in range(n):
        half = int(rng.integers(4, 12))
        images[i, 16 - half : 16 + half, 16 - half : 16 + half] = rng.integers(120, 256)
    return images


def test_rule_reads_alignment_and_bits() -> None:
    assert choose_pixel_part(None, 32, False, lambda: ALIGNED_FROM + 0.5)[0] == PIXEL_WEIGHT
    weight, why = choose_pixel_part(None, 32, False, lambda: ALIGNED_FROM - 0.5)
    assert weight == 0 and why.startswith("none") and "not an aligned set" in why

    def never() -> float:
        raise AssertionError("the ratio is not needed")

    assert choose_pixel_part(None, 32, True, never) == (0.0, "none: binary codes")
    assert choose_pixel_part(0.5, 32, False, never)[0] == 0.5
    assert choose_pixel_part(0.0, 32, False, never) == (0.0, "none (asked)")


def test_join_blends_the_two_cosines() -> None:
    images = aligned_images(40)
    rng = np.random.default_rng(1)
    codes = rng.normal(size=(40, 8)).astype(np.float32)
    part = fit_pixel_part(images, 6, 0.7)
    joined = part.join(codes, images)
    assert joined.shape == (40, 14)
    cos = lambda a: unit_rows(a) @ unit_rows(a).T  # noqa: E731
    blended = (cos(codes) + 0.7**2 * cos(part.project(images))) / (1 + 0.7**2)
    np.testing.assert_allclose(cos(joined), blended, atol=1e-5)


def test_part_is_capped_by_the_fit_set() -> None:
    assert fit_pixel_part(aligned_images(10), 32, 1.0).width == 9


def test_conv_ae_on_an_aligned_set_keeps_a_pixel_part(tmp_path: Path) -> None:
    images = aligned_images()
    enc = create_encoder("conv-ae", pixel_dim=6, graph_part=0.0, **FAST)  # the graph part: tests/test_graph_part.py
    enc.fit(images)
    codes = enc.encode(images)
    assert enc.dim == 8 + 6 and codes.shape == (60, 14)
    assert "6 principal components of the pixels" in enc.training_["pixel part"]
    np.testing.assert_allclose(np.linalg.norm(codes[:, :8], axis=1), 1, atol=1e-5)
    enc.save(tmp_path / "enc")
    again = load_encoder(tmp_path / "enc")
    assert again.dim == 14
    np.testing.assert_allclose(again.encode(images[:5]), codes[:5], atol=1e-5)


@pytest.mark.parametrize("options", [{"pixel_part": 0.0}, {"bits": 16}])
def test_no_part_where_asked_off_or_binary(options: dict) -> None:
    enc = create_encoder("conv-ae", **{**FAST, **options})
    enc.fit(aligned_images())
    assert enc.part_ is None and enc.training_["pixel part"].startswith("none")
    assert enc.dim == options.get("bits", 8)  # bits: 16, packed in 2 bytes
    assert enc.encode(aligned_images(3)).shape[1] == (2 if "bits" in options else 8)


def test_photographs_get_no_part() -> None:
    noise = np.random.default_rng(0).integers(0, 256, size=(60, 32, 32, 3), dtype=np.uint8)
    enc = create_encoder("conv-ae", **FAST)
    enc.fit(noise)
    assert enc.part_ is None and "not an aligned set" in enc.training_["pixel part"] and enc.dim == 8
