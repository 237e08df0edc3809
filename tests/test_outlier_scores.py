"""Outlier scores from the code space (``retrieval.collection.outliers``) and ``aer outliers --score``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import retrieval
from cli.main import main
from indexers import hamming_distances
from retrieval.errors import CollectionError, InvalidParameterError
from retrieval.collection.outliers import (
    SCORES,
    check_score,
    knn_distances,
    knn_scores,
    outlier_scores,
    score_items,
    stored_codes,
    top_outliers,
)
from retrieval.sources import ImageItem

from .conftest import make_images

PCA_SCORES = ("reconstruction", "knn", "combined")  # every score but orientation (image autoencoders only)
PLANTED = 3  # outliers planted among the normal images: fewer than k, so they cannot be each other's k-th


def planted_items(per_class: int = 15) -> list[ImageItem]:
    """Red and green images (the normal ones) and ``PLANTED`` striped ones (the outlier cluster)."""
    images = make_images(per_class=per_class, seed=3)
    normal = [(lab, img) for lab, img in images if lab != "stripes"]
    odd = [(lab, img) for lab, img in images if lab == "stripes"][:PLANTED]
    return [ImageItem(id=f"{lab}-{i}", pixels=img, label=lab) for i, (lab, img) in enumerate(normal + odd)]


def build(tmp_path, name: str, **options) -> retrieval.Collection:
    items = planted_items()
    normal = np.stack([i.pixels for i in items if i.label != "stripes"])  # the model never saw the outliers
    encoder = retrieval.create_encoder(name, **options).fit(normal)
    col = retrieval.Collection.create(tmp_path / f"{name}.aer", encoder, device="cpu")
    col.add(items)
    return col


@pytest.mark.parametrize(
    ("name", "options", "scores"),
    [
        ("fake-image", {"dim": 32}, ["knn"]),  # l2 floats, no reconstruction
        ("fake-image", {"bits": 64}, ["knn"]),  # binary codes: Hamming distance
        ("pca", {"dim": 4}, ["knn", "reconstruction", "combined"]),
    ],
)
def test_planted_outliers_rank_top(tmp_path, name, options, scores):
    with build(tmp_path, name, **options) as col:
        for score in scores:
            top = top_outliers(col, PLANTED, score=score, k=5)
            assert {h.label for h in top} == {"stripes"}, score
            assert [h.score for h in top] == sorted((h.score for h in top), reverse=True)
            by_id = outlier_scores(col, score)
            assert len(by_id) == len(col) and {h.id for h in top} <= set(by_id)


@pytest.mark.parametrize("options", [{"dim": 16}, {"bits": 64}])
def test_knn_scores_match_brute_force_and_leave_the_item_out(tmp_path, options):
    with build(tmp_path, "fake-image", **options) as col:
        keys, codes = stored_codes(col)
        if "bits" in options:
            dist = hamming_distances(codes, codes).astype(np.float64)
        else:
            dist = np.linalg.norm(codes[:, None] - codes[None], axis=-1)
        np.fill_diagonal(dist, np.inf)  # the item itself is left out
        for k in (1, 5):
            expected = np.sort(dist, axis=1)[:, k - 1]
            np.testing.assert_allclose(knn_distances(col, codes, k, own_keys=keys), expected, rtol=1e-4, atol=1e-4)
        assert min(knn_scores(col, k=1).values()) > 0  # nobody is its own nearest neighbour
        # a new item is searched against every stored code: a copy of a stored one is at distance 0
        assert knn_distances(col, codes[:1], 1)[0] == pytest.approx(0, abs=1e-4)


def test_new_items_are_scored_against_the_stored_ones(tmp_path):
    fresh = [img for lab, img in make_images(per_class=4, seed=9)]  # 4 red, 4 green, 4 striped
    with build(tmp_path, "pca", dim=4) as col:
        for score in PCA_SCORES:
            new = score_items(col, fresh, score=score)
            assert new.shape == (12,)
            assert new[8:].min() > new[:8].max(), score  # the striped ones score highest
        stored = outlier_scores(col, "combined")
        assert np.mean(list(stored.values())) == pytest.approx(0, abs=1e-9)  # z-scores of the reference itself


def test_scores_that_need_reconstruction_are_refused_without_it(tmp_path):
    with build(tmp_path, "fake-image", dim=8) as col:
        assert len(knn_scores(col)) == len(col)
        for score in ("reconstruction", "combined"):
            with pytest.raises(CollectionError, match="does not reconstruct"):
                outlier_scores(col, score)
            with pytest.raises(CollectionError, match="does not reconstruct"):
                score_items(col, [planted_items()[0]], score=score)


def test_bad_choices_name_the_choices():
    with pytest.raises(InvalidParameterError, match="'auto', 'reconstruction', 'knn', 'combined', 'orientation'. Got 'density'"):
        check_score("density")
    with pytest.raises(InvalidParameterError, match="'k' parameter"):
        knn_distances(None, np.zeros((1, 2)), 0)  # type: ignore[arg-type]


def test_cli_score_option(tmp_path):
    build(tmp_path, "pca", dim=4).close()
    path = str(tmp_path / "pca.aer")
    runner = CliRunner()
    for score in PCA_SCORES:
        out = runner.invoke(main, ["outliers", path, "-k", str(PLANTED), "--score", score])
        assert out.exit_code == 0, out.output
        assert out.output.startswith(f"score: {score} (") and out.output.count("[stripes]") == PLANTED
    out = runner.invoke(main, ["outliers", path, "-k", "2", "--json", "--neighbours", "3"])
    rows = json.loads(out.output)
    assert out.exit_code == 0 and len(rows) == 2 and {r["score_kind"] for r in rows} == {"knn"}
    out = runner.invoke(main, ["outliers", path, "--score", "density"])
    assert out.exit_code == 2 and all(s in out.output for s in SCORES)


def test_cli_lists_outliers_for_encoders_that_do_not_reconstruct(tmp_path):
    build(tmp_path, "fake-image", bits=64).close()
    path = str(tmp_path / "fake-image.aer")
    out = CliRunner().invoke(main, ["outliers", path, "-k", str(PLANTED)])
    assert out.exit_code == 0 and "score: knn" in out.output and "Hamming" in out.output
    out = CliRunner().invoke(main, ["outliers", path, "--score", "reconstruction"])
    assert out.exit_code == 1 and "does not reconstruct" in out.output
