"""``aer eval``: leave-one-out P@k of a collection and of the baselines on a source's own labels."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import retrieval
from cli.main import main
from retrieval.errors import CollectionError, InvalidParameterError, SourceError
from retrieval.eval.baselines import fit_baseline, ranked_leaving_out, ratios, score_baseline
from retrieval.eval.labels import evaluate_labels, sample_queries
from retrieval.eval.metrics import precision_by_label

from .conftest import make_images, make_wide_docs, write_corpus

TEXT_BASELINES = {"lsa-50", "tfidf", "bm25"}
IMAGE_BASELINES = {"pixels", "pca-64"}


@pytest.fixture
def text_source(tmp_path):
    return write_corpus(tmp_path / "texts", make_wide_docs())


@pytest.fixture
def image_source(tmp_path):
    """90 images in three class folders (enough for 64 principal components)."""
    from PIL import Image

    root = tmp_path / "images"
    for n, (label, img) in enumerate(make_images(per_class=30, seed=3)):
        (root / label).mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(root / label / f"{n:03d}.png")
    return root


def check_schema(result: dict, baselines: set[str], queries: int) -> None:
    assert set(result) == {"collection", "baselines", "queries"} and result["queries"] == queries
    assert set(result["collection"]) == {"p@10", "p@100", "ratio"}
    assert set(result["baselines"]) == baselines
    for score in [result["collection"], *result["baselines"].values()]:
        assert 0.0 <= score["p@10"] <= 1.0 and 0.0 <= score["p@100"] <= 1.0
    for score in result["baselines"].values():
        assert set(score) == {"p@10", "p@100"}


def test_eval_text_folder_json(tmp_path, text_source):
    retrieval.index_source(text_source, tmp_path / "t.aer", encoder="fake-text", dim=32)
    out = CliRunner().invoke(main, ["eval", str(tmp_path / "t.aer"), str(text_source), "--queries", "25", "--json"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.output)
    check_schema(result, TEXT_BASELINES, 25)
    assert result["baselines"]["tfidf"]["p@10"] > 0.9  # three topics with no word in common but the shared ones
    ratio = result["collection"]["ratio"]
    assert ratio["reference"] == {"p@10": "lsa-50", "p@100": "lsa-50"}
    assert ratio["p@10"] == pytest.approx(result["collection"]["p@10"] / result["baselines"]["lsa-50"]["p@10"])


def test_eval_text_prints_a_table(tmp_path, text_source):
    retrieval.index_source(text_source, tmp_path / "t.aer", encoder="fake-text", dim=32)
    out = CliRunner().invoke(main, ["eval", str(tmp_path / "t.aer"), str(text_source)])
    assert out.exit_code == 0, out.output
    assert "leave-one-out over 60 queries" in out.output  # fewer labelled items than --queries: all of them
    for name in ("collection (fake-text(dim=32))", "lsa-50", "tfidf", "bm25", "collection ÷ lsa-50 on P@10:"):
        assert name in out.output


@pytest.mark.slow
def test_eval_image_folder(tmp_path, image_source):
    retrieval.index_source(image_source, tmp_path / "i.aer", encoder="fake-image", dim=16)
    result = evaluate_labels(tmp_path / "i.aer", image_source, queries=40, seed=1)
    check_schema(result, IMAGE_BASELINES, 40)
    assert result["baselines"]["pixels"]["p@10"] > 0.9  # the synthetic classes are far apart in pixel space
    assert result["collection"]["ratio"]["reference"]["p@10"] in IMAGE_BASELINES
    assert evaluate_labels(tmp_path / "i.aer", image_source, queries=40, seed=1) == result  # seeded


@pytest.mark.parametrize(("encoder", "options", "baseline"), [("lsa", {"dim": 50}, "lsa-50"), ("pixels", {}, "pixels")])
def test_the_collection_and_its_baseline_agree_when_they_are_the_same_model(
    tmp_path, text_source, image_source, encoder, options, baseline
):
    source = text_source if encoder == "lsa" else image_source
    retrieval.index_source(source, tmp_path / "same.aer", encoder=encoder, **options)
    result = evaluate_labels(tmp_path / "same.aer", source, queries=30)
    mine = result["collection"]
    assert (mine["p@10"], mine["p@100"]) == pytest.approx(tuple(result["baselines"][baseline].values()))


def test_unlabelled_source_is_refused_cleanly(tmp_path, docs):
    flat = tmp_path / "flat"
    flat.mkdir()
    for item_id, _, text in docs:
        (flat / f"{item_id}.txt").write_text(text)
    retrieval.index_source(flat, tmp_path / "f.aer", encoder="fake-text")
    out = CliRunner().invoke(main, ["eval", str(tmp_path / "f.aer"), str(flat), "--json"])
    assert out.exit_code == 1 and "Traceback" not in out.output
    assert "has a label" in out.output and "labelled items" in out.output


def test_one_label_missing_items_and_wrong_modality_are_refused(tmp_path, docs, image_source):
    one = write_corpus(tmp_path / "one", [(i, "same", t) for i, _, t in docs])
    retrieval.index_source(one, tmp_path / "one.aer", encoder="fake-text")
    with pytest.raises(SourceError, match="at least two labels"):
        evaluate_labels(tmp_path / "one.aer", one)
    part = write_corpus(tmp_path / "part", docs[:20])
    retrieval.index_source(part, tmp_path / "part.aer", encoder="fake-text")
    whole = write_corpus(tmp_path / "whole", docs)
    with pytest.raises(CollectionError, match="16 of the 36 items"):
        evaluate_labels(tmp_path / "part.aer", whole)
    with pytest.raises(CollectionError, match="image source"):
        evaluate_labels(tmp_path / "part.aer", image_source)
    with pytest.raises(InvalidParameterError, match="'queries'"):
        evaluate_labels(tmp_path / "part.aer", part, queries=0)


def test_leave_one_out_never_ranks_the_query_itself():
    images = np.stack([img for _, img in make_images(per_class=5)])
    ranker = fit_baseline("pixels", images)
    own = np.array([0, 7, 14])
    ranked = ranked_leaving_out(ranker, images, own, k=10)
    assert ranked.shape == (3, 10) and not (ranked == own[:, None]).any()
    labels = [lab for lab, _ in make_images(per_class=5)]
    score = score_baseline("pixels", images, labels, leave_out=own, ks=(4, 20))
    assert score.precision["p@4"] == 1.0  # each class's other 4 images come first
    assert score.precision["p@20"] == pytest.approx(4 / 20)  # 15 images: 14 ranked, 4 of them relevant


def test_a_baseline_that_cannot_be_fitted_is_reported_not_raised():
    images = np.stack([img for _, img in make_images(per_class=5)])
    score = score_baseline("pca-64", images, ["a"] * 15, leave_out=np.array([0]))
    assert score.precision == {"p@10": None, "p@100": None} and "64" in score.error
    assert ratios({"p@10": 0.5, "p@100": 0.2}, {"pca-64": score.as_dict()}, ["pca-64"])["p@10"] is None


def test_precision_by_label_and_query_sample():
    p = precision_by_label(["a", "b"], [["a", None, "b", "a"], ["b"]], ks=(2, 4))
    assert p == {"p@2": pytest.approx((0.5 + 0.5) / 2), "p@4": pytest.approx((0.5 + 0.25) / 2)}
    labels = ["x", None, "y", "x", None, "y"]
    assert sample_queries(labels, 10).tolist() == [0, 2, 3, 5]
    pick = sample_queries(labels, 2, seed=4)
    assert len(pick) == 2 and all(labels[i] is not None for i in pick) and (pick == sample_queries(labels, 2, 4)).all()
