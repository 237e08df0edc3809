"""The graph part of image codes (retrieval/encoders/graph_part.py) and the rule that chooses it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.defaults import GRAPH_ANCHORS, GRAPH_DIMS, GRAPH_WEIGHT
from retrieval.encoders import create_encoder, load_encoder
from retrieval.encoders.graph_part import anchor_sample, choose_graph_part, fit_graph_part, nearest
from retrieval.encoders.pixel_part import unit_rows
from tests.test_pixel_part import FAST, aligned_images


def rings(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two rings of ``n`` points each at close elevations: a point's nearest cosines straddle both rings, while
    each ring is a chain of near neighbours the graph follows round."""
    rng = np.random.default_rng(seed)
    angle, radius = rng.uniform(0, 2 * np.pi, 2 * n), np.r_[np.full(n, 1.0), np.full(n, 1.25)]
    points = np.c_[radius * np.cos(angle), radius * np.sin(angle), np.full(2 * n, 2.0), rng.normal(0, 0.01, (2 * n, 3))]
    return points.astype(np.float32), np.r_[np.zeros(n), np.ones(n)]


def precision_at_10(db: np.ndarray, labels: np.ndarray, queries: np.ndarray, query_labels: np.ndarray,
                    leave_out: bool) -> float:  # fmt: skip
    idx, _ = nearest(queries, db, 11)
    idx = idx[:, 1:] if leave_out else idx[:, :10]
    return float((labels[idx] == query_labels[:, None]).mean())


def test_the_graph_follows_what_cosine_neighbours_mix() -> None:
    codes, labels = rings(150, 0)
    queries, query_labels = rings(50, 1)  # new points, placed from their nearest anchors
    part = fit_graph_part(codes, 1.0, dim=4)
    assert precision_at_10(codes, labels, codes, labels, True) < 0.6
    placed = part.place(codes)
    assert precision_at_10(placed, labels, placed, labels, True) > 0.95
    assert precision_at_10(placed, labels, part.place(queries), query_labels, False) > 0.95
    joined = part.join(codes)
    assert precision_at_10(joined, labels, part.join(queries), query_labels, False) > 0.9


def test_join_is_the_unit_code_then_the_weighted_unit_place() -> None:
    codes, _ = rings(100, 2)
    part = fit_graph_part(codes, 0.6, dim=5)
    joined = part.join(codes)
    assert joined.shape == (200, 6 + 5) and joined.dtype == np.float32
    np.testing.assert_allclose(joined[:, :6], unit_rows(codes), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(joined[:, 6:], axis=1), 0.6, atol=1e-5)
    assert part.anchors.dtype == np.float16  # the anchors are kept as half floats


def test_fit_is_reproducible_and_small_sets_use_the_dense_solver() -> None:
    codes, _ = rings(100, 3)  # 200 anchors: under DENSE_UNDER
    a, b = fit_graph_part(codes, 1.0), fit_graph_part(codes, 1.0)
    np.testing.assert_array_equal(a.place(codes), b.place(codes))
    assert fit_graph_part(codes, 1.0, dim=12).width == 12
    assert fit_graph_part(codes[:10], 1.0, dim=16).width == 8  # at most the anchors less two


def clusters(kinds: int, seed: int = 0) -> np.ndarray:
    """``kinds`` tight, well-separated clusters of 6 points: with 5 neighbours each cluster is a complete part of
    the graph, apart from the others."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(kinds, 32))
    return (np.repeat(centres, 6, axis=0) + rng.normal(0, 0.01, (kinds * 6, 32))).astype(np.float32)


def test_eigenvectors_kept_follow_the_kinds_of_image() -> None:
    part = fit_graph_part(clusters(20), 1.0)
    assert part.width == 19  # one eigenvalue of 1 for each part beyond the trivial one
    assert part.note == "19 eigenvectors: 19 have an eigenvalue over 0.97 (kept within 8 to 64)"


def test_eigenvectors_kept_stay_within_bounds() -> None:
    assert fit_graph_part(clusters(3), 1.0).width == GRAPH_DIMS[0]  # few kinds: the floor
    assert fit_graph_part(clusters(70), 1.0).width == GRAPH_DIMS[1]  # many (420 anchors: ARPACK): the cap


def test_the_anchors_are_capped() -> None:
    assert len(anchor_sample(50)) == 50
    sample = anchor_sample(GRAPH_ANCHORS + 500, seed=1)
    assert len(sample) == GRAPH_ANCHORS and len(set(sample)) == GRAPH_ANCHORS and (np.diff(sample) > 0).all()


def test_rule() -> None:
    assert choose_graph_part(None, True, False, 100)[0] == GRAPH_WEIGHT
    weight, why = choose_graph_part(None, False, False, 100)
    assert weight == 0 and why == "none: only with a pixel part (aligned sets)"
    assert choose_graph_part(None, True, True, 100) == (0.0, "none: binary codes")
    assert choose_graph_part(0.5, False, False, 100)[0] == 0.5
    assert choose_graph_part(0.0, True, False, 100) == (0.0, "none (asked)")
    assert choose_graph_part(None, True, False, 5)[1].startswith("none: 5 fit images are too few")


def test_conv_ae_on_an_aligned_set_keeps_a_graph_part(tmp_path: Path) -> None:
    images = aligned_images()
    enc = create_encoder("conv-ae", pixel_dim=6, **FAST)
    enc.fit(images)
    codes = enc.encode(images)
    width = enc.graph_.width
    assert GRAPH_DIMS[0] <= width <= GRAPH_DIMS[1]
    assert enc.dim == 8 + 6 + width and codes.shape == (60, 8 + 6 + width)
    assert "nearest-neighbour graph (60 anchors), weight 1" in enc.training_["graph part"]
    assert enc.training_["graph part"].endswith(enc.graph_.note) and f"{width} eigenvectors" in enc.graph_.note
    np.testing.assert_allclose(np.linalg.norm(codes[:, 14:], axis=1), GRAPH_WEIGHT, atol=1e-5)
    enc.save(tmp_path / "enc")
    again = load_encoder(tmp_path / "enc")
    assert again.dim == enc.dim
    np.testing.assert_allclose(again.encode(images[:5]), codes[:5], atol=1e-5)
    assert again.graph_.note == enc.graph_.note


@pytest.mark.parametrize("options", [{"graph_part": 0.0}, {"pixel_part": 0.0}, {"bits": 16}])
def test_no_graph_part_where_asked_off_without_pixels_or_binary(options: dict) -> None:
    enc = create_encoder("conv-ae", pixel_dim=6, **{**FAST, **options})
    enc.fit(aligned_images())
    assert enc.graph_ is None and enc.training_["graph part"].startswith("none")


def test_asked_for_without_a_pixel_part() -> None:
    enc = create_encoder("conv-ae", pixel_part=0.0, graph_part=0.5, **FAST)
    enc.fit(aligned_images())
    assert enc.graph_ is not None and enc.dim == 8 + enc.graph_.width
    np.testing.assert_allclose(np.linalg.norm(enc.encode(aligned_images(4, seed=9))[:, 8:], axis=1), 0.5, atol=1e-5)


def test_fitting_again_gives_the_codes_of_a_first_fit() -> None:
    images = aligned_images()
    once = create_encoder("conv-ae", pixel_dim=6, **FAST)
    once.fit(images)
    twice = create_encoder("conv-ae", pixel_dim=6, **FAST)
    twice.fit(aligned_images(seed=5))
    twice.fit(images)  # the first fit's pixel and graph parts must not leak into the second's centring or anchors
    np.testing.assert_allclose(twice.encode(images), once.encode(images), atol=1e-5)
