"""Anomaly scores from reconstruction error, and pictures of what the decoder makes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import retrieval
from cli.main import main
from retrieval.errors import CollectionError
from retrieval.sources import Document, ImageItem

from .conftest import FAST_AE, make_images


def test_text_outliers_are_scored_at_ingest_and_listed(tmp_path, corpus_dir):
    path = tmp_path / "c.aer"
    retrieval.index_source(corpus_dir, path, **{**FAST_AE, "epochs": 80})
    col = retrieval.open(path, device="cpu")
    assert len(col.outlier_scores()) == 36
    odd = Document(id="odd", text="engine doctor orbit tire vitamin lunar clutch cancer rocket brake", label="mixed")
    report = col.add([odd, Document(id="plain", text="orbit shuttle launch rocket nasa moon orbit launch")])
    assert set(report.outlier_scores) == {"odd", "plain"}
    assert report.outlier_scores["odd"] > report.outlier_scores["plain"]
    assert report.outlier_scores["odd"] > np.median(list(col.outlier_scores("reconstruction").values()))
    top = col.outliers(5, score="reconstruction")
    assert [h.score for h in top] == sorted((h.score for h in top), reverse=True) and "odd" in {h.id for h in top}
    col.close()
    out = CliRunner().invoke(main, ["outliers", str(path), "-k", "3", "--json"])
    assert out.exit_code == 0 and len(json.loads(out.output)) == 3


def test_encoders_without_reconstruction_have_no_scores(tmp_path, corpus_dir):
    retrieval.index_source(corpus_dir, tmp_path / "t.aer", encoder="tfidf")
    with retrieval.open(tmp_path / "t.aer") as col, pytest.raises(CollectionError, match="does not reconstruct"):
        col.outlier_scores("reconstruction")
    out = CliRunner().invoke(main, ["outliers", str(tmp_path / "t.aer"), "--score", "reconstruction"])
    assert out.exit_code == 1 and "does not reconstruct" in out.output
    out = CliRunner().invoke(main, ["outliers", str(tmp_path / "t.aer"), "-k", "3"])  # kNN: every encoder has it
    assert out.exit_code == 0 and out.output.startswith("score: knn") and out.output.count("\n  ") >= 3


def test_image_outliers_reconstructions_and_lattice(tmp_path):
    images = make_images(per_class=12)
    items = [
        ImageItem(id=f"{lab}-{i}", pixels=img, label=lab) for i, (lab, img) in enumerate(images) if lab != "stripes"
    ]
    enc = retrieval.create_encoder("dense-ae", dim=2, hidden=(64,), epochs=60, batch_size=8, contrastive=0.0,
                                   progress=False)  # fmt: skip
    enc.fit(np.stack([i.pixels for i in items]))
    col = retrieval.Collection.create(tmp_path / "i.aer", enc, device="cpu")
    col.add(items)
    stripes = [
        ImageItem(id=f"new-{i}", pixels=img, label=lab) for i, (lab, img) in enumerate(images) if lab == "stripes"
    ]
    new = col.add(stripes[:3]).outlier_scores
    known = col.outlier_scores("reconstruction")
    assert min(new.values()) > np.percentile([known[i.id] for i in items], 90)  # an unseen kind of image
    assert {h.id for h in col.outliers(3, score="reconstruction")} == set(new)
    col.close()
    runner = CliRunner()
    out = runner.invoke(main, ["reconstruct", str(tmp_path / "i.aer"), "--id", "red-0", "--id", next(iter(new)),
                               "--out", str(tmp_path / "r.png")])  # fmt: skip
    assert out.exit_code == 0, out.output
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"
    out = runner.invoke(
        main, ["reconstruct", str(tmp_path / "i.aer"), "--lattice", "5", "--out", str(tmp_path / "l.png")]
    )
    assert out.exit_code == 0 and (tmp_path / "l.png").exists(), out.output
    out = runner.invoke(main, ["reconstruct", str(tmp_path / "i.aer"), "--out", str(tmp_path / "x.png")])
    assert out.exit_code == 2


def test_lattice_needs_2d_image_codes(tmp_path, corpus_dir):
    retrieval.index_source(corpus_dir, tmp_path / "c.aer", **FAST_AE)
    out = CliRunner().invoke(main, ["reconstruct", str(tmp_path / "c.aer"), "--lattice", "4", "--out", "x.png"])
    assert out.exit_code == 1 and "image autoencoder" in out.output


def test_pca_scores_are_residuals(tmp_path):
    images = make_images(per_class=6)
    items = [ImageItem(id=f"{lab}-{i}", pixels=img, label=lab) for i, (lab, img) in enumerate(images)]
    fitted = items[:5]  # five red images: four components span them exactly
    enc = retrieval.create_encoder("pca", dim=4).fit(np.stack([i.pixels for i in fitted]))
    with retrieval.Collection.create(tmp_path / "p.aer", enc, device="cpu") as col:
        col.add(items)
        scores = col.outlier_scores("reconstruction")
    assert set(scores) == {i.id for i in items}
    assert max(scores[i.id] for i in fitted) < 1e-6  # in the span: nothing left over
    others = {i.id: scores[i.id] for i in items[5:]}
    assert min(others.values()) > 1e-3
    # off the span, what is left over grows with the distance: another red image is closer than any other kind
    assert others["red-5"] < min(v for k, v in others.items() if not k.startswith("red"))
