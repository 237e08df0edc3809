from __future__ import annotations

import json

import numpy as np
import pytest

import retrieval
from retrieval import CollectionError, Document, ItemNotFoundError, QueryError, index_source

from .conftest import FAKE


def test_index_source_reports_what_it_did(tmp_path, corpus_dir):
    report = index_source(corpus_dir, tmp_path / "c.aer", device="cpu", **FAKE)
    assert report.fitted and report.added == 36 and not report.rejected and report.collection == tmp_path / "c.aer"


@pytest.fixture
def built(text_collection):
    return text_collection


def test_search_returns_hits_of_the_right_topic(built):
    col = retrieval.open(built, device="cpu")
    assert len(col) == 36
    hits = col.search("shuttle launch into orbit with a rocket booster", k=5)
    assert len(hits) == 5
    assert [h.label for h in hits].count("space") >= 4
    assert hits[0].score >= hits[-1].score
    assert hits[0].id.startswith("space/") and hits[0].source.endswith(".txt") and hits[0].snippet


def test_search_by_id_leaves_the_item_out(built):
    col = retrieval.open(built, device="cpu")
    hits = col.search_by_id("autos/autos-03.txt", k=5)
    assert len(hits) == 5
    assert "autos/autos-03.txt" not in {h.id for h in hits}
    assert [h.label for h in hits].count("autos") >= 4
    with pytest.raises(ItemNotFoundError, match="no-such-id"):
        col.search_by_id("no-such-id")


def test_reopen_gives_the_same_results(built):
    a = retrieval.open(built, device="cpu").search("patient treatment at the clinic", k=8)
    b = retrieval.open(built, device="cpu").search("patient treatment at the clinic", k=8)
    assert [(h.id, round(h.score, 5)) for h in a] == [(h.id, round(h.score, 5)) for h in b]


def test_reindexing_updates_instead_of_duplicating(built, corpus_dir):
    report = index_source(corpus_dir, built, device="cpu")
    assert not report.fitted and report.added == 0 and report.updated == 36
    col = retrieval.open(built, device="cpu")
    assert len(col) == 36 and len(col.index) == 36
    ids = [h.id for h in col.search("engine brake clutch", k=36)]
    assert len(ids) == len(set(ids)) == 36


def test_add_new_items_with_the_fitted_encoder(built):
    col = retrieval.open(built, device="cpu")
    report = col.add(
        [Document("new-1", "rocket orbit launch moon nasa", "space", "x"), Document("new-1", "dup", None, "y")]
    )
    assert (report.added, report.updated) == (1, 0)  # the last of a repeated id wins
    assert len(col) == 37
    top = {h.id for h in col.search("rocket orbit launch moon nasa", k=40)}
    assert "new-1" in top


def test_queries_that_cannot_be_encoded(built):
    col = retrieval.open(built, device="cpu")
    with pytest.raises(QueryError, match="empty query"):
        col.search("   ")
    with pytest.raises(QueryError, match="vocabulary"):
        col.search("the and of")
    with pytest.raises(ValueError, match="'k'"):
        col.search("orbit", k=0)


def test_opening_missing_or_foreign_directories(tmp_path, built):
    with pytest.raises(CollectionError, match="does not exist"):
        retrieval.open(tmp_path / "missing")
    (tmp_path / "foreign").mkdir()
    with pytest.raises(CollectionError, match="not an ae-retrieval collection"):
        retrieval.open(tmp_path / "foreign")
    (built / "collection.json").write_text(json.dumps({"format": "ae-retrieval-collection", "version": 99}))
    with pytest.raises(CollectionError, match="version 99"):
        retrieval.open(built)


def test_damaged_weights_are_a_clear_error(built):
    (built / "encoder" / "weights.safetensors").write_bytes(b"not a weight file")
    with pytest.raises(CollectionError, match="damaged collection"):
        retrieval.open(built)


def test_info_reports_size_and_index(built):
    info = retrieval.open(built, device="cpu").info()
    assert info["items"] == 36 and info["dim"] == FAKE["dim"] and info["modality"] == "text"
    assert info["encoder"].startswith("fake-text") and "IDMap2,Flat" in info["index"]
    assert FAKE["dim"] * 4 + 8 <= info["bytes_per_item"] < FAKE["dim"] * 4 + 64


@pytest.mark.parametrize("encoder,options", [("lsa", {"dim": 4}), ("tfidf", {})])
def test_baseline_encoders_make_collections_too(tmp_path, corpus_jsonl, encoder, options):
    index_source(corpus_jsonl, tmp_path / "b.aer", encoder=encoder, device="cpu", **options)
    col = retrieval.open(tmp_path / "b.aer", device="cpu")
    hits = col.search("doctor patient disease", k=4)
    assert [h.label for h in hits].count("medicine") >= 3
    codes = col.encode(["doctor patient disease"])
    assert codes.dtype == np.float32 and codes.shape == (1, col.encoder.dim)
